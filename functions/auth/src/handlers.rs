//! The four auth routes.

use serde::Serialize;
use serde_json::{Map, Value};
use solarhub_shared::error::{ApiError, AuthFailure, FieldError};
use solarhub_shared::forms::{body_fields, required_str, Accepts};
use solarhub_shared::guest::bindings::mysql::ParameterValue;
use solarhub_shared::guest::config;
use solarhub_shared::guest::guard::authorize;
use solarhub_shared::guest::stores::{Db, Stores};
use solarhub_shared::guest::users::{self, UserKey, UserRecord};
use solarhub_shared::http::{Request, Response};
use solarhub_shared::password;
use solarhub_shared::schema::{Database, RedisStore};
use solarhub_shared::time::now_unix;

use crate::sessions::{Lookup, Rotated, Sessions};
use crate::settings::Settings;
use crate::throttle::Throttle;
use crate::tokens;

#[derive(Serialize)]
struct TokenPair {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: u64,
}

fn fields(req: &Request) -> Result<Map<String, Value>, ApiError> {
    let content_type = req.header("content-type");
    body_fields(content_type, req.body(), Accepts::JsonOrForm)
}

fn bad_credentials() -> ApiError {
    ApiError::Unauthorized(AuthFailure::BadCredentials)
}

fn prefix(stores: &mut Stores) -> Result<String, ApiError> {
    stores.redis_prefix().map(str::to_owned)
}

pub fn login(req: &Request) -> Result<Response, ApiError> {
    let body = fields(req)?;
    let mut errors = Vec::new();
    let username = required_str(&body, "username", &mut errors);
    let password = required_str(&body, "password", &mut errors);
    if let Some(grant) = body.get("grant_type").and_then(Value::as_str) {
        if grant != "password" {
            errors.push(FieldError::new(
                "body",
                "grant_type",
                "string_pattern_mismatch",
                "String should match pattern '^password$'",
                Value::from(grant),
            ));
        }
    }
    let (Some(username), Some(password), true) = (username, password, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };

    let settings = Settings::load()?;
    let address = config::client_ip(req)?;
    let mut stores = Stores::new();
    let prefix = prefix(&mut stores)?;
    {
        let redis = stores.redis(RedisStore::Main)?;
        Throttle::new(&redis, &prefix, &username, &address, &settings).admit()?;
    }

    let user = {
        let db = stores.db(Database::Ess)?;
        users::find(&db, UserKey::Username(&username))?
    };
    let legacy_salt = config::var("legacy_password_salt")?;
    let legacy_salt = (!legacy_salt.is_empty()).then_some(legacy_salt.as_str());
    let verified = match &user {
        Some(u) => password::verify_password_with(&password, &u.password_hash, legacy_salt)
            .unwrap_or_else(|e| {
                eprintln!("login: stored hash of user {} unusable: {e}", u.id);
                false
            }),
        None => {
            // Spend the same work as a real verification so timing does not reveal unknown users.
            let _ = password::rehash_password(&password);
            false
        }
    };
    let redis = stores.redis(RedisStore::Main)?;
    let throttle = Throttle::new(&redis, &prefix, &username, &address, &settings);
    let Some(user) = user.filter(|_| verified) else {
        throttle.failed()?;
        return Err(bad_credentials());
    };
    throttle.succeeded()?;
    if !user.active {
        return Err(ApiError::Forbidden {
            permission: "an active account".to_owned(),
        });
    }

    let new_hash = if password::needs_rehash(&user.password_hash) {
        // Not hash_password: a migrated password that fails today's strength rules must still be
        // moved to the current scheme (the user changes it through the admin).
        match password::rehash_password(&password) {
            Ok(h) => Some(h),
            Err(e) => {
                eprintln!(
                    "login: re-hashing the password of user {} failed: {e}",
                    user.id
                );
                None
            }
        }
    } else {
        None
    };
    {
        let db = stores.db(Database::Ess)?;
        record_login(&db, user.id, new_hash)?;
    }

    let session_id = tokens::random_id()?;
    let (pair, refresh_hash) = new_pair(&settings, &user, &session_id)?;
    let redis = stores.redis(RedisStore::Main)?;
    Sessions {
        redis: &redis,
        prefix: &prefix,
        refresh_ttl_secs: settings.refresh_ttl_secs,
    }
    .store(&refresh_hash, user.id, &session_id)?;
    Ok(Response::json(200, &pair))
}

