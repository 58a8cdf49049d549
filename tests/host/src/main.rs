//! `solarhub-host up`: serve a Spin application locally, like `spin up`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use solarhub_host::{App, HostOptions, Server};

const USAGE: &str = "usage: solarhub-host up [--from spin.toml] [--listen 127.0.0.1:3000]
                       [--runtime-config-file runtime-config.toml] [--variable name=value]...
                       [--max-instance-reuse-count 128] [--max-instance-concurrent-reuse-count 16]
                       [--idle-instance-timeout 1s] [--request-timeout 30s]
                       [--no-cache] [--quiet]

Durations as Spin takes them: a number of seconds, or with a suffix s, ms, us or ns. Spin also
accepts a range (a..b) for the reuse flags and timeouts; this host takes single values.";

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
            "--request-timeout" => options.request_timeout = parse_duration(&value()?)?,
            "--idle-instance-timeout" => options.idle_instance_timeout = parse_duration(&value()?)?,
            "--max-instance-reuse-count" => {
                options.max_instance_reuse_count = parse_count(&value()?)?
            }
            "--max-instance-concurrent-reuse-count" => {
                options.max_instance_concurrent_reuse_count = parse_count(&value()?)?
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
        let subscribers = app.redis.spawn();
        println!("Ready in {} ms", started.elapsed().as_millis());
        let server = Server::new(Arc::new(app), !quiet);
        server.clone().serve(listener, shutdown_signal()).await?;
        for subscriber in subscribers {
            subscriber.abort();
        }
        // Instances end on their idle timeout: wait for them, so the store connections they hold
        // are closed cleanly rather than cut when the process exits.
        let patience = server.app().options.idle_instance_timeout + Duration::from_secs(1);
        if !server.app().instances_ended(patience).await {
            eprintln!("Shutdown: instances still running after {patience:?}");
        }
        Ok(())
    })
}

/// Spin's duration syntax: `30`, `30s`, `500ms`, `10us`, `10ns`.
fn parse_duration(text: &str) -> Result<Duration> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .with_context(|| format!("expected a duration like 30s or 500ms; got {text:?}"))?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1e3,
        "us" | "μs" => number / 1e6,
        "ns" => number / 1e9,
        _ => bail!("unknown duration unit {unit:?} in {text:?} (use s, ms, us or ns)"),
    };
    Duration::try_from_secs_f64(seconds).with_context(|| format!("bad duration {text:?}"))
}

fn parse_count(text: &str) -> Result<usize> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => bail!("expected a whole number of at least 1; got {text:?}"),
    }
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
