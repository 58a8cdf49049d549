//! Outbound HTTP from guests (`wasi:http/client`, WASIp3), as Spin 4.0.2 does it: a destination
//! outside the component's `allowed_outbound_hosts` is refused with `HttpRequestDenied` (and the
//! warning Spin prints), anything else is sent.
//!
//! Where it differs from Spin: plain `http://` only — an `https://` request fails with
//! `InternalError` (this host carries no TLS stack; Spin has one) — and one connection per request
//! (Spin pools them). The tests only call receivers on loopback ports.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p3::{RequestOptions, WasiHttpHooks};

use crate::state::ComponentContext;

type Body = UnsyncBoxBody<Bytes, ErrorCode>;
type IoResult = Box<dyn Future<Output = Result<(), ErrorCode>> + Send>;
type Sent = Result<(http::Response<Body>, IoResult), wasmtime_wasi::TrappableError<ErrorCode>>;

/// Spin's default for each of the connect, first-byte and between-bytes timeouts.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The `wasi:http` hooks of one instance: its component's allow-list.
pub struct OutboundHttp {
    pub ctx: Arc<ComponentContext>,
}

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<Body>,
        options: Option<RequestOptions>,
        _fut: IoResult,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        let uri = request.uri().to_string();
        if !self.ctx.allowed.allows(&uri) {
            crate::outbound::log_denied(&self.ctx.id, &uri);
            return Box::new(async { Err(ErrorCode::HttpRequestDenied.into()) });
        }
        Box::new(async move {
            let response = send(request, options.unwrap_or_default()).await?;
            let io: IoResult = Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }
}

async fn send(
    mut request: http::Request<Body>,
    options: RequestOptions,
) -> Result<http::Response<Body>, ErrorCode> {
    let uri = request.uri().clone();
    if uri.scheme_str() == Some("https") {
        return Err(ErrorCode::InternalError(Some(
            "this host does not speak TLS for outbound HTTP (Spin does); use http:// in tests"
                .into(),
        )));
    }
    let host = uri.host().ok_or(ErrorCode::HttpRequestUriInvalid)?;
    let port = uri.port_u16().unwrap_or(80);
    let connect_timeout = options.connect_timeout.unwrap_or(DEFAULT_TIMEOUT);
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(DEFAULT_TIMEOUT);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let stream = match tokio::time::timeout(connect_timeout, TcpStream::connect((host, port))).await
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(ErrorCode::ConnectionRefused)
        }
        Ok(Err(_)) => return Err(ErrorCode::DestinationUnavailable),
        Err(_) => return Err(ErrorCode::ConnectionTimeout),
    };
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(ErrorCode::from_hyper_request_error)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    // HTTP/1.1 wants the origin form on the request line; the host goes in `host`.
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    *request.uri_mut() = path.parse().map_err(|_| ErrorCode::HttpRequestUriInvalid)?;
    if !request.headers().contains_key(http::header::HOST) {
        if let Some(authority) = uri.authority() {
            if let Ok(value) = http::HeaderValue::from_str(authority.as_str()) {
                request.headers_mut().insert(http::header::HOST, value);
            }
        }
    }
    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
        .await
        .map_err(|_| ErrorCode::ConnectionReadTimeout)?
        .map_err(ErrorCode::from_hyper_request_error)?;
    Ok(response.map(|body| {
        body.map_err(ErrorCode::from_hyper_request_error)
            .boxed_unsync()
    }))
}
