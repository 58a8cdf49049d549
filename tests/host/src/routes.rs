//! Spin's HTTP router: exact routes, `:name` segments and trailing `/...` wildcards, with Spin's
//! precedence (compared segment by segment: a literal beats a `:name`, which beats the wildcard;
//! where one route is a prefix of the other, the shorter wins), and the headers Spin gives the guest.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Wildcard,
}

impl Segment {
    /// Lower is more specific.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 0,
            Segment::Param(_) => 1,
            Segment::Wildcard => 2,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Route {
    /// As written in the manifest.
    raw: String,
    /// Absolutized, without one trailing slash: what Spin calls the based route.
    based: String,
    segments: Vec<Segment>,
    pub component: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    pub component: &'a str,
    /// `(header name, value)` pairs Spin adds to the request (except full-url and client-addr,
    /// which depend on the connection).
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct Router {
    routes: Vec<Route>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct RouteError(pub String);

impl Route {
    pub fn parse(raw: &str, component: &str) -> Result<Route, RouteError> {
        let absolute = if raw.starts_with('/') {
            raw.to_owned()
        } else {
            format!("/{raw}")
        };
        let based = absolute.strip_suffix('/').unwrap_or(&absolute).to_owned();
        let parts: Vec<&str> = based.split('/').filter(|s| !s.is_empty()).collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let segment = match *part {
                "..." | "*" if last => Segment::Wildcard,
                "..." | "*" => {
                    return Err(RouteError(format!(
                        "route {raw:?}: a wildcard must come last"
                    )))
                }
                p if p.starts_with(':') => {
                    let name = &p[1..];
                    if name.is_empty() {
                        return Err(RouteError(format!("route {raw:?}: params must be named")));
                    }
                    Segment::Param(name.to_owned())
                }
                p => Segment::Literal(p.to_owned()),
            };
            segments.push(segment);
        }
        Ok(Route {
            raw: raw.to_owned(),
            based,
            segments,
            component: component.to_owned(),
        })
    }

    fn is_wildcard(&self) -> bool {
        self.segments.last() == Some(&Segment::Wildcard)
    }

    /// Captured `(name, value)` params when `path` matches.
    fn matches<'p>(&self, path: &'p str) -> Option<Vec<(&str, &'p str)>> {
        let trimmed = path.trim_matches('/');
        let parts: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        let mut params = Vec::new();
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Wildcard => return Some(params),
                Segment::Literal(lit) => {
                    if parts.get(i) != Some(&lit.as_str()) {
                        return None;
                    }
                }
                Segment::Param(name) => match parts.get(i) {
                    Some(value) if !value.is_empty() => params.push((name.as_str(), *value)),
                    _ => return None,
                },
            }
        }
        (parts.len() == self.segments.len()).then_some(params)
    }

    fn specificity(&self, other: &Route) -> Ordering {
        for (a, b) in self.segments.iter().zip(&other.segments) {
            match a.rank().cmp(&b.rank()) {
                Ordering::Equal => continue,
                unequal => return unequal,
            }
        }
        self.segments.len().cmp(&other.segments.len())
    }

    /// The part of `path` after the segments this route consumed before its wildcard.
    fn path_info<'p>(&self, path: &'p str) -> &'p str {
        if !self.is_wildcard() {
            return "";
        }
        let mut rest = path;
        for _ in 0..self.segments.len() - 1 {
            rest = rest.trim_start_matches('/');
            let end = rest.find('/').unwrap_or(rest.len());
            rest = &rest[end..];
        }
        rest
    }
}

impl Router {
    /// Builds the router; a route string given twice keeps its last component, as Spin does, and
    /// the shadowed one is reported.
    pub fn new(
        routes: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Router, Vec<String>), RouteError> {
        let mut table: Vec<Route> = Vec::new();
        let mut warnings = Vec::new();
        for (raw, component) in routes {
            let route = Route::parse(&raw, &component)?;
            if route.based.starts_with("/.well-known/spin") {
                warnings.push(format!(
                    "Routes under /.well-known/spin/ are handled by the Spin runtime and will never be reached: {raw}"
                ));
            }
            if let Some(existing) = table.iter_mut().find(|r| r.raw == raw) {
                warnings.push(format!(
                    "The following component routes are duplicates and will never be used:\n  {}: {} (duplicate of {})",
                    existing.component, raw, component
                ));
                *existing = route;
            } else {
                table.push(route);
            }
        }
        Ok((Router { routes: table }, warnings))
    }

