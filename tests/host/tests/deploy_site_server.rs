//! The site-server pieces of deploy/ on real Spin: the systemd unit (accepted by
//! `systemd-analyze verify`, and its `ExecStart` command line serving a migrated site with the
//! component logs where the unit says), and the Vault runtime-config example (what Spin asks a
//! Vault for, and that a variable Vault lacks falls through to the environment).
//!
//! Real Spin only: these are Spin's command line and Spin's providers.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::runtime::{spin_available, spin_binary};
use common::site::Site;
use solarhub_host::client::get;
use solarhub_shared::schema::Database;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

fn deploy() -> PathBuf {
    common::repo_root().join("deploy")
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
}

/// `spin <args>` in its own process group with only `variables` (as SPIN_VARIABLE_*), stopped
/// with its `spin trigger` child on drop.
struct Spin {
    child: Child,
    dir: PathBuf,
}

impl Spin {
    async fn start(
        args: &[String],
        variables: &[(String, String)],
        dir: &Path,
        addr: SocketAddr,
    ) -> Spin {
        let mut command = Command::new(spin_binary().unwrap());
        command
            .args(args)
            .current_dir(common::repo_root())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("spin.out")).unwrap())
            .stderr(std::fs::File::create(dir.join("spin.err")).unwrap())
            .process_group(0)
            .kill_on_drop(true);
        for (name, value) in variables {
            command.env(
                format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()),
                value,
            );
        }
        let mut spin = Spin {
            child: command.spawn().unwrap(),
            dir: dir.to_owned(),
        };
        let started = Instant::now();
        while get(addr, "/.well-known/spin/health").await.is_err() {
            if let Ok(Some(status)) = spin.child.try_wait() {
                panic!("spin exited ({status}): {}", spin.output());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{}",
                spin.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        spin
    }

    fn output(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        format!("{}{}", read("spin.out"), read("spin.err"))
    }
}

impl Drop for Spin {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on the process group of our own child; no memory involved.
            unsafe {
                libc::kill(-(pid as i32), libc::SIGKILL);
            }
        }
    }
}

/// The unit's `ExecStart=` words.
fn exec_start(unit: &str) -> Vec<String> {
    unit.lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart=")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_systemd_unit_verifies_and_its_command_serves_the_site() {
    if !spin_available(
        "deploy_site_server::the_systemd_unit_verifies_and_its_command_serves_the_site",
    ) {
        return;
    }
    let unit = std::fs::read_to_string(deploy().join("systemd/solarhub.service")).unwrap();
    let dir = std::env::temp_dir().join(common::unique_prefix("systemd"));
    std::fs::create_dir_all(&dir).unwrap();
    let spin = spin_binary().unwrap().display().to_string();

    // systemd's own check of the unit, with the binary where this machine has it.
    if let Ok(verify) = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg({
            let copy = dir.join("solarhub.service");
            std::fs::write(&copy, unit.replace("/usr/local/bin/spin", &spin)).unwrap();
            copy
        })
        .output()
    {
        let said = String::from_utf8_lossy(&verify.stderr).into_owned();
        assert!(verify.status.success() && said.trim().is_empty(), "{said}");
    } else {
        eprintln!("systemd-analyze not found: the unit's syntax not checked");
    }

    // Its ExecStart, with this checkout where the unit has the installed app.
    let words = exec_start(&unit);
    assert_eq!(words[0], "/usr/local/bin/spin");
    assert_eq!(words[1], "up");
    let addr = free_addr();
    let (logs, state) = (dir.join("log"), dir.join("state"));
    let substitute = |word: &str| -> String {
        match word {
            "/opt/solarhub/app/spin.toml" => {
                common::repo_root().join("spin.toml").display().to_string()
            }
            "127.0.0.1:3000" => addr.to_string(),
            "/etc/solarhub/runtime-config.toml" => deploy()
                .join("runtime-config/env.toml")
                .display()
                .to_string(),
            "/var/log/solarhub" => logs.display().to_string(),
            "/var/lib/solarhub" => state.display().to_string(),
            other => {
                assert!(
                    !other.starts_with('/'),
                    "unexpected path {other} in ExecStart"
                );
                other.to_owned()
            }
        }
    };
    let args: Vec<String> = words[1..].iter().map(|w| substitute(w)).collect();
    let site = Site::new("systemd", &Database::ALL).await;
    site.add_user("ops", &["operator"]).await;
    let server = Spin::start(&args, &site.variables(), &dir, addr).await;

    let health = get(addr, "/api/v1/health").await.unwrap();
    assert_eq!(health.status, 200, "{}", health.text());
    let token = common::api::token_at(addr, "ops").await;
    assert!(!token.is_empty());
    // The components' output lands in the unit's log directory.
    let files: Vec<String> = std::fs::read_dir(&logs)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("auth_") && f.ends_with(".txt")),
        "{files:?}\n{}",
        server.output()
    );
    drop(server);
    site.cleanup().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Answers every request 404 `{"errors":[]}`, as a Vault without the secret does, and records
