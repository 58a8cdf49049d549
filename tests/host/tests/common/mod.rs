//! Shared set-up for the host's integration tests: paths, unique names, a running host.

#![allow(dead_code)]

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

pub async fn start(options: HostOptions) -> RunningHost {
    let any_port: SocketAddr = "127.0.0.1:0".parse().unwrap();
    RunningHost::start(options, any_port)
        .await
        .expect("host starts")
}
