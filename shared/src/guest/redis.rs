//! Redis connections kept per instance, one per URL (main and GTR share one when they are the same
//! server, as in development). Like MySQL's (see `mysql.rs`): a lost connection is dropped, a read
//! is retried once on a new one, a write never is.

use std::cell::RefCell;
use std::rc::Rc;

use super::bindings::redis::{Connection, Error, RedisParameter, RedisResult};
use crate::error::{ApiError, Store};
use crate::kept::{Kept, Pool};
use crate::store_url::StoreUrl;

thread_local! {
    static SERVERS: Pool<Connection> = const { Pool::new() };
}

/// A kept Redis connection and the store it serves, for error messages. (A cell, so that a
/// reconnect can swap the connection behind a shared reference.)
pub struct Redis {
    kept: RefCell<Rc<Kept<Connection>>>,
    pub store: Store,
}

impl Redis {
    /// The instance's connection for `url`, opened on first use.
    pub fn open(url: &StoreUrl, store: Store) -> Result<Redis, ApiError> {
        let address = url_with_path(url);
        SERVERS
            .with(|pool| pool.get_or_open(&address, Connection::open))
            .map(|kept| Redis {
                kept: RefCell::new(kept),
                store: store.clone(),
            })
            .map_err(|e| failure(&store, &e))
    }

    /// Lends the connection itself (to the auth-guard).
    pub fn with_connection<R>(&self, f: impl FnOnce(&Connection) -> R) -> R {
        f(&self.kept.borrow().conn)
    }

    /// Drops the kept connection and opens a new one (after it was seen to fail).
    pub fn reconnect(&self) -> Result<(), ApiError> {
        let address = self.kept.borrow().address.clone();
        SERVERS.with(|pool| pool.forget(&address));
        let fresh = SERVERS
            .with(|pool| pool.get_or_open(&address, Connection::open))
            .map_err(|e| failure(&self.store, &e))?;
        *self.kept.borrow_mut() = fresh;
        Ok(())
    }

    /// Runs one command, mapping a failure to the 503 naming the store. A read that fails on a
    /// lost connection is run once more on a new one.
    pub fn run(
        &self,
        command: &str,
        args: &[RedisParameter],
    ) -> Result<Vec<RedisResult>, ApiError> {
        let first = self.kept.borrow().conn.execute(command, args);
        match first {
            Err(e) if connection_lost(&e) => {
                if !is_read(command) {
                    let address = self.kept.borrow().address.clone();
                    SERVERS.with(|pool| pool.forget(&address));
                    return Err(failure(&self.store, &e));
                }
                self.reconnect()?;
                let retried = self.kept.borrow().conn.execute(command, args);
                retried.map_err(|e| failure(&self.store, &e))
            }
            other => other.map_err(|e| failure(&self.store, &e)),
        }
    }

    /// Runs `commands` as one Redis transaction (MULTI ... EXEC), so a write of several keys is
    /// never left half-done: the server applies all of them or, when the connection is lost
    /// before EXEC is sent, none (it discards a transaction whose connection closes). Then, as
    /// nothing was applied, the whole transaction runs once more on a new connection. Lost while
    /// EXEC's reply is awaited, it may have been applied: a 503, like any write. The replies of
    /// the commands, in order (each flattened, as `run` returns them).
    pub fn transaction(
        &self,
        commands: &[(&str, Vec<RedisParameter>)],
    ) -> Result<Vec<RedisResult>, ApiError> {
        match self.try_transaction(commands) {
            Err(Step::BeforeExec(e)) if connection_lost(&e) => {
                self.reconnect()?;
                self.try_transaction(commands)
                    .map_err(|step| self.transaction_failed(step))
            }
            other => other.map_err(|step| self.transaction_failed(step)),
        }
    }

