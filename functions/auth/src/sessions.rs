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

pub enum Lookup {
    /// Not used yet: the caller may rotate it ([`Sessions::rotate`]).
    Fresh(RefreshRecord),
    /// Unknown or expired token.
    Unknown,
    /// A retired token presented again: its family is now revoked.
    Reused,
    /// The token's session was revoked (logout, reuse, admin action).
    Revoked,
}

/// The outcome of a rotation.
pub enum Rotated {
    /// The presented token is retired and its successor stored.
    Done,
    /// Another redemption of the same token won the race: the family is now revoked.
    Reused,
}

impl Sessions<'_> {
    /// The commands that store a refresh token of `session_id` and record the session under its
    /// user: they go in one transaction with whatever else the caller writes, so that a token is
    /// never stored without its expiry, nor a session its user's sessions do not list (an
    /// admin's change of the user could not end it).
    fn store_commands(
        &self,
        token_hash: &str,
        user_id: u64,
        session_id: &str,
    ) -> Vec<(&'static str, Vec<RedisParameter>)> {
        let key = keys::refresh_token(self.prefix, token_hash);
        let sessions = keys::user_sessions(self.prefix, user_id);
        let ttl = RedisParameter::Int64(self.refresh_ttl_secs as i64);
        vec![
            (
                "HSET",
                vec![
                    arg(&key),
                    arg("uid"),
                    RedisParameter::Int64(user_id as i64),
                    arg("sid"),
                    arg(session_id),
                    arg("uses"),
                    RedisParameter::Int64(0),
                ],
            ),
            ("EXPIRE", vec![arg(&key), ttl.clone()]),
            ("SADD", vec![arg(&sessions), arg(session_id)]),
            ("EXPIRE", vec![arg(&sessions), ttl]),
        ]
    }

    /// Stores the first refresh token of a new session.
    pub fn store(&self, token_hash: &str, user_id: u64, session_id: &str) -> Result<(), ApiError> {
        self.redis
            .transaction(&self.store_commands(token_hash, user_id, session_id))?;
        Ok(())
    }

    /// What the presented refresh token says, without using it. A token used before is reuse:
    /// its whole family is revoked here.
    pub fn lookup(&self, token_hash: &str) -> Result<Lookup, ApiError> {
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
            return Ok(Lookup::Unknown);
        };
        let session_id = sid.to_owned();
        if self.is_revoked(&session_id)? {
            return Ok(Lookup::Revoked);
        }
        if get("uses").is_some_and(|uses| uses != "0") {
            self.revoke(&session_id)?;
            return Ok(Lookup::Reused);
        }
        Ok(Lookup::Fresh(RefreshRecord {
            user_id: uid,
            session_id,
        }))
    }

    /// Retires the presented token and stores its successor in the same family, in one
    /// transaction: interrupted, either both happened or neither (the client may then present
    /// the same token again). Of two concurrent rotations of one token only one is `Done`; the
    /// other revokes the family.
    pub fn rotate(
        &self,
        old_hash: &str,
        new_hash: &str,
        record: &RefreshRecord,
    ) -> Result<Rotated, ApiError> {
        let old = keys::refresh_token(self.prefix, old_hash);
        let mut commands = vec![(
            "HINCRBY",
            vec![arg(&old), arg("uses"), RedisParameter::Int64(1)],
        )];
        commands.extend(self.store_commands(new_hash, record.user_id, &record.session_id));
        let replies = self.redis.transaction(&commands)?;
        if int(&replies) == Some(1) {
            return Ok(Rotated::Done);
        }
        self.revoke(&record.session_id)?;
        Ok(Rotated::Reused)
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
