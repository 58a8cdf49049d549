//! `solarhub`: SolarHub's data-layer CLI (migrations, demo-site generator, live simulator,
//! users, status). Store locations come from the environment: see `config.rs` and `--help`.

mod args;
mod config;
mod db;
mod migrate;
mod model;
mod rng;
mod seed;
mod sim_alerts;
mod simulate;
mod status;
mod user;

use anyhow::{bail, Result};
use args::Args;
use config::Config;
use solarhub_shared::time::Date;

const USAGE: &str = "\
solarhub — SolarHub data layer

USAGE:
  solarhub migrate [--quiet]
      Create missing databases and apply pending migrations (safe to run concurrently).
  solarhub seed --days N [--seed S] [--end YYYY-MM-DD] [--if-empty]
      Write N days of deterministic demo history ending now (or at the end of local date --end).
  solarhub simulate [--interval-ms 1000] [--for-seconds N] [--seed S] [--history]
                    [--alerts-every-secs 90] [--quiet]
      Keep the Redis live hashes updating until SIGINT/SIGTERM (or for N seconds);
      --history also appends the MySQL history rows (10 s / 60 s). About every
      --alerts-every-secs (0: never) a rack or PCS raises an alert that clears minutes later:
      written to the alert log and published as an alert event.
  solarhub openapi
      Print the OpenAPI document the docs component serves (for tools, and the benchmark).
  solarhub user create --username U --email E [--full-name N] --role admin|operator|viewer
      Create a user; password from SOLARHUB_USER_PASSWORD or a no-echo prompt (>= 12 characters).
  solarhub status
      Migration version, row counts and size of every database.

ENVIRONMENT:
  SOLARHUB_MYSQL_URL        server URL for every database (default mysql://root@127.0.0.1:3306)
  SOLARHUB_DB_PREFIX        prefix of every database name (default empty)
  SOLARHUB_DB_<NAME>_URL    full URL of one database, e.g. SOLARHUB_DB_ESS_URL, SOLARHUB_DB_BESS3_URL
  SOLARHUB_REDIS_MAIN_URL   main Redis (default redis://127.0.0.1:6379)
  SOLARHUB_REDIS_GTR_URL    GTR Redis (default redis://127.0.0.1:6379)
  SOLARHUB_REDIS_PREFIX     prefix of every Redis key (default empty)
  SOLARHUB_ALERTS_CHANNEL   channel of alert events, under the prefix (default alerts)
  SOLARHUB_SITE_UTC_OFFSET  site time zone for local days (default +08:00)
  SOLARHUB_USER_PASSWORD    password for `user create`
";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let code = match dispatch(&argv).await {
        Ok(()) => 0,
        Err(e) => {
            let usage = e.downcast_ref::<UsageError>().is_some();
            eprintln!("error: {}", config::redact(&format!("{e:#}")));
            if usage {
                eprintln!("run `solarhub --help` for usage");
                2
            } else {
                1
            }
        }
    };
    std::process::exit(code);
}

#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage<T>(r: Result<T>) -> Result<T> {
    r.map_err(|e| UsageError(e.to_string()).into())
}

async fn dispatch(argv: &[String]) -> Result<()> {
    let Some(cmd) = argv.first() else {
        print!("{USAGE}");
        return Ok(());
    };
    let rest = &argv[1..];
    match cmd.as_str() {
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        "-V" | "--version" => {
            println!("solarhub {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        "migrate" => {
            let a = usage(Args::parse(rest, &["quiet"]))?;
            usage(a.only(&["quiet"]))?;
            let cfg = Config::from_env()?;
            migrate::run(&cfg, a.flag("quiet")).await.map(|_| ())
        }
        "seed" => {
            let a = usage(Args::parse(rest, &["if-empty"]))?;
            usage(a.only(&["days", "seed", "end", "if-empty"]))?;
            let days = usage(a.required("days").map(str::to_string))?;
            let days: u32 = usage(
                days.parse()
                    .map_err(|_| anyhow::anyhow!("--days: invalid value '{days}'")),
            )?;
            let seed = usage(a.parse_or("seed", 42u64))?;
            let end = match a.get("end") {
                None => None,
                Some(s) => Some(usage(Date::parse(s).ok_or_else(|| {
                    anyhow::anyhow!("--end: expected YYYY-MM-DD, got '{s}'")
                }))?),
            };
            let cfg = Config::from_env()?;
            if a.flag("if-empty") && seed::has_history(&cfg).await? {
                println!("history present: not seeding");
                return Ok(());
            }
            seed::run(&cfg, &seed::SeedOptions { days, seed, end })
                .await
                .map(|_| ())
        }
        "simulate" => {
            let a = usage(Args::parse(rest, &["quiet", "history"]))?;
            usage(a.only(&[
                "interval-ms",
                "for-seconds",
                "seed",
                "quiet",
                "history",
                "alerts-every-secs",
            ]))?;
            let opts = simulate::SimOptions {
                interval_ms: usage(a.parse_or("interval-ms", 1000u64))?,
                for_seconds: match a.get("for-seconds") {
                    None => None,
                    Some(_) => Some(usage(a.parse_or("for-seconds", 0u64))?),
                },
                seed: match a.get("seed") {
                    None => None,
                    Some(_) => Some(usage(a.parse_or("seed", 0u64))?),
                },
                quiet: a.flag("quiet"),
                history: a.flag("history"),
                alerts_every_secs: usage(a.parse_or("alerts-every-secs", 90u64))?,
            };
            let cfg = Config::from_env()?;
            simulate::run(&cfg, &opts).await.map(|_| ())
        }
        "user" => match rest.first().map(String::as_str) {
            Some("create") => {
                let a = usage(Args::parse(&rest[1..], &[]))?;
                usage(a.only(&["username", "email", "full-name", "role"]))?;
                let u = user::NewUser {
                    username: usage(a.required("username"))?.to_string(),
                    email: usage(a.required("email"))?.to_string(),
                    full_name: a.get("full-name").map(str::to_string),
                    role: usage(a.required("role"))?.to_string(),
                };
                let cfg = Config::from_env()?;
                let id = user::create(&cfg, &u).await?;
                println!("created user {} (id {id}) with role {}", u.username, u.role);
                Ok(())
            }
            _ => bail!(UsageError("expected `solarhub user create ...`".into())),
        },
        "openapi" => {
            usage(Args::parse(rest, &[]).and_then(|a| a.only(&[])))?;
            println!("{}", solarhub_shared::openapi::document());
            Ok(())
        }
        "status" => {
            usage(Args::parse(rest, &[]).and_then(|a| a.only(&[])))?;
            let cfg = Config::from_env()?;
            status::run(&cfg).await
        }
        other => bail!(UsageError(format!("unknown command '{other}'"))),
    }
}
