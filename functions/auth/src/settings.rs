//! The auth component's configuration (Spin variables), read once per request.

use solarhub_shared::error::ApiError;
use solarhub_shared::guest::config::var;

pub struct Settings {
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    pub max_failures_per_user: i64,
    pub max_attempts_per_address: i64,
    pub throttle_window_secs: u64,
}

fn number<T: std::str::FromStr>(name: &str) -> Result<T, ApiError> {
    let raw = var(name)?;
    raw.trim().parse().map_err(|_| {
        solarhub_shared::guest::internal("config", &format!("{name} = {raw:?} is not a number"))
    })
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
