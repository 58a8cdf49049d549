//! Passwords: hashing new ones, verifying stored ones (current and legacy Flask formats), and the
//! strength policy for new passwords.
//!
//! # Hashing
//!
//! New hashes are argon2id PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
//! [`hash_password`] applies the password policy ([`validate_password`]) first;
//! [`rehash_password`] does not, and is meant for upgrading a stored legacy hash after a
//! successful login (legacy passwords may be shorter than today's minimum). Both hash the
//! NFKD form of the password (NIST SP 800-63B 5.1.1.2, and what Flask-Security-Too does).
//!
//! # Verification
//!
//! [`verify_password_with`] (and [`verify_password`] = no legacy salt) understands:
//!
//! | stored hash | algorithm |
//! |---|---|
//! | `$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>` | argon2id (ours, and Flask-Security-Too's `argon2` scheme via passlib/argon2-cffi) |
//! | `$pbkdf2-sha512$<rounds>$<salt>$<checksum>` | passlib `pbkdf2_sha512`: PBKDF2-HMAC-SHA512 over the UTF-8 password, salt = the decoded salt bytes, 64-byte checksum; salt and checksum in passlib's "adapted base64" (standard alphabet, `.` for `+`, no padding) |
//! | `$2a$`, `$2b$`, `$2y$` + 2-digit cost + 22 + 31 characters | bcrypt (OpenBSD): the UTF-8 password plus a NUL, truncated to 72 bytes |
//!
//! Not supported (an `UnsupportedScheme` error): other passlib/Flask-Security schemes
//! (`$bcrypt-sha256$`, `$pbkdf2-sha256$`, `$6$` sha512_crypt, `$5$`, des_crypt, plaintext),
//! argon2i/argon2d, and `$2x$` (crypt_blowfish's sign-extension bug).
//!
//! Every candidate form of the password (below) is tried; the result is `Ok(true)` if any
//! matches. Derived keys are compared in constant time.
//!
//! **Candidate forms.** Flask-Security-Too (>= 4.0) NFKD-normalizes passwords before hashing
//! and before verifying (`SECURITY_PASSWORD_NORMALIZE_FORM`, default `"NFKD"`), plain passlib
//! does not; so both the NFKD form and, if different, the password as given are tried. When a
//! `legacy_salt` (the Flask app's `SECURITY_PASSWORD_SALT`) is given, each of those is also
//! tried in Flask-Security's pre-hashed ("double hash") form, `get_hmac(password)` =
//! `base64(HMAC-SHA512(key = salt, msg = password))` (standard base64 with `=` padding, 88
//! ASCII characters; see [`flask_security_hmac`]), which is what Flask-Security passes to passlib
//! for every scheme not in `SECURITY_PASSWORD_SINGLE_HASH` (by default: pbkdf2_sha512, bcrypt,
//! argon2, ...). For bcrypt that string is cut to 72 bytes, exactly as Flask-Security (>= 5.7
//! explicitly, earlier via passlib/bcrypt) does. With a salt configured, a wrong password thus
//! costs up to four hash computations on non-ASCII input, two on ASCII.
//!
//! **Bounded work.** Stored hashes are data; a hostile or corrupt one must not stall or crash a
//! component: pbkdf2 rounds <= [`MAX_PBKDF2_ROUNDS`], bcrypt cost 4..=[`MAX_BCRYPT_COST`],
//! argon2id memory <= [`MAX_ARGON2_M_COST`] KiB, memory x passes <= [`MAX_ARGON2_WORK`],
//! lanes <= [`MAX_ARGON2_P_COST`]. Over-limit, unknown and malformed hashes return an error
//! (never panic); the auth layer maps every `Err` to "invalid credentials" and logs it.
//!
//! [`needs_rehash`] is true for every stored hash that is not argon2id with exactly the current
//! parameters, so legacy hashes (and pre-hashed Flask-Security argon2 hashes, whose passlib
//! defaults differ from ours) are replaced by [`rehash_password`] on the next successful login.
//!
//! # Strength of new passwords
//!
//! [`check_strength`]: 12..=1024 characters, not one character or a short sequence repeated,
//! not the username / email address / email local part, and not in the shipped list of common
//! passwords (`shared/data/common-passwords.txt`, compared case-insensitively). The list only
//! holds entries of at least [`MIN_PASSWORD_CHARS`] characters, because anything shorter is
//! already rejected by the length rule. It was written from knowledge of public breach
//! frequency lists (rockyou, SecLists top lists), not copied from them: long passwords frequent
//! there, the most common words and names of those lists with the usual number/year/symbol
//! suffixes and leetspeak, keyboard walks and digit runs, and site words (solarhub, solar,
//! inverter, ...) with the same suffixes.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use core::fmt;
use hmac::{Hmac, Mac};
use sha2::Sha512;
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;

/// Minimum password length, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Maximum password length, in characters (bounds hashing work on hostile input).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Highest pbkdf2-sha512 round count verified (passlib's default is 25000; OWASP 2023
/// recommends 210000 for PBKDF2-HMAC-SHA512).
pub const MAX_PBKDF2_ROUNDS: u32 = 1_000_000;
/// Highest bcrypt cost verified (2^16 key-schedule rounds, seconds of CPU).
pub const MAX_BCRYPT_COST: u32 = 16;
/// Highest argon2id memory cost verified, in KiB (covers argon2-cffi's old default 102400).
pub const MAX_ARGON2_M_COST: u32 = 102_400;
/// Highest argon2id memory cost x passes verified (KiB x t).
pub const MAX_ARGON2_WORK: u64 = 4 * 102_400;
/// Highest argon2id lane count verified (no threads in Wasm; lanes run one after another).
pub const MAX_ARGON2_P_COST: u32 = 16;

