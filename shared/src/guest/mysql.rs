//! MySQL connections for one request, one per server.
//!
//! Real Spin opens a fresh MySQL connection for every `Connection::open` and pools nothing, so a
//! request that touches several databases on one server must share one connection and name its
//! tables with the database (`` `BESS3`.`rack_data` ``). Connections are opened without a default
//! database for that reason.

use spin_sdk::mysql::{Connection, MysqlError as Error};

use crate::error::{ApiError, Store};
use crate::store_url::StoreUrl;

#[derive(Default)]
pub struct MysqlSessions {
    open: super::OpenOnce<Connection>,
}

impl MysqlSessions {
    pub fn new() -> Self {
        Self::default()
    }

    /// The connection to the server holding `url`'s database, opened on first use.
    pub fn server(&mut self, url: &StoreUrl) -> Result<&Connection, Error> {
        self.open.get_or_open(url.server_url(), Connection::open)
    }

    /// Like [`server`](Self::server), with failures already mapped to what the client sees.
    pub fn connection(&mut self, url: &StoreUrl, store: &Store) -> Result<&Connection, ApiError> {
        self.server(url).map_err(|e| failure(store, &e))
    }
}

/// Maps a connector error: the store being unreachable is a 503 naming it, anything else (a bad
/// statement, a conversion) is our bug and a 500. Either way the cause is logged, redacted.
pub fn failure(store: &Store, err: &Error) -> ApiError {
    match err {
        Error::ConnectionFailed(msg) | Error::QueryFailed(msg) | Error::Other(msg)
            if matches!(err, Error::ConnectionFailed(_)) || store_side(msg) =>
        {
            eprintln!(
                "store {} unreachable: {}",
                store.label(),
                crate::store_url::redact_credentials(msg)
            );
            ApiError::StoreUnavailable(store.clone())
        }
        other => super::internal(&format!("mysql {}", store.label()), &format_error(other)),
    }
}

/// Whether a failed statement failed because of the store rather than the statement: the
/// connection dropped (mysql_async I/O or driver errors, server codes 2006/2013), or the database
/// or table is not there (1049/1146: not migrated, or dropped). Spin reports these as the Debug text
/// of mysql_async's error, which is what is matched.
fn store_side(msg: &str) -> bool {
    msg.starts_with("Io(")
        || msg.starts_with("Driver(ConnectionClosed")
        || ["code: 1049,", "code: 1146,", "code: 2006,", "code: 2013,"]
            .iter()
            .any(|c| msg.contains(c))
}

fn format_error(err: &Error) -> String {
    match err {
        Error::ConnectionFailed(m) => format!("connection failed: {m}"),
        Error::BadParameter(m) => format!("bad parameter: {m}"),
        Error::QueryFailed(m) => format!("query failed: {m}"),
        Error::ValueConversionFailed(m) => format!("value conversion failed: {m}"),
        Error::Other(m) => m.clone(),
    }
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
