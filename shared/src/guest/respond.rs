use serde::Serialize;
use spin_sdk::http::Response;

use crate::error::ApiError;

pub fn json<T: Serialize + ?Sized>(status: u16, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(bytes)
            .build(),
        Err(e) => error(&super::internal("serializing response", &e)),
    }
}

pub fn error(err: &ApiError) -> Response {
    let mut builder = Response::builder();
    builder
        .status(err.status())
        .header("content-type", "application/json");
    for (name, value) in err.headers() {
        builder.header(name, value);
    }
    // An error body is a small literal-built Value: serializing it cannot fail.
    builder.body(err.body().to_string()).build()
}

/// Marks a legacy Flask path: RFC 9745 `Deprecation` and a `Link` to the successor route.
pub fn deprecated(mut response: Response, successor: &str) -> Response {
    // 2026-11-22T00:00:00Z, the day the v1 routes replaced the Flask ones.
    response.set_header("deprecation", "@1795305600");
    response.set_header("link", format!("<{successor}>; rel=\"successor-version\""));
    response
}
