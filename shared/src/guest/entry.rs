//! The component's edge: Spin's WASIp3 request in, the handler's [`Response`] out.
//!
//! The handler is a plain function of a [`Request`] whose body has been read whole (bounded by
//! [`MAX_BODY_BYTES`]). The answer goes back as one complete body with its `content-length`, so
//! Spin writes it in one piece instead of chunked frames (fewer small TCP writes on a reused
//! instance; see README "Performance").

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use spin_sdk::http::Request as SpinRequest;
use spin_sdk::wasip3::http_compat::IncomingRequestBody;

use crate::cors;
use crate::error::ApiError;
use crate::http::{Method, Request, Response};

/// The largest request body any route accepts; larger ones are a 413 before the handler runs.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub type SpinResponse = http::Response<Full<Bytes>>;

/// Turns `#[http_service]`'s request into ours, runs `handler` (or answers a CORS preflight), and
/// turns its answer into Spin's.
pub async fn serve(req: SpinRequest, handler: impl FnOnce(&Request) -> Response) -> SpinResponse {
    let request = match read(req).await {
        Ok(request) => request,
        Err(err) => return into_spin(Response::error(&err)),
    };
    // Only a request naming an origin pays for reading the CORS setting.
    let response = match request.header("origin") {
        None => handler(&request),
        Some(origin) => {
            let origins = cors_origins();
            if cors::is_preflight(&request) {
                cors::preflight(origin, &origins)
            } else {
                cors::decorate(handler(&request), origin, &origins)
            }
        }
    };
    into_spin(response)
}

/// `cors_allowed_origins`; a component that does not declare it allows no origin.
fn cors_origins() -> cors::Origins {
    match super::bindings::variables::get("cors_allowed_origins") {
        Ok(setting) => cors::Origins::parse(&setting),
        Err(_) => cors::Origins::parse(""),
    }
}

async fn read(req: SpinRequest) -> Result<Request, ApiError> {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    let body = read_body(body).await?;
    let headers = parts
        .headers
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let target = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    Ok(Request::new(
        Method::parse(parts.method.as_str()),
        target,
        headers,
        body,
    ))
}

async fn read_body(body: IncomingRequestBody) -> Result<Vec<u8>, ApiError> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            })
        }
        // The client went away or sent a broken body: nothing a handler could answer.
        Err(e) => Err(ApiError::validation(crate::error::FieldError::new(
            "body",
            "body",
            "body_unreadable",
            format!("The request body could not be read: {e}"),
            serde_json::Value::Null,
        ))),
    }
}

fn into_spin(response: Response) -> SpinResponse {
    let mut builder = http::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if response.status != 204 && response.status != 304 {
        builder = builder.header(http::header::CONTENT_LENGTH, response.body.len());
    }
    builder
        .body(Full::new(Bytes::from(response.body)))
        .unwrap_or_else(|e| {
            // Only a header a handler built wrongly gets here: never send half of it.
            let err = super::internal("building response", &e);
            let body = err.body().to_string();
            http::Response::builder()
                .status(500)
                .header(http::header::CONTENT_TYPE, "application/json")
                .header(http::header::CONTENT_LENGTH, body.len())
                .body(Full::new(Bytes::from(body)))
                .expect("a literal response is valid")
        })
}

/// The whole component: `solarhub_shared::http_component!(route);` with `route: fn(&Request) ->
/// Response` exports it as the component's WASIp3 HTTP handler.
#[macro_export]
macro_rules! http_component {
    ($handler:path) => {
        #[::spin_sdk::http_service]
        async fn __solarhub_handle(
            req: ::spin_sdk::http::Request,
        ) -> $crate::guest::entry::SpinResponse {
            $crate::guest::entry::serve(req, $handler).await
        }
    };
}
