//! The HTTP front end: Spin's routing and request headers, a fresh instance per request, and the
//! rule that a guest's failure is never what a client sees raw: a trap, a timeout or a missing
//! response becomes a 500 JSON body carrying a request id that is also in the log.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

use crate::app::{App, EPOCH_TICKS_PER_SEC};
use crate::state::RequestState;

pub type Response = hyper::Response<HyperOutgoingBody>;

pub struct Server {
    app: Arc<App>,
    requests: AtomicU64,
    /// Distinguishes this process's request ids from another's.
    boot: u64,
    log_requests: bool,
}

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
        self.app.stores.mysql.disconnect_all().await;
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
        let (response, component) = self.dispatch(req, client, &id).await;
        if self.log_requests {
            eprintln!(
                "{method} {path} {} {} {:.2}ms id={id}",
                component.unwrap_or("-"),
                response.status().as_u16(),
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
        response
    }

    async fn dispatch<'a>(
        &'a self,
        req: hyper::Request<Incoming>,
        client: SocketAddr,
        id: &str,
    ) -> (Response, Option<&'a str>) {
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
            Err(status) => return (empty(status), Some(name)),
        };
        match self.run_guest(component, req).await {
            Ok(response) => (response, Some(name)),
            Err(e) => {
                eprintln!("Error processing request id={id} component={name}: {e:?}");
                (internal_error(id), Some(name))
            }
        }
    }

    async fn run_guest(
        &self,
        component: &crate::app::LoadedComponent,
        req: hyper::Request<Incoming>,
    ) -> Result<Response> {
        let options = &self.app.options;
        let mut store = Store::new(
            &self.app.engine,
            RequestState::new(component.ctx.clone(), options.max_instance_memory),
        );
        store.limiter(|s| s.limiter());
        let ticks = options.request_timeout.as_millis() as u64 * EPOCH_TICKS_PER_SEC / 1000;
        store.set_epoch_deadline(ticks.max(1));
        store.epoch_deadline_trap();

        let (sender, receiver) = tokio::sync::oneshot::channel();
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)?;
        let outparam = store.data_mut().http().new_response_outparam(sender)?;
        let pre = component.pre.clone();
        let task = tokio::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, outparam)
                .await
        });
        let abort = task.abort_handle();
        let outcome = tokio::time::timeout(options.request_timeout, receiver).await;
        match outcome {
            Ok(Ok(Ok(response))) => Ok(response),
            Ok(Ok(Err(code))) => Err(anyhow::anyhow!("guest set an error response: {code:?}")),
            Ok(Err(_)) => {
                // The guest returned or trapped without setting a response: the task says which.
                let cause = match task.await {
                    Ok(Ok(())) => {
                        anyhow::anyhow!("guest failed to produce a response prior to returning")
                    }
                    Ok(Err(e)) => anyhow::Error::from(e).context("guest invocation failed"),
                    Err(e) => anyhow::anyhow!("guest task failed: {e}"),
                };
                Err(cause)
            }
            Err(_) => {
                abort.abort();
                Err(anyhow::anyhow!(
                    "request timed out after {:?}",
                    options.request_timeout
                ))
            }
        }
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

fn body(bytes: Bytes) -> HyperOutgoingBody {
    Full::new(bytes)
        .map_err(|never: Infallible| -> wasmtime_wasi_http::Error { match never {} })
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
