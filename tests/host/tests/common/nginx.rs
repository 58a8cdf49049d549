//! nginx for the tests that need TLS in front of something: the reverse-proxy example
//! (`deploy_proxy.rs`) and a TLS receiver for users' webhooks (`notifier_users.rs`). Each run gets
//! its own directory, configuration and certificates made with openssl.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// nginx's binary, if installed; in CI it must be (`.ci/run` installs it).
pub fn binary(what_is_skipped: &str) -> Option<PathBuf> {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx is missing in CI: .ci/run installs it"
        );
        eprintln!("nginx not found (apt-get install nginx-light): {what_is_skipped} not run");
    }
    found
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

fn openssl(args: &[&str], paths: &[&Path]) {
    let made = Command::new("openssl")
        .args(args)
        .args(paths)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&made.stderr)
    );
}

/// A self-signed certificate and key for `subject_alt_name` (e.g. `DNS:example.internal`), in
/// `dir` as `cert.pem` and `key.pem`: enough for clients told to trust exactly that file (curl).
pub fn self_signed(dir: &Path, common_name: &str, subject_alt_name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let subject = format!("/CN={common_name}");
    let san = format!("subjectAltName={subject_alt_name}");
    openssl(
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", &subject,
            "-addext", &san, "-keyout",
        ],
        &[&key, Path::new("-out"), &cert],
    );
    (cert, key)
}

/// A test CA (`ca.pem`) and a server certificate it signed for `subject_alt_name` (`cert.pem`,
/// `key.pem`), in `dir`. For clients that, like rustls (Spin's), refuse a CA certificate as a
/// server's own.
pub fn ca_signed(dir: &Path, subject_alt_name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let ca = dir.join("ca.pem");
    let ca_key = dir.join("ca.key");
    let (cert, key, csr) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("cert.csr"),
    );
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=SolarHub test CA",
            "-keyout",
        ],
        &[&ca_key, Path::new("-out"), &ca],
    );
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=test receiver",
            "-keyout",
        ],
        &[&key, Path::new("-out"), &csr],
    );
    let ext = dir.join("cert.ext");
    std::fs::write(
        &ext,
        format!(
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectAltName={subject_alt_name}\n"
        ),
    )
    .unwrap();
    openssl(
        &["x509", "-req", "-days", "1", "-CAcreateserial", "-in"],
        &[
            &csr,
            Path::new("-CA"),
            &ca,
            Path::new("-CAkey"),
            &ca_key,
            Path::new("-extfile"),
            &ext,
            Path::new("-out"),
            &cert,
        ],
    );
    (ca, cert, key)
}

/// A running nginx with `site` (one or more `server` blocks) as its only configuration; stopped
/// when dropped.
pub struct Nginx {
    child: Child,
    pub dir: PathBuf,
}

impl Nginx {
    /// Starts nginx in `dir` and waits until it accepts connections on `ready_port`.
    pub fn start(binary: &Path, dir: &Path, site: &str, ready_port: u16) -> Nginx {
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
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", ready_port)).is_err() {
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

    /// nginx terminating TLS on a free loopback port with a certificate for 127.0.0.1 signed by a
    /// test CA, passing every request to `upstream` over plain HTTP. Returns it, its port and the
    /// CA's file.
    pub fn tls_front(binary: &Path, dir: &Path, upstream: SocketAddr) -> (Nginx, u16, PathBuf) {
        let (ca, cert, key) = ca_signed(dir, "IP:127.0.0.1");
        let port = free_port();
        let site = format!(
            "server {{\n  listen 127.0.0.1:{port} ssl;\n  ssl_certificate {};\n  \
             ssl_certificate_key {};\n  location / {{ proxy_pass http://{upstream}; }}\n}}\n",
            cert.display(),
            key.display()
        );
        (Nginx::start(binary, dir, &site, port), port, ca)
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
