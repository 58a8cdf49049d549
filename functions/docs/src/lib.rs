//! The `docs` endpoint group, public and store-free: the OpenAPI 3.1 document of every route
//! (built by `solarhub_shared::openapi`), Swagger UI and ReDoc pages that load it, and the JSON 404
//! for any other path under `/api` (the manifest's catch-all route).

use solarhub_shared::error::ApiError;
use solarhub_shared::http::{Method, Request, Response};
use solarhub_shared::openapi::{self, DOCS_URL, OPENAPI_URL, REDOC_URL};

solarhub_shared::http_component!(route);

fn route(req: &Request) -> Response {
    let path = req.path();
    if ![OPENAPI_URL, DOCS_URL, REDOC_URL].contains(&path) {
        return Response::error(&ApiError::not_found_route());
    }
    if *req.method() != Method::Get {
        return Response::error(&ApiError::MethodNotAllowed { allow: "GET" });
    }
    match path {
        OPENAPI_URL => Response::json(200, &openapi::document()),
        DOCS_URL => Response::html(openapi::swagger_ui_html()),
        _ => Response::html(openapi::redoc_html()),
    }
}
