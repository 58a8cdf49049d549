//! The two runtimes the end-to-end tests run the app on: the local host (in this process) and
//! real Spin (`spin up` as a child process), with one handle type so a test's body is the same
//! for both.
//!
//! Real Spin is the binary named by `SOLARHUB_SPIN`, else `spin` on `PATH`. Without one, each
//! real-Spin test returns at once after one line on stderr; `make test` prints the same once.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use solarhub_host::RunningHost;
use tokio::process::{Child, Command};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Host,
    Spin,
}

/// The app under test, serving on `addr`, stopped when dropped.
pub struct TestApp {
    pub addr: SocketAddr,
    pub runtime: Runtime,
    running: Running,
}

enum Running {
    Host(RunningHost),
    Spin(SpinProcess),
}

impl TestApp {
    /// The local host, for the few checks that read its counters (real Spin has none).
    pub fn host(&self) -> Option<&RunningHost> {
        match &self.running {
            Running::Host(host) => Some(host),
            Running::Spin(_) => None,
        }
    }

    /// What the components wrote to stdout/stderr so far (real Spin's log files; the local host
    /// logs to this process's stderr, so none here).
    pub fn component_logs(&self) -> String {
        match &self.running {
            Running::Host(_) => String::new(),
            Running::Spin(spin) => spin.logs(),
        }
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        match self.running {
            Running::Host(host) => host.stop().await,
            Running::Spin(mut spin) => {
                spin.kill().await;
                Ok(())
            }
        }
    }
}

/// Starts `manifest` with `variables` on `runtime`. For `Runtime::Spin` the caller has checked
/// [`spin_binary`].
pub async fn start(
    runtime: Runtime,
    manifest: PathBuf,
    variables: Vec<(String, String)>,
) -> TestApp {
    match runtime {
        Runtime::Host => {
            let mut options = solarhub_host::HostOptions::new(manifest);
            options.variables = variables;
            let host = super::start(options).await;
            TestApp {
                addr: host.addr,
                runtime,
                running: Running::Host(host),
            }
        }
        Runtime::Spin => start_spin(manifest.as_os_str(), &[], variables).await,
    }
}

/// Starts `manifest`, an app of Redis triggers only (`spin-notifier.toml`). Real Spin serves no
/// HTTP for it (and refuses `--listen`), so nothing answers on `addr`: the caller waits for what
/// the triggers do, e.g. their subscription (`events::wait_for_subscriber`).
pub async fn start_triggers(
    runtime: Runtime,
    manifest: PathBuf,
    variables: Vec<(String, String)>,
    spin_runtime_config: Option<&Path>,
) -> TestApp {
    match runtime {
        Runtime::Host => start(runtime, manifest, variables).await,
        Runtime::Spin => {
            let mut args = Vec::new();
            if let Some(config) = spin_runtime_config {
                args.push("--runtime-config-file");
                args.push(config.to_str().expect("a UTF-8 path"));
            }
            let spin = SpinProcess::start_triggers(manifest.as_os_str(), &variables, &args);
            TestApp {
                addr: spin.addr,
                runtime,
                running: Running::Spin(spin),
            }
        }
    }
}

/// Real `spin up --from <from>` (a manifest or a registry reference) with `extra_args`. The
/// caller has checked [`spin_binary`].
pub async fn start_spin(
    from: &std::ffi::OsStr,
    extra_args: &[&str],
    variables: Vec<(String, String)>,
) -> TestApp {
    let spin = SpinProcess::start(from, extra_args, &variables).await;
    TestApp {
        addr: spin.addr,
        runtime: Runtime::Spin,
        running: Running::Spin(spin),
    }
}

/// The real Spin to test on, if any: `SOLARHUB_SPIN`, else `spin` on `PATH`.
pub fn spin_binary() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            if let Some(named) = std::env::var_os("SOLARHUB_SPIN").filter(|v| !v.is_empty()) {
                return Some(PathBuf::from(named));
            }
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join("spin"))
                    .find(|candidate| candidate.is_file())
            })
        })
        .as_deref()
}

/// Whether a real-Spin test can run; says once per test that it cannot.
pub fn spin_available(test: &str) -> bool {
    if spin_binary().is_some() {
        return true;
    }
    eprintln!(
        "real Spin not found (set SOLARHUB_SPIN or put spin on PATH): {test} skipped on Spin"
    );
    false
}

/// Runs one async test body on each runtime: `on_both_runtimes!(name);` next to
/// `async fn name(rt: Runtime)` gives the tests `name::host` and `name::spin`.
#[macro_export]
macro_rules! on_both_runtimes {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            use super::common::runtime::{spin_available, Runtime};

            #[tokio::test]
            async fn host() {
                super::$name(Runtime::Host).await;
            }

            #[tokio::test]
            async fn spin() {
                if spin_available(concat!(module_path!(), "::", stringify!($name))) {
                    super::$name(Runtime::Spin).await;
                }
            }
        }
    )+};
}