fn record_login(db: &Db, user_id: u64, new_hash: Option<String>) -> Result<(), ApiError> {
    let users = db.table(solarhub_shared::schema::ess::USERS);
    match new_hash {
        Some(hash) => db.execute(
            &format!("UPDATE {users} SET password_hash = ?, last_login_at = UTC_TIMESTAMP(), updated_at = UTC_TIMESTAMP() WHERE id = ?"),
            &[ParameterValue::Str(hash), ParameterValue::Uint64(user_id)],
        ),
        None => db.execute(
            &format!("UPDATE {users} SET last_login_at = UTC_TIMESTAMP() WHERE id = ?"),
            &[ParameterValue::Uint64(user_id)],
        ),
    }
}

/// Signs an access token and mints a refresh token for `user` in session `session_id`: the pair
/// to answer with, and the hash under which the refresh token is to be stored.
fn new_pair(
    settings: &Settings,
    user: &UserRecord,
    session_id: &str,
) -> Result<(TokenPair, String), ApiError> {
    let access_token = tokens::sign_access_token(user, session_id, settings.access_ttl_secs)?;
    let (refresh_token, refresh_hash) = tokens::new_refresh_token()?;
    let pair = TokenPair {
        access_token,
        refresh_token,
        token_type: "bearer",
        expires_in: settings.access_ttl_secs,
    };
    Ok((pair, refresh_hash))
}

pub fn refresh(req: &Request) -> Result<Response, ApiError> {
    let body = fields(req)?;
    let mut errors = Vec::new();
    let token = required_str(&body, "refresh_token", &mut errors);
    let Some(token) = token.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let settings = Settings::load()?;
    let mut stores = Stores::new();
    let prefix = prefix(&mut stores)?;
    let hash = tokens::refresh_token_hash(&token)?;
    let redis = stores.redis(RedisStore::Main)?;
    let sessions = Sessions {
        redis: &redis,
        prefix: &prefix,
        refresh_ttl_secs: settings.refresh_ttl_secs,
    };
    let record = match sessions.lookup(&hash)? {
        Lookup::Fresh(record) => record,
        Lookup::Unknown => return Err(ApiError::Unauthorized(AuthFailure::Invalid)),
        Lookup::Reused | Lookup::Revoked => {
            return Err(ApiError::Unauthorized(AuthFailure::Revoked))
        }
    };
    let user = {
        let db = stores.db(Database::Ess)?;
        users::find(&db, UserKey::Id(record.user_id))?
    };
    let Some(user) = user.filter(|u| u.active) else {
        sessions.revoke(&record.session_id)?;
        return Err(ApiError::Unauthorized(AuthFailure::Revoked));
    };
    let (pair, new_hash) = new_pair(&settings, &user, &record.session_id)?;
    match sessions.rotate(&hash, &new_hash, &record)? {
        Rotated::Done => Ok(Response::json(200, &pair)),
        Rotated::Reused => Err(ApiError::Unauthorized(AuthFailure::Revoked)),
    }
}

pub fn logout(req: &Request) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    let caller = authorize(req, None, &mut stores)?;
    let settings = Settings::load()?;
    let prefix = prefix(&mut stores)?;
    let redis = stores.redis(RedisStore::Main)?;
    let sessions = Sessions {
        redis: &redis,
        prefix: &prefix,
        refresh_ttl_secs: settings.refresh_ttl_secs,
    };
    sessions.revoke(&caller.session_id)?;
    let remaining =
        (caller.expires_at - now_unix()).max(0) as u64 + solarhub_shared::auth::CLOCK_SKEW_SECS;
    sessions.revoke_token(&caller.token_id, remaining)?;
    sessions.forget_session(caller.user_id, &caller.session_id)?;
    Ok(Response::empty(204))
}

pub fn me(req: &Request) -> Result<Response, ApiError> {
    let mut stores = Stores::new();
    let caller = authorize(req, None, &mut stores)?;
    let offset = config::site_offset()?;
    let db = stores.db(Database::Ess)?;
    match users::find(&db, UserKey::Id(caller.user_id))? {
        Some(user) if user.active => Ok(Response::json(200, &user.view(offset))),
        // A valid token of a deleted or deactivated account must not work.
        _ => Err(ApiError::Unauthorized(AuthFailure::Revoked)),
    }
}
