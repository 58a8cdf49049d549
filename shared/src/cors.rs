//! CORS for the dashboard, as Starlette's CORSMiddleware answers it: origins from the
//! `cors_allowed_origins` variable (comma-separated; `*` for any; empty: none), preflights
//! answered by the component that owns the route, `Vary: Origin` on every answer to a request
//! that named an origin, and no CORS header at all for an origin that is not allowed.

use crate::http::{Method, Request, Response};

pub const ALLOWED_METHODS: &str = "GET, POST, PUT, DELETE, OPTIONS";
pub const ALLOWED_HEADERS: &str = "Authorization, Content-Type";
/// Headers a script may read besides the CORS-safelisted ones.
pub const EXPOSED_HEADERS: &str = "Deprecation, Link, Location, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, WWW-Authenticate";
pub const MAX_AGE_SECS: u32 = 600;

/// The configured origins.
pub struct Origins(Vec<String>);

impl Origins {
    pub fn parse(setting: &str) -> Origins {
        Origins(
            setting
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
        )
    }

    pub fn allows(&self, origin: &str) -> bool {
        self.0.iter().any(|o| o == "*" || o == origin)
    }
}

/// Whether `req` is a CORS preflight (an `OPTIONS` with an `Origin` and the method it asks for).
pub fn is_preflight(req: &Request) -> bool {
    *req.method() == Method::Options
        && req.header("origin").is_some()
        && req.header("access-control-request-method").is_some()
}

/// The answer to a preflight from `origin`.
pub fn preflight(origin: &str, origins: &Origins) -> Response {
    if !origins.allows(origin) {
        let mut refused = Response::new(400, "text/plain; charset=utf-8", "Disallowed CORS origin");
        refused.set_header("vary", "Origin");
        return refused;
    }
    let mut ok = Response::empty(204);
    ok.set_header("access-control-allow-origin", origin);
    ok.set_header("access-control-allow-methods", ALLOWED_METHODS);
    ok.set_header("access-control-allow-headers", ALLOWED_HEADERS);
    ok.set_header("access-control-max-age", MAX_AGE_SECS.to_string());
    ok.set_header("vary", "Origin");
    ok
}

/// Adds the CORS headers to the answer of a request from `origin`.
pub fn decorate(mut response: Response, origin: &str, origins: &Origins) -> Response {
    response.set_header("vary", "Origin");
    if origins.allows(origin) {
        response.set_header("access-control-allow-origin", origin);
        response.set_header("access-control-expose-headers", EXPOSED_HEADERS);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preflight_request(origin: &str) -> Request {
        Request::new(
            Method::Options,
            "/api/v1/bess/1",
            vec![
                ("Origin".into(), origin.into()),
                ("Access-Control-Request-Method".into(), "GET".into()),
            ],
            Vec::new(),
        )
    }

    #[test]
    fn origins_are_listed_exactly_or_any() {
        let origins = Origins::parse(" https://dash.example.tw/, http://localhost:5173 ");
        assert!(origins.allows("https://dash.example.tw"));
        assert!(origins.allows("http://localhost:5173"));
        assert!(!origins.allows("https://evil.example"));
        assert!(!Origins::parse("").allows("https://dash.example.tw"));
        assert!(Origins::parse("*").allows("https://anything.example"));
    }

    #[test]
    fn preflights_are_answered_for_allowed_origins_only() {
        let origins = Origins::parse("https://dash.example.tw");
        assert!(is_preflight(&preflight_request("https://dash.example.tw")));
        let ok = preflight("https://dash.example.tw", &origins);
        assert_eq!(ok.status, 204);
        assert_eq!(
            ok.header("access-control-allow-origin"),
            Some("https://dash.example.tw")
        );
        assert_eq!(
            ok.header("access-control-allow-headers"),
            Some(ALLOWED_HEADERS)
        );
        assert_eq!(ok.header("access-control-max-age"), Some("600"));
        assert_eq!(ok.header("vary"), Some("Origin"));
        let refused = preflight("https://evil.example", &origins);
        assert_eq!(refused.status, 400);
        assert_eq!(refused.header("access-control-allow-origin"), None);
    }

    #[test]
    fn answers_carry_cors_headers_for_allowed_origins_only() {
        let origins = Origins::parse("https://dash.example.tw");
        let ok = decorate(Response::empty(204), "https://dash.example.tw", &origins);
        assert_eq!(
            ok.header("access-control-allow-origin"),
            Some("https://dash.example.tw")
        );
        assert_eq!(ok.header("vary"), Some("Origin"));
        let other = decorate(Response::empty(204), "https://evil.example", &origins);
        assert_eq!(other.header("access-control-allow-origin"), None);
        assert_eq!(other.header("vary"), Some("Origin"));
    }
}
