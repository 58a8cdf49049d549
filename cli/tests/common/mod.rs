//! Shared test harness: a unique database/Redis-key prefix per test, the `solarhub` binary run
//! against it, and clean-up of exactly what the test created.
#![allow(dead_code)]

use mysql_async::prelude::{FromRow, Queryable};
use mysql_async::{Conn, Opts};
use solarhub_shared::schema::Database;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn mysql_base() -> String {
    std::env::var("SOLARHUB_MYSQL_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306".to_string())
        .trim_end_matches('/')
        .to_string()
}

pub fn redis_url() -> String {
    std::env::var("SOLARHUB_REDIS_MAIN_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_string())
}

pub struct TestEnv {
    pub prefix: String,
    pub rt: tokio::runtime::Runtime,
}

impl TestEnv {
    /// A fresh prefix `t<pid>_<nanos>_<n>_` (unique across processes and tests).
    pub fn new() -> TestEnv {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000_000;
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        TestEnv {
            prefix: format!("t{}_{nanos}_{n}_", std::process::id()),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    pub fn db(&self, d: Database) -> String {
        d.name_with_prefix(&self.prefix)
    }

    /// `solarhub <args>` with this test's prefixes and no other SOLARHUB_* settings.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_solarhub"));
        for (k, _) in std::env::vars() {
            if k.starts_with("SOLARHUB_") {
                c.env_remove(k);
            }
        }
        c.args(args)
            .env("SOLARHUB_MYSQL_URL", mysql_base())
            .env("SOLARHUB_DB_PREFIX", &self.prefix)
            .env("SOLARHUB_REDIS_MAIN_URL", redis_url())
            .env("SOLARHUB_REDIS_GTR_URL", redis_url())
            .env("SOLARHUB_REDIS_PREFIX", &self.prefix)
            .stdin(std::process::Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run solarhub")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "solarhub {args:?} failed ({:?})\nstdout:\n{stdout}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    pub fn conn(&self) -> Conn {
        self.rt.block_on(async {
            let mut c = Conn::new(Opts::from_url(&mysql_base()).unwrap())
                .await
                .expect("connect to MySQL");
            c.query_drop("SET time_zone = '+00:00'").await.unwrap();
            c
        })
    }

    pub fn query<T: FromRow + Send + 'static>(&self, conn: &mut Conn, sql: &str) -> Vec<T> {
        self.rt
            .block_on(conn.query(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub fn query_one<T: FromRow + Send + 'static>(&self, conn: &mut Conn, sql: &str) -> T {
        self.query(conn, sql)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{sql}: no row"))
    }

    pub fn exec(&self, conn: &mut Conn, sql: &str) {
        self.rt
            .block_on(conn.query_drop(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Databases of this test's prefix that exist now.
    pub fn existing_databases(&self, conn: &mut Conn) -> Vec<String> {
        let mut all: Vec<String> = self.query(
            conn,
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME",
        );
        all.retain(|d| d.starts_with(&self.prefix));
        all.sort();
        all
    }

    pub fn redis(&self) -> redis::aio::MultiplexedConnection {
        self.rt.block_on(async {
            redis::Client::open(redis_url())
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .expect("connect to Redis")
        })
    }

    pub fn redis_keys(&self) -> Vec<String> {
        let mut r = self.redis();
        let mut keys: Vec<String> = self.rt.block_on(async {
            redis::cmd("KEYS")
                .arg(format!("{}*", self.prefix))
                .query_async(&mut r)
                .await
                .unwrap()
        });
        keys.sort();
        keys
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Only this test's databases and keys.
        let prefix = self.prefix.clone();
        let dbs: Vec<String> = Database::ALL
            .iter()
            .map(|d| d.name_with_prefix(&prefix))
            .collect();
        let keys = self.redis_keys();
        self.rt.block_on(async {
            if let Ok(mut c) = Conn::new(Opts::from_url(&mysql_base()).unwrap()).await {
                for d in &dbs {
                    let _ = c.query_drop(format!("DROP DATABASE IF EXISTS `{d}`")).await;
                }
                let _ = c.disconnect().await;
            }
            if !keys.is_empty() {
                if let Ok(client) = redis::Client::open(redis_url()) {
                    if let Ok(mut r) = client.get_multiplexed_async_connection().await {
                        let _: Result<(), _> =
                            redis::cmd("DEL").arg(&keys).query_async(&mut r).await;
                    }
                }
            }
        });
    }
}
