//! A Spin-compatible local host for SolarHub's components.
//!
//! It runs a Spin application (manifest v2, HTTP trigger) on wasmtime, with the fermyon:spin
//! MySQL, Redis and variables interfaces implemented on mysql_async and redis, so the integration
//! tests exercise the same compiled components against real MariaDB and Redis. It serves WASIp3
//! handlers (spin-sdk 6) with Spin 4's instance reuse, runs Redis-triggered components
//! (`redis_trigger`) and lets guests make outbound HTTP requests (`outbound_http`). Where it knowingly differs from Spin, the
//! module that differs says so.

pub mod app;
pub mod bindings;
pub mod client;
pub mod instance;
pub mod loader;
pub mod manifest;
pub mod mysql;
pub mod outbound;
pub mod outbound_http;
pub mod redis;
pub mod redis_trigger;
pub mod routes;
pub mod runtime_config;
pub mod server;
pub mod state;
pub mod variables;
mod variables_host;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use app::{App, HostOptions};
pub use server::Server;

/// A host serving in the background of the current tokio runtime (for tests and benchmarks).
pub struct RunningHost {
    pub addr: SocketAddr,
    pub server: Arc<Server>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<()>>>,
    /// The Redis triggers' subscribers, stopped with the host.
    subscribers: Vec<JoinHandle<()>>,
}

impl RunningHost {
    pub async fn start(options: HostOptions, listen: SocketAddr) -> Result<RunningHost> {
        let app = tokio::task::spawn_blocking(move || App::load(options)).await??;
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let subscribers = app.redis.spawn();
        let server = Server::new(Arc::new(app), false);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.clone().serve(listener, async {
            let _ = stopped.await;
        }));
        Ok(RunningHost {
            addr,
            server,
            stop: Some(stop),
            task: Some(task),
            subscribers,
        })
    }

    pub async fn stop(mut self) -> Result<()> {
        self.shutdown().await
    }

    async fn shutdown(&mut self) -> Result<()> {
        for subscriber in &self.subscribers {
            subscriber.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningHost {
    fn drop(&mut self) {
        for subscriber in &self.subscribers {
            subscriber.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
