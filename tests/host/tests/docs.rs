//! The compiled docs component in the local host: the OpenAPI document is served and parses, the
//! Swagger UI and ReDoc pages point at it, and the document and `spin.toml` agree both ways: every
//! route (and every path a wildcard group's component knows) is documented, and every documented
//! path is routed and answered by a component with a documented status. Adding a route without
//! documenting it fails here.

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use common::runtime::{Runtime, TestApp};
use serde_json::Value;
use solarhub_host::client::{get, request, Reply};

const OPENAPI: &str = "/api/v1/openapi.json";
const CATCH_ALL: &str = "/api/...";
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn start(rt: Runtime) -> TestApp {
    let vars = vec![(
        "jwt_secret".to_owned(),
        "docs-tests-sign-nothing-0123456789abcdef".to_owned(),
    )];
    common::start_app(rt, vars, &[]).await
}

async fn document(host: &TestApp) -> Value {
    let reply = get(host.addr, OPENAPI).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    reply.json().unwrap()
}

/// `/a/{id}/b` and `/a/:id/b` both become `/a/{}/b`.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| {
            if (s.starts_with('{') && s.ends_with('}')) || s.starts_with(':') {
                "{}"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

struct Route {
    route: String,
    component: String,
}

impl Route {
    fn wildcard_prefix(&self) -> Option<&str> {
        self.route.strip_suffix("...")
    }

    /// Whether a request to `path` (a documented path, parameters filled) goes to this route.
    fn routes(&self, documented: &str) -> bool {
        match self.wildcard_prefix() {
            Some(prefix) => documented.starts_with(prefix),
            None => shape(&self.route) == shape(documented),
        }
    }
}

fn spin_toml() -> toml::Table {
    let text = fs::read_to_string(common::repo_root().join("spin.toml")).unwrap();
    text.parse().unwrap()
}

fn routes(manifest: &toml::Table) -> Vec<Route> {
    manifest["trigger"]["http"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| Route {
            route: t["route"].as_str().unwrap().to_owned(),
            component: t["component"].as_str().unwrap().to_owned(),
        })
        .collect()
}

/// The `"/api/..."` string literals in a component's sources (prefixes excepted): the paths it
/// knows.
fn known_paths(manifest: &toml::Table, component: &str) -> BTreeSet<String> {
    let watch = manifest["component"][component]["build"]["watch"]
        .as_array()
        .unwrap();
    let src = watch[0].as_str().unwrap().split("/**").next().unwrap();
    let mut found = BTreeSet::new();
    collect_literals(&common::repo_root().join(src), &mut found);
    found
}

fn collect_literals(dir: &Path, found: &mut BTreeSet<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_literals(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).unwrap();
            for piece in text.split("\"/api/").skip(1) {
                // A literal ending in `/` is a prefix the router strips, not a path.
                if let Some(end) = piece.find('"').filter(|&end| !piece[..end].ends_with('/')) {
                    found.insert(format!("/api/{}", &piece[..end]));
                }
            }
        }
    }
}

fn documented_paths(doc: &Value) -> Vec<String> {
    doc["paths"].as_object().unwrap().keys().cloned().collect()
}

async fn openapi_document_is_served_and_parses(rt: Runtime) {
    let host = start(rt).await;
    let doc = document(&host).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        doc["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]
            ["tokenUrl"],
        "/api/v1/auth/login"
    );
    assert_eq!(doc["paths"]["/api/health"]["get"]["deprecated"], true);
    assert_eq!(
        doc,
        solarhub_shared::openapi::document(),
        "the component serves the shared document"
    );
}