/// Bytes of a passlib pbkdf2-sha512 checksum.
const PBKDF2_SHA512_LEN: usize = 64;
/// passlib's `max_salt_size` for the pbkdf2 schemes.
const PBKDF2_MAX_SALT: usize = 1024;
/// bcrypt only uses this many bytes of the password (including the trailing NUL).
const BCRYPT_MAX_KEY: usize = 72;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordError {
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    /// A new password fails the strength policy for a reason other than its length.
    Weak(WeakPassword),
    /// The stored hash is not in a scheme this module can verify.
    UnsupportedScheme(String),
    /// The stored hash does not parse, or its parameters exceed the work limits.
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
            PasswordError::Weak(w) => w.fmt(f),
            PasswordError::UnsupportedScheme(s) => {
                write!(f, "unsupported password hash scheme {s}")
            }
            PasswordError::Malformed(e) => write!(f, "malformed password hash: {e}"),
            PasswordError::Hashing(e) => write!(f, "password hashing failed: {e}"),
        }
    }
}

impl std::error::Error for PasswordError {}

impl From<WeakPassword> for PasswordError {
    fn from(w: WeakPassword) -> Self {
        match w {
            WeakPassword::TooShort { min } => PasswordError::TooShort { min },
            WeakPassword::TooLong { max } => PasswordError::TooLong { max },
            other => PasswordError::Weak(other),
        }
    }
}

/// Why a new password is rejected (HTTP 422). `Display` is a message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeakPassword {
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    /// One character, or a sequence of at most four characters, repeated.
    Repetitive,
    /// Equal (ignoring case) to the username.
    SameAsUsername,
    /// Equal (ignoring case) to the email address or its local part.
    SameAsEmail,
    /// In the list of common passwords (ignoring case).
    Common,
}

impl fmt::Display for WeakPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeakPassword::TooShort { min } => {
                write!(f, "password must be at least {min} characters long")
            }
            WeakPassword::TooLong { max } => {
                write!(f, "password must be at most {max} characters long")
            }
            WeakPassword::Repetitive => {
                f.write_str("password must not be a single character or a short sequence repeated")
            }
            WeakPassword::SameAsUsername => f.write_str("password must not be the username"),
            WeakPassword::SameAsEmail => {
                f.write_str("password must not be the email address or its part before the @")
            }
            WeakPassword::Common => f.write_str(
                "password is too common: it appears in lists of frequently used passwords",
            ),
        }
    }
}

impl std::error::Error for WeakPassword {}

/// Common passwords, lowercase, one per line, each at least [`MIN_PASSWORD_CHARS`] characters.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// Whether `password` (any case, surrounding whitespace ignored) is in the common-password list.
pub fn is_common_password(password: &str) -> bool {
    let p = password.trim().to_lowercase();
    COMMON_PASSWORDS.lines().any(|l| l == p)
}

/// Whether the password is one character, or a sequence of at most four characters, repeated
/// (`aaaaaaaaaaaa`, `abababababab`, `123123123123`, `passpasspass`).
fn is_repetitive(password: &str) -> bool {
    let chars: Vec<char> = password.chars().flat_map(char::to_lowercase).collect();
    (1..=4).any(|period| {
        chars.len() >= 2 * period && chars.iter().skip(period).zip(&chars).all(|(a, b)| a == b)
    })
}

/// Strength policy for a new password (admin create/update, CLI): 12..=1024 characters, not a
/// repeated character or short sequence, not the username, email address or email local part
/// (case-insensitive), and not a common password. Returns the first failing reason.
pub fn check_strength(
    password: &str,
    username: Option<&str>,
    email: Option<&str>,
) -> Result<(), WeakPassword> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(WeakPassword::TooShort {
            min: MIN_PASSWORD_CHARS,
        });
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(WeakPassword::TooLong {
            max: MAX_PASSWORD_CHARS,
        });
    }
    if is_repetitive(password) {
        return Err(WeakPassword::Repetitive);
    }
    let lower = password.trim().to_lowercase();
    let same = |other: &str| {
        let other = other.trim();
        !other.is_empty() && other.to_lowercase() == lower
    };
    if username.is_some_and(same) {
        return Err(WeakPassword::SameAsUsername);
    }
    if let Some(email) = email {
        let local = email.rsplit_once('@').map_or(email, |(local, _)| local);
        if same(email) || same(local) {
            return Err(WeakPassword::SameAsEmail);
        }
    }
    if is_common_password(password) {
        return Err(WeakPassword::Common);
    }
    Ok(())
}

/// The policy without identity checks: [`check_strength`]`(password, None, None)`, with the
/// length reasons as [`PasswordError::TooShort`] / [`PasswordError::TooLong`] and the others as
/// [`PasswordError::Weak`].
pub fn validate_password(password: &str) -> Result<(), PasswordError> {
    check_strength(password, None, None).map_err(PasswordError::from)
}

fn hasher() -> Argon2<'static> {
    // argon2id v19, m = 19 MiB, t = 2, p = 1 (OWASP's recommended minimum).
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Validates the policy ([`validate_password`]), then hashes with argon2id and a fresh salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    validate_password(password)?;
    rehash_password(password)
}

/// Hashes with argon2id and a fresh salt without the strength policy (only the maximum
/// length): for replacing a legacy hash after a successful login ([`needs_rehash`]).
pub fn rehash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(PasswordError::TooLong {
            max: MAX_PASSWORD_CHARS,
        });
    }
    let normalized: String = password.nfkd().collect();
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(normalized.as_bytes(), &salt)
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

