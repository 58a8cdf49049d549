//! The generic webhook's signature: HMAC-SHA256 over `<timestamp>.<body>` with the shared secret
//! (`notify_webhook_secret`), sent as `x-solarhub-signature: sha256=<hex>` next to
//! `x-solarhub-timestamp: <unix seconds>`. Signing the timestamp with the body lets a receiver
//! refuse a replayed delivery by its age without trusting an unsigned header.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "x-solarhub-signature";
pub const TIMESTAMP_HEADER: &str = "x-solarhub-timestamp";

/// `sha256=<hex>` of `timestamp.body` under `secret`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// Whether `header` is the signature of `timestamp.body` (compared in constant time).
pub fn verify(secret: &[u8], timestamp: i64, body: &[u8], header: &str) -> bool {
    use subtle::ConstantTimeEq;
    let expected = signature(secret, timestamp, body);
    expected.as_bytes().ct_eq(header.as_bytes()).into()
}

/// The key a user's own webhook deliveries are signed with: derived from the site's secret, so
/// nothing more is stored, and different for each user, so one user's receiver (which must know
/// its key to verify) cannot forge deliveries to another's or to the site's webhook. Shown to the
/// user by `GET /api/v1/me/notifications` as `webhook_signing_key`.
pub fn user_key(site_secret: &[u8], user_id: u64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(site_secret).expect("HMAC accepts any key length");
    mac.update(format!("solarhub user webhook {user_id}").as_bytes());
    hex(&mac.finalize().into_bytes())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_timestamp_and_body() {
        // RFC 4231 test case 2's key and data, with our `timestamp.` in front of the data.
        let sig = signature(b"Jefe", 0, b"what do ya want for nothing?");
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64, "{sig}");
        assert!(verify(b"Jefe", 0, b"what do ya want for nothing?", &sig));
        assert!(!verify(b"Jefe", 1, b"what do ya want for nothing?", &sig));
        assert!(!verify(b"jefe", 0, b"what do ya want for nothing?", &sig));
        assert!(!verify(b"Jefe", 0, b"what do ya want for nothing!", &sig));
    }

    #[test]
    fn matches_an_independent_hmac() {
        // Computed with Python's hmac module over "0." + the text.
        assert_eq!(
            signature(b"key", 0, b"The quick brown fox jumps over the lazy dog"),
            "sha256=8511f28f7a1949f0c42772b447d68b2daf760f5f0439a20a17e3b4e7cd395763"
        );
        assert_eq!(
            signature(b"Jefe", 0, b"what do ya want for nothing?"),
            "sha256=37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc"
        );
    }

    #[test]
    fn user_keys_differ_per_user_and_from_the_secret() {
        // Computed with Python's hmac module over "solarhub user webhook 7".
        assert_eq!(
            user_key(b"site secret", 7),
            "77d4a34816615f35009a3fb1ad786aac44175a34361e371654fb7a801ebbeac0"
        );
        assert_ne!(user_key(b"site secret", 7), user_key(b"site secret", 8));
        assert_ne!(user_key(b"site secret", 7), user_key(b"other secret", 7));
    }
}
