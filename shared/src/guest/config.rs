//! Spin variables, read once each per request.

use crate::error::ApiError;
use crate::store_url::StoreUrl;
use crate::time::UtcOffset;

/// A variable the manifest must define; a missing one is an operator error, reported as a 500.
pub fn var(name: &str) -> Result<String, ApiError> {
    super::bindings::variables::get(name)
        .map_err(|e| super::internal(&format!("variable {name}"), &format!("{e:?}")))
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

/// A numeric variable; a value that does not parse is an operator error, reported as a 500.
pub fn number<T: std::str::FromStr>(name: &str) -> Result<T, ApiError> {
    let raw = var(name)?;
    raw.trim()
        .parse()
        .map_err(|_| super::internal("config", &format!("{name} = {raw:?} is not a number")))
}

/// The site's offset from UTC (`site_utc_offset`), for the timestamps in responses.
pub fn site_offset() -> Result<UtcOffset, ApiError> {
    let raw = var("site_utc_offset")?;
    UtcOffset::parse(&raw)
        .ok_or_else(|| super::internal("config", &format!("site_utc_offset {raw:?} is invalid")))
}
