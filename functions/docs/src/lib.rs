//! The `docs` endpoint group, public and store-free: the OpenAPI 3.1 document of every route
//! (built by `solarhub_shared::openapi`), Swagger UI and ReDoc pages that load it, and the JSON 404
//! for any other path under `/api` (the manifest's catch-all route).

use std::sync::OnceLock;

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
        OPENAPI_URL => Response::new(200, "application/json", document().to_vec()),
        DOCS_URL => Response::html(openapi::swagger_ui_html()),
        _ => Response::html(openapi::redoc_html()),
    }
}

/// The serialized document, built once per instance: it is the same for every request (it
/// depends on nothing but the code), and building it is most of this route's cost.
fn document() -> &'static [u8] {
    static DOCUMENT: OnceLock<Vec<u8>> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        serde_json::to_vec(&openapi::document()).expect("the OpenAPI document serializes")
    })
}