    fn try_transaction(
        &self,
        commands: &[(&str, Vec<RedisParameter>)],
    ) -> Result<Vec<RedisResult>, Step> {
        let kept = self.kept.borrow();
        let conn = &kept.conn;
        conn.execute("MULTI", &[]).map_err(Step::BeforeExec)?;
        for (command, args) in commands {
            // Each command is only queued here (the reply is QUEUED).
            if let Err(e) = conn.execute(command, args) {
                if !connection_lost(&e) {
                    // Leave the kept connection outside any transaction for the next request.
                    let _ = conn.execute("DISCARD", &[]);
                }
                return Err(Step::BeforeExec(e));
            }
        }
        conn.execute("EXEC", &[]).map_err(Step::Exec)
    }

    fn transaction_failed(&self, step: Step) -> ApiError {
        let (Step::BeforeExec(e) | Step::Exec(e)) = step;
        if connection_lost(&e) {
            let address = self.kept.borrow().address.clone();
            SERVERS.with(|pool| pool.forget(&address));
        }
        failure(&self.store, &e)
    }
}

/// Where a transaction failed: before EXEC was sent nothing was applied; at EXEC, maybe all.
enum Step {
    BeforeExec(Error),
    Exec(Error),
}

/// How many Redis URLs this instance holds connections to (for tests and logs).
pub fn kept_count() -> usize {
    SERVERS.with(|pool| pool.len())
}

/// Commands that change nothing, safe to send twice.
fn is_read(command: &str) -> bool {
    const READS: [&str; 14] = [
        "GET",
        "MGET",
        "HGET",
        "HMGET",
        "HGETALL",
        "EXISTS",
        "TTL",
        "PTTL",
        "SMEMBERS",
        "SISMEMBER",
        "SCAN",
        "TYPE",
        "PING",
        "ZRANGE",
    ];
    READS.iter().any(|r| r.eq_ignore_ascii_case(command))
}

/// Whether the connection is gone rather than the command refused (see
/// [`crate::lost::redis_connection_lost`]).
pub fn connection_lost(err: &Error) -> bool {
    match err {
        Error::Other(msg) => crate::lost::redis_connection_lost(msg),
        _ => false,
    }
}

fn url_with_path(url: &StoreUrl) -> String {
    let server = url.server_url();
    if url.path().is_empty() {
        return server;
    }
    // Put the path back before any query string.
    match server.split_once('?') {
        Some((base, query)) => format!("{base}/{}?{query}", url.path()),
        None => format!("{server}/{}", url.path()),
    }
}

/// Every Redis failure we can see is the store misbehaving or unreachable: a 503 naming it.
pub fn failure(store: &Store, err: &Error) -> ApiError {
    eprintln!("store {} failed: {}", store.label(), describe(err));
    ApiError::StoreUnavailable(store.clone())
}

pub fn describe(err: &Error) -> String {
    match err {
        Error::InvalidAddress => "invalid address".to_owned(),
        Error::TooManyConnections => "too many connections".to_owned(),
        Error::TypeError => "type error".to_owned(),
        Error::Other(m) => {
            crate::store_url::redact_credentials(m.lines().next().unwrap_or_default())
        }
    }
}

/// A text argument of a Redis command.
pub fn arg(s: &str) -> RedisParameter {
    RedisParameter::Binary(s.as_bytes().to_vec())
}

/// The first reply as an integer (`Int64`, or a bulk string holding one, as GET returns counters).
pub fn int_reply(reply: &[RedisResult]) -> Option<i64> {
    match reply.first()? {
        RedisResult::Int64(n) => Some(*n),
        RedisResult::Binary(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

/// A reply item as text (bulk strings, statuses and integers); `None` for nil or non-UTF-8.
pub fn text(r: RedisResult) -> Option<String> {
    match r {
        RedisResult::Binary(b) => String::from_utf8(b).ok(),
        RedisResult::Status(s) => Some(s),
        RedisResult::Int64(n) => Some(n.to_string()),
        RedisResult::Nil => None,
    }
}
