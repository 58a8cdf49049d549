//! Store access for one request: which URL each database and Redis instance lives at (Spin
//! variables, read once), one connection per server, and table names qualified with the database
//! name configured for it. Components ask for a [`Database`] or a [`RedisStore`]; nothing else in a
//! component knows a URL.

use spin_sdk::mysql::{Connection as MysqlConnection, ParameterValue, RowSet};
use spin_sdk::redis::{Connection as RedisConnection, RedisParameter, RedisResult};

use super::config;
use super::mysql::{quoted_database, MysqlSessions};
use super::redis::RedisSessions;
use crate::error::{ApiError, Store};
use crate::schema::{Database, RedisStore};
use crate::store_url::StoreUrl;

#[derive(Default)]
pub struct Stores {
    mysql: MysqlSessions,
    redis: RedisSessions,
    /// Store URLs read so far, by variable name.
    urls: Vec<(String, StoreUrl)>,
    redis_prefix: Option<String>,
}

/// A database's connection and its quoted name, for building qualified table names.
pub struct Db<'a> {
    pub conn: &'a MysqlConnection,
    /// `` `BESS3` `` (or whatever name the URL gives).
    pub name: String,
    pub store: Store,
}

impl Db<'_> {
    /// `` `BESS3`.`rack_data` ``
    pub fn table(&self, table: &str) -> String {
        format!("{}.`{table}`", self.name)
    }

    pub fn query(&self, sql: &str, params: &[ParameterValue]) -> Result<RowSet, ApiError> {
        self.conn
            .query(sql, params)
            .map_err(|e| super::mysql::failure(&self.store, &e))
    }

    pub fn execute(&self, sql: &str, params: &[ParameterValue]) -> Result<(), ApiError> {
        self.conn
            .execute(sql, params)
            .map_err(|e| super::mysql::failure(&self.store, &e))
    }
}

impl Stores {
    pub fn new() -> Self {
        Self::default()
    }

    /// The store URL in `variable`, read and parsed once per request.
    fn url(&mut self, variable: &str) -> Result<StoreUrl, ApiError> {
        if let Some((_, url)) = self.urls.iter().find(|(v, _)| v == variable) {
            return Ok(url.clone());
        }
        let Some(url) = config::store_url(variable)? else {
            return Err(super::internal(
                "config",
                &format!("{variable} is not a valid URL"),
            ));
        };
        self.urls.push((variable.to_owned(), url.clone()));
        Ok(url)
    }

    /// The connection serving `db` (shared with every other database on the same server).
    pub fn db(&mut self, db: Database) -> Result<Db<'_>, ApiError> {
        let url = self.url(&db.variable())?;
        let store = Store::Mysql(db.default_name());
        let name = quoted_database(&url).ok_or_else(|| {
            super::internal(
                "config",
                &format!("{} names no usable database", db.variable()),
            )
        })?;
        let conn = self.mysql.connection(&url, &store)?;
        Ok(Db { conn, name, store })
    }

    pub fn redis(&mut self, which: RedisStore) -> Result<&RedisConnection, ApiError> {
        let store = match which {
            RedisStore::Main => Store::RedisMain,
            RedisStore::Gtr => Store::RedisGtr,
        };
        let url = self.url(which.variable())?;
        self.redis.connection(&url, &store)
    }

    /// The deployment prefix of every Redis key (`redis_key_prefix`, usually empty).
    pub fn redis_prefix(&mut self) -> Result<&str, ApiError> {
        if self.redis_prefix.is_none() {
            self.redis_prefix = Some(config::var("redis_key_prefix")?);
        }
        Ok(self.redis_prefix.as_deref().unwrap_or_default())
    }
}

/// `HGETALL key` as `(field, value)` pairs; an absent key is an empty list.
pub fn hash_fields(
    conn: &RedisConnection,
    key: &str,
    store: &Store,
) -> Result<Vec<(String, String)>, ApiError> {
    let reply = conn
        .execute(
            "HGETALL",
            &[RedisParameter::Binary(key.as_bytes().to_vec())],
        )
        .map_err(|e| super::redis::failure(store, &e))?;
    let mut fields = Vec::with_capacity(reply.len() / 2);
    let mut items = reply.into_iter();
    while let (Some(k), Some(v)) = (items.next(), items.next()) {
        if let (Some(k), Some(v)) = (text(k), text(v)) {
            fields.push((k, v));
        }
    }
    Ok(fields)
}

fn text(r: RedisResult) -> Option<String> {
    match r {
        RedisResult::Binary(b) => String::from_utf8(b).ok(),
        RedisResult::Status(s) => Some(s),
        RedisResult::Int64(n) => Some(n.to_string()),
        RedisResult::Nil => None,
    }
}

/// The live hash at `key` (prefix included) with its staleness judged now; `None` when absent.
pub fn live_values(
    conn: &RedisConnection,
    key: &str,
    store: &Store,
    stale_after_secs: i64,
) -> Result<Option<crate::live::LiveValues>, ApiError> {
    let fields = hash_fields(conn, key, store)?;
    Ok(crate::live::LiveValues::from_fields(
        fields,
        crate::time::now_unix(),
        stale_after_secs,
    ))
}
