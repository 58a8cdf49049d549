//! The request and response every handler sees: plain data, independent of spin-sdk, so handlers
//! are ordinary functions that native unit tests can call. `guest::entry` converts to and from
//! Spin's HTTP types at the component's edge.

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
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body: body.into(),
        }
    }

    /// A response without a body (204).
    pub fn empty(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
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
        self.set_header("link", format!("<{successor}>; rel=\"successor-version\""));
        self
    }
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
    fn errors_carry_status_headers_and_fastapi_body() {
        let r = Response::error(&ApiError::MethodNotAllowed { allow: "GET" });
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("GET"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
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
