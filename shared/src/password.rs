//! Password policy and hashing: argon2id PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$...`).
//!
//! Only argon2id is understood for now; legacy Flask formats (`$pbkdf2-sha512$`, `$2b$`) are
//! reported as [`PasswordError::UnsupportedScheme`] so the auth layer can add them and re-hash
//! on the next successful login ([`needs_rehash`]).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use core::fmt;

/// Minimum password length, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Maximum password length, in characters (bounds hashing work on hostile input).
pub const MAX_PASSWORD_CHARS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordError {
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    /// The stored hash is not a PHC string this module can verify.
    UnsupportedScheme(String),
    /// The stored hash looks like argon2id but does not parse.
    Malformed(String),
    /// Hashing failed (random source or parameters).
    Hashing(String),
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordError::TooShort { min } => {
                write!(f, "password must be at least {min} characters long")
            }
            PasswordError::TooLong { max } => {
                write!(f, "password must be at most {max} characters long")
            }
            PasswordError::UnsupportedScheme(s) => {
                write!(f, "unsupported password hash scheme {s}")
            }
            PasswordError::Malformed(e) => write!(f, "malformed password hash: {e}"),
            PasswordError::Hashing(e) => write!(f, "password hashing failed: {e}"),
        }
    }
}

impl std::error::Error for PasswordError {}

/// Checks the password policy: 12..=1024 characters.
pub fn validate_password(password: &str) -> Result<(), PasswordError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort {
            min: MIN_PASSWORD_CHARS,
        });
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(PasswordError::TooLong {
            max: MAX_PASSWORD_CHARS,
        });
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    // argon2id v19, m = 19 MiB, t = 2, p = 1 (OWASP's recommended minimum).
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Validates the policy, then hashes with argon2id and a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    validate_password(password)?;
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// The scheme of a stored hash (`argon2id`, `pbkdf2-sha512`, `2b`, ...), if it has one.
pub fn hash_scheme(stored: &str) -> Option<&str> {
    stored
        .strip_prefix('$')?
        .split('$')
        .next()
        .filter(|s| !s.is_empty())
}

/// Verifies `password` against a stored argon2id PHC string. `Ok(false)` on a wrong password.
pub fn verify_password(password: &str, stored: &str) -> Result<bool, PasswordError> {
    match hash_scheme(stored) {
        Some("argon2id") => {}
        other => {
            return Err(PasswordError::UnsupportedScheme(
                other.unwrap_or("(none)").to_string(),
            ))
        }
    }
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Ok(false);
    }
    let parsed = PasswordHash::new(stored).map_err(|e| PasswordError::Malformed(e.to_string()))?;
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err(PasswordError::Malformed("no salt or hash".into()));
    }
    match hasher().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(PasswordError::Malformed(e.to_string())),
    }
}

/// Whether a stored hash should be replaced by [`hash_password`]'s current scheme and
/// parameters after the next successful login.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    if parsed.algorithm.as_str() != "argon2id" || parsed.version != Some(0x13) {
        return true;
    }
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    let want = Params::default();
    params.m_cost() < want.m_cost()
        || params.t_cost() < want.t_cost()
        || params.p_cost() < want.p_cost()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert_eq!(
            validate_password("short"),
            Err(PasswordError::TooShort { min: 12 })
        );
        assert!(validate_password("elevenchars").is_err());
        assert!(validate_password("twelve-chars").is_ok());
        // characters, not bytes: 11 multi-byte characters are still too short
        assert!(validate_password("密碼密碼密碼密碼密碼密").is_err());
        assert!(validate_password(&"x".repeat(1025)).is_err());
        assert!(hash_password("too short").is_err());
    }

    #[test]
    fn hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(hash_scheme(&h), Some("argon2id"));
        assert_eq!(verify_password("correct horse battery", &h), Ok(true));
        assert_eq!(verify_password("correct horse battery!", &h), Ok(false));
        assert_eq!(verify_password("", &h), Ok(false));
        assert!(!needs_rehash(&h));
        // fresh salt every time
        let h2 = hash_password("correct horse battery").unwrap();
        assert_ne!(h, h2);
        assert_eq!(verify_password("correct horse battery", &h2), Ok(true));
    }

    #[test]
    fn foreign_and_broken_hashes() {
        assert!(matches!(
            verify_password("x", "$pbkdf2-sha512$25000$abc$def"),
            Err(PasswordError::UnsupportedScheme(s)) if s == "pbkdf2-sha512"
        ));
        assert!(matches!(
            verify_password("x", "$2b$12$abcdefghijklmnopqrstuv"),
            Err(PasswordError::UnsupportedScheme(s)) if s == "2b"
        ));
        assert!(matches!(
            verify_password("x", "plaintext"),
            Err(PasswordError::UnsupportedScheme(_))
        ));
        assert!(matches!(
            verify_password("x", "$argon2id$v=19$garbage"),
            Err(PasswordError::Malformed(_))
        ));
        assert!(matches!(
            verify_password("x", "$argon2id$v=19$m=abc,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
            Err(PasswordError::Malformed(_))
        ));
        assert!(needs_rehash("$pbkdf2-sha512$25000$abc$def"));
        // weaker argon2id parameters need a rehash
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(b"password-12345", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(needs_rehash(&weak));
        assert_eq!(verify_password("password-12345", &weak), Ok(true));
    }
}