async fn every_route_in_spin_toml_is_documented(rt: Runtime) {
    let host = start(rt).await;
    let doc = document(&host).await;
    let documented: BTreeSet<String> = documented_paths(&doc).iter().map(|p| shape(p)).collect();
    let manifest = spin_toml();
    let routes = routes(&manifest);
    assert!(routes.len() >= 7);
    // The catch-all serves only the JSON 404 (tested below), nothing to document.
    for route in routes.iter().filter(|r| r.route != CATCH_ALL) {
        match route.wildcard_prefix() {
            None => assert!(
                documented.contains(&shape(&route.route)),
                "route {} ({}) is not documented",
                route.route,
                route.component
            ),
            Some(prefix) => {
                let known: Vec<String> = known_paths(&manifest, &route.component)
                    .into_iter()
                    .filter(|p| p.starts_with(prefix))
                    .collect();
                // Components whose paths under the prefix all carry parameters (`/bess/{n}`) have
                // no literals to check; the documented paths below must still exist.
                for path in known {
                    assert!(
                        documented.contains(&shape(&path)),
                        "{path} ({}, under {}) is not documented",
                        route.component,
                        route.route
                    );
                }
                assert!(
                    documented.iter().any(|p| p.starts_with(prefix)),
                    "nothing documented under {}",
                    route.route
                );
            }
        }
    }
}

/// Each documented operation, requested without credentials or body, reaches a component (not the
/// router's empty 404) and answers with a status the document lists for it.
async fn every_documented_path_is_routed_and_answers_as_documented(rt: Runtime) {
    let host = start(rt).await;
    let doc = document(&host).await;
    // The `/api/...` catch-all answers every path with a JSON 404: a documented path must be
    // routed by a route of its own.
    let routes: Vec<Route> = routes(&spin_toml())
        .into_iter()
        .filter(|r| r.route != CATCH_ALL)
        .collect();
    for path in documented_paths(&doc) {
        let concrete: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        assert!(
            routes.iter().any(|r| r.routes(&concrete)),
            "{path} is documented but spin.toml routes nothing there"
        );
        for (method, op) in doc["paths"][&path].as_object().unwrap() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let upper = method.to_ascii_uppercase();
            let reply: Reply = request(host.addr, &upper, &concrete, &[], b"")
                .await
                .unwrap();
            assert!(
                !(reply.status == 404 && reply.body.is_empty()),
                "{upper} {path}: not routed (the router's empty 404)"
            );
            let status = reply.status.to_string();
            assert!(
                op["responses"].get(&status).is_some(),
                "{upper} {path} answered {status}, which is not documented: {}",
                reply.text()
            );
        }
    }
}

/// The `src`/`href` values of a page.
fn referenced(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for piece in html.split(attr).skip(1) {
            found.push(piece.split('"').next().unwrap().to_owned());
        }
    }
    found
}

/// Both pages load the document and only files this app serves (no CDN: they must work in an
/// air-gapped control room); `docs_offline.rs` renders them in a browser.
async fn swagger_ui_and_redoc_pages_load_the_document(rt: Runtime) {
    let host = start(rt).await;
    for (page, marker) in [
        ("/api/v1/docs", "/api/v1/docs/assets/swagger-ui-dist@"),
        ("/api/v1/redoc", "/api/v1/docs/assets/redoc@"),
    ] {
        let reply = get(host.addr, page).await.unwrap();
        assert_eq!(reply.status, 200, "{page}");
        assert!(
            reply
                .header("content-type")
                .unwrap()
                .starts_with("text/html"),
            "{page}"
        );
        let html = reply.text();
        assert!(html.contains(OPENAPI), "{page} does not load {OPENAPI}");
        assert!(html.contains(marker), "{page}");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{page} loads something from elsewhere"
        );
        let files = referenced(&html);
        assert!(!files.is_empty(), "{page}");
        for file in files {
            let asset = get(host.addr, &file).await.unwrap();
            assert_eq!(asset.status, 200, "{page} needs {file}");
            let kind = if file.ends_with(".css") {
                "text/css"
            } else {
                "text/javascript"
            };
            assert!(
                asset.header("content-type").unwrap().starts_with(kind),
                "{file}"
            );
        }
    }
}