/// `spin up` of a manifest in a child process, on a free loopback port, with its own log and
/// state directories and only the variables it is given (none inherited from the environment).
struct SpinProcess {
    addr: SocketAddr,
    child: Child,
    work_dir: PathBuf,
}

const SPIN_START_TIMEOUT: Duration = Duration::from_secs(60);

impl SpinProcess {
    async fn start(
        from: &std::ffi::OsStr,
        extra_args: &[&str],
        variables: &[(String, String)],
    ) -> SpinProcess {
        let work_dir = std::env::temp_dir().join(super::unique_prefix("spin"));
        // A port taken from the kernel and released; Spin binds it a moment later. A clash with
        // another test is possible in theory and shows as Spin failing to start (retried).
        let mut err = String::new();
        for _attempt in 0..3 {
            let addr = free_port();
            let listen = addr.to_string();
            let mut args = extra_args.to_vec();
            args.extend(["--listen", &listen]);
            let mut spin = SpinProcess::spawn(from, &args, variables, addr, &work_dir);
            if spin.wait_until_serving().await {
                return spin;
            }
            // Read before kill() removes the directory: the last attempt's reason is the panic's.
            err = std::fs::read_to_string(work_dir.join("spin.err")).unwrap_or_default();
            spin.kill().await;
        }
        panic!("spin up did not start serving:\n{err}");
    }

    /// `spin up` of an app without HTTP triggers: returns once it is spawned.
    fn start_triggers(
        from: &std::ffi::OsStr,
        variables: &[(String, String)],
        args: &[&str],
    ) -> SpinProcess {
        let work_dir = std::env::temp_dir().join(super::unique_prefix("spin"));
        let unused = free_port();
        SpinProcess::spawn(from, args, variables, unused, &work_dir)
    }

    fn spawn(
        from: &std::ffi::OsStr,
        args: &[&str],
        variables: &[(String, String)],
        addr: SocketAddr,
        work_dir: &Path,
    ) -> SpinProcess {
        let binary = spin_binary().expect("real Spin is available");
        let repo = super::repo_root();
        // Stopping a failed attempt removes its directory: every attempt makes its own.
        std::fs::create_dir_all(work_dir).unwrap();
        let mut command = Command::new(binary);
        command.arg("up").arg("--from").arg(from).args(args);
        // The repository's runtime config unless the caller gave one.
        if !args.contains(&"--runtime-config-file") {
            command
                .arg("--runtime-config-file")
                .arg(repo.join("runtime-config.toml"));
        }
        command
            .arg("--log-dir")
            .arg(work_dir.join("logs"))
            .arg("--state-dir")
            .arg(work_dir.join("state"))
            // The runtime config's dotenv path is relative: run where there is no `.env`, so a
            // developer's local secrets never leak into a test.
            .current_dir(work_dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::var_os("HOME").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(work_dir.join("spin.out")).unwrap())
            .stderr(std::fs::File::create(work_dir.join("spin.err")).unwrap())
            // `spin up` runs the app in a child (`spin trigger http`): give the pair a process
            // group of its own so both can be stopped together.
            .process_group(0)
            .kill_on_drop(true);
        if let Some(cache) = std::env::var_os("XDG_CACHE_HOME") {
            command.env("XDG_CACHE_HOME", cache);
        }
        for (name, value) in variables {
            command.env(
                format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()),
                value,
            );
        }
        let child = command.spawn().expect("spin up starts");
        SpinProcess {
            addr,
            child,
            work_dir: work_dir.to_owned(),
        }
    }

    /// True once Spin answers on its port; false when it exited first (e.g. the port was taken).
    async fn wait_until_serving(&mut self) -> bool {
        let started = Instant::now();
        while started.elapsed() < SPIN_START_TIMEOUT {
            if let Ok(Some(_status)) = self.child.try_wait() {
                return false;
            }
            if solarhub_host::client::get(self.addr, "/.well-known/spin/health")
                .await
                .is_ok()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        if let Ok(entries) = std::fs::read_dir(self.work_dir.join("logs")) {
            for entry in entries.flatten() {
                all.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        all
    }

    /// Ends `spin up` and the trigger process it started (its process group).
    fn kill_group(&self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) with a negative pid signals the group; no memory is involved.
            unsafe {
                libc::kill(-(pid as i32), libc::SIGKILL);
            }
        }
    }

    async fn kill(&mut self) {
        self.kill_group();
        let _ = self.child.wait().await;
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

impl Drop for SpinProcess {
    fn drop(&mut self) {
        // Also on a failing test's unwind: nothing may outlive the test.
        self.kill_group();
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
}
