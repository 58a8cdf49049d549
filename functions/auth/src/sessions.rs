//! Sessions in the main Redis: each login starts a family of refresh tokens (the session id); each
//! refresh retires the presented token and mints its successor in the same family. Presenting a
//! retired token again is theft or a bug either way, so the whole family is revoked — the guard
//! then also refuses every access token issued in it.

use solarhub_shared::auth::keys;
use solarhub_shared::error::ApiError;
use solarhub_shared::guest::bindings::redis::RedisParameter;
use solarhub_shared::guest::redis::{arg, int_reply as int, Redis};
use solarhub_shared::guest::sessions::revoke_session;

pub struct Sessions<'a> {
    pub redis: &'a Redis,
    pub prefix: &'a str,
    pub refresh_ttl_secs: u64,
}

/// What a stored refresh token says.
pub struct RefreshRecord {
    pub user_id: u64,
    pub session_id: String,
}

pub enum Redeemed {
    /// First use: the caller may mint the successor.
    Fresh(RefreshRecord),
    /// Unknown or expired token.
    Unknown,
    /// A retired token presented again: its family is now revoked.
    Reused,
    /// The token's session was revoked (logout, reuse, admin action).
    Revoked,
}

impl Sessions<'_> {
    /// Stores a new refresh token of `session_id` and records the session under its user.
    pub fn store(&self, token_hash: &str, user_id: u64, session_id: &str) -> Result<(), ApiError> {
        let key = keys::refresh_token(self.prefix, token_hash);
        let ttl = self.refresh_ttl_secs as i64;
        self.redis.run(
            "HSET",
            &[
                arg(&key),
                arg("uid"),
                RedisParameter::Int64(user_id as i64),
                arg("sid"),
                arg(session_id),
                arg("uses"),
                RedisParameter::Int64(0),
            ],
        )?;
        self.redis
            .run("EXPIRE", &[arg(&key), RedisParameter::Int64(ttl)])?;
        let sessions = keys::user_sessions(self.prefix, user_id);
        self.redis.run("SADD", &[arg(&sessions), arg(session_id)])?;
        self.redis
            .run("EXPIRE", &[arg(&sessions), RedisParameter::Int64(ttl)])?;
        Ok(())
    }

    /// Retires a presented refresh token, atomically: of two concurrent redemptions only one is
    /// `Fresh`, the other is `Reused`.
    pub fn redeem(&self, token_hash: &str) -> Result<Redeemed, ApiError> {
        let key = keys::refresh_token(self.prefix, token_hash);
        let fields = solarhub_shared::guest::stores::hash_fields(self.redis, &key)?;
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let (Some(uid), Some(sid)) = (get("uid").and_then(|v| v.parse::<u64>().ok()), get("sid"))
        else {
            return Ok(Redeemed::Unknown);
        };
        let session_id = sid.to_owned();
        if self.is_revoked(&session_id)? {
            return Ok(Redeemed::Revoked);
        }
        let uses = int(&self.redis.run(
            "HINCRBY",
            &[arg(&key), arg("uses"), RedisParameter::Int64(1)],
        )?);
        if uses != Some(1) {
            self.revoke(&session_id)?;
            return Ok(Redeemed::Reused);
        }
        Ok(Redeemed::Fresh(RefreshRecord {
            user_id: uid,
            session_id,
        }))
    }

    pub fn is_revoked(&self, session_id: &str) -> Result<bool, ApiError> {
        let reply = self.redis.run(
            "EXISTS",
            &[arg(&keys::revoked_session(self.prefix, session_id))],
        )?;
        Ok(int(&reply).unwrap_or(0) > 0)
    }

    /// Ends a session: its refresh tokens stop redeeming and its access tokens stop verifying.
    /// Kept as long as any token of the family could live.
    pub fn revoke(&self, session_id: &str) -> Result<(), ApiError> {
        revoke_session(self.redis, self.prefix, session_id, self.refresh_ttl_secs)
    }

    /// Revokes one access token id until it would have expired anyway.
    pub fn revoke_token(&self, jti: &str, remaining_secs: u64) -> Result<(), ApiError> {
        let key = keys::revoked_token(self.prefix, jti);
        self.redis.run(
            "SET",
            &[
                arg(&key),
                arg("1"),
                arg("EX"),
                RedisParameter::Int64(remaining_secs.max(1) as i64),
            ],
        )?;
        Ok(())
    }

    pub fn forget_session(&self, user_id: u64, session_id: &str) -> Result<(), ApiError> {
        self.redis.run(
            "SREM",
            &[
                arg(&keys::user_sessions(self.prefix, user_id)),
                arg(session_id),
            ],
        )?;
        Ok(())
    }
}
