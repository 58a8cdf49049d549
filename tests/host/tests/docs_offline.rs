//! `/api/v1/docs` (Swagger UI) and `/api/v1/redoc` (ReDoc) render the API's operations in a real
//! headless browser (Debian's chromium) that can reach nothing but the app: every other request
//! goes to a proxy this test runs, which records it and answers nothing. An air-gapped control
//! room sees the same pages.
//!
//! Needs `chromium` (`.ci/run` installs it). Without it the tests say so and pass, except in CI
//! (`CI` set), where a missing browser is a failure rather than a silent skip.

#[macro_use]
mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::runtime::{Runtime, TestApp};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .filter_map(|name| {
            std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .next();
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing in CI: .ci/run installs it"
        );
        eprintln!("chromium not found (apt-get install chromium): browser rendering not checked");
    }
    found
}

/// A "proxy" that takes every request the browser would send outside loopback and records its
/// first line (`CONNECT host:443 ...` or `GET http://...`), answering nothing.
async fn outside_world() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                if let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf)).await
                {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    let line = text.lines().next().unwrap_or("").to_owned();
                    record.lock().unwrap().push(line);
                }
            });
        }
    });
    (addr, seen)
}

/// The page's DOM after its scripts ran, from headless chromium with a fresh profile.
async fn rendered(browser: &PathBuf, app: &TestApp, page: &str, proxy: SocketAddr) -> String {
    let profile = std::env::temp_dir().join(common::unique_prefix("chromium"));
    let mut command = tokio::process::Command::new(browser);
    command
        .args([
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-client-side-phishing-detection",
            "--disable-features=AutofillServerCommunication,OptimizationHints,Translate,MediaRouter",
            "--disable-dev-shm-usage",
            // Loopback goes direct (Chromium never proxies it); everything else to the recorder.
        ])
        .arg(format!("--proxy-server=http://{proxy}"))
        .arg(format!("--user-data-dir={}", profile.display()))
        // Virtual time runs ahead while the page is idle; the document's fetch is real I/O.
        .arg("--virtual-time-budget=20000")
        .arg("--dump-dom")
        .arg(format!("http://{}{page}", app.addr))
        .kill_on_drop(true);
    // Chromium refuses to run as root without it (CI runs as root).
    // SAFETY: geteuid(2) only reads the process's user id.
    if unsafe { libc::geteuid() } == 0 {
        command.arg("--no-sandbox");
    }
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("chromium finished within 120 s")
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        output.status.success(),
        "chromium failed on {page}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Hosts Debian's chromium 156 contacts by itself, whatever the page, even with the flags above
/// (seen with about:blank): its updater, clock and account services. Any other request the
/// recorder saw came from the page.
const BROWSER_OWN: [&str; 4] = [
    "update.googleapis.com",
    "clients2.google.com",
    "accounts.google.com",
    "content-autofill.googleapis.com",
];

/// The hosts of the recorded requests that the page made.
fn page_requests(seen: &Mutex<Vec<String>>) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|line| {
            // `CONNECT host:443 HTTP/1.1` or `GET http://host/path HTTP/1.1`.
            let target = line.split(' ').nth(1).unwrap_or("");
            let host = target
                .trim_start_matches("http://")
                .split(['/', ':'])
                .next()
                .unwrap_or("");
            !BROWSER_OWN.contains(&host)
        })
        .cloned()
        .collect()
}

/// Operations every page must show: one per route group, public and protected.
const OPERATIONS: [&str; 6] = [
    "/api/v1/health",
    "/api/v1/auth/login",
    "/api/v1/admin/users",
    "/api/v1/bess/{bess_number}",
    "/api/v1/alerts",
    "/api/v1/income/daily",
];

async fn start() -> (Option<PathBuf>, (SocketAddr, Arc<Mutex<Vec<String>>>)) {
    (chromium(), outside_world().await)
}

async fn app(rt: Runtime) -> TestApp {
    let vars = vec![(
        "jwt_secret".to_owned(),
        "docs-offline-tests-sign-nothing-0123456789".to_owned(),
    )];
    common::start_app(rt, vars, &[]).await
}

async fn swagger_ui_renders_every_operation_offline(rt: Runtime) {
    let (Some(browser), (proxy, seen)) = start().await else {
        return;
    };
    let app = app(rt).await;
    let page = solarhub_host::client::get(app.addr, "/api/v1/docs")
        .await
        .unwrap();
    assert!(page
        .header("content-security-policy")
        .is_some_and(|p| p.starts_with("default-src 'self'")));
    let dom = rendered(&browser, &app, "/api/v1/docs", proxy).await;
    assert!(dom.contains("swagger-ui"), "{dom}");
    assert!(dom.contains("SolarHub API"), "title missing:\n{dom}");
    let doc = solarhub_shared::openapi::document();
    let operations = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().keys())
        .filter(|k| *k != "parameters")
        .count();
    // Swagger UI renders one summary per operation carrying its path (deprecated ones too).
    let blocks = dom.matches(" data-path=\"").count();
    assert_eq!(blocks, operations, "rendered operations");
    for path in OPERATIONS {
        assert!(dom.contains(&format!("data-path=\"{path}\"")), "{path}");
    }
    assert!(dom.contains("Authorize"), "the OAuth2 Authorize button");
    assert_eq!(
        page_requests(&seen),
        Vec::<String>::new(),
        "requests outside"
    );
    app.stop().await.unwrap();
}

async fn redoc_renders_every_operation_offline(rt: Runtime) {
    let (Some(browser), (proxy, seen)) = start().await else {
        return;
    };
    let app = app(rt).await;
    let dom = rendered(&browser, &app, "/api/v1/redoc", proxy).await;
    assert!(dom.contains("SolarHub API"), "title missing:\n{dom}");
    let doc = solarhub_shared::openapi::document();
    // ReDoc gives each operation a section `operation/<operationId>`.
    for item in doc["paths"].as_object().unwrap().values() {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let id = op["operationId"].as_str().unwrap();
            assert!(
                dom.contains(&format!("/operation/{id}\"")),
                "operation {id} not rendered"
            );
        }
    }
    for path in OPERATIONS {
        assert!(dom.contains(path), "{path}");
    }
    assert_eq!(
        page_requests(&seen),
        Vec::<String>::new(),
        "requests outside"
    );
    app.stop().await.unwrap();
}

on_both_runtimes!(
    swagger_ui_renders_every_operation_offline,
    redoc_renders_every_operation_offline,
);
