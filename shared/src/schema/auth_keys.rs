//! Redis keys of the auth state (sessions, revocations, login throttling), under the
//! deployment's key prefix. Written by the auth and admin components, read by the auth-guard.

/// Present while an access token id is revoked (expires with the token).
pub fn revoked_token(prefix: &str, jti: &str) -> String {
    format!("{prefix}auth:revoked:jti:{jti}")
}

/// Present while a session is revoked (expires when its last access token would have).
pub fn revoked_session(prefix: &str, sid: &str) -> String {
    format!("{prefix}auth:revoked:sid:{sid}")
}

/// Hash of one refresh token, keyed by the token's SHA-256 (the token itself is never stored).
pub fn refresh_token(prefix: &str, token_hash: &str) -> String {
    format!("{prefix}auth:refresh:{token_hash}")
}

/// The sessions (families) of a user, so an admin change can end them all.
pub fn user_sessions(prefix: &str, user_id: u64) -> String {
    format!("{prefix}auth:sessions:{user_id}")
}

/// Failed logins for a username within the throttling window.
pub fn failures_by_user(prefix: &str, username: &str) -> String {
    format!("{prefix}auth:throttle:user:{}", username.to_lowercase())
}

/// Login attempts from one client address within the throttling window.
pub fn attempts_by_address(prefix: &str, address: &str) -> String {
    format!("{prefix}auth:throttle:addr:{address}")
}
