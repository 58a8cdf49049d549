//! The HTTP front end: Spin's routing and request headers, each request handed to an instance of
//! its component (reused across requests, see `instance.rs`), and the rule that a guest's failure
//! is never what a client sees raw: a trap, a timeout or a missing response becomes a 500 JSON body
//! carrying a request id that is also in the log.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use wasmtime::component::Accessor;
use wasmtime_wasi_http::handler::Proxy;
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p3::bindings::Service;

use crate::app::{App, LoadedComponent};
use crate::instance::{deadline, InstanceLife};
use crate::state::InstanceState;

pub type Body = UnsyncBoxBody<Bytes, ErrorCode>;
pub type Response = hyper::Response<Body>;

pub struct Server {
    app: Arc<App>,
    requests: AtomicU64,
    /// Distinguishes this process's request ids from another's.
    boot: u64,
    log_requests: bool,
}

/// How long a request whose instance died waits to learn why (the worker reports it right after
/// dropping the instance, so this is only a bound).
const FAILURE_PATIENCE: Duration = Duration::from_secs(2);

impl Server {
    pub fn new(app: Arc<App>, log_requests: bool) -> Arc<Server> {
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64 & 0xff_ffff)
            .unwrap_or(0);
        Arc::new(Server {
            app,
            requests: AtomicU64::new(0),
            boot,
            log_requests,
        })
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// Serves until `shutdown` resolves, then lets open connections finish (up to 10 s).
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, client) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        eprintln!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // Spin 4.0.2 leaves Nagle on; a streamed p3 response then sometimes waits for the
            // client's delayed ACK (~40 ms). This host does not reproduce that stall.
            let _ = stream.set_nodelay(true);
            let server = self.clone();
            let service = hyper::service::service_fn(move |req| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(server.handle(req, client).await) }
            });
            let conn = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    if !e.is_incomplete_message() {
                        eprintln!("connection from {client}: {e}");
                    }
                }
            });
        }
        eprintln!("Shutting down: waiting for open requests");
        if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
            .await
            .is_err()
        {
            eprintln!("Shutdown: gave up waiting for open connections after 10 s");
        }
        Ok(())
    }

    pub async fn handle(&self, req: hyper::Request<Incoming>, client: SocketAddr) -> Response {
        let started = Instant::now();
        let id = format!(
            "{:06x}{:06x}",
            self.boot,
            self.requests.fetch_add(1, Ordering::Relaxed)
        );
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let (response, served) = self.dispatch(req, client, &id, started).await;
        if self.log_requests {
            let (component, instance) = match served {
                Some((component, Some(n))) => (component, format!(" instance={n}")),
                Some((component, None)) => (component, String::new()),
                None => ("-", String::new()),
            };
            eprintln!(
                "{method} {path} {component} {} {:.2}ms id={id}{instance}",
                response.status().as_u16(),
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
        response
    }

    /// Answers one request; says which component (and which of its instances) served it.
    async fn dispatch<'a>(
        &'a self,
        req: hyper::Request<Incoming>,
        client: SocketAddr,
        id: &str,
        started: Instant,
    ) -> (Response, Option<(&'a str, Option<u64>)>) {
        let path = req.uri().path();
        if let Some(rest) = path.strip_prefix("/.well-known/spin/") {
            return (self.well_known(rest), None);
        }
        let Some(matched) = self.app.router.route(path) else {
            return (empty(404), None);
        };
        let Some(component) = self.app.components.get(matched.component) else {
            return (internal_error(id), None);
        };
        let name = component.ctx.id.as_str();
        let req = match prepare_request(req, client, matched.headers) {
            Ok(req) => req,
            Err(status) => return (empty(status), Some((name, None))),
        };
        let until = deadline(started, self.app.options.request_timeout);
        let (outcome, instance) = self.run_guest(component, req, until).await;
        let number = instance.as_ref().map(|life| life.number);
        match outcome {
            Ok(response) => (response, Some((name, number))),
            Err(e) => {
                let on = number.map(|n| format!(" instance={n}")).unwrap_or_default();
                eprintln!("Error processing request id={id} component={name}{on}: {e:#}");
                (internal_error(id), Some((name, number)))
            }
        }
    }

    /// Hands the request to an instance of `component` and waits for its response head (the body
    /// streams afterwards), or for the deadline.
    async fn run_guest(
        &self,
        component: &LoadedComponent,
        req: hyper::Request<Incoming>,
        until: Instant,
    ) -> (Result<Response>, Option<Arc<InstanceLife>>) {
        let timeout = self.app.options.request_timeout;
        let req = req.map(|body| body.map_err(ErrorCode::from_hyper_request_error));
        let (request, request_io) = wasmtime_wasi_http::p3::Request::from_http(req);
        let (tx, rx) = oneshot::channel::<Result<Response>>();
        // Which instance took the request, once one has.
        let taken: Arc<OnceLock<Arc<InstanceLife>>> = Arc::default();
        let taken_by = taken.clone();
        component.handler.spawn(
            None,
            Box::new(move |accessor: &Accessor<InstanceState>, proxy: &Proxy| {
                Box::pin(async move {
                    if tx.is_closed() {
                        return; // answered already: the deadline passed while it was queued
                    }
                    let life = accessor.with(|mut access| access.data_mut().life.clone());
                    // The instance's own deadline counts from here, as the handler's does.
                    let in_flight = life.begin(deadline(Instant::now(), timeout));
                    let _ = taken_by.set(life);
                    let Proxy::P3(service) = proxy;
                    match serve(accessor, service, request, request_io).await {
                        Ok((response, body_dropped)) => {
                            // The deadline is for the answer's head: a streamed body may
                            // rightly go on longer (an event stream lasts a minute).
                            drop(in_flight);
                            if tx.send(Ok(response)).is_ok() {
                                // The guest writes the body from this instance's event loop,
                                // which runs only while one of its tasks is pending: stay until
                                // hyper has sent the body and dropped it (as Spin does).
                                let _ = body_dropped.await;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                })
            }),
        );
        let outcome = match tokio::time::timeout_at(until.into(), rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => {
                // The task was dropped unanswered: its instance ended (a trap, another request's
                // deadline) or could not start. Every request it was serving lands here.
                Err(match taken.get() {
                    Some(life) => match life.failure(FAILURE_PATIENCE).await {
                        Some(cause) => anyhow!("instance {} failed: {cause}", life.number),
                        None => anyhow!("instance {} ended without answering", life.number),
                    },
                    None => anyhow!("no instance could take the request (see the instance error)"),
                })
            }
            Err(_) => Err(anyhow!("request timed out after {timeout:?}")),
        };
        (outcome, taken.get().cloned())
    }

    fn well_known(&self, rest: &str) -> Response {
        match rest {
            "health" => full(200, "text/plain", Bytes::from_static(b"OK")),
            "info" => {
                let body = serde_json::json!({ "name": self.app.name, "host": "solarhub-host" });
                full(200, "application/json", Bytes::from(body.to_string()))
            }
            _ => empty(404),
        }
    }
}

/// Adds Spin's routing headers (dropping any a client sent under the same names, so they cannot be
/// spoofed) and makes the URI absolute, as Spin does before handing the request to the guest.
fn prepare_request(
    mut req: hyper::Request<Incoming>,
    client: SocketAddr,
    route_headers: Vec<(String, String)>,
) -> Result<hyper::Request<Incoming>, u16> {
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_owned());
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let full_url = format!("http://{host}{path_and_query}");
    *req.uri_mut() = full_url.parse().map_err(|_| 400u16)?;

    let headers = req.headers_mut();
    let spoofed: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("spin-"))
        .cloned()
        .collect();
    for name in spoofed {
        headers.remove(name);
    }
    let mut add = |name: &str, value: &str| -> Result<(), u16> {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| 400u16)?;
        let value = HeaderValue::from_str(value).map_err(|_| 400u16)?;
        headers.insert(name, value);
        Ok(())
    };
    add("spin-full-url", &full_url)?;
    add("spin-client-addr", &client.to_string())?;
    for (name, value) in &route_headers {
        add(name, value)?;
    }
    Ok(req)
}

/// Calls the guest's handler and turns its response into an HTTP response whose body the guest
/// keeps writing; the receiver resolves once hyper has dropped that body.
async fn serve(
    accessor: &Accessor<InstanceState>,
    service: &Service,
    request: wasmtime_wasi_http::p3::Request,
    request_io: impl Future<Output = Result<(), ErrorCode>> + Send + 'static,
) -> Result<(Response, oneshot::Receiver<()>)> {
    let response = service
        .handle(accessor, request)
        .await
        .map_err(anyhow::Error::from)?
        .map_err(|code| anyhow!("the guest answered with an error: {code:?}"))?;
    let response = accessor
        .with(|mut access| response.into_http(&mut access, request_io))
        .map_err(anyhow::Error::from)?;
    let (notify, dropped) = oneshot::channel();
    let response = response.map(|body| {
        NotifyOnDrop {
            body,
            _notify: notify,
        }
        .boxed_unsync()
    });
    Ok((response, dropped))
}

/// A response body that tells, by dropping its sender, when hyper is done with it.
struct NotifyOnDrop {
    body: Body,
    _notify: oneshot::Sender<()>,
}

impl hyper::body::Body for NotifyOnDrop {
    type Data = Bytes;
    type Error = ErrorCode;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ErrorCode>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    // Exact when the guest set content-length: hyper then sends a length, not chunks.
    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

fn body(bytes: Bytes) -> Body {
    Full::new(bytes)
        .map_err(|never: Infallible| -> ErrorCode { match never {} })
        .boxed_unsync()
}

fn empty(status: u16) -> Response {
    let mut response = hyper::Response::new(body(Bytes::new()));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response
}

fn full(status: u16, content_type: &'static str, bytes: Bytes) -> Response {
    let mut response = empty(status);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    *response.body_mut() = body(bytes);
    response
}

/// What a client sees when its request's guest failed: the shape every other error has, and the id
/// under which the cause was logged.
pub fn internal_error(id: &str) -> Response {
    let json = serde_json::json!({ "detail": "Internal Server Error", "request_id": id });
    let mut response = full(500, "application/json", Bytes::from(json.to_string()));
    if let Ok(v) = HeaderValue::from_str(id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}
