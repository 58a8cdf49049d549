//! Ending sessions. A session is a refresh-token family; revoking it makes the auth component
//! refuse its refresh tokens and the auth-guard refuse its access tokens. Used by logout and reuse
//! detection (auth) and by account changes (admin).

use super::bindings::redis::RedisParameter;
use super::redis::{arg, text, Redis};
use crate::auth::keys;
use crate::error::ApiError;

/// Revokes one session for `ttl_secs`: as long as any token of the family could still live.
pub fn revoke_session(
    redis: &Redis,
    prefix: &str,
    session_id: &str,
    ttl_secs: u64,
) -> Result<(), ApiError> {
    let ttl = RedisParameter::Int64(ttl_secs.clamp(1, i64::MAX as u64) as i64);
    redis.run(
        "SET",
        &[
            arg(&keys::revoked_session(prefix, session_id)),
            arg("1"),
            arg("EX"),
            ttl,
        ],
    )?;
    Ok(())
}

/// Revokes every recorded session of `user_id`; returns how many there were.
pub fn end_all_sessions(
    redis: &Redis,
    prefix: &str,
    user_id: u64,
    ttl_secs: u64,
) -> Result<usize, ApiError> {
    let sessions_key = keys::user_sessions(prefix, user_id);
    let sessions: Vec<String> = redis
        .run("SMEMBERS", &[arg(&sessions_key)])?
        .into_iter()
        .filter_map(text)
        .collect();
    for sid in &sessions {
        revoke_session(redis, prefix, sid, ttl_secs)?;
    }
    // Only the sessions just revoked: one started meanwhile stays recorded (and revocable).
    if !sessions.is_empty() {
        let mut args = vec![arg(&sessions_key)];
        args.extend(sessions.iter().map(|s| arg(s)));
        redis.run("SREM", &args)?;
    }
    Ok(sessions.len())
}
