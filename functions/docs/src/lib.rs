//! The `docs` endpoint group, public and store-free: the OpenAPI 3.1 document of every route
//! (built by `solarhub_shared::openapi`), Swagger UI and ReDoc pages that load it.

use solarhub_shared::error::ApiError;
use solarhub_shared::guest::respond;
use solarhub_shared::openapi::{self, DOCS_URL, OPENAPI_URL, REDOC_URL};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    let path = req.path();
    if ![OPENAPI_URL, DOCS_URL, REDOC_URL].contains(&path) {
        return respond::error(&ApiError::not_found_route());
    }
    if *req.method() != Method::Get {
        return respond::error(&ApiError::MethodNotAllowed { allow: "GET" });
    }
    match path {
        OPENAPI_URL => respond::json(200, &openapi::document()),
        DOCS_URL => html(openapi::swagger_ui_html()),
        _ => html(openapi::redoc_html()),
    }
}

fn html(page: String) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", "text/html; charset=utf-8")
        .body(page)
        .build()
}