/// Flask-Security's `get_hmac(password)`: `base64(HMAC-SHA512(key = salt, msg = password))`,
/// both UTF-8, standard base64 alphabet with `=` padding (88 characters).
pub fn flask_security_hmac(password: &str, salt: &str) -> String {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(salt.as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(password.as_bytes());
    base64_encode(&mac.finalize().into_bytes())
}

/// Verifies `password` against a stored hash of any supported scheme, without a legacy salt.
/// `Ok(false)` on a wrong password; `Err` on unknown, malformed or over-limit hashes.
pub fn verify_password(password: &str, stored: &str) -> Result<bool, PasswordError> {
    verify_password_with(password, stored, None)
}

/// Verifies `password` against a stored argon2id, passlib pbkdf2-sha512 or bcrypt hash.
/// `legacy_salt` is the Flask app's `SECURITY_PASSWORD_SALT`; when given, Flask-Security's
/// pre-hashed form is tried as well as the plain one (see the module documentation).
/// `Ok(false)` on a wrong password; `Err` on unknown, malformed or over-limit hashes, which the
/// caller treats as invalid credentials.
pub fn verify_password_with(
    password: &str,
    stored: &str,
    legacy_salt: Option<&str>,
) -> Result<bool, PasswordError> {
    let verifier = match hash_scheme(stored) {
        Some("argon2id") => Verifier::Argon2id(parse_argon2id(stored)?),
        Some("pbkdf2-sha512") => Verifier::Pbkdf2(parse_pbkdf2_sha512(stored)?),
        Some("2a" | "2b" | "2y") => Verifier::Bcrypt(parse_bcrypt(stored)?),
        other => {
            return Err(PasswordError::UnsupportedScheme(
                other.unwrap_or("(none)").chars().take(32).collect(),
            ))
        }
    };
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Ok(false);
    }
    for candidate in candidates(password, legacy_salt) {
        if verifier.matches(&candidate)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The password forms to try, most likely first: NFKD, as given (if different), and with a
/// legacy salt each of those pre-hashed the Flask-Security way.
fn candidates(password: &str, legacy_salt: Option<&str>) -> Vec<String> {
    let mut forms: Vec<String> = vec![password.nfkd().collect()];
    if forms[0] != password {
        forms.push(password.to_string());
    }
    if let Some(salt) = legacy_salt {
        let hmacs: Vec<String> = forms.iter().map(|f| flask_security_hmac(f, salt)).collect();
        forms.extend(hmacs);
    }
    forms
}

enum Verifier<'a> {
    Argon2id(PasswordHash<'a>),
    Pbkdf2(Pbkdf2Hash),
    Bcrypt(BcryptHash),
}

impl Verifier<'_> {
    fn matches(&self, candidate: &str) -> Result<bool, PasswordError> {
        match self {
            Verifier::Argon2id(parsed) => {
                match hasher().verify_password(candidate.as_bytes(), parsed) {
                    Ok(()) => Ok(true),
                    Err(argon2::password_hash::Error::Password) => Ok(false),
                    Err(e) => Err(PasswordError::Malformed(e.to_string())),
                }
            }
            Verifier::Pbkdf2(h) => Ok(h.matches(candidate.as_bytes())),
            Verifier::Bcrypt(h) => Ok(h.matches(candidate.as_bytes())),
        }
    }
}

fn malformed(msg: impl Into<String>) -> PasswordError {
    PasswordError::Malformed(msg.into())
}

fn parse_argon2id(stored: &str) -> Result<PasswordHash<'_>, PasswordError> {
    let parsed = PasswordHash::new(stored).map_err(|e| malformed(e.to_string()))?;
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err(malformed("no salt or hash"));
    }
    let params = Params::try_from(&parsed).map_err(|e| malformed(e.to_string()))?;
    if params.m_cost() > MAX_ARGON2_M_COST
        || u64::from(params.m_cost()) * u64::from(params.t_cost()) > MAX_ARGON2_WORK
        || params.p_cost() > MAX_ARGON2_P_COST
    {
        return Err(malformed(format!(
            "argon2id parameters m={},t={},p={} exceed the limits",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        )));
    }
    Ok(parsed)
}

struct Pbkdf2Hash {
    rounds: u32,
    salt: Vec<u8>,
    checksum: Vec<u8>,
}

impl Pbkdf2Hash {
    fn matches(&self, password: &[u8]) -> bool {
        let mut out = [0u8; PBKDF2_SHA512_LEN];
        pbkdf2::pbkdf2_hmac::<Sha512>(password, &self.salt, self.rounds, &mut out);
        out[..].ct_eq(&self.checksum).into()
    }
}

/// `$pbkdf2-sha512$<rounds>$<ab64 salt>$<ab64 checksum>` (passlib).
fn parse_pbkdf2_sha512(stored: &str) -> Result<Pbkdf2Hash, PasswordError> {
    let mut parts = stored.split('$');
    let (Some(""), Some("pbkdf2-sha512"), Some(rounds), Some(salt), Some(checksum), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed(
            "pbkdf2-sha512: expected $pbkdf2-sha512$rounds$salt$checksum",
        ));
    };
    let rounds = parse_decimal(rounds)
        .filter(|r| *r >= 1)
        .ok_or_else(|| malformed("pbkdf2-sha512: bad rounds"))?;
    if rounds > MAX_PBKDF2_ROUNDS {
        return Err(malformed(format!(
            "pbkdf2-sha512: {rounds} rounds exceed the limit {MAX_PBKDF2_ROUNDS}"
        )));
    }
    let salt = base64_decode(salt, ab64_value)
        .filter(|s| s.len() <= PBKDF2_MAX_SALT)
        .ok_or_else(|| malformed("pbkdf2-sha512: bad salt"))?;
    let checksum = base64_decode(checksum, ab64_value)
        .filter(|c| c.len() == PBKDF2_SHA512_LEN)
        .ok_or_else(|| malformed("pbkdf2-sha512: bad checksum"))?;
    Ok(Pbkdf2Hash {
        rounds,
        salt,
        checksum,
    })
}

