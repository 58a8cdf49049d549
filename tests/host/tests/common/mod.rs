//! Shared set-up for the host's integration tests: paths, unique names, a running host.

#![allow(dead_code)]

pub mod api;
pub mod events;
pub mod load;
pub mod nginx;
pub mod proxy;
pub mod receiver;
pub mod rig;
pub mod runtime;
pub mod site;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use solarhub_host::{HostOptions, RunningHost};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A name no other test (or parallel test run) uses: `t<pid>_<nanos>_<tag>_`.
pub fn unique_prefix(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("t{}_{nanos}_{tag}_", std::process::id())
}

pub fn options(manifest: PathBuf, variables: &[(&str, String)]) -> HostOptions {
    let mut options = HostOptions::new(manifest);
    options.variables = variables
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    options
}

/// Starts the app of `spin.toml` on `runtime` with `variables`, each of `overrides` replacing its
/// namesake.
pub async fn start_app(
    runtime: runtime::Runtime,
    variables: Vec<(String, String)>,
    overrides: &[(&str, &str)],
) -> runtime::TestApp {
    let variables = with_overrides(variables, overrides);
    runtime::start(runtime, repo_root().join("spin.toml"), variables).await
}

fn with_overrides(
    mut variables: Vec<(String, String)>,
    overrides: &[(&str, &str)],
) -> Vec<(String, String)> {
    for (k, v) in overrides {
        variables.retain(|(name, _)| name != k);
        variables.push(((*k).to_owned(), (*v).to_owned()));
    }
    variables
}

/// The notifier app (`spin-notifier.toml`), once its subscription is made: the API's variables
/// serve it too.
pub async fn start_notifier(
    runtime: runtime::Runtime,
    site: &site::Site,
    overrides: &[(&str, &str)],
) -> runtime::TestApp {
    start_notifier_configured(runtime, site, overrides, None).await
}

/// The same, on real Spin with `runtime_config` instead of the repository's runtime-config.toml
/// (the local host reads none).
pub async fn start_notifier_configured(
    runtime: runtime::Runtime,
    site: &site::Site,
    overrides: &[(&str, &str)],
    runtime_config: Option<&std::path::Path>,
) -> runtime::TestApp {
    let variables = with_overrides(site.variables(), overrides);
    let manifest = repo_root().join("spin-notifier.toml");
    let app = runtime::start_triggers(runtime, manifest, variables, runtime_config).await;
    events::wait_for_subscriber(site).await;
    app
}

pub async fn start(options: HostOptions) -> RunningHost {
    let any_port: SocketAddr = "127.0.0.1:0".parse().unwrap();
    RunningHost::start(options, any_port)
        .await
        .expect("host starts")
}

/// Drops the named databases and deletes the Redis keys under `redis_prefix`. Runs on its own
/// thread and runtime so it can be called from `Drop`, even while a test's runtime is unwinding.
pub fn remove_test_stores(databases: Vec<String>, redis_prefix: String) {
    let work = move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            use mysql_async::prelude::Queryable;
            if let Ok(mut conn) = mysql_async::Conn::from_url(site::MYSQL).await {
                for name in &databases {
                    let _ = conn
                        .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                        .await;
                }
                let _ = conn.disconnect().await;
            }
            if redis_prefix.is_empty() {
                return;
            }
            if let Ok(client) = redis::Client::open(site::REDIS) {
                if let Ok(mut redis) = client.get_multiplexed_async_connection().await {
                    let pattern = format!("{redis_prefix}*");
                    let keys: Vec<String> = redis::cmd("KEYS")
                        .arg(pattern)
                        .query_async(&mut redis)
                        .await
                        .unwrap_or_default();
                    if !keys.is_empty() {
                        let _: Result<i64, _> =
                            redis::cmd("DEL").arg(keys).query_async(&mut redis).await;
                    }
                }
            }
        });
    };
    let _ = std::thread::spawn(work).join();
}
