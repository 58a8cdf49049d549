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

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::runtime::{Runtime, TestApp};
use common::site::Site;
use solarhub_shared::schema::Database;

const SERVER_NAME: &str = "solarhub.site.internal";
const CLIENT: &str = "127.0.0.2";

fn nginx() -> Option<PathBuf> {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx is missing in CI: .ci/run installs it"
        );
        eprintln!("nginx not found (apt-get install nginx-light): the proxy example not run");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// nginx with deploy/proxy/nginx.conf as its only site: the example's listeners moved to free
/// loopback ports, its certificate paths to a fresh self-signed pair, its upstream to the app.
struct Nginx {
    child: Child,
    dir: PathBuf,
    http: u16,
    https: u16,
}

impl Nginx {
    fn start(binary: &Path, dir: &Path, app: SocketAddr) -> Nginx {
        let (http, https) = (free_port(), free_port());
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .arg("-subj")
            .arg(format!("/CN={SERVER_NAME}"))
            .arg("-addext")
            .arg(format!("subjectAltName=DNS:{SERVER_NAME}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl runs");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );

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
        std::fs::write(dir.join("site.conf"), site).unwrap();
        let d = dir.display();
        std::fs::write(
            dir.join("nginx.conf"),
            format!(
                "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
                 events {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  \
                 proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
                 uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/site.conf;\n}}\n"
            ),
        )
        .unwrap();
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("nginx.stderr")).unwrap())
            .spawn()
            .expect("nginx starts");
        let nginx = Nginx {
            child,
            dir: dir.to_owned(),
            http,
            https,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", https)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "nginx did not start: {}{}",
                std::fs::read_to_string(dir.join("nginx.stderr")).unwrap_or_default(),
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        nginx
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
            .arg(self.dir.join("cert.pem"))
            .args(args)
            .arg(format!("{scheme}://{SERVER_NAME}:{port}{path}"))
            .output()
            .await
            .expect("curl runs")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // nginx's master stops its worker on SIGTERM (Child::kill would orphan the worker).
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// A failing login through nginx, with a client-sent (spoofed) header.
async fn login(nginx: &Nginx, spoof: &str) -> Output {
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
    let Some(binary) = nginx() else {
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
    let nginx = Nginx::start(&binary, &dir, app.addr);

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