/// The files are the vendored npm files byte for byte: gzip-encoded for a client that accepts it,
/// plain for one that does not; immutable under their versioned path; unknown ones a JSON 404.
async fn docs_assets_are_the_vendored_files(rt: Runtime) {
    let host = start(rt).await;
    let vendor = common::repo_root().join("functions/docs/vendor");
    let file = format!(
        "{}/swagger-ui-bundle.js",
        solarhub_shared::openapi::SWAGGER_UI_DIST
    );
    let original = fs::read(vendor.join(&file)).unwrap();
    let path = format!("/api/v1/docs/assets/{file}");

    let plain = get(host.addr, &path).await.unwrap();
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    assert!(
        plain.body == original,
        "the plain answer is the vendored file"
    );
    assert_eq!(
        plain.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );

    let gzip = request(
        host.addr,
        "GET",
        &path,
        &[("accept-encoding", "br, gzip")],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(gzip.status, 200);
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert!(gzip.body.len() < original.len() / 2, "{}", gzip.body.len());
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gzip.body[..]),
        &mut inflated,
    )
    .unwrap();
    assert!(
        inflated == original,
        "the gzip answer inflates to the vendored file"
    );

    let refused = request(
        host.addr,
        "GET",
        &path,
        &[("accept-encoding", "gzip;q=0")],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(refused.body.len(), original.len());

    let redoc = format!(
        "/api/v1/docs/assets/{}/redoc.standalone.js",
        solarhub_shared::openapi::REDOC
    );
    assert_eq!(get(host.addr, &redoc).await.unwrap().status, 200);
    for missing in [
        "/api/v1/docs/assets/swagger-ui-dist@5.0.0/swagger-ui-bundle.js",
        "/api/v1/docs/assets/redoc@2.5.4/LICENSE",
        "/api/v1/docs/assets/",
        "/api/v1/docs/assets/../spin.toml",
    ] {
        let reply = get(host.addr, missing).await.unwrap();
        assert_eq!(reply.status, 404, "{missing}");
        assert_eq!(reply.json().unwrap()["detail"], "Not Found", "{missing}");
    }
}

async fn wrong_method_is_405(rt: Runtime) {
    let host = start(rt).await;
    for path in [
        OPENAPI,
        "/api/v1/docs",
        "/api/v1/redoc",
        "/api/v1/docs/assets/redoc@2.5.4/redoc.standalone.js",
    ] {
        let reply = request(host.addr, "POST", path, &[], b"{}").await.unwrap();
        assert_eq!(reply.status, 405, "{path}");
        assert_eq!(reply.header("allow"), Some("GET"));
        assert_eq!(reply.json().unwrap()["detail"], "Method Not Allowed");
    }
}

/// Spin's router answers a path no route matches with an empty 404; under `/api` the catch-all
/// route gives the FastAPI answer instead, whatever the method.
async fn unknown_paths_under_api_are_json_404(rt: Runtime) {
    let host = start(rt).await;
    for (method, path) in [
        ("GET", "/api/v1/nothing-here"),
        ("POST", "/api/v1/bess/1/extra"),
        ("GET", "/api/unknown_legacy"),
        ("DELETE", "/api/v1/openapi.json/x"),
    ] {
        let reply = request(host.addr, method, path, &[], b"").await.unwrap();
        assert_eq!(reply.status, 404, "{method} {path}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(
            reply.json().unwrap()["detail"],
            "Not Found",
            "{method} {path}"
        );
    }
    // Outside /api the app owns nothing: the runtime's own empty 404.
    let reply = get(host.addr, "/favicon.ico").await.unwrap();
    assert_eq!(reply.status, 404);
    assert!(reply.body.is_empty(), "{}", reply.text());
}

on_both_runtimes!(
    openapi_document_is_served_and_parses,
    every_route_in_spin_toml_is_documented,
    every_documented_path_is_routed_and_answers_as_documented,
    swagger_ui_and_redoc_pages_load_the_document,
    docs_assets_are_the_vendored_files,
    wrong_method_is_405,
    unknown_paths_under_api_are_json_404,
);
