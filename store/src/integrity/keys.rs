//! The Ed25519 key pair that signs digests and intents (DESIGN §11), kept
//! in the files any tool reads: the private key as PKCS#8 PEM
//! (`signing.key`, mode 0600), the public key as SubjectPublicKeyInfo PEM
//! (`signing.pub`), so an auditor can check a signature with OpenSSL as
//! well as with `aitrail verify`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use crate::StoreError;

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the key's
/// 32 bytes follow it.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The private key a writer signs with.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

/// The public key `aitrail verify` checks signatures with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    bytes: [u8; 32],
}

impl SigningKey {
    /// A new random key pair, written as `dir/signing.key` (readable by its
    /// owner only) and `dir/signing.pub`; refuses to overwrite a key.
    pub fn generate(dir: &Path) -> Result<(PathBuf, PathBuf), StoreError> {
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| StoreError::Integrity("the system's random source failed".into()))?;
        let key = SigningKey::from_pkcs8(document.as_ref())?;
        fs::create_dir_all(dir).map_err(|err| io_error(dir, err))?;
        let private = dir.join("signing.key");
        let public = dir.join("signing.pub");
        write_new(&private, &pem("PRIVATE KEY", document.as_ref()), 0o600)?;
        write_new(&public, &key.public_key().to_pem(), 0o644)?;
        Ok((private, public))
    }

    /// Reads the private key file at `path` (PKCS#8 PEM, as written by
    /// [`SigningKey::generate`] or `openssl genpkey -algorithm ed25519`).
    pub fn read(path: &Path) -> Result<SigningKey, StoreError> {
        let text = fs::read_to_string(path).map_err(|err| io_error(path, err))?;
        let der = unpem(&text, "PRIVATE KEY")
            .ok_or_else(|| bad_file(path, "not a PEM \"PRIVATE KEY\""))?;
        SigningKey::from_pkcs8(&der).map_err(|_| bad_file(path, "not an Ed25519 private key"))
    }

    fn from_pkcs8(der: &[u8]) -> Result<SigningKey, StoreError> {
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(|pair| SigningKey { pair })
            .map_err(|err| StoreError::Integrity(format!("not an Ed25519 private key: {err}")))
    }

    /// The signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut signature = [0u8; 64];
        signature.copy_from_slice(self.pair.sign(message).as_ref());
        signature
    }

    /// The public half, which verifies what this key signs.
    pub fn public_key(&self) -> PublicKey {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey { bytes }
    }
}

impl PublicKey {
    /// Reads the public key file at `path` (SubjectPublicKeyInfo PEM).
    pub fn read(path: &Path) -> Result<PublicKey, StoreError> {
        let text = fs::read_to_string(path).map_err(|err| io_error(path, err))?;
        let der =
            unpem(&text, "PUBLIC KEY").ok_or_else(|| bad_file(path, "not a PEM \"PUBLIC KEY\""))?;
        match der.strip_prefix(&SPKI_PREFIX[..]) {
            Some(key) if key.len() == 32 => {
                let mut bytes = [0u8; 32];
                bytes.copy_from_slice(key);
                Ok(PublicKey { bytes })
            }
            _ => Err(bad_file(path, "not an Ed25519 public key")),
        }
    }

    /// Whether `signature` is this key's over `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.bytes)
            .verify(message, signature)
            .is_ok()
    }

    /// The key as SubjectPublicKeyInfo PEM.
    pub fn to_pem(&self) -> String {
        pem("PUBLIC KEY", &[&SPKI_PREFIX[..], &self.bytes].concat())
    }
}

/// `der` as a PEM block labelled `label`, lines of 64 characters.
fn pem(label: &str, der: &[u8]) -> String {
    let encoded = BASE64.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// The DER bytes of the first PEM block labelled `label` in `text`.
fn unpem(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = text.split_once(&begin)?.1.split_once(&end)?.0;
    let joined: String = body.split_whitespace().collect();
    BASE64.decode(joined).ok()
}

/// Writes a file that must not exist yet, with `mode` on Unix.
fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), StoreError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|err| io_error(path, err))?;
    file.write_all(text.as_bytes())
        .map_err(|err| io_error(path, err))
}

fn io_error(path: &Path, err: std::io::Error) -> StoreError {
    StoreError::Integrity(format!("{}: {err}", path.display()))
}

fn bad_file(path: &Path, why: &str) -> StoreError {
    StoreError::Integrity(format!("{}: {why}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_pair_signs_and_verifies_and_another_key_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = SigningKey::generate(dir.path()).unwrap();
        let key = SigningKey::read(&private).unwrap();
        let verifier = PublicKey::read(&public).unwrap();
        let signature = key.sign(b"digest");
        assert!(verifier.verifies(b"digest", &signature));
        assert!(!verifier.verifies(b"digesT", &signature));

        let other = tempfile::tempdir().unwrap();
        let (other_private, _) = SigningKey::generate(other.path()).unwrap();
        let forged = SigningKey::read(&other_private).unwrap().sign(b"digest");
        assert!(!verifier.verifies(b"digest", &forged));
    }

    #[cfg(unix)]
    #[test]
    fn the_private_key_is_its_owners_only_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (private, _) = SigningKey::generate(dir.path()).unwrap();
        let mode = fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = SigningKey::generate(dir.path());
        assert!(again.is_err(), "a second keygen must not replace the key");
    }

    #[test]
    fn a_file_that_is_no_key_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.pub");
        fs::write(&path, "hello").unwrap();
        let err = PublicKey::read(&path).unwrap_err().to_string();
        assert!(
            err.contains("signing.pub") && err.contains("PUBLIC KEY"),
            "{err}"
        );
    }
}