/// A decimal without sign or leading zeros (passlib rejects zero-padded rounds), as `u32`.
fn parse_decimal(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

struct BcryptHash {
    cost: u32,
    salt: [u8; 16],
    hash: [u8; 23],
}

impl BcryptHash {
    fn matches(&self, password: &[u8]) -> bool {
        // C bcrypt stops at a NUL, and passlib refuses NULs, so no stored hash has one.
        if password.contains(&0) {
            return false;
        }
        // The password plus its terminating NUL, cut to 72 bytes (bcrypt's key limit).
        let mut key = [0u8; BCRYPT_MAX_KEY];
        let n = password.len().min(BCRYPT_MAX_KEY);
        key[..n].copy_from_slice(&password[..n]);
        let used = (n + 1).min(BCRYPT_MAX_KEY);
        let out = bcrypt::bcrypt(self.cost, self.salt, &key[..used]);
        out[..23].ct_eq(&self.hash[..]).into()
    }
}

/// `$2a$`/`$2b$`/`$2y$` + two-digit cost + `$` + 22 salt + 31 hash characters (bcrypt base64).
fn parse_bcrypt(stored: &str) -> Result<BcryptHash, PasswordError> {
    let b = stored.as_bytes();
    if b.len() != 60 || !stored.is_ascii() || b[0] != b'$' || b[3] != b'$' || b[6] != b'$' {
        return Err(malformed("bcrypt: expected $2b$NN$ and 53 characters"));
    }
    let (c1, c2) = (b[4], b[5]);
    if !c1.is_ascii_digit() || !c2.is_ascii_digit() {
        return Err(malformed("bcrypt: bad cost"));
    }
    let cost = u32::from(c1 - b'0') * 10 + u32::from(c2 - b'0');
    if !(4..=MAX_BCRYPT_COST).contains(&cost) {
        return Err(malformed(format!(
            "bcrypt: cost {cost} outside 4..={MAX_BCRYPT_COST}"
        )));
    }
    let salt = base64_decode(&stored[7..29], bcrypt64_value)
        .and_then(|s| <[u8; 16]>::try_from(s).ok())
        .ok_or_else(|| malformed("bcrypt: bad salt"))?;
    let hash = base64_decode(&stored[29..], bcrypt64_value)
        .and_then(|h| <[u8; 23]>::try_from(h).ok())
        .ok_or_else(|| malformed("bcrypt: bad hash"))?;
    Ok(BcryptHash { cost, salt, hash })
}

/// Whether a stored hash should be replaced by [`rehash_password`] after the next successful
/// login: true for every scheme but argon2id, for argon2id with parameters other than the
/// current ones (weaker, or a different legacy profile), and for anything unparsable.
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
    params.m_cost() != want.m_cost()
        || params.t_cost() != want.t_cost()
        || params.p_cost() != want.p_cost()
        || parsed.hash.map(|h| h.len()) != Some(Params::DEFAULT_OUTPUT_LEN)
}

// --- base64 variants -------------------------------------------------------------------------

const STD_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// passlib's adapted base64: the standard alphabet with `.` for `+` (`+` accepted too, as
/// passlib's decoder does).
fn ab64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'.' | b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// bcrypt's alphabet: `./A-Za-z0-9`.
fn bcrypt64_value(c: u8) -> Option<u8> {
    match c {
        b'.' => Some(0),
        b'/' => Some(1),
        b'A'..=b'Z' => Some(c - b'A' + 2),
        b'a'..=b'z' => Some(c - b'a' + 28),
        b'0'..=b'9' => Some(c - b'0' + 54),
        _ => None,
    }
}

