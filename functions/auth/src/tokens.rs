//! Signing access tokens (HS256, `jwt_secret`) and minting opaque refresh tokens.

use ct_codecs::{Base64UrlSafeNoPadding, Encoder, Hex};
use jwt_simple::prelude::{Claims, Duration, HS256Key, MACLike};
use solarhub_shared::auth::{AccessClaims, AUDIENCE, ISSUER};
use solarhub_shared::error::ApiError;
use solarhub_shared::guest::users::UserRecord;
use solarhub_shared::guest::{config, internal};

/// `n` random bytes from the host (WASI random_get).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).map_err(|e| internal("random", &e))?;
    Ok(buf)
}

pub fn random_id() -> Result<String, ApiError> {
    let bytes = random_bytes::<16>()?;
    Hex::encode_to_string(bytes).map_err(|e| internal("hex", &e))
}

/// A refresh token (256 random bits, URL-safe) and the SHA-256 under which it is stored.
pub fn new_refresh_token() -> Result<(String, String), ApiError> {
    let token = Base64UrlSafeNoPadding::encode_to_string(random_bytes::<32>()?)
        .map_err(|e| internal("base64", &e))?;
    let hash = refresh_token_hash(&token)?;
    Ok((token, hash))
}

pub fn refresh_token_hash(token: &str) -> Result<String, ApiError> {
    Hex::encode_to_string(hmac_sha256::Hash::hash(token.as_bytes()))
        .map_err(|e| internal("hex", &e))
}

fn signing_key() -> Result<HS256Key, ApiError> {
    let secret = config::var("jwt_secret")?;
    if secret.len() < 32 {
        return Err(internal("config", &"jwt_secret must be at least 32 bytes"));
    }
    Ok(HS256Key::from_bytes(secret.as_bytes()))
}

pub fn sign_access_token(
    user: &UserRecord,
    session_id: &str,
    ttl_secs: u64,
) -> Result<String, ApiError> {
    let jti = random_id()?;
    let custom = AccessClaims {
        name: user.username.clone(),
        roles: user.roles.clone(),
        perms: user.permissions.clone(),
        sid: session_id.to_owned(),
    };
    // with_custom_claims sets iat and nbf to now and exp to now + ttl.
    let claims = Claims::with_custom_claims(custom, Duration::from_secs(ttl_secs))
        .with_issuer(ISSUER)
        .with_audience(AUDIENCE)
        .with_subject(user.id.to_string())
        .with_jwt_id(jti);
    signing_key()?
        .authenticate(claims)
        .map_err(|e| internal("signing", &e))
}
