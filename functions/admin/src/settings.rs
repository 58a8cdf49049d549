//! The admin component's configuration (Spin variables), read once per request.

use solarhub_shared::error::ApiError;
use solarhub_shared::guest::config::number;
pub use solarhub_shared::guest::config::site_offset;

/// How long a revoked session must stay revoked: as long as its refresh tokens could live.
pub fn refresh_ttl_secs() -> Result<u64, ApiError> {
    number("refresh_token_ttl_secs")
}