/// Decodes unpadded base64 with the given alphabet. Unused trailing bits are ignored (as
/// Python's and OpenBSD's decoders do); a length of 1 mod 4 and unknown characters fail.
fn base64_decode(s: &str, value: fn(u8) -> Option<u8>) -> Option<Vec<u8>> {
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        acc = (acc << 6) | u32::from(value(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Standard base64 with `=` padding (Python's `base64.b64encode`).
fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(STD_ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known-answer vectors generated with passlib 1.7.4, bcrypt 4.0.1 and Flask-Security-Too
    // 5.9.2 (argon2-cffi backend): `hash_password(unicodedata.normalize("NFKD", pw))` in an app
    // with SECURITY_PASSWORD_SALT = FS_SALT, i.e. exactly what its register and login forms do.
    const FS_SALT: &str = "fs-legacy-salt-2019";
    /// NFC "ü" (U+00FC), as typed; Flask-Security hashed the NFKD form "u\u{308}".
    const GRUENE: &str = "Gr\u{fc}ne Energie 2019";

    fn err_malformed(r: Result<bool, PasswordError>) -> bool {
        matches!(r, Err(PasswordError::Malformed(_)))
    }

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
        assert_eq!(
            validate_password(&"xy".repeat(513)),
            Err(PasswordError::TooLong { max: 1024 })
        );
        assert!(hash_password("too short").is_err());
        assert_eq!(
            validate_password("Password1234"),
            Err(PasswordError::Weak(WeakPassword::Common))
        );
        assert!(hash_password("password1234").is_err());
    }

    #[test]
    fn hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(hash_scheme(&h), Some("argon2id"));
        assert_eq!(verify_password("correct horse battery", &h), Ok(true));
        assert_eq!(verify_password("correct horse battery!", &h), Ok(false));
        assert_eq!(verify_password("", &h), Ok(false));
        // a legacy salt does not change the outcome for our own hashes
        assert_eq!(
            verify_password_with("correct horse battery", &h, Some(FS_SALT)),
            Ok(true)
        );
        assert_eq!(
            verify_password_with("correct horse batterx", &h, Some(FS_SALT)),
            Ok(false)
        );
        assert!(!needs_rehash(&h));
        // fresh salt every time
        let h2 = hash_password("correct horse battery").unwrap();
        assert_ne!(h, h2);
        assert_eq!(verify_password("correct horse battery", &h2), Ok(true));
    }

    #[test]
    fn rehash_accepts_legacy_passwords_and_normalizes() {
        // Legacy passwords may be short or common; upgrading them must still work.
        let h = rehash_password("secret").unwrap();
        assert_eq!(verify_password("secret", &h), Ok(true));
        assert_eq!(verify_password("Secret", &h), Ok(false));
        assert!(!needs_rehash(&h));
        assert!(rehash_password(&"x".repeat(1025)).is_err());
        // NFC and NFD input verify alike against a hash of either.
        let nfd = "Gru\u{308}ne Energie 2019";
        let h = rehash_password(GRUENE).unwrap();
        assert_eq!(verify_password(nfd, &h), Ok(true));
        assert_eq!(verify_password(GRUENE, &h), Ok(true));
        assert_eq!(verify_password("Grune Energie 2019", &h), Ok(false));
    }

    #[test]
    fn passlib_pbkdf2_sha512() {
        let h = "$pbkdf2-sha512$25000$vdfa23uvVepdK6VUqhWiFA$xbIZxvQJO.5UOSjNgrDQxo1T0izKnp10Ug8TnIU7JX.lCXlRE/8mfEvlo/7NCr3Fns.x5qaxzuFAbh5OwFYZaA";
        assert_eq!(verify_password("correct horse battery staple", h), Ok(true));
        assert_eq!(verify_password("correct horse battery stapl", h), Ok(false));
        assert_eq!(
            verify_password("Correct horse battery staple", h),
            Ok(false)
        );
        // a configured salt must not break plain (single-hash) passlib hashes
        assert_eq!(
            verify_password_with("correct horse battery staple", h, Some(FS_SALT)),
            Ok(true)
        );
        assert!(needs_rehash(h));

        // plain passlib does not normalize: the NFC bytes were hashed
        let h = "$pbkdf2-sha512$1000$Vwph7P3/n7P2HqP03lsLwQ$rARNlI3/PY2FIO9QCWhqM2oZZsA84izJ2Ry2FPBzpoARtE/0P4Z6yAm4HdOKCymDUKQTp2K3Ioe894Y7tFXsCA";
        assert_eq!(verify_password(GRUENE, h), Ok(true));
        assert_eq!(verify_password("Grune Energie 2019", h), Ok(false));

        // empty password, one round
        let h = "$pbkdf2-sha512$1$UsrZey8FQIix1tr7H.NcCw$gqvtbAgGnQh6oyVj4SnTvdvDSpuFyasK6A2GU2sx7bQIsAV6hriUFkoAQTrZLIUawNpblo8.1UXhkM7sZESKig";
        assert_eq!(verify_password("", h), Ok(true));
        assert_eq!(verify_password(" ", h), Ok(false));
    }

    #[test]
    fn flask_security_hmac_matches_python() {
        // base64.b64encode(hmac.new(salt, pw, hashlib.sha512).digest())
        assert_eq!(
            flask_security_hmac("solar panel password", FS_SALT),
            "gQlkT+6/EiUCT0riBAjtuOlIMJ6hTgdQKkvs6X3ufxI8N+fcTcTyzOkIJtisGJLmA27UarA62EtDzF8bnXanRg=="
        );
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"foob"), "Zm9vYg==");
    }

    #[test]
    fn flask_security_pbkdf2_sha512_double_hash() {
        let h = "$pbkdf2-sha512$2000$1fof43yvdQ6B0DpH6B0DwA$cZkOI3JcmqtEjEQDg5KX1J3d76oTsLZpUIPsGxLXO4zXj3gwqTG5NCrAEZLZaveIqxJ8zHHOgPUIHPH7.g.8aA";
        assert_eq!(
            verify_password_with("solar panel password", h, Some(FS_SALT)),
            Ok(true)
        );
        // without the salt, or with a different one, it cannot match
        assert_eq!(verify_password("solar panel password", h), Ok(false));
        assert_eq!(
            verify_password_with("solar panel password", h, Some("other")),
            Ok(false)
        );
        assert_eq!(
            verify_password_with("solar panel passwort", h, Some(FS_SALT)),
            Ok(false)
        );
        // hashed over NFKD("Grüne ..."); the NFC input must verify
        let h = "$pbkdf2-sha512$2000$zPlfq9XaO6c0ZkxJCeGcsw$n7INdUQDZDpmxXhqPOnJJWW//Psm.QE4/wXwukS8tVDImkz3LXauuwjxKyMFAs.4yKL9Ln6VDoNl1JvYQPs3UQ";
        assert_eq!(verify_password_with(GRUENE, h, Some(FS_SALT)), Ok(true));
        assert_eq!(
            verify_password_with("Grune Energie 2019", h, Some(FS_SALT)),
            Ok(false)
        );
    }

    #[test]
    fn bcrypt_vectors() {
        let h = "$2b$05$R3i8Lhr315EaefSQqjxH8u0pSpozoEGNnMD7KHlaB5BHJStYRnZNm";
        assert_eq!(verify_password("correct horse battery staple", h), Ok(true));
        assert_eq!(
            verify_password("correct horse battery stapler", h),
            Ok(false)
        );
        assert_eq!(
            verify_password_with("correct horse battery staple", h, Some(FS_SALT)),
            Ok(true)
        );
        assert!(needs_rehash(h));
        assert_eq!(hash_scheme(h), Some("2b"));

        let h = "$2b$04$46K3sV0SXx0BlYBNy7fFlOi8k6oVb4laNHTtDyg2TvtCCU4B1NKMy";
        assert_eq!(verify_password(GRUENE, h), Ok(true));
        assert_eq!(verify_password("Grune Energie 2019", h), Ok(false));

        // $2a$ from passlib, $2y$ from PHP's password_verify documentation,
        // $2a$ empty password from jBCrypt's test suite
        let h = "$2a$04$5sYWRXQpPNqqtonjD/lP9.WpqtPYn0vXNA0QdnN0tL5YDXVQgXRzu";
        assert_eq!(verify_password("legacy 2a password", h), Ok(true));
        assert_eq!(verify_password("legacy 2b password", h), Ok(false));
        let h = "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a";
        assert_eq!(verify_password("rasmuslerdorf", h), Ok(true));
        assert_eq!(verify_password("rasmuslerdorF", h), Ok(false));
        let h = "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.";
        assert_eq!(verify_password("", h), Ok(true));
        assert_eq!(verify_password("a", h), Ok(false));
        // NUL bytes never match (C bcrypt would stop at them)
        assert_eq!(verify_password("\0", h), Ok(false));
    }

    #[test]
    fn bcrypt_72_byte_limit() {
        // hash of "x" * 80: bcrypt only sees the first 72 bytes
        let h = "$2b$04$sV65/eBoGjq98/.yHyQhDOyJ.pUhJMLWgzdkAeqCE7diC7Nkla/lO";
        assert_eq!(verify_password(&"x".repeat(80), h), Ok(true));
        assert_eq!(verify_password(&"x".repeat(72), h), Ok(true));
        assert_eq!(verify_password(&"x".repeat(100), h), Ok(true));
        assert_eq!(verify_password(&"x".repeat(71), h), Ok(false));
    }

    #[test]
    fn flask_security_bcrypt_double_hash() {
        // the 88-character HMAC is cut to 72 bytes before bcrypt
        let h = "$2b$04$WSVxasMtywcFHJ5Jq2TzmeacwHdC6GcBQNYnuuBER/sDy1TiIbr4y";
        assert_eq!(
            verify_password_with("solar panel password", h, Some(FS_SALT)),
            Ok(true)
        );
        assert_eq!(verify_password("solar panel password", h), Ok(false));
        assert_eq!(
            verify_password_with("solar panel passw0rd", h, Some(FS_SALT)),
            Ok(false)
        );
        let h = "$2b$04$ulNflaqzliCdJHY3lBFQc.vZ.gMyNICmYFqrC3p7Iqu7yAQMpmGAW";
        assert_eq!(verify_password_with(GRUENE, h, Some(FS_SALT)), Ok(true));
        assert_eq!(verify_password(GRUENE, h), Ok(false));
    }

    #[test]
    fn flask_security_argon2_double_hash() {
        // Flask-Security-Too's default scheme since 5.0: argon2 (passlib/argon2-cffi defaults)
        let h = "$argon2id$v=19$m=65536,t=3,p=4$eI/x3nvPOUfo/V/r/R+jFA$ez4vWrHA/BkKjJaB+L5B0O8xW4IEh5db2eo+VSrwXOY";
        assert_eq!(
            verify_password_with("solar panel password", h, Some(FS_SALT)),
            Ok(true)
        );
        assert_eq!(verify_password("solar panel password", h), Ok(false));
        assert_eq!(
            verify_password_with("solar panel", h, Some(FS_SALT)),
            Ok(false)
        );
        // other parameters than ours: replaced on the next login
        assert!(needs_rehash(h));
        let h = "$argon2id$v=19$m=65536,t=3,p=4$XstZi1HKGQMAoDTmHOP8fw$oULnKnfaja0zR9zeWxKO0Qn7KQ+T4CGpF50T7hHHseM";
        assert_eq!(verify_password_with(GRUENE, h, Some(FS_SALT)), Ok(true));
    }

    #[test]
    fn foreign_and_broken_hashes() {
        for stored in [
            "",
            "plaintext",
            "$",
            "$$",
            "$1$saltsalt$hash",
            "$6$rounds=5000$salt$hash",
            "$pbkdf2-sha256$29000$abc$def",
            "$2x$04$5sYWRXQpPNqqtonjD/lP9.WpqtPYn0vXNA0QdnN0tL5YDXVQgXRzu",
            "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
            "$bcrypt-sha256$v=2,t=2b,r=12$n79VH.0Q2TMWmt3Oqt9uku$Kq4Noyk3094Y2QlB8NdRT8SvGiI4ft2",
        ] {
            assert!(
                matches!(
                    verify_password("x", stored),
                    Err(PasswordError::UnsupportedScheme(_))
                ),
                "{stored}"
            );
            assert!(needs_rehash(stored), "{stored}");
        }
        assert!(err_malformed(verify_password(
            "x",
            "$argon2id$v=19$garbage"
        )));
        assert!(err_malformed(verify_password(
            "x",
            "$argon2id$v=19$m=abc,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"
        )));

        let good = "$pbkdf2-sha512$1000$Vwph7P3/n7P2HqP03lsLwQ$rARNlI3/PY2FIO9QCWhqM2oZZsA84izJ2Ry2FPBzpoARtE/0P4Z6yAm4HdOKCymDUKQTp2K3Ioe894Y7tFXsCA";
        let (salt, sum) = (
            "Vwph7P3/n7P2HqP03lsLwQ",
            "rARNlI3/PY2FIO9QCWhqM2oZZsA84izJ2Ry2FPBzpoARtE/0P4Z6yAm4HdOKCymDUKQTp2K3Ioe894Y7tFXsCA",
        );
        for bad in [
            "$pbkdf2-sha512$".to_string(),
            "$pbkdf2-sha512$1000".to_string(),
            format!("$pbkdf2-sha512$1000${salt}"),
            format!("$pbkdf2-sha512$1000${salt}${sum}$"),
            format!("$pbkdf2-sha512$01000${salt}${sum}"),
            format!("$pbkdf2-sha512$0${salt}${sum}"),
            format!("$pbkdf2-sha512$-1${salt}${sum}"),
            format!("$pbkdf2-sha512$99999999999${salt}${sum}"),
            format!("$pbkdf2-sha512$1000${salt}=${sum}"),
            format!("$pbkdf2-sha512$1000${salt}${}", &sum[..85]),
            format!("$pbkdf2-sha512$1000${salt}${}", &sum[..84]),
            format!("$pbkdf2-sha512$1000${salt}${sum}AA"),
            format!("$pbkdf2-sha512$1000$sälz${sum}"),
            format!("$pbkdf2-sha512$1000${}${sum}", "A".repeat(1400)),
        ] {
            assert!(err_malformed(verify_password("x", &bad)), "{bad}");
            assert!(needs_rehash(&bad));
        }
        assert_eq!(verify_password("Grüne Energie 2019", good), Ok(true));

        let good = "$2b$04$sV65/eBoGjq98/.yHyQhDOyJ.pUhJMLWgzdkAeqCE7diC7Nkla/lO";
        for bad in [
            "$2b$04$sV65/eBoGjq98/.yHyQhDOyJ.pUhJMLWgzdkAeqCE7diC7Nkla/l".to_string(),
            format!("{good}O"),
            good.replace("$04$", "$4$$"),
            good.replace("$04$", "$+4$"),
            good.replace("$04$", "$ 4$"),
            good.replace("$04$", "$03$"),
            good.replace("$04$", "$xx$"),
            good.replace("/eBo", "/eB!"),
            good.replace("sV65", "sVé"),
            good.replace("Nkla", "Nkl_"),
        ] {
            assert!(err_malformed(verify_password("x", &bad)), "{bad}");
        }
    }

    #[test]
    fn hostile_work_parameters_are_refused() {
        let sum = "rARNlI3/PY2FIO9QCWhqM2oZZsA84izJ2Ry2FPBzpoARtE/0P4Z6yAm4HdOKCymDUKQTp2K3Ioe894Y7tFXsCA";
        let over = format!("$pbkdf2-sha512$1000001$Vwph7P3/n7P2HqP03lsLwQ${sum}");
        assert!(err_malformed(verify_password("x", &over)));
        let max = format!("$pbkdf2-sha512$4294967295$Vwph7P3/n7P2HqP03lsLwQ${sum}");
        assert!(err_malformed(verify_password("x", &max)));
        // bcrypt cost 17..31 refused before any work
        let h = "$2b$31$sV65/eBoGjq98/.yHyQhDOyJ.pUhJMLWgzdkAeqCE7diC7Nkla/lO";
        assert!(err_malformed(verify_password("x", h)));
        let h = "$2b$17$sV65/eBoGjq98/.yHyQhDOyJ.pUhJMLWgzdkAeqCE7diC7Nkla/lO";
        assert!(err_malformed(verify_password("x", h)));
        // argon2id: 4 GiB of memory, or too many passes, or too many lanes
        for params in [
            "m=4194304,t=1,p=1",
            "m=65536,t=100,p=1",
            "m=19456,t=2,p=255",
        ] {
            let h = format!("$argon2id$v=19${params}$c2FsdHNhbHQ$aGFzaGhhc2g");
            assert!(err_malformed(verify_password("x", &h)), "{h}");
        }
    }

    #[test]
    fn rehash_decisions() {
        assert!(needs_rehash(
            "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"
        ));
        assert!(needs_rehash("$pbkdf2-sha512$25000$vdfa23uvVepdK6VUqhWiFA$xbIZxvQJO.5UOSjNgrDQxo1T0izKnp10Ug8TnIU7JX.lCXlRE/8mfEvlo/7NCr3Fns.x5qaxzuFAbh5OwFYZaA"));
        let with = |params: Params, version: Version| {
            Argon2::new(Algorithm::Argon2id, version, params)
                .hash_password(b"password-12345", &SaltString::generate(&mut OsRng))
                .unwrap()
                .to_string()
        };
        // weaker parameters
        let weak = with(Params::new(8, 1, 1, None).unwrap(), Version::V0x13);
        assert!(needs_rehash(&weak));
        assert_eq!(verify_password("password-12345", &weak), Ok(true));
        // older version
        let v10 = with(Params::default(), Version::V0x10);
        assert!(needs_rehash(&v10));
        assert_eq!(verify_password("password-12345", &v10), Ok(true));
        // other output length
        let long = with(
            Params::new(19 * 1024, 2, 1, Some(64)).unwrap(),
            Version::V0x13,
        );
        assert!(needs_rehash(&long));
        assert_eq!(verify_password("password-12345", &long), Ok(true));
        // other (even stronger) passes or lanes: not the current profile
        for (t, p) in [(3, 1), (2, 2)] {
            let other = with(Params::new(19 * 1024, t, p, None).unwrap(), Version::V0x13);
            assert!(needs_rehash(&other), "{other}");
            assert_eq!(verify_password("password-12345", &other), Ok(true));
        }
        // current
        let current = with(Params::default(), Version::V0x13);
        assert!(!needs_rehash(&current));
        // argon2i / argon2d are other schemes
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default())
            .hash_password(b"password-12345", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(needs_rehash(&argon2i));
    }

    #[test]
    fn base64_decoders() {
        assert_eq!(base64_decode("", ab64_value), Some(vec![]));
        assert_eq!(base64_decode("Zm9vYg", ab64_value), Some(b"foob".to_vec()));
        assert_eq!(
            base64_decode("Zm9vYmE", ab64_value),
            Some(b"fooba".to_vec())
        );
        assert_eq!(
            base64_decode("Zm9vYmFy", ab64_value),
            Some(b"foobar".to_vec())
        );
        assert_eq!(base64_decode("Z", ab64_value), None);
        assert_eq!(base64_decode("Zm9=", ab64_value), None);
        // '.' and '+' both mean 62 in ab64
        assert_eq!(base64_decode("..8", ab64_value), Some(vec![0xfb, 0xef]));
        assert_eq!(base64_decode("++8", ab64_value), Some(vec![0xfb, 0xef]));
        assert_eq!(base64_decode("..", bcrypt64_value), Some(vec![0]));
        assert_eq!(base64_decode("99", bcrypt64_value), Some(vec![0xff]));
    }

    #[test]
    fn strength() {
        assert_eq!(check_strength("solar-flare-kettle", None, None), Ok(()));
        assert_eq!(
            check_strength("Tr0ub4dor&3", None, None),
            Err(WeakPassword::TooShort { min: 12 })
        );
        assert_eq!(
            check_strength(&"ab".repeat(600), None, None),
            Err(WeakPassword::TooLong { max: 1024 })
        );
        for repeated in [
            "aaaaaaaaaaaa",
            "AAAAAAAAAAAAAAAAAAAA",
            "ababababababab",
            "123123123123",
            "PassPassPass",
            "ééééééééééééé",
        ] {
            assert_eq!(
                check_strength(repeated, None, None),
                Err(WeakPassword::Repetitive),
                "{repeated}"
            );
        }
        // five-character period and irregular repeats are fine
        assert_eq!(check_strength("abcdeabcdeabcde", None, None), Ok(()));
        assert_eq!(check_strength("aaaaaaaaaaab", None, None), Ok(()));

        for common in [
            "password1234",
            "PASSWORD1234",
            "Password1234",
            "123456789012",
            "qwertyuiop123",
            "iloveyou1234",
            "1q2w3e4r5t6y",
            "solarhub1234",
            "SolarHub2024!",
            "  password1234  ",
        ] {
            assert_eq!(
                check_strength(common, None, None),
                Err(WeakPassword::Common),
                "{common}"
            );
            assert!(is_common_password(common), "{common}");
        }
        assert!(!is_common_password("solar-flare-kettle"));

        assert_eq!(
            check_strength("Maximilian.Mustermann", Some("maximilian.mustermann"), None),
            Err(WeakPassword::SameAsUsername)
        );
        assert_eq!(
            check_strength(
                "maximilian.mustermann",
                None,
                Some("Maximilian.Mustermann@solarhub.example")
            ),
            Err(WeakPassword::SameAsEmail)
        );
        assert_eq!(
            check_strength(
                "max@solarhub.example",
                Some("max"),
                Some("max@solarhub.example")
            ),
            Err(WeakPassword::SameAsEmail)
        );
        // different from identity values, and empty identity values are ignored
        assert_eq!(
            check_strength(
                "maximilian.mustermann!",
                Some("maximilian.mustermann"),
                Some("")
            ),
            Ok(())
        );
        assert_eq!(
            check_strength("solar-flare-kettle", Some(""), Some("@x")),
            Ok(())
        );

        // every reason has a human message
        for w in [
            WeakPassword::TooShort { min: 12 },
            WeakPassword::TooLong { max: 1024 },
            WeakPassword::Repetitive,
            WeakPassword::SameAsUsername,
            WeakPassword::SameAsEmail,
            WeakPassword::Common,
        ] {
            assert!(w.to_string().starts_with("password "), "{w}");
            assert_eq!(PasswordError::from(w.clone()).to_string(), w.to_string());
        }
    }

    #[test]
    fn common_list_is_well_formed() {
        let mut seen = std::collections::HashSet::new();
        let mut n = 0;
        for line in COMMON_PASSWORDS.lines() {
            n += 1;
            assert_eq!(line, line.trim(), "{line:?}");
            assert_eq!(line, line.to_lowercase(), "{line:?}");
            assert!(line.chars().count() >= MIN_PASSWORD_CHARS, "{line:?}");
            assert!(seen.insert(line), "duplicate {line:?}");
        }
        assert!(n >= 2000, "{n} entries");
    }
}
