//! The thin layer between the core and spin-sdk: responses, variables, store connections.
//!
//! Every fallible call here returns an [`ApiError`](crate::error::ApiError) that is already safe to
//! show a client; the underlying cause (with credentials redacted) goes to stderr, which Spin logs.

pub mod config;
#[cfg(feature = "guard")]
pub mod guard;
pub mod health;
pub mod mysql;
pub mod redis;
pub mod respond;
pub mod rows;
pub mod sessions;
pub mod stores;
pub mod telemetry;
pub mod users;

/// A short random id tying a client-visible 500 to its log line.
pub fn request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the host's random source (wasi random_get), once per instance.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(crate::time::now_unix());
    format!("{:016x}", h.finish())
}

/// Logs a server-side fault and returns the error a client may see.
pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> crate::error::ApiError {
    let request_id = request_id();
    let cause = crate::store_url::redact_credentials(&cause.to_string());
    eprintln!("error request_id={request_id} {context}: {cause}");
    crate::error::ApiError::Internal { request_id }
}

/// Connections a request has opened, keyed by address, so each address is opened at most once
/// (real Spin makes a new connection for every `open`).
pub struct OpenOnce<C> {
    open: Vec<(String, C)>,
}

impl<C> Default for OpenOnce<C> {
    fn default() -> Self {
        OpenOnce { open: Vec::new() }
    }
}

impl<C> OpenOnce<C> {
    /// The connection for `address`, opened with `open` the first time it is asked for.
    pub fn get_or_open<E>(
        &mut self,
        address: String,
        open: impl FnOnce(&str) -> Result<C, E>,
    ) -> Result<&C, E> {
        let index = match self.open.iter().position(|(k, _)| *k == address) {
            Some(i) => i,
            None => {
                let conn = open(&address)?;
                self.open.push((address, conn));
                self.open.len() - 1
            }
        };
        Ok(&self.open[index].1)
    }
}