/// the request line and the `X-Vault-Token` it came with. Not a Vault: it holds nothing.
async fn empty_vault() -> (SocketAddr, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                // One request per connection is all this needs: read its head, answer, close.
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let line = text.lines().next().unwrap_or("").to_owned();
                let token = text
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("x-vault-token")
                            .then(|| value.trim().to_owned())
                    })
                    .unwrap_or_default();
                record.lock().unwrap().push((line, token));
                let body = r#"{"errors":[]}"#;
                let answer = format!(
                    "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn the_vault_runtime_config_asks_vault_then_the_environment() {
    if !spin_available(
        "deploy_site_server::the_vault_runtime_config_asks_vault_then_the_environment",
    ) {
        return;
    }
    let dir = std::env::temp_dir().join(common::unique_prefix("vault"));
    std::fs::create_dir_all(&dir).unwrap();
    let (vault, seen) = empty_vault().await;
    let example = std::fs::read_to_string(deploy().join("runtime-config/vault.toml")).unwrap();
    let config: toml::Table = example.parse().unwrap();
    let provider = config["variables_provider"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"].as_str() == Some("vault"))
        .unwrap()
        .clone();
    let url = provider["url"].as_str().unwrap();
    let runtime_config = dir.join("runtime-config.toml");
    std::fs::write(
        &runtime_config,
        example.replace(url, &format!("http://{vault}")),
    )
    .unwrap();

    let site = Site::new("vault", &[Database::Ess]).await;
    site.add_user("ops", &["operator"]).await;
    let addr = free_addr();
    let args: Vec<String> = [
        "up",
        "--from",
        &common::repo_root().join("spin.toml").display().to_string(),
        "--listen",
        &addr.to_string(),
        "--runtime-config-file",
        &runtime_config.display().to_string(),
        "--log-dir",
        &dir.join("log").display().to_string(),
        "--state-dir",
        &dir.join("state").display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let server = Spin::start(&args, &site.variables(), &dir, addr).await;

    // The env provider comes first, so a variable set there never reaches Vault; jwt_secret is
    // set there, so ask for a token: the guard and the signer read it, and the component's
    // store hosts (templates of variables) make Spin resolve every application variable.
    let token = common::api::token_at(addr, "ops").await;
    assert!(!token.is_empty(), "{}", server.output());
    let seen = seen.lock().unwrap().clone();
    let mount = provider["mount"].as_str().unwrap();
    let prefix = provider["prefix"].as_str().unwrap();
    let expected_token = provider["token"].as_str().unwrap();
    // Not set in the environment, so asked of Vault (then defaulted): e.g. the site's name.
    let site_name = format!("GET /v1/{mount}/data/{prefix}/site_name");
    assert!(
        seen.iter().any(|(line, _)| line.starts_with(&site_name)),
        "{site_name} not asked: {seen:?}\n{}",
        server.output()
    );
    for (line, token) in &seen {
        assert!(
            line.starts_with(&format!("GET /v1/{mount}/data/{prefix}/")),
            "{line}"
        );
        assert_eq!(token, expected_token, "{line}");
    }
    // Set in the environment: never asked of Vault.
    assert!(
        !seen.iter().any(|(line, _)| line.contains("/jwt_secret ")),
        "{seen:?}"
    );
    drop(server);
    site.cleanup().await;
    let _ = std::fs::remove_dir_all(&dir);
}
