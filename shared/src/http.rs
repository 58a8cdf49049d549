//! The request and response every handler sees: plain data, independent of spin-sdk, so handlers
//! are ordinary functions that native unit tests can call. `guest::entry` converts to and from
//! Spin's HTTP types at the component's edge.

use std::fmt;
use std::task::{Context, Poll};

use serde::Serialize;

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Other,
}

impl Method {
    pub fn parse(name: &str) -> Method {
        match name {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    path: String,
    query: String,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    /// `target` is the path with an optional `?query`; the path's `%XX` escapes are decoded (as
    /// Starlette decodes them before routing); header names are matched case-insensitively.
    pub fn new(
        method: Method,
        target: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let path = crate::forms::decode_path(path);
        let headers = headers
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        Request {
            method,
            path,
            query: query.to_owned(),
            headers,
            body,
        }
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The raw query string, without the `?`.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Every header, names in lower case.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Every value of header `name`, in the order received.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The client's IP, or `unknown`: the peer the runtime reports, or behind a proxy in
    /// `trusted` the address that proxy forwarded (see [`crate::proxies`]). Login throttling and
    /// rate limits count by it; the guest layer reads `trusted` from `trusted_proxies`.
    ///
    /// The peer is the *last* `spin-client-addr`: real Spin appends its own value after any
    /// header of that name the client sent (the local host drops the client's), so the first
    /// one may be the client's invention.
    pub fn client_ip(&self, trusted: &crate::proxies::TrustedProxies) -> String {
        let Some(raw) = self.header_values("spin-client-addr").last() else {
            return "unknown".to_owned();
        };
        match crate::proxies::parse_addr(raw) {
            Some(peer) => {
                let forwarded: Vec<&str> = self.header_values("x-forwarded-for").collect();
                trusted.client(peer, &forwarded).to_string()
            }
            None => raw.to_owned(),
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// A response's body: whole, or produced piece by piece after the head has been sent.
pub enum Body {
    /// Sent in one piece with its `content-length`.
    Bytes(Vec<u8>),
    /// Sent as it is produced (chunked), for answers too long to hold or not yet known.
    Stream(Box<dyn Chunks>),
}

impl Body {
    /// The whole body, when it is not streamed.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Body::Bytes(bytes) => Some(bytes),
            Body::Stream(_) => None,
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            Body::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// A body produced piece by piece after the status and headers have gone out: a long document
/// read page by page, or (later) events as they happen.
///
/// The status is final once the handler returns, so whatever can fail early should be done
/// before (read the first page in the handler: a store that is down is then still a clean 503).
/// A piece that fails is `Err`: the body then ends with an error, which the runtime turns into
/// an aborted transfer (no final chunk), so a client never takes a cut-off document for a whole
/// one. The producer logs the cause.
pub trait Chunks {
    /// The next piece; `None` after the last. A producer that has to wait returns
    /// `Poll::Pending` having arranged for `cx`'s waker to be woken.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Vec<u8>, BodyError>>>;
}

/// Why a streamed body ended early: only the request id, under which the cause was logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    pub request_id: String,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the response body failed (request_id={})",
            self.request_id
        )
    }
}

impl std::error::Error for BodyError {}

impl From<ApiError> for BodyError {
    /// An error met while producing a body: its cause was logged when it was made (store
    /// failures by the store layer; [`crate::error::internal`] for the rest).
    fn from(err: ApiError) -> BodyError {
        let request_id = match err {
            ApiError::Internal { request_id } => request_id,
            other => {
                let id = crate::error::request_id();
                eprintln!(
                    "error request_id={id} streamed body ended: {}",
                    other.body()["detail"]
                );
                id
            }
        };
        BodyError { request_id }
    }
}

/// Pieces made synchronously by `next` (store calls are synchronous), one per poll.
pub fn chunks_from_fn<F>(next: F) -> Box<dyn Chunks>
where
    F: FnMut() -> Option<Result<Vec<u8>, BodyError>> + 'static,
{
    struct FromFn<F>(F);
    impl<F: FnMut() -> Option<Result<Vec<u8>, BodyError>>> Chunks for FromFn<F> {
        fn poll_chunk(&mut self, _: &mut Context<'_>) -> Poll<Option<Result<Vec<u8>, BodyError>>> {
            Poll::Ready((self.0)())
        }
    }
    Box::new(FromFn(next))
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body: Body::Bytes(body.into()),
        }
    }

    /// A response whose body is produced by `chunks` after the head is sent.
    pub fn stream(status: u16, content_type: &str, chunks: Box<dyn Chunks>) -> Self {
        Response {
            status,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body: Body::Stream(chunks),
        }
    }

    /// A response without a body (204).
    pub fn empty(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
        }
    }

    pub fn json<T: Serialize + ?Sized>(status: u16, body: &T) -> Response {
        match serde_json::to_vec(body) {
            Ok(bytes) => Response::new(status, "application/json", bytes),
            Err(e) => Response::error(&crate::error::internal("serializing response", &e)),
        }
    }

    pub fn html(page: String) -> Response {
        Response::new(200, "text/html; charset=utf-8", page)
    }

    pub fn error(err: &ApiError) -> Response {
        // An error body is a small literal-built Value: serializing it cannot fail.
        let mut response = Response::new(err.status(), "application/json", err.body().to_string());
        for (name, value) in err.headers() {
            response.set_header(name, value);
        }
        response
    }

    /// Replaces every value of `name`.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.into()));
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Marks a legacy Flask path: RFC 9745 `Deprecation` and a `Link` to the successor route.
    pub fn deprecated(mut self, successor: &str) -> Response {
        // 2026-11-22T00:00:00Z, the day the v1 routes replaced the Flask ones.
        self.set_header("deprecation", "@1795305600");
        let successor = escape_path(successor);
        self.set_header("link", format!("<{successor}>; rel=\"successor-version\""));
        self
    }
}

/// `path` with every byte that may not appear in a URI path percent-encoded, so a successor built
/// from a client's (decoded) path segment can never break or inject into a header.
fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@%".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl From<ApiError> for Response {
    fn from(err: ApiError) -> Response {
        Response::error(&err)
    }
}

