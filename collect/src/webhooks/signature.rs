//! Webhook signatures: HMAC-SHA256 of the raw body under the shared
//! secret, compared in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Whether `hex_signature` is HMAC-SHA256 of `body` under `secret`; the
/// comparison takes the same time wherever the first wrong byte is.
pub fn is_signed(secret: &str, body: &[u8], hex_signature: &str) -> bool {
    let Ok(signature) = hex::decode(hex_signature.trim()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

/// `body` signed under `secret`, as hex: what a sender computes.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn githubs_documented_example_verifies() {
        // docs.github.com, "Validating webhook deliveries": secret
        // "It's a Secret to Everybody", payload "Hello, World!".
        let expected = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(is_signed(
            "It's a Secret to Everybody",
            b"Hello, World!",
            expected
        ));
        assert_eq!(
            sign("It's a Secret to Everybody", b"Hello, World!"),
            expected
        );
        assert!(!is_signed("another secret", b"Hello, World!", expected));
        assert!(!is_signed(
            "It's a Secret to Everybody",
            b"Hello, World?",
            expected
        ));
        assert!(!is_signed(
            "It's a Secret to Everybody",
            b"Hello, World!",
            "zz"
        ));
    }
}
