//! Store locations from the environment.
//!
//! - `SOLARHUB_DB_<NAME>_URL` per database (`SOLARHUB_DB_ESS_URL`, ..., `SOLARHUB_DB_BESS3_URL`),
//!   else `${SOLARHUB_MYSQL_URL:-mysql://root@127.0.0.1:3306}/${SOLARHUB_DB_PREFIX}<name>`.
//! - `SOLARHUB_REDIS_MAIN_URL`, `SOLARHUB_REDIS_GTR_URL` (default `redis://127.0.0.1:6379`),
//!   `SOLARHUB_REDIS_PREFIX` (key prefix, default empty).
//! - `SOLARHUB_SITE_UTC_OFFSET` (`+08:00` by default): the site's local day for the generator.

use anyhow::{anyhow, bail, Context, Result};
use mysql_async::{Opts, OptsBuilder};
use solarhub_shared::schema::Database;
use solarhub_shared::time::UtcOffset;

pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306";
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Where one database lives.
#[derive(Clone)]
pub struct DbTarget {
    pub db: Database,
    /// The database name on its server (the URL's path).
    pub name: String,
    /// Index into [`Config::servers`].
    pub server: usize,
}

/// One MySQL server (connection options without a database).
#[derive(Clone)]
pub struct Server {
    pub opts: Opts,
    /// `host:port` for messages (never credentials).
    pub label: String,
}

pub struct Config {
    pub dbs: Vec<DbTarget>,
    pub servers: Vec<Server>,
    pub redis_main: String,
    pub redis_gtr: String,
    pub redis_prefix: String,
    /// The alert events' channel under the prefix (the app's `alerts_channel`).
    pub alerts_channel: String,
    pub site_offset: UtcOffset,
}

/// `SOLARHUB_DB_BESS3_URL` for `Database::Bess(3)`.
pub fn db_env_var(db: Database) -> String {
    format!("SOLARHUB_DB_{}_URL", db.key().to_ascii_uppercase())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Config {
    pub fn from_env() -> Result<Config> {
        let base = env("SOLARHUB_MYSQL_URL").unwrap_or_else(|| DEFAULT_MYSQL_URL.to_string());
        let base = base.trim_end_matches('/').to_string();
        let prefix = env("SOLARHUB_DB_PREFIX").unwrap_or_default();
        if !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            bail!("SOLARHUB_DB_PREFIX may hold only letters, digits and '_'");
        }
        let mut servers: Vec<(String, Server)> = Vec::new();
        let mut dbs = Vec::new();
        for db in Database::ALL {
            let var = db_env_var(db);
            let url =
                env(&var).unwrap_or_else(|| format!("{base}/{}", db.name_with_prefix(&prefix)));
            let opts = Opts::from_url(&url)
                .map_err(|e| anyhow!("{var}: invalid MySQL URL: {}", redact(&e.to_string())))?;
            let name = opts
                .db_name()
                .map(str::to_string)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| anyhow!("{var}: the URL names no database"))?;
            if name.contains('`') || name.len() > 64 {
                bail!("{var}: unusable database name");
            }
            let key = format!(
                "{}|{}|{}|{}",
                opts.ip_or_hostname(),
                opts.tcp_port(),
                opts.user().unwrap_or(""),
                opts.pass().unwrap_or("")
            );
            let server = match servers.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    let label = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
                    let server_opts: Opts =
                        OptsBuilder::from_opts(opts).db_name(None::<String>).into();
                    servers.push((
                        key,
                        Server {
                            opts: server_opts,
                            label,
                        },
                    ));
                    servers.len() - 1
                }
            };
            dbs.push(DbTarget { db, name, server });
        }
        let site_offset = match env("SOLARHUB_SITE_UTC_OFFSET") {
            Some(s) => UtcOffset::parse(&s)
                .with_context(|| format!("SOLARHUB_SITE_UTC_OFFSET: invalid offset '{s}'"))?,
            None => UtcOffset::SITE_DEFAULT,
        };
        Ok(Config {
            dbs,
            servers: servers.into_iter().map(|(_, s)| s).collect(),
            redis_main: env("SOLARHUB_REDIS_MAIN_URL")
                .unwrap_or_else(|| DEFAULT_REDIS_URL.to_string()),
            redis_gtr: env("SOLARHUB_REDIS_GTR_URL")
                .unwrap_or_else(|| DEFAULT_REDIS_URL.to_string()),
            redis_prefix: env("SOLARHUB_REDIS_PREFIX").unwrap_or_default(),
            alerts_channel: env("SOLARHUB_ALERTS_CHANNEL").unwrap_or_else(|| "alerts".to_owned()),
            site_offset,
        })
    }

    pub fn target(&self, db: Database) -> &DbTarget {
        self.dbs
            .iter()
            .find(|t| t.db == db)
            .expect("every database has a target")
    }

    /// `` `name`.`table` `` for a table of `db`.
    pub fn qualified(&self, db: Database, table: &str) -> String {
        format!("`{}`.`{}`", self.target(db).name, table)
    }
}

/// Drops `user:password@` from anything that may echo a URL.
pub fn redact(text: &str) -> String {
    solarhub_shared::store_url::redact_credentials(text)
}