/// A handler's outcome: an answer, or an error that becomes the FastAPI-shaped answer.
pub type Outcome = Result<Response, ApiError>;

pub fn answer(outcome: Outcome) -> Response {
    outcome.unwrap_or_else(|e| Response::error(&e))
}

/// A GET route of a component with a fixed path, and the legacy Flask path that answers the same.
pub struct GetRoute {
    pub path: &'static str,
    pub legacy: Option<&'static str>,
    pub handler: fn(&Request) -> Outcome,
}

/// Answers `req` from `routes`: 404 for an unknown path, 405 for another method, and on a legacy
/// path the same answer marked deprecated in favour of the v1 path.
pub fn dispatch_get(req: &Request, routes: &[GetRoute]) -> Response {
    let path = req.path();
    let matched = routes
        .iter()
        .find(|r| r.path == path || r.legacy == Some(path))
        .map(|r| (r, (r.path != path).then_some(r.path)));
    serve_get(req, matched, |route| (route.handler)(req))
}

/// The GET-only answer of a route group whose own router matched `req`'s path: `matched` is the
/// route found and, for a legacy path, the v1 path that replaces it (`None`: no route, a 404).
/// Another method is a 405; a legacy path's answer is marked deprecated.
pub fn serve_get<R>(
    req: &Request,
    matched: Option<(R, Option<impl AsRef<str>>)>,
    run: impl FnOnce(R) -> Outcome,
) -> Response {
    let Some((route, successor)) = matched else {
        return Response::error(&ApiError::not_found_route());
    };
    if *req.method() != Method::Get {
        return Response::error(&ApiError::MethodNotAllowed { allow: "GET" });
    }
    let response = answer(run(route));
    match successor {
        Some(successor) => response.deprecated(successor.as_ref()),
        None => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_splits_target_and_finds_headers_case_insensitively() {
        let req = Request::new(
            Method::Get,
            "/api/v1/admin/users?page=2&q=a",
            vec![("Authorization".into(), "Bearer x".into())],
            Vec::new(),
        );
        assert_eq!(req.path(), "/api/v1/admin/users");
        assert_eq!(req.query(), "page=2&q=a");
        assert_eq!(req.header("authorization"), Some("Bearer x"));
        assert_eq!(req.header("AUTHORIZATION"), Some("Bearer x"));
        assert_eq!(req.header("cookie"), None);
        assert_eq!(Method::parse("DELETE"), Method::Delete);
        assert_eq!(Method::parse("BREW"), Method::Other);
    }

    #[test]
    fn a_successor_path_is_escaped_into_its_link() {
        let r = Response::empty(200).deprecated("/api/v1/bess/1\r\nSet-Cookie: a=b <x>");
        assert_eq!(
            r.header("link"),
            Some("</api/v1/bess/1%0D%0ASet-Cookie:%20a=b%20%3Cx%3E>; rel=\"successor-version\"")
        );
        let plain = Response::empty(200).deprecated("/api/v1/bess/1");
        assert_eq!(
            plain.header("link"),
            Some("</api/v1/bess/1>; rel=\"successor-version\"")
        );
    }

    #[test]
    fn the_client_ip_is_the_peer_without_its_port() {
        use crate::proxies::TrustedProxies;
        let with = |headers: &[(&str, &str)], trusted: &str| {
            Request::new(
                Method::Get,
                "/",
                headers
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect(),
                Vec::new(),
            )
            .client_ip(&TrustedProxies::parse(trusted).unwrap())
        };
        assert_eq!(
            with(&[("spin-client-addr", "10.1.2.3:5555")], ""),
            "10.1.2.3"
        );
        assert_eq!(with(&[("spin-client-addr", "[::1]:80")], ""), "::1");
        assert_eq!(with(&[], ""), "unknown");
        // A client-sent spin-client-addr comes before the runtime's own: the last one counts.
        let spoofed = [
            ("spin-client-addr", "6.6.6.6:1"),
            ("x-forwarded-for", "7.7.7.7"),
            ("spin-client-addr", "10.1.2.3:5555"),
        ];
        assert_eq!(with(&spoofed, ""), "10.1.2.3");
        assert_eq!(with(&spoofed, "10.1.2.0/24"), "7.7.7.7");
        assert_eq!(with(&spoofed, "6.6.6.6"), "10.1.2.3");
    }

    #[test]
    fn errors_carry_status_headers_and_fastapi_body() {
        let r = Response::error(&ApiError::MethodNotAllowed { allow: "GET" });
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("GET"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_slice(r.body.bytes().unwrap()).unwrap();
        assert_eq!(body["detail"], "Method Not Allowed");
    }

    #[test]
    fn get_routes_dispatch_by_path_and_mark_legacy_paths() {
        fn ok(_: &Request) -> Outcome {
            Ok(Response::json(200, &serde_json::json!({"ok": true})))
        }
        let routes = [GetRoute {
            path: "/api/v1/x",
            legacy: Some("/api/x"),
            handler: ok,
        }];
        let req = |m, p| Request::new(m, p, Vec::new(), Vec::new());
        assert_eq!(
            dispatch_get(&req(Method::Get, "/api/v1/x"), &routes).header("link"),
            None
        );
        let legacy = dispatch_get(&req(Method::Get, "/api/x"), &routes);
        assert_eq!(
            legacy.header("link"),
            Some("</api/v1/x>; rel=\"successor-version\"")
        );
        assert_eq!(
            dispatch_get(&req(Method::Post, "/api/x"), &routes).status,
            405
        );
        assert_eq!(
            dispatch_get(&req(Method::Get, "/api/y"), &routes).status,
            404
        );
    }

    /// Drains a body the way the entry layer does, for a producer that never waits.
    fn drain(body: Body) -> Vec<Result<Vec<u8>, BodyError>> {
        let Body::Stream(mut chunks) = body else {
            panic!("not streamed");
        };
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut pieces = Vec::new();
        while let Poll::Ready(Some(piece)) = chunks.poll_chunk(&mut cx) {
            let failed = piece.is_err();
            pieces.push(piece);
            if failed {
                break;
            }
        }
        pieces
    }

    #[test]
    fn streamed_bodies_come_piece_by_piece_and_may_fail() {
        let mut n = 0;
        let r = Response::stream(
            200,
            "application/json",
            chunks_from_fn(move || {
                n += 1;
                match n {
                    1 | 2 => Some(Ok(format!("[{n}]").into_bytes())),
                    3 => Some(Err(ApiError::StoreUnavailable(crate::error::Store::Mysql(
                        "PCS".into(),
                    ))
                    .into())),
                    _ => None,
                }
            }),
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.body.bytes().is_none());
        // Headers can still be added to a streamed answer (legacy paths, CORS).
        let r = r.deprecated("/api/v1/x");
        assert!(r.header("link").is_some());
        let pieces = drain(r.body);
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces[0], Ok(b"[1]".to_vec()));
        let err = pieces[2].clone().unwrap_err();
        assert_eq!(err.request_id.len(), 16);
        assert!(err.to_string().contains(&err.request_id));
        let ok = Response::stream(200, "text/plain", chunks_from_fn(|| None));
        assert!(drain(ok.body).is_empty());
    }

    #[test]
    fn legacy_answers_are_marked_deprecated_once() {
        let r = Response::json(200, &serde_json::json!({"ok": true}))
            .deprecated("/api/v1/health")
            .deprecated("/api/v1/health");
        assert_eq!(r.header("deprecation"), Some("@1795305600"));
        assert_eq!(
            r.header("link"),
            Some("</api/v1/health>; rel=\"successor-version\"")
        );
        assert_eq!(r.headers.iter().filter(|(n, _)| n == "link").count(), 1);
    }
}
