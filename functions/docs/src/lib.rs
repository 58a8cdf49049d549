//! The `docs` endpoint group, public and store-free: the OpenAPI 3.1 document of every route
//! (built by `solarhub_shared::openapi`), Swagger UI and ReDoc pages that load it, the JavaScript
//! and CSS those pages run (vendored, see `vendor/README.md`: the pages work without internet),
//! and the JSON 404 for any other path under `/api` (the manifest's catch-all route).

mod assets;

use std::sync::OnceLock;

use solarhub_shared::error::ApiError;
use solarhub_shared::http::{Method, Request, Response};
use solarhub_shared::openapi::{self, DOCS_ASSETS_URL, DOCS_URL, OPENAPI_URL, REDOC_URL};

solarhub_shared::http_component!(route);

fn route(req: &Request) -> Response {
    let path = req.path();
    let asset = path.strip_prefix(DOCS_ASSETS_URL).and_then(assets::find);
    if asset.is_none() && ![OPENAPI_URL, DOCS_URL, REDOC_URL].contains(&path) {
        return Response::error(&ApiError::not_found_route());
    }
    if *req.method() != Method::Get {
        return Response::error(&ApiError::MethodNotAllowed { allow: "GET" });
    }
    if let Some(asset) = asset {
        return asset.response(req.header("accept-encoding"));
    }
    let page = match path {
        OPENAPI_URL => return Response::new(200, "application/json", document().to_vec()),
        DOCS_URL => openapi::swagger_ui_html(),
        _ => openapi::redoc_html(),
    };
    let mut response = Response::html(page);
    response.set_header("content-security-policy", PAGE_POLICY);
    response
}

/// The pages may load and contact nothing but this app. Both libraries hold links to elsewhere
/// that a browser would follow on its own (ReDoc 2's sidebar logo comes from cdn.redoc.ly); this
/// makes the browser refuse them, so an air-gapped site sees no failing requests and an online
/// one leaks none. Inline script and styles: the pages' own start-up script and the libraries'
/// generated styles; blob: workers: ReDoc's search.
const PAGE_POLICY: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    worker-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'self'";

/// The serialized document, built once per instance: it is the same for every request (it
/// depends on nothing but the code), and building it is most of this route's cost.
fn document() -> &'static [u8] {
    static DOCUMENT: OnceLock<Vec<u8>> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        serde_json::to_vec(&openapi::document()).expect("the OpenAPI document serializes")
    })
}
