//! Ending every session of a user when an admin changes what the user may do (roles, active,
//! password) or deletes the user: each session the auth component recorded under the user is put
//! on the revocation list, which the auth-guard checks for every access token and the auth
//! component for every refresh. Keys and lifetimes are the auth component's (`shared::auth::keys`,
//! `refresh_token_ttl_secs`).

use solarhub_shared::auth::keys;
use solarhub_shared::error::{ApiError, Store};
use solarhub_shared::guest::redis::failure;
use spin_sdk::redis::{Connection, RedisParameter, RedisResult};

fn arg(s: &str) -> RedisParameter {
    RedisParameter::Binary(s.as_bytes().to_vec())
}

fn run(
    conn: &Connection,
    command: &str,
    args: &[RedisParameter],
) -> Result<Vec<RedisResult>, ApiError> {
    conn.execute(command, args)
        .map_err(|e| failure(&Store::RedisMain, &e))
}

/// Revokes every recorded session of `user_id`; returns how many there were.
pub fn end_all(
    conn: &Connection,
    prefix: &str,
    user_id: u64,
    refresh_ttl_secs: u64,
) -> Result<usize, ApiError> {
    let sessions_key = keys::user_sessions(prefix, user_id);
    let sessions: Vec<String> = run(conn, "SMEMBERS", &[arg(&sessions_key)])?
        .into_iter()
        .filter_map(|r| match r {
            RedisResult::Binary(b) => String::from_utf8(b).ok(),
            RedisResult::Status(s) => Some(s),
            _ => None,
        })
        .collect();
    let ttl = RedisParameter::Int64(refresh_ttl_secs.clamp(1, i64::MAX as u64) as i64);
    for sid in &sessions {
        run(
            conn,
            "SET",
            &[
                arg(&keys::revoked_session(prefix, sid)),
                arg("1"),
                arg("EX"),
                ttl.clone(),
            ],
        )?;
    }
    // Only the sessions just revoked: one started meanwhile stays recorded (and revocable).
    if !sessions.is_empty() {
        let mut args = vec![arg(&sessions_key)];
        args.extend(sessions.iter().map(|s| arg(s)));
        run(conn, "SREM", &args)?;
    }
    Ok(sessions.len())
}
