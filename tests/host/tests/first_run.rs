//! A newcomer's `make up` (scripts/up.sh) on a machine with the MariaDB and Redis server binaries
//! but nothing answering where the app is configured to look: it starts project-local servers on
//! free ports (never the system's 3306/6379), migrates and seeds them, serves the demo with the
//! notifier beside it, and stops everything on SIGTERM. Without the binaries it says what to install and exits non-zero.

#[macro_use]
mod common;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::runtime::{spin_binary, Runtime};
use solarhub_host::client::{get, request};

const PASSWORD: &str = "a long passphrase for the demo";
const START_TIMEOUT: Duration = Duration::from_secs(240);

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
}

fn answers(addr: &str) -> bool {
    let addr: SocketAddr = addr.parse().unwrap();
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// The `solarhub` CLI beside the host binary (`make test` builds both).
fn cli() -> PathBuf {
    let host = PathBuf::from(env!("CARGO_BIN_EXE_solarhub-host"));
    let cli = host.with_file_name("solarhub");
    assert!(
        cli.is_file(),
        "{} is missing: cargo build --release -p solarhub-cli",
        cli.display()
    );
    cli
}

/// scripts/up.sh in its own process group, with a scratch directory for its stores and `.env`,
/// and only the environment given here (a developer's own settings must not leak in).
struct Up {
    child: Child,
    dir: PathBuf,
}

impl Up {
    fn start(dir: &Path, listen: SocketAddr, env: &[(&str, String)]) -> Up {
        use std::os::unix::process::CommandExt;
        std::fs::create_dir_all(dir).unwrap();
        let mut command = Command::new("bash");
        command
            .arg(common::repo_root().join("scripts/up.sh"))
            .arg(env!("CARGO_BIN_EXE_solarhub-host"))
            .arg(cli())
            .arg(listen.to_string())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::var_os("HOME").unwrap_or_default())
            .env("SOLARHUB_LOCAL_DIR", dir.join("local"))
            .env("SOLARHUB_ENV_FILE", dir.join("env"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("up.out")).unwrap())
            .stderr(std::fs::File::create(dir.join("up.err")).unwrap())
            .process_group(0);
        for (k, v) in env {
            command.env(k, v);
        }
        Up {
            child: command.spawn().expect("bash runs scripts/up.sh"),
            dir: dir.to_owned(),
        }
    }

    fn output(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        format!("{}{}", read("up.out"), read("up.err"))
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// SIGTERM to the script alone, as systemd or a terminal's kill would send it: it must stop
    /// its children and servers itself.
    fn terminate(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let started = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "up.sh did not stop on SIGTERM:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        // A failing test must not leave servers behind: the whole group, then the scratch dir.
        // SAFETY: as above, signalling our own child's process group.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
        for pidfile in ["local/mariadb.pid", "local/redis.pid"] {
            if let Ok(pid) = std::fs::read_to_string(self.dir.join(pidfile)) {
                if let Ok(pid) = pid.trim().parse::<i32>() {
                    // SAFETY: a server this test's up.sh started and recorded.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `export NAME='value'` lines of stores.env.
fn stores_env(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

async fn make_up_starts_its_own_stores_and_serves_the_demo(rt: Runtime) {
    let dir = std::env::temp_dir().join(common::unique_prefix("first_run"));
    let listen = free_addr();
    // Configured stores that do not answer: ports just taken from the kernel and released.
    let (dead_mysql, dead_redis) = (free_addr().to_string(), free_addr().to_string());
    let mut env = vec![
        (
            "RUNTIME",
            if rt == Runtime::Spin { "spin" } else { "host" }.to_owned(),
        ),
        ("SOLARHUB_SEED_DAYS", "1".to_owned()),
        (
            "SPIN_VARIABLE_JWT_SECRET",
            "first-run-test-secret-0123456789abcdef".to_owned(),
        ),
        ("SPIN_VARIABLE_MYSQL_HOST", dead_mysql.clone()),
        ("SPIN_VARIABLE_GTR_MYSQL_HOST", dead_mysql),
        ("SPIN_VARIABLE_REDIS_MAIN_HOST", dead_redis.clone()),
        ("SPIN_VARIABLE_REDIS_GTR_HOST", dead_redis),
    ];
    if let Some(spin) = spin_binary() {
        env.push(("SOLARHUB_SPIN", spin.display().to_string()));
    }
    let mut up = Up::start(&dir, listen, &env);

    let started = Instant::now();
    loop {
        if let Ok(reply) = get(listen, "/api/v1/health").await {
            if reply.status == 200 {
                break;
            }
        }
        if let Some(status) = up.exited() {
            panic!("up.sh exited ({status}) before serving:\n{}", up.output());
        }
        assert!(
            started.elapsed() < START_TIMEOUT,
            "no healthy answer after {START_TIMEOUT:?}:\n{}",
            up.output()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let output = up.output();
    assert!(
        output.contains("starting a project-local MariaDB")
            && output.contains("starting a project-local Redis"),
        "{output}"
    );

    // The app was pointed at the servers up.sh started, on free ports of their own.
    let local = dir.join("local");
    let stores = stores_env(&local.join("stores.env"));
    let mysql_host = &stores["SPIN_VARIABLE_MYSQL_HOST"];
    let redis_host = &stores["SPIN_VARIABLE_REDIS_MAIN_HOST"];
    for host in [mysql_host, redis_host] {
        assert!(host.starts_with("127.0.0.1:"), "{host}");
        assert!(
            !host.ends_with(":3306") && !host.ends_with(":6379"),
            "{host}"
        );
        assert!(answers(host), "{host}");
    }
    assert!(stores["SOLARHUB_DB_ESS_URL"].contains(mysql_host.as_str()));

    // The README's first admin, made with the CLI against those stores.
    let created = Command::new(cli())
        .args(["user", "create", "--username", "admin"])
        .args(["--email", "admin@example.tw", "--role", "admin"])
        .env_clear()
        .envs(&stores)
        .env("SOLARHUB_USER_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let token = common::api::token_with(listen, "admin", PASSWORD).await;
    let auth = format!("Bearer {token}");
    // The seeded demo site answers: a rack's live status.
    let rack = request(
        listen,
        "GET",
        "/api/v1/bess/1",
        &[("authorization", &auth)],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(rack.status, 200, "{}", rack.text());

    // The notifier (spin-notifier.toml) runs beside the API, subscribed to the alert events.
    let redis = redis::Client::open(format!("redis://{redis_host}")).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    let waiting = Instant::now();
    loop {
        let (_, subscribers): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg("alerts")
            .query_async(&mut conn)
            .await
            .unwrap();
        if subscribers > 0 {
            break;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(60),
            "the notifier never subscribed:\n{}",
            up.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(conn);

    // SIGTERM stops the app, the simulator and both servers.
    let pids: Vec<i32> = ["mariadb.pid", "redis.pid"]
        .iter()
        .map(|f| {
            std::fs::read_to_string(local.join(f))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    let status = up.terminate();
    assert!(!status.success(), "stopped by a signal: {status}");
    assert!(
        get(listen, "/api/v1/health").await.is_err(),
        "still serving"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while pids.iter().any(|&p| pid_alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    for pid in pids {
        assert!(!pid_alive(pid), "server {pid} outlived up.sh");
    }
    assert!(!answers(mysql_host) && !answers(redis_host));
    assert!(!local.join("stores.env").exists());
}

on_both_runtimes!(make_up_starts_its_own_stores_and_serves_the_demo);

#[test]
fn without_server_binaries_up_says_what_to_install() {
    let dir = std::env::temp_dir().join(common::unique_prefix("first_run_nobin"));
    let dead = free_addr().to_string();
    let mut up = Up::start(
        &dir,
        free_addr(),
        &[
            ("SOLARHUB_MARIADBD", "/nonexistent/mariadbd".to_owned()),
            (
                "SOLARHUB_REDIS_SERVER",
                "/nonexistent/redis-server".to_owned(),
            ),
            ("SPIN_VARIABLE_JWT_SECRET", "x".repeat(40)),
            ("SPIN_VARIABLE_MYSQL_HOST", dead.clone()),
            ("SPIN_VARIABLE_REDIS_MAIN_HOST", dead),
        ],
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = up.exited() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            up.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = up.output();
    assert_eq!(status.code(), Some(1), "{output}");
    for needle in [
        "apt-get install mariadb-server redis-server",
        "dnf install mariadb-server redis",
        "brew install mariadb redis",
        "mariadbd",
        "redis-server",
    ] {
        assert!(
            output.contains(needle),
            "{needle:?} missing from:\n{output}"
        );
    }
    assert!(!dir.join("local/mariadb").exists(), "nothing was started");
}
