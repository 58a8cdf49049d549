//! MySQL connections kept per instance, one per server.
//!
//! Real Spin opens a fresh MySQL connection for every `Connection::open` and pools nothing, so the
//! instance keeps one per server (see [`crate::kept`]), opened without a default database, and every
//! table is named with its database (`` `BESS3`.`rack_data` ``). A kept connection the server has
//! closed (idle timeout, restart) fails its next statement: it is dropped, and a read is retried
//! once on a new connection; a write never is (it may have been applied), it answers 503.

use std::rc::Rc;

use super::bindings::mysql::{Connection, ParameterValue, RowSet};
use super::bindings::rdbms_types::Error;
use crate::error::{ApiError, Store};
use crate::kept::{Kept, Pool};
use crate::store_url::StoreUrl;

thread_local! {
    static SERVERS: Pool<Connection> = const { Pool::new() };
}

/// A kept connection to one MySQL server.
pub type Server = Rc<Kept<Connection>>;

/// The instance's connection to the server holding `url`'s database, opened on first use.
pub fn server(url: &StoreUrl) -> Result<Server, Error> {
    SERVERS.with(|pool| pool.get_or_open(&url.server_url(), Connection::open))
}

/// How many MySQL servers this instance holds connections to (for tests and logs).
pub fn kept_count() -> usize {
    SERVERS.with(|pool| pool.len())
}

/// Drops a lost connection from the instance; a transaction open on it died with it.
fn forget(server: &Server) {
    SERVERS.with(|pool| pool.forget(&server.address));
    server.in_transaction.set(false);
}

/// Runs a read on `server`, once more on a new connection if the kept one was lost — unless a
/// transaction is open on it, which died with the connection.
pub fn query(server: &mut Server, sql: &str, params: &[ParameterValue]) -> Result<RowSet, Error> {
    retried(server, |conn| conn.query(sql, params))
}

/// Runs a statement that a second application would not change further (a conditional UPDATE,
/// `START TRANSACTION`), retried like a read: a kept connection that died since the last request
/// must not turn the first write after a store outage into a 503.
pub fn execute_repeatable(
    server: &mut Server,
    sql: &str,
    params: &[ParameterValue],
) -> Result<(), Error> {
    retried(server, |conn| conn.execute(sql, params))
}

fn retried<T>(
    server: &mut Server,
    run: impl Fn(&Connection) -> Result<T, Error>,
) -> Result<T, Error> {
    match run(&server.conn) {
        Err(e) if connection_lost(&e) => {
            let in_transaction = server.in_transaction.get();
            forget(server);
            if in_transaction {
                return Err(e);
            }
            *server = SERVERS.with(|pool| pool.get_or_open(&server.address, Connection::open))?;
            run(&server.conn)
        }
        other => other,
    }
}

/// Runs a statement that changes something; a lost connection is forgotten, never retried.
pub fn execute(server: &Server, sql: &str, params: &[ParameterValue]) -> Result<(), Error> {
    server.conn.execute(sql, params).inspect_err(|e| {
        if connection_lost(e) {
            forget(server);
        }
    })
}

/// Whether the connection itself is gone (as opposed to the statement failing); see
/// [`crate::lost::mysql_connection_lost`] for the texts that say so.
pub fn connection_lost(err: &Error) -> bool {
    match err {
        Error::ConnectionFailed(_) => true,
        Error::QueryFailed(msg) | Error::Other(msg) => crate::lost::mysql_connection_lost(msg),
        _ => false,
    }
}

/// Maps a connector error: the store being unreachable, or the database or table missing (not
/// migrated, or dropped: codes 1049/1146), is a 503 naming it; anything else (a bad statement, a
/// conversion) is our bug and a 500. Either way the cause is logged, redacted.
pub fn failure(store: &Store, err: &Error) -> ApiError {
    let missing = matches!(err, Error::QueryFailed(m) if ["code: 1049,", "code: 1146,"].iter().any(|c| m.contains(c)));
    if connection_lost(err) || missing {
        eprintln!("store {} unreachable: {}", store.label(), describe(err));
        return ApiError::StoreUnavailable(store.clone());
    }
    super::internal(&format!("mysql {}", store.label()), &describe(err))
}

/// The error's text with any credentials redacted (reopen errors embed the URL and a backtrace).
pub fn describe(err: &Error) -> String {
    let text = match err {
        Error::ConnectionFailed(m) => format!("connection failed: {m}"),
        Error::BadParameter(m) => format!("bad parameter: {m}"),
        Error::QueryFailed(m) => format!("query failed: {m}"),
        Error::ValueConversionFailed(m) => format!("value conversion failed: {m}"),
        Error::Other(m) => m.clone(),
    };
    // Spin appends a host backtrace to some errors: its first line says all that matters.
    let first = text.lines().next().unwrap_or_default();
    crate::store_url::redact_credentials(first)
}

/// A database name from configuration, quoted for use in SQL. Names are checked rather than escaped:
/// anything outside MySQL's plain identifier characters is a configuration error.
pub fn quoted_database(url: &StoreUrl) -> Option<String> {
    let name = url.path();
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$');
    plain.then(|| format!("`{name}`"))
}
