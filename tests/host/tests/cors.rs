//! CORS for the dashboard on both runtimes: preflights answered by the component owning the
//! route (protected ones included: a preflight carries no token), answers carrying
//! `Access-Control-Allow-Origin` for allowed origins only, `Vary: Origin` always.

#[macro_use]
mod common;

use common::runtime::{Runtime, TestApp};
use solarhub_host::client::{request, Reply};

const DASHBOARD: &str = "https://dash.example.tw";
const STRANGER: &str = "https://evil.example";

async fn start(rt: Runtime, origins: &str) -> TestApp {
    let vars = vec![
        (
            "jwt_secret".to_owned(),
            "cors-tests-sign-nothing-0123456789abcdef".to_owned(),
        ),
        ("cors_allowed_origins".to_owned(), origins.to_owned()),
    ];
    common::start_app(rt, vars, &[]).await
}

async fn preflight(app: &TestApp, path: &str, origin: &str) -> Reply {
    let headers = [
        ("origin", origin),
        ("access-control-request-method", "GET"),
        ("access-control-request-headers", "authorization"),
    ];
    request(app.addr, "OPTIONS", path, &headers, b"")
        .await
        .unwrap()
}

async fn preflights_are_answered_for_allowed_origins(rt: Runtime) {
    let app = start(rt, &format!("{DASHBOARD}, http://localhost:5173")).await;
    for path in [
        "/api/v1/openapi.json",
        "/api/v1/bess/1",
        "/api/v1/admin/users",
        "/api/v1/auth/login",
        "/api/v1/health",
    ] {
        let ok = preflight(&app, path, DASHBOARD).await;
        assert_eq!(ok.status, 204, "{path}: {}", ok.text());
        assert_eq!(
            ok.header("access-control-allow-origin"),
            Some(DASHBOARD),
            "{path}"
        );
        assert!(ok
            .header("access-control-allow-methods")
            .unwrap()
            .contains("GET"));
        let allowed_headers = ok
            .header("access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        assert!(
            allowed_headers.contains("authorization") && allowed_headers.contains("content-type")
        );
        assert_eq!(ok.header("access-control-max-age"), Some("600"));
        assert_eq!(ok.header("vary"), Some("Origin"));

        let refused = preflight(&app, path, STRANGER).await;
        assert_eq!(refused.status, 400, "{path}");
        assert_eq!(refused.header("access-control-allow-origin"), None);
    }
    app.stop().await.unwrap();
}

async fn answers_name_allowed_origins_only(rt: Runtime) {
    let app = start(rt, DASHBOARD).await;
    let get = |origin: &'static str| {
        let addr = app.addr;
        async move {
            request(
                addr,
                "GET",
                "/api/v1/openapi.json",
                &[("origin", origin)],
                b"",
            )
            .await
            .unwrap()
        }
    };
    let ok = get(DASHBOARD).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("access-control-allow-origin"), Some(DASHBOARD));
    assert!(ok
        .header("access-control-expose-headers")
        .unwrap()
        .contains("Link"));
    assert_eq!(ok.header("vary"), Some("Origin"));
    let other = get(STRANGER).await;
    assert_eq!(other.status, 200);
    assert_eq!(other.header("access-control-allow-origin"), None);
    assert_eq!(other.header("vary"), Some("Origin"));
    // An error answer is readable by the dashboard too (a 401 it must react to).
    let unauthorized = request(
        app.addr,
        "GET",
        "/api/v1/bess/1",
        &[("origin", DASHBOARD)],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(unauthorized.status, 401);
    assert_eq!(
        unauthorized.header("access-control-allow-origin"),
        Some(DASHBOARD)
    );
    app.stop().await.unwrap();
}

async fn no_origin_is_allowed_by_default(rt: Runtime) {
    let app = start(rt, "").await;
    let refused = preflight(&app, "/api/v1/openapi.json", DASHBOARD).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.header("access-control-allow-origin"), None);
    app.stop().await.unwrap();
}

on_both_runtimes!(
    preflights_are_answered_for_allowed_origins,
    answers_name_allowed_origins_only,
    no_origin_is_allowed_by_default,
);
