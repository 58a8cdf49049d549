//! Login throttling: failed attempts per username and all attempts per client address, counted
//! in Redis with a window's expiry. Over the limit is a 429 with `Retry-After`.

use solarhub_shared::auth::keys;
use solarhub_shared::error::ApiError;
use solarhub_shared::guest::bindings::redis::{RedisParameter, RedisResult};
use solarhub_shared::guest::redis::{arg, Redis};

use crate::settings::Settings;

pub struct Throttle<'a> {
    redis: &'a Redis,
    user_key: String,
    address_key: String,
    settings: &'a Settings,
}

fn count(r: Option<&RedisResult>) -> i64 {
    match r {
        Some(RedisResult::Binary(b)) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        Some(RedisResult::Int64(n)) => *n,
        _ => 0,
    }
}

impl<'a> Throttle<'a> {
    pub fn new(
        redis: &'a Redis,
        prefix: &str,
        username: &str,
        address: &str,
        settings: &'a Settings,
    ) -> Self {
        Throttle {
            redis,
            user_key: keys::failures_by_user(prefix, username),
            address_key: keys::attempts_by_address(prefix, address),
            settings,
        }
    }

    fn exec(&self, command: &str, args: &[RedisParameter]) -> Result<Vec<RedisResult>, ApiError> {
        self.redis.run(command, args)
    }

    /// Refuses the attempt when either counter is at its limit; otherwise counts it against the
    /// address.
    pub fn admit(&self) -> Result<(), ApiError> {
        let reply = self.exec("MGET", &[arg(&self.user_key), arg(&self.address_key)])?;
        let (user_failures, address_attempts) = (count(reply.first()), count(reply.get(1)));
        if user_failures >= self.settings.max_failures_per_user {
            return Err(self.throttled(&self.user_key)?);
        }
        if address_attempts >= self.settings.max_attempts_per_address {
            return Err(self.throttled(&self.address_key)?);
        }
        self.bump(&self.address_key)
    }

    pub fn failed(&self) -> Result<(), ApiError> {
        self.bump(&self.user_key)
    }

    pub fn succeeded(&self) -> Result<(), ApiError> {
        self.exec("DEL", &[arg(&self.user_key)]).map(|_| ())
    }

    /// Counts one more in `key`'s window. The counter is created with its expiry and then
    /// incremented (INCR keeps an expiry), in one transaction: never a counter without an expiry,
    /// which would throttle the address or user for good.
    fn bump(&self, key: &str) -> Result<(), ApiError> {
        let window = RedisParameter::Int64(self.settings.throttle_window_secs as i64);
        self.redis.transaction(&[
            (
                "SET",
                vec![arg(key), arg("0"), arg("EX"), window, arg("NX")],
            ),
            ("INCR", vec![arg(key)]),
        ])?;
        Ok(())
    }

    fn throttled(&self, key: &str) -> Result<ApiError, ApiError> {
        let ttl = count(self.exec("TTL", &[arg(key)])?.first());
        let retry_after_secs = if ttl > 0 {
            ttl as u64
        } else {
            self.settings.throttle_window_secs
        };
        Ok(ApiError::Throttled { retry_after_secs })
    }
}
