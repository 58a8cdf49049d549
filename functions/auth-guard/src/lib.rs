//! auth-guard: exports `solarhub:auth/guard`. The only code that verifies access tokens: HS256 only
//! (jwt-simple rejects `alg: none` and every other algorithm), issuer, audience, expiry and
//! not-before with a small clock skew, a token id and session id required, and the revocation list
//! in Redis read through the caller's own connection.

use std::collections::HashSet;

use jwt_simple::prelude::{Duration, HS256Key, JWTClaims, MACLike, VerificationOptions};
use jwt_simple::JWTError;
use solarhub_shared::auth::{bearer_token, keys, AccessClaims, AUDIENCE, CLOCK_SKEW_SECS, ISSUER};

wit_bindgen::generate!({
    world: "guard-provider",
    path: "../../wit",
    generate_all,
});

use exports::solarhub::auth::guard::{AuthError, Caller, Guest};
use fermyon::spin::redis::{Connection, RedisParameter, RedisResult};
use fermyon::spin::variables;

struct Guard;

impl Guest for Guard {
    fn authorize(
        authorization: Option<String>,
        permission: Option<String>,
        revocations: &Connection,
    ) -> Result<Caller, AuthError> {
        let token = bearer_token(authorization.as_deref()).ok_or(AuthError::Missing)?;
        let claims = verify(token)?;
        let caller = caller(claims)?;
        if is_revoked(revocations, &caller)? {
            return Err(AuthError::Revoked);
        }
        if let Some(p) = permission {
            if !caller.permissions.contains(&p) {
                return Err(AuthError::Forbidden(p));
            }
        }
        Ok(caller)
    }
}

export!(Guard);

fn secret() -> Result<HS256Key, AuthError> {
    match variables::get("jwt_secret") {
        // A short secret makes HS256 guessable; refuse to run with one.
        Ok(s) if s.len() >= 32 => Ok(HS256Key::from_bytes(s.as_bytes())),
        Ok(_) => {
            eprintln!("auth-guard: jwt_secret is shorter than 32 bytes; refusing to verify tokens");
            Err(AuthError::Unavailable)
        }
        Err(e) => {
            eprintln!("auth-guard: jwt_secret unavailable: {e:?}");
            Err(AuthError::Unavailable)
        }
    }
}

fn verify(token: &str) -> Result<JWTClaims<AccessClaims>, AuthError> {
    let key = secret()?;
    let options = VerificationOptions {
        allowed_issuers: Some(HashSet::from([ISSUER.to_owned()])),
        allowed_audiences: Some(HashSet::from([AUDIENCE.to_owned()])),
        time_tolerance: Some(Duration::from_secs(CLOCK_SKEW_SECS)),
        max_token_length: Some(8192),
        ..Default::default()
    };
    key.verify_token::<AccessClaims>(token, Some(options))
        .map_err(|e| match e.downcast_ref::<JWTError>() {
            Some(JWTError::TokenHasExpired) => AuthError::Expired,
            _ => AuthError::Invalid,
        })
}

fn caller(claims: JWTClaims<AccessClaims>) -> Result<Caller, AuthError> {
    // Tokens this app issues always carry these; one without them was not issued by us.
    let (Some(jti), Some(sub), Some(exp), Some(_nbf)) = (
        claims.jwt_id,
        claims.subject,
        claims.expires_at,
        claims.invalid_before,
    ) else {
        return Err(AuthError::Invalid);
    };
    let user_id = sub.parse::<u64>().map_err(|_| AuthError::Invalid)?;
    let custom = claims.custom;
    if custom.sid.is_empty() || jti.is_empty() {
        return Err(AuthError::Invalid);
    }
    Ok(Caller {
        user_id,
        username: custom.name,
        roles: custom.roles,
        permissions: custom.perms,
        token_id: jti,
        session_id: custom.sid,
        expires_at: exp.as_secs() as i64,
    })
}

/// One round trip: is the token, or its whole session, on the revocation list?
fn is_revoked(conn: &Connection, caller: &Caller) -> Result<bool, AuthError> {
    // Without the prefix the keys below would name nothing and every token would pass: fail closed.
    let prefix = variables::get("redis_key_prefix").map_err(|e| {
        eprintln!("auth-guard: redis_key_prefix unavailable: {e:?}");
        AuthError::Unavailable
    })?;
    let args = [
        RedisParameter::Binary(keys::revoked_token(&prefix, &caller.token_id).into_bytes()),
        RedisParameter::Binary(keys::revoked_session(&prefix, &caller.session_id).into_bytes()),
    ];
    match conn.execute("EXISTS", &args) {
        Ok(reply) => match reply.first() {
            Some(RedisResult::Int64(n)) => Ok(*n > 0),
            _ => Err(AuthError::Unavailable),
        },
        Err(e) => {
            eprintln!("auth-guard: revocation list unreadable: {e:?}");
            Err(AuthError::Unavailable)
        }
    }
}