    pub fn routes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.routes
            .iter()
            .map(|r| (r.raw.as_str(), r.component.as_str()))
    }

    pub fn route(&self, path: &str) -> Option<RouteMatch<'_>> {
        let (route, params) = self
            .routes
            .iter()
            .filter_map(|r| r.matches(path).map(|p| (r, p)))
            .min_by(|(a, _), (b, _)| a.specificity(b))?;
        let component_route = route
            .raw
            .strip_suffix("/...")
            .unwrap_or(&route.raw)
            .to_owned();
        let mut headers = vec![
            (
                "spin-path-info".to_owned(),
                route.path_info(path).to_owned(),
            ),
            ("spin-matched-route".to_owned(), route.based.clone()),
            ("spin-component-route".to_owned(), component_route),
            ("spin-raw-component-route".to_owned(), route.raw.clone()),
            ("spin-base-path".to_owned(), "/".to_owned()),
        ];
        for (name, value) in params {
            headers.push((
                format!(
                    "spin-path-match-{}",
                    name.to_ascii_lowercase().replace('_', "-")
                ),
                value.to_owned(),
            ));
        }
        Some(RouteMatch {
            component: &route.component,
            headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        Router::new(
            routes
                .iter()
                .map(|(r, c)| ((*r).to_owned(), (*c).to_owned())),
        )
        .unwrap()
        .0
    }

    fn header<'a>(m: &'a RouteMatch<'_>, name: &str) -> &'a str {
        m.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("<absent>")
    }

    #[test]
    fn precedence_table() {
        let r = router(&[
            ("/...", "catchall"),
            ("/api/...", "api"),
            ("/api/v1/...", "v1"),
            ("/api/v1/health", "health"),
            ("/api/v1/bess/:n", "bess"),
            ("/api/v1/bess/alert/rack/:n", "rack"),
            ("/api/:x", "param"),
            ("/x/:c", "xc"),
            ("/:a/b", "ab"),
            ("/one", "one"),
        ]);
        let cases = [
            ("/api/v1/health", "health"),
            ("/api/v1/health/", "health"),
            ("/api/v1/healthz", "v1"),
            ("/api/v1/bess/3", "bess"),
            ("/api/v1/bess/alert/rack/2", "rack"),
            ("/api/v1/bess/alert", "bess"),
            ("/api/v1", "v1"),
            ("/api/v2", "param"),
            ("/api/v2/x", "api"),
            ("/api", "api"),
            ("/x/b", "xc"),
            ("/one", "one"),
            ("/", "catchall"),
            ("/two/three", "catchall"),
        ];
        for (path, want) in cases {
            assert_eq!(r.route(path).map(|m| m.component), Some(want), "{path}");
        }
    }

    #[test]
    fn no_match_without_catch_all() {
        let r = router(&[("/api/v1/health", "h"), ("/api/v1/bess/:n", "b")]);
        assert!(r.route("/api/v1/nope").is_none());
        assert!(r.route("/api/v1/bess").is_none());
        assert!(r.route("/api/v1/bess/1/2").is_none());
        assert!(r.route("/").is_none());
    }

    #[test]
    fn headers_for_named_segment() {
        let r = router(&[("/api/v1/bess/:bess_number", "bess")]);
        let m = r.route("/api/v1/bess/3").unwrap();
        assert_eq!(header(&m, "spin-path-info"), "");
        assert_eq!(
            header(&m, "spin-matched-route"),
            "/api/v1/bess/:bess_number"
        );
        assert_eq!(
            header(&m, "spin-component-route"),
            "/api/v1/bess/:bess_number"
        );
        assert_eq!(
            header(&m, "spin-raw-component-route"),
            "/api/v1/bess/:bess_number"
        );
        assert_eq!(header(&m, "spin-base-path"), "/");
        assert_eq!(header(&m, "spin-path-match-bess-number"), "3");
    }

    #[test]
    fn headers_for_wildcard() {
        let r = router(&[("/api/...", "api")]);
        let m = r.route("/api/v1/health").unwrap();
        assert_eq!(header(&m, "spin-path-info"), "/v1/health");
        assert_eq!(header(&m, "spin-matched-route"), "/api/...");
        assert_eq!(header(&m, "spin-component-route"), "/api");
        assert_eq!(header(&m, "spin-raw-component-route"), "/api/...");
        let info: Vec<&str> = ["/api", "/api/", "/api/hello", "/api/hello/"]
            .iter()
            .map(|p| {
                let m = r.route(p).unwrap();
                m.headers
                    .iter()
                    .find(|(n, _)| n == "spin-path-info")
                    .unwrap()
                    .1
                    .clone()
                    .leak() as &str
            })
            .collect();
        assert_eq!(info, ["", "/", "/hello", "/hello/"]);
    }

    #[test]
    fn duplicates_keep_the_last_and_warn() {
        let (r, warnings) = Router::new([
            ("/a".to_owned(), "first".to_owned()),
            ("/a".to_owned(), "second".to_owned()),
        ])
        .unwrap();
        assert_eq!(r.route("/a").unwrap().component, "second");
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn rejects_malformed_routes() {
        assert!(Route::parse("/a/:/b", "c").is_err());
        assert!(Route::parse("/a/.../b", "c").is_err());
    }
}
