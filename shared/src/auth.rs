//! What the auth component (which signs tokens) and the auth-guard component (which verifies them)
//! must agree on: the claims, issuer and audience, clock skew, and the Redis keys of sessions and
//! revocations. Neither signing nor verifying lives here.

use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "solarhub";
pub const AUDIENCE: &str = "solarhub-api";
/// Tolerated clock difference between the signer and a verifier, seconds.
pub const CLOCK_SKEW_SECS: u64 = 30;

/// The custom claims of an access token (besides iss, aud, sub, jti, iat, nbf, exp).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Username.
    pub name: String,
    pub roles: Vec<String>,
    pub perms: Vec<String>,
    /// Session id: the refresh-token family this token was issued in.
    pub sid: String,
}

/// Redis keys of the auth state: kept with every other store name in [`crate::schema`].
pub use crate::schema::auth_keys as keys;

/// Extracts the token from an `Authorization: Bearer <token>` header value (scheme
/// case-insensitive). `None` when there is no bearer token, as FastAPI's OAuth2PasswordBearer
/// treats it: "Not authenticated".
pub fn bearer_token(header: Option<&str>) -> Option<&str> {
    let header = header?.trim();
    let (scheme, token) = header.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_found_only_under_the_bearer_scheme() {
        assert_eq!(
            bearer_token(Some("Bearer abc.def.ghi")),
            Some("abc.def.ghi")
        );
        assert_eq!(bearer_token(Some("bearer   abc ")), Some("abc"));
        assert_eq!(bearer_token(Some("Basic dXNlcjpwdw==")), None);
        assert_eq!(bearer_token(Some("Bearer")), None);
        assert_eq!(bearer_token(Some("Bearer   ")), None);
        assert_eq!(bearer_token(None), None);
    }

    #[test]
    fn keys_carry_the_prefix_and_fold_username_case() {
        assert_eq!(keys::revoked_token("t1_", "j"), "t1_auth:revoked:jti:j");
        assert_eq!(
            keys::failures_by_user("", "Admin"),
            "auth:throttle:user:admin"
        );
    }
}
