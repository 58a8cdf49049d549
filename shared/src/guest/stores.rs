//! Store access for one request: which URL each database and Redis instance lives at (Spin
//! variables, read once per request), the instance's kept connection per server, and table names
//! qualified with the database name configured for it. Components ask for a [`Database`] or a
//! [`RedisStore`]; nothing else in a component knows a URL.

use std::cell::RefCell;

use super::bindings::mysql::{ParameterValue, RowSet};
use super::bindings::rdbms_types::Error as MysqlError;
use super::config;
use super::mysql::{self, quoted_database, Server};
use super::redis::{arg, text, Redis};
use crate::error::{ApiError, Store};
use crate::schema::{Database, RedisStore};
use crate::store_url::StoreUrl;

#[derive(Default)]
pub struct Stores {
    /// Store URLs read so far, by variable name.
    urls: Vec<(String, StoreUrl)>,
    redis_prefix: Option<String>,
    /// Servers this request began a transaction on, to roll back if it ends without finishing it.
    transactions: Vec<Server>,
}

/// A database: the kept connection to its server and its quoted name, for qualified table names.
pub struct Db {
    /// A cell, so that a read can swap in a new connection behind a shared reference.
    server: RefCell<Server>,
    /// `` `BESS3` `` (or whatever name the URL gives).
    pub name: String,
    pub store: Store,
}

impl Db {
    /// `` `BESS3`.`rack_data` ``
    pub fn table(&self, table: &str) -> String {
        format!("{}.`{table}`", self.name)
    }

    /// Whether `other` lives on the same MySQL server (so one statement can read both, through
    /// the one connection they share).
    pub fn same_server(&self, other: &Db) -> bool {
        self.server.borrow().address == other.server.borrow().address
    }

    /// A read, retried once on a new connection if the kept one was lost.
    pub fn query(&self, sql: &str, params: &[ParameterValue]) -> Result<RowSet, ApiError> {
        mysql::query(&mut self.server.borrow_mut(), sql, params)
            .map_err(|e| mysql::failure(&self.store, &e))
    }

    pub fn execute(&self, sql: &str, params: &[ParameterValue]) -> Result<(), ApiError> {
        self.execute_raw(sql, params)
            .map_err(|e| mysql::failure(&self.store, &e))
    }

    /// A statement that a second application would not change further (see
    /// [`mysql::execute_repeatable`]): retried once on a new connection like a read.
    pub fn execute_repeatable(&self, sql: &str, params: &[ParameterValue]) -> Result<(), ApiError> {
        mysql::execute_repeatable(&mut self.server.borrow_mut(), sql, params)
            .map_err(|e| mysql::failure(&self.store, &e))
    }

    /// Like [`execute`](Self::execute), with the connector's error for callers that tell some
    /// failures apart (a duplicate key is a conflict, not an outage).
    pub fn execute_raw(&self, sql: &str, params: &[ParameterValue]) -> Result<(), MysqlError> {
        mysql::execute(&self.server.borrow(), sql, params)
    }

    /// Starts a transaction; the request's [`Stores`] rolls it back if the request ends first.
    pub fn begin(&self, stores: &mut Stores) -> Result<(), ApiError> {
        // On a lost connection nothing was begun: safe to repeat on a new one.
        self.execute_repeatable("START TRANSACTION", &[])?;
        let server = self.server.borrow();
        server.in_transaction.set(true);
        stores.transactions.push(server.clone());
        Ok(())
    }

    pub fn commit(&self) -> Result<(), ApiError> {
        let outcome = self.execute("COMMIT", &[]);
        self.server.borrow().in_transaction.set(false);
        outcome
    }

    /// Best effort: a connection that cannot roll back is lost, and closing it rolls back too.
    pub fn rollback(&self) {
        roll_back(&self.server.borrow());
    }
}

fn roll_back(server: &Server) {
    if !server.in_transaction.replace(false) {
        return;
    }
    if let Err(e) = mysql::execute(server, "ROLLBACK", &[]) {
        eprintln!("mysql: rollback failed: {}", mysql::describe(&e));
    }
}

impl Drop for Stores {
    /// A kept connection must not carry a request's open transaction into the next request.
    fn drop(&mut self) {
        for server in &self.transactions {
            roll_back(server);
        }
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

    /// The database `db` on the connection serving it (shared with every database on that server).
    pub fn db(&mut self, db: Database) -> Result<Db, ApiError> {
        let url = self.url(&db.variable())?;
        let store = Store::Mysql(db.default_name());
        let name = quoted_database(&url).ok_or_else(|| {
            super::internal(
                "config",
                &format!("{} names no usable database", db.variable()),
            )
        })?;
        let server = mysql::server(&url).map_err(|e| mysql::failure(&store, &e))?;
        Ok(Db {
            server: RefCell::new(server),
            name,
            store,
        })
    }

    pub fn redis(&mut self, which: RedisStore) -> Result<Redis, ApiError> {
        let store = match which {
            RedisStore::Main => Store::RedisMain,
            RedisStore::Gtr => Store::RedisGtr,
        };
        let url = self.url(which.variable())?;
        Redis::open(&url, store)
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
pub fn hash_fields(redis: &Redis, key: &str) -> Result<Vec<(String, String)>, ApiError> {
    let reply = redis.run("HGETALL", &[arg(key)])?;
    let mut fields = Vec::with_capacity(reply.len() / 2);
    let mut items = reply.into_iter();
    while let (Some(k), Some(v)) = (items.next(), items.next()) {
        if let (Some(k), Some(v)) = (text(k), text(v)) {
            fields.push((k, v));
        }
    }
    Ok(fields)
}

/// The live hash at `key` (prefix included) with its staleness judged now; `None` when absent.
pub fn live_values(
    redis: &Redis,
    key: &str,
    stale_after_secs: i64,
) -> Result<Option<crate::live::LiveValues>, ApiError> {
    let fields = hash_fields(redis, key)?;
    Ok(crate::live::LiveValues::from_fields(
        fields,
        crate::time::now_unix(),
        stale_after_secs,
    ))
}

/// Every hash key matching `pattern`, by `SCAN ... MATCH pattern TYPE hash` until the cursor comes
/// back to 0 (never `KEYS`, which blocks the server for the whole keyspace). A key may be reported
/// more than once by SCAN; callers deduplicate.
pub fn scan_hash_keys(redis: &Redis, pattern: &str) -> Result<Vec<String>, ApiError> {
    // Spin flattens the nested reply `[cursor, [key, ...]]` into `[cursor, key, ...]`.
    let mut keys = Vec::new();
    let mut cursor = "0".to_owned();
    // A bound on round trips, so a server that never returns cursor 0 cannot hang the request.
    for _ in 0..10_000 {
        let reply = redis.run(
            "SCAN",
            &[
                arg(&cursor),
                arg("MATCH"),
                arg(pattern),
                arg("COUNT"),
                arg("1000"),
                arg("TYPE"),
                arg("hash"),
            ],
        )?;
        let mut items = reply.into_iter().filter_map(text);
        cursor = items.next().unwrap_or_else(|| "0".to_owned());
        keys.extend(items);
        if cursor == "0" {
            break;
        }
    }
    Ok(keys)
}
