//! The admin component's configuration (Spin variables), read once per request.

use solarhub_shared::error::ApiError;
use solarhub_shared::guest::config::var;
use solarhub_shared::guest::internal;
use solarhub_shared::time::UtcOffset;

/// How long a revoked session must stay revoked: as long as its refresh tokens could live.
pub fn refresh_ttl_secs() -> Result<u64, ApiError> {
    let raw = var("refresh_token_ttl_secs")?;
    raw.trim().parse().map_err(|_| {
        internal(
            "config",
            &format!("refresh_token_ttl_secs = {raw:?} is not a number"),
        )
    })
}

/// The site's offset from UTC, for the timestamps in responses.
pub fn site_offset() -> Result<UtcOffset, ApiError> {
    let raw = var("site_utc_offset")?;
    UtcOffset::parse(&raw)
        .ok_or_else(|| internal("config", &format!("site_utc_offset {raw:?} is invalid")))
}
