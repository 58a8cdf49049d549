//! Spin variables, read once each per request.

use crate::error::ApiError;
use crate::store_url::StoreUrl;

/// A variable the manifest must define; a missing one is an operator error, reported as a 500.
pub fn var(name: &str) -> Result<String, ApiError> {
    spin_sdk::variables::get(name).map_err(|e| super::internal(&format!("variable {name}"), &e))
}

/// A store URL variable, parsed. `None` when it is not a valid URL (logged, never echoed).
pub fn store_url(name: &str) -> Result<Option<StoreUrl>, ApiError> {
    let raw = var(name)?;
    match StoreUrl::parse(&raw) {
        Ok(url) => Ok(Some(url)),
        Err(why) => {
            eprintln!("config: variable {name} is not a valid store URL: {why}");
            Ok(None)
        }
    }
}
