//! deploy/proxy/nginx.conf in front of the app, on both runtimes: TLS terminated with a
//! throw-away certificate, HTTP redirected, HSTS, large bodies stopped at the edge, and the client
//! address handed on in `X-Forwarded-For` so that login throttling (with `trusted_proxies` set to
//! nginx's address) counts the real client — not nginx, not what the client claimed.
//!
//! The client connects from 127.0.0.2 (all of 127/8 is local on Linux) so that it and nginx
//! (127.0.0.1) are told apart. Needs nginx, openssl and curl (`.ci/run` installs them); without
//! nginx the test says so and passes, except in CI.

#[macro_use]
mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;

use common::nginx::{self, free_port, Nginx};
use common::runtime::{Runtime, TestApp};
use common::site::Site;
use solarhub_shared::schema::Database;

const SERVER_NAME: &str = "solarhub.site.internal";
const CLIENT: &str = "127.0.0.2";

/// deploy/proxy/nginx.conf as nginx's only site: the example's listeners moved to free loopback
/// ports, its certificate paths to a fresh self-signed pair, its upstream to the app.
struct Proxy {
    nginx: Nginx,
    http: u16,
    https: u16,
}

impl Proxy {
    fn start(binary: &Path, dir: &Path, app: SocketAddr) -> Proxy {
        let (http, https) = (free_port(), free_port());
        let (cert, key) = nginx::self_signed(dir, SERVER_NAME, &format!("DNS:{SERVER_NAME}"));
        let example =
            std::fs::read_to_string(common::repo_root().join("deploy/proxy/nginx.conf")).unwrap();
        let mut site = String::new();
        for line in example.lines() {
            let trimmed = line.trim();
            // IPv6 listeners: the machine may have no ::1; the IPv4 ones carry the test.
            if trimmed.starts_with("listen [::]") {
                continue;
            }
            let line = match trimmed {
                "listen 80;" => format!("listen 127.0.0.1:{http};"),
                "listen 443 ssl http2;" => format!("listen 127.0.0.1:{https} ssl http2;"),
                "proxy_pass http://127.0.0.1:3000;" => format!("proxy_pass http://{app};"),
                _ => line
                    .replace("/etc/ssl/solarhub/fullchain.pem", cert.to_str().unwrap())
                    .replace("/etc/ssl/solarhub/privkey.pem", key.to_str().unwrap()),
            };
            site.push_str(&line);
            site.push('\n');
        }
        assert!(
            site.contains(&format!(":{https} ssl")),
            "the example changed shape:\n{site}"
        );
        Proxy {
            nginx: Nginx::start(binary, dir, &site, https),
            http,
            https,
        }
    }

    /// curl from 127.0.0.2 to `https://solarhub.site.internal/<path>` through nginx, trusting
    /// only the test's certificate; prints the status line and headers, then the body. Async:
    /// the local host serves from this test's own runtime, which must not be blocked.
    async fn curl(&self, scheme: &str, args: &[&str], path: &str) -> Output {
        let port = if scheme == "https" {
            self.https
        } else {
            self.http
        };
        tokio::process::Command::new("curl")
            .args(["-sS", "-i", "--max-time", "20", "--interface", CLIENT])
            .arg("--resolve")
            .arg(format!("{SERVER_NAME}:{port}:127.0.0.1"))
            .arg("--cacert")
            .arg(self.nginx.dir.join("cert.pem"))
            .args(args)
            .arg(format!("{scheme}://{SERVER_NAME}:{port}{path}"))
            .output()
            .await
            .expect("curl runs")
    }
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// A failing login through nginx, with a client-sent (spoofed) header.
async fn login(nginx: &Proxy, spoof: &str) -> Output {
    let body = r#"{"username":"nobody","password":"wrong wrong wrong"}"#;
    let args = [
        "-H",
        "content-type: application/json",
        "-H",
        spoof,
        "--data",
        body,
    ];
    nginx.curl("https", &args, "/api/v1/auth/login").await
}

/// The status code of curl's `-i` output.
fn status(reply: &str) -> u16 {
    reply
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn nginx_terminates_tls_and_names_the_client(rt: Runtime) {
    let Some(binary) = nginx::binary("the proxy example") else {
        return;
    };
    let site = Site::new("proxy_nginx", &[Database::Ess]).await;
    let app: TestApp = common::start_app(
        rt,
        site.variables(),
        &[
            ("trusted_proxies", "127.0.0.1"),
            ("login_max_attempts_per_address", "2"),
        ],
    )
    .await;
    let dir = std::env::temp_dir().join(common::unique_prefix("nginx"));
    std::fs::create_dir_all(&dir).unwrap();
    let nginx = Proxy::start(&binary, &dir, app.addr);

    let redirect = text(&nginx.curl("http", &[], "/api/v1/auth/me").await);
    assert_eq!(status(&redirect), 301, "{redirect}");
    assert!(
        redirect.contains(&format!("https://{SERVER_NAME}/api/v1/auth/me")),
        "{redirect}"
    );

    let me = text(&nginx.curl("https", &[], "/api/v1/auth/me").await);
    assert_eq!(status(&me), 401, "{me}");
    assert!(me
        .to_ascii_lowercase()
        .contains("strict-transport-security: max-age=31536000"));
    assert!(me.contains("\"detail\""), "the app's own answer: {me}");

    for spoof in ["x-forwarded-for: 203.0.113.1", "x-forwarded-for: 127.0.0.1"] {
        let reply = text(&login(&nginx, spoof).await);
        assert_eq!(status(&reply), 401, "{reply}");
    }
    let third = text(&login(&nginx, "x-forwarded-for: 203.0.113.2").await);
    assert_eq!(status(&third), 429, "the client's own counter: {third}");
    assert_eq!(common::api::login_attempts(&site, CLIENT).await, Some(2));
    for other in ["127.0.0.1", "203.0.113.1", "203.0.113.2"] {
        assert_eq!(
            common::api::login_attempts(&site, other).await,
            None,
            "{other}"
        );
    }

    // Bodies over the app's 64 KiB stop at the edge.
    let big = "x".repeat(70 * 1024);
    let large = text(
        &nginx
            .curl("https", &["--data", &big], "/api/v1/auth/login")
            .await,
    );
    assert_eq!(status(&large), 413, "{large}");

    drop(nginx);
    app.stop().await.unwrap();
    site.cleanup().await;
    let _ = std::fs::remove_dir_all(&dir);
}

on_both_runtimes!(nginx_terminates_tls_and_names_the_client);
