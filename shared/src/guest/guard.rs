//! The endpoint side of the auth-guard: every protected route asks `authorize` for its caller.
//! Verification itself happens in the auth-guard component, composed into the endpoint's component
//! by spin.toml; this module only imports it and maps its answers to client errors.

use super::bindings::guard::{self, AuthError};
use super::stores::Stores;
use crate::error::{ApiError, AuthFailure, Store};
use crate::http::Request;
use crate::schema::RedisStore;

pub use super::bindings::guard::Caller;

/// The verified caller of `req`, holding `permission` when one is named, within its request budget
/// (`ratelimit`). Lends the guard the instance's main Redis connection, which it reads revocations
/// through and the budgets are counted in.
pub fn authorize(
    req: &Request,
    permission: Option<&str>,
    stores: &mut Stores,
) -> Result<Caller, ApiError> {
    let header = req.header("authorization");
    // Without a token there is nothing to check against Redis: answer before connecting.
    if crate::auth::bearer_token(header).is_none() {
        return Err(ApiError::Unauthorized(AuthFailure::Missing));
    }
    let redis = stores.redis(RedisStore::Main)?;
    let ask = || redis.with_connection(|conn| guard::authorize(header, permission, conn));
    let answer = match ask() {
        // The kept connection may have been lost since the last request: one more try on a new
        // one (the guard only reads).
        Err(AuthError::Unavailable) => {
            redis.reconnect()?;
            ask()
        }
        other => other,
    };
    // Every answer but an outage counts against the group's budget: the address always, the
    // token once verified (so a flood of bad tokens is limited too).
    if !matches!(answer, Err(AuthError::Unavailable)) {
        let prefix = stores.redis_prefix()?.to_owned();
        let token_id = answer.as_ref().ok().map(|c| c.token_id.as_str());
        super::ratelimit::count(
            &redis,
            &prefix,
            permission,
            token_id,
            &super::config::client_ip(req)?,
            crate::time::now_unix(),
        )?;
    }
    answer.map_err(|e| match e {
        AuthError::Missing => ApiError::Unauthorized(AuthFailure::Missing),
        AuthError::Invalid => ApiError::Unauthorized(AuthFailure::Invalid),
        AuthError::Expired => ApiError::Unauthorized(AuthFailure::Expired),
        AuthError::Revoked => ApiError::Unauthorized(AuthFailure::Revoked),
        AuthError::Forbidden(permission) => ApiError::Forbidden { permission },
        AuthError::Unavailable => ApiError::StoreUnavailable(Store::RedisMain),
    })
}
