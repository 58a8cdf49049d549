//! Redis connections for one request, one per distinct URL (main and GTR share one when they are
//! the same server, as in development).

use spin_sdk::redis::{Connection, Error};

use crate::error::{ApiError, Store};
use crate::store_url::StoreUrl;

#[derive(Default)]
pub struct RedisSessions {
    open: super::OpenOnce<Connection>,
}

impl RedisSessions {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn server(&mut self, url: &StoreUrl) -> Result<&Connection, Error> {
        // For Redis the path selects the logical database, so the whole URL is the key.
        self.open.get_or_open(url_with_path(url), Connection::open)
    }

    pub fn connection(&mut self, url: &StoreUrl, store: &Store) -> Result<&Connection, ApiError> {
        self.server(url).map_err(|e| failure(store, &e))
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
    let cause = match err {
        Error::InvalidAddress => "invalid address".to_owned(),
        Error::TooManyConnections => "too many connections".to_owned(),
        Error::TypeError => "type error".to_owned(),
        Error::Other(m) => crate::store_url::redact_credentials(m),
    };
    eprintln!("store {} failed: {cause}", store.label());
    ApiError::StoreUnavailable(store.clone())
}

/// A text argument of a Redis command.
pub fn arg(s: &str) -> spin_sdk::redis::RedisParameter {
    spin_sdk::redis::RedisParameter::Binary(s.as_bytes().to_vec())
}

/// Runs one command on `store`, mapping a failure to the 503 naming it.
pub fn run(
    conn: &Connection,
    store: &Store,
    command: &str,
    args: &[spin_sdk::redis::RedisParameter],
) -> Result<Vec<spin_sdk::redis::RedisResult>, ApiError> {
    conn.execute(command, args).map_err(|e| failure(store, &e))
}

/// The first reply as an integer (`Int64`, or a bulk string holding one, as GET returns counters).
pub fn int_reply(reply: &[spin_sdk::redis::RedisResult]) -> Option<i64> {
    match reply.first()? {
        spin_sdk::redis::RedisResult::Int64(n) => Some(*n),
        spin_sdk::redis::RedisResult::Binary(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}
