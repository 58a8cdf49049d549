//! The auth component's configuration (Spin variables), read once per request.

use solarhub_shared::error::ApiError;
use solarhub_shared::guest::config::number;

pub struct Settings {
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    pub max_failures_per_user: i64,
    pub max_attempts_per_address: i64,
    pub throttle_window_secs: u64,
}

impl Settings {
    pub fn load() -> Result<Settings, ApiError> {
        Ok(Settings {
            access_ttl_secs: number("access_token_ttl_secs")?,
            refresh_ttl_secs: number("refresh_token_ttl_secs")?,
            max_failures_per_user: number("login_max_failures_per_user")?,
            max_attempts_per_address: number("login_max_attempts_per_address")?,
            throttle_window_secs: number("login_throttle_window_secs")?,
        })
    }
}
