//! `solarhub-host up`: serve a Spin application locally, like `spin up`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use solarhub_host::{App, HostOptions, Server};

const USAGE: &str = "usage: solarhub-host up [--from spin.toml] [--listen 127.0.0.1:3000]
                       [--runtime-config-file runtime-config.toml] [--variable name=value]...
                       [--request-timeout-secs 30] [--no-cache] [--quiet]";

fn main() -> Result<()> {
    let started = Instant::now();
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("up") => {}
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            return Ok(());
        }
        Some(other) => bail!("unknown command {other:?}\n{USAGE}"),
    }
    let mut options = HostOptions::new("spin.toml");
    let mut listen: SocketAddr = std::env::var("SPIN_HTTP_LISTEN_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
        .parse()
        .context("SPIN_HTTP_LISTEN_ADDR")?;
    let mut quiet = false;
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--from" | "-f" => options.manifest = PathBuf::from(value()?),
            "--listen" => listen = value()?.parse().context("--listen")?,
            "--runtime-config-file" => options.runtime_config = Some(PathBuf::from(value()?)),
            "--variable" => {
                let pair = value()?;
                let (k, v) = pair
                    .split_once('=')
                    .context("--variable takes name=value")?;
                options.variables.push((k.to_owned(), v.to_owned()));
            }
            "--request-timeout-secs" => {
                options.request_timeout =
                    Duration::from_secs(value()?.parse().context("--request-timeout-secs")?)
            }
            "--no-cache" => options.cache_dir = None,
            "--quiet" => quiet = true,
            other => bail!("unknown option {other:?}\n{USAGE}"),
        }
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = tokio::task::spawn_blocking(move || App::load(options)).await??;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        println!("Serving http://{listen}");
        println!("Available Routes:");
        for (route, component) in app.router.routes() {
            match route.strip_suffix("/...") {
                Some(prefix) => println!("  {component}: http://{listen}{prefix} (wildcard)"),
                None => println!("  {component}: http://{listen}{route}"),
            }
        }
        println!("Ready in {} ms", started.elapsed().as_millis());
        let server = Server::new(Arc::new(app), !quiet);
        server.serve(listener, shutdown_signal()).await
    })
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot listen for SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
