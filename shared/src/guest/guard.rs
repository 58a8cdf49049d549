//! The endpoint side of the auth-guard: every protected route asks `authorize` for its caller.
//! Verification itself happens in the auth-guard component, composed into the endpoint's component
//! by spin.toml; this module only imports it and maps its answers to client errors.

use spin_sdk::http::Request;

use super::stores::Stores;
use crate::error::{ApiError, AuthFailure, Store};
use crate::schema::RedisStore;

spin_sdk::wit_bindgen::generate!({
    world: "guarded",
    path: "../wit",
    runtime_path: "spin_sdk::wit_bindgen::rt",
    with: { "fermyon:spin/redis@2.0.0": spin_sdk::wit::v2::redis },
});

pub use solarhub::auth::guard::{AuthError, Caller};

/// The verified caller of `req`, holding `permission` when one is named. Opens (or reuses) the
/// request's main Redis connection, which the guard reads revocations through.
pub fn authorize(
    req: &Request,
    permission: Option<&str>,
    stores: &mut Stores,
) -> Result<Caller, ApiError> {
    let header = req
        .header("authorization")
        .and_then(|h| h.as_str())
        .map(str::to_owned);
    // Without a token there is nothing to check against Redis: answer before connecting.
    if crate::auth::bearer_token(header.as_deref()).is_none() {
        return Err(ApiError::Unauthorized(AuthFailure::Missing));
    }
    let redis = stores.redis(RedisStore::Main)?;
    solarhub::auth::guard::authorize(header.as_deref(), permission, redis).map_err(|e| match e {
        AuthError::Missing => ApiError::Unauthorized(AuthFailure::Missing),
        AuthError::Invalid => ApiError::Unauthorized(AuthFailure::Invalid),
        AuthError::Expired => ApiError::Unauthorized(AuthFailure::Expired),
        AuthError::Revoked => ApiError::Unauthorized(AuthFailure::Revoked),
        AuthError::Forbidden(permission) => ApiError::Forbidden { permission },
        AuthError::Unavailable => ApiError::StoreUnavailable(Store::RedisMain),
    })
}
