//! The app as an OCI artifact, end to end on real Spin (deploy/README.md, "OCI registry"):
//! `spin registry push` of this spin.toml to a registry on loopback (Debian's `docker-registry`,
//! the CNCF distribution registry), then `spin up --from <reference>` serving the pulled app
//! against a migrated site: healthy, logins work through the composed auth-guard, and the docs'
//! vendored files arrived intact.
//!
//! Real Spin only: pulling from a registry is Spin's (the local host runs a spin.toml). Needs
//! `docker-registry` (`.ci/run` installs it); without it the test says so and passes, except in
//! CI, where that is a failure.

#[macro_use]
mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::runtime::{spin_available, spin_binary};
use common::site::{Site, PASSWORD};
use solarhub_host::client::{get, request};
use solarhub_shared::schema::Database;

fn registry_binary() -> Option<PathBuf> {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("docker-registry"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "docker-registry is missing in CI: .ci/run installs it"
        );
        eprintln!("docker-registry not found (apt-get install docker-registry): OCI not checked");
    }
    found
}

/// A registry on a free loopback port, storing under `dir`, without auth or TLS; killed on drop.
struct Registry {
    addr: SocketAddr,
    child: Child,
}

impl Registry {
    async fn start(binary: &Path, dir: &Path) -> Registry {
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap();
        let config = dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
                dir.join("blobs").display()
            ),
        )
        .unwrap();
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("registry.log")).unwrap())
            .spawn()
            .expect("docker-registry starts");
        let registry = Registry { addr, child };
        let started = Instant::now();
        while get(addr, "/v2/").await.map(|r| r.status).ok() != Some(200) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "registry did not start: {}",
                std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        registry
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn spin_registry_push_then_spin_up_from_the_reference() {
    if !spin_available("oci::spin_registry_push_then_spin_up_from_the_reference") {
        return;
    }
    let Some(registry_binary) = registry_binary() else {
        return;
    };
    let dir = std::env::temp_dir().join(common::unique_prefix("oci"));
    std::fs::create_dir_all(&dir).unwrap();
    let registry = Registry::start(&registry_binary, &dir).await;
    let reference = format!("{}/solarhub/solarhub:{}", registry.addr, std::process::id());

    // What deploy/README.md tells an operator to run (plus --insecure: this registry is plain
    // HTTP, and a cache of the test's own).
    let push = Command::new(spin_binary().unwrap())
        .args(["registry", "push", "--insecure", "--cache-dir"])
        .arg(dir.join("push-cache"))
        .arg("--from")
        .arg(common::repo_root().join("spin.toml"))
        .arg(&reference)
        .output()
        .unwrap();
    let pushed =
        String::from_utf8_lossy(&push.stdout).into_owned() + &String::from_utf8_lossy(&push.stderr);
    assert!(push.status.success(), "spin registry push: {pushed}");
    assert!(pushed.contains("Pushed with digest sha256:"), "{pushed}");

    // The registry holds a Spin application artifact under that tag.
    let manifest = request(
        registry.addr,
        "GET",
        &format!("/v2/solarhub/solarhub/manifests/{}", std::process::id()),
        &[("accept", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(manifest.status, 200, "{}", manifest.text());
    let manifest = manifest.json().unwrap();
    let layers: Vec<&str> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap())
        .collect();
    // Spin's artifact: the locked application, and one Wasm layer per component at least.
    let locked = layers
        .iter()
        .filter(|m| **m == "application/vnd.fermyon.spin.application.v1+config")
        .count();
    assert_eq!(locked, 1, "{manifest}");
    let manifest_text = std::fs::read_to_string(common::repo_root().join("spin.toml")).unwrap();
    let routed: std::collections::BTreeSet<&str> = manifest_text
        .lines()
        .filter_map(|l| l.strip_prefix("component = \""))
        .collect();
    let wasm = layers
        .iter()
        .filter(|m| **m == "application/vnd.wasm.content.layer.v1+wasm")
        .count();
    assert!(wasm >= routed.len(), "{wasm} Wasm layers for {routed:?}");

    // `spin up --from <reference>`, in a directory with no spin.toml and no built components.
    let site = Site::new("oci", &Database::ALL).await;
    site.add_user("operator1", &["operator"]).await;
    let cache = dir.join("up-cache");
    let app = common::runtime::start_spin(
        reference.as_ref(),
        &["--insecure", "--cache-dir", cache.to_str().unwrap()],
        site.variables(),
    )
    .await;

    let health = get(app.addr, "/api/v1/health").await.unwrap();
    assert_eq!(health.status, 200, "{}", health.text());
    let token = common::api::token(&app, "operator1").await;
    let me = common::api::get(&app, "/api/v1/auth/me", Some(&token)).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json().unwrap()["username"], "operator1");
    let wrong = serde_json::json!({"username": "operator1", "password": format!("{PASSWORD}x")});
    let refused = request(
        app.addr,
        "POST",
        "/api/v1/auth/login",
        &[("content-type", "application/json")],
        wrong.to_string().as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(refused.status, 401);
    let file = format!("{}/redoc.standalone.js", solarhub_shared::openapi::REDOC);
    let served = get(app.addr, &format!("/api/v1/docs/assets/{file}"))
        .await
        .unwrap();
    assert_eq!(served.status, 200);
    let vendored = std::fs::read(
        common::repo_root()
            .join("functions/docs/vendor")
            .join(&file),
    )
    .unwrap();
    assert!(
        served.body == vendored,
        "the docs component's files came through the registry"
    );

    app.stop().await.unwrap();
    drop(registry);
    site.cleanup().await;
    let _ = std::fs::remove_dir_all(&dir);
}
