//! The component's edge: Spin's WASIp3 request in, the handler's [`Response`] out.
//!
//! The handler is a plain function of a [`Request`] whose body has been read whole (bounded by
//! [`MAX_BODY_BYTES`]). A whole answer goes back as one complete body with its `content-length`,
//! so Spin writes it in one piece instead of chunked frames (fewer small TCP writes on a reused
//! instance; see README "Performance"). A streamed answer ([`Body::Stream`]) goes back chunked:
//! spin-sdk polls its pieces from a task of its own after the head is sent, and a piece that
//! fails ends the body with an error (the client sees the transfer aborted).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt, Limited};
use spin_sdk::http::Request as SpinRequest;
use spin_sdk::wasip3::http_compat::IncomingRequestBody;

use crate::cors;
use crate::error::ApiError;
use crate::http::{Body, BodyError, Chunks, Method, Request, Response};

/// The largest request body any route accepts; larger ones are a 413 before the handler runs.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The longest request target (path and query) any route reads; longer ones are a 414. No route
/// needs more than a few hundred bytes; this bounds what a handler parses and echoes in a 422.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;

pub type SpinResponse = http::Response<SpinBody>;

/// The body handed to spin-sdk: whole, or pulled from the handler's producer piece by piece.
pub enum SpinBody {
    /// `None` once sent.
    Whole(Option<Bytes>),
    Stream(Box<dyn Chunks>),
}

impl http_body::Body for SpinBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            SpinBody::Whole(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            SpinBody::Stream(chunks) => chunks
                .poll_chunk(cx)
                .map(|piece| piece.map(|piece| piece.map(|b| Frame::data(Bytes::from(b))))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, SpinBody::Whole(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            SpinBody::Whole(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            SpinBody::Whole(None) => SizeHint::with_exact(0),
            SpinBody::Stream(_) => SizeHint::default(),
        }
    }
}

/// Turns `#[http_service]`'s request into ours, runs `handler` (or answers a CORS preflight), and
/// turns its answer into Spin's.
pub async fn serve(req: SpinRequest, handler: impl FnOnce(&Request) -> Response) -> SpinResponse {
    let request = match read(req).await {
        Ok(request) => request,
        Err(err) => return into_spin(Response::error(&err)),
    };
    #[cfg(feature = "guard")]
    super::ratelimit::take_budget();
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
    #[cfg(feature = "guard")]
    let response = with_budget(response);
    into_spin(response)
}

/// The `RateLimit-*` headers of the budget the guard counted the request against, if any.
#[cfg(feature = "guard")]
fn with_budget(mut response: Response) -> Response {
    if let Some(budget) = super::ratelimit::take_budget() {
        for (name, value) in budget.headers() {
            if response.header(name).is_none() {
                response.set_header(name, value);
            }
        }
    }
    response
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
    if parts.uri.path_and_query().map_or(0, |pq| pq.as_str().len()) > MAX_TARGET_BYTES {
        return Err(ApiError::UriTooLong {
            limit: MAX_TARGET_BYTES,
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
    let body = match response.body {
        Body::Bytes(bytes) => {
            if response.status != 204 && response.status != 304 {
                builder = builder.header(http::header::CONTENT_LENGTH, bytes.len());
            }
            SpinBody::Whole(Some(Bytes::from(bytes)))
        }
        Body::Stream(chunks) => SpinBody::Stream(chunks),
    };
    builder.body(body).unwrap_or_else(|e| {
        // Only a header a handler built wrongly gets here: never send half of it.
        let err = super::internal("building response", &e);
        let body = err.body().to_string();
        http::Response::builder()
            .status(500)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(SpinBody::Whole(Some(Bytes::from(body))))
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
