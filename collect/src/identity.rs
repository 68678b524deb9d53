//! Pseudonyms (DESIGN §9): an identity seen by a source (an email, an
//! account id, `github:<login>`) becomes `u_` and 32 hex digits of
//! HMAC-SHA256 under the organization's key, so one person is one
//! pseudonym across sources and no email lands in the store.

use std::collections::HashMap;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The environment variable holding the pseudonym key.
pub const IDENTITY_KEY_VARIABLE: &str = "AITRAIL_IDENTITY_KEY";

/// Why pseudonyms cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The key is not in the environment.
    #[error(
        "{IDENTITY_KEY_VARIABLE} is not set: it keys the pseudonyms of user identities (DESIGN §9)"
    )]
    NoKey,
    /// The identities file cannot be read or has a bad line.
    #[error("{file}: {problem}")]
    Identities {
        /// The file.
        file: String,
        /// What is wrong, naming the line.
        problem: String,
    },
}

/// Turns source identities into pseudonymous `user_id`s.
#[derive(Clone)]
pub struct Pseudonyms {
    key: Hmac<Sha256>,
    identities: HashMap<String, String>,
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonyms")
            .field("identities", &self.identities.len())
            .finish_non_exhaustive()
    }
}

impl Pseudonyms {
    /// Pseudonyms under `key`, without an identities map.
    pub fn new(key: &[u8]) -> Self {
        Pseudonyms {
            key: Hmac::new_from_slice(key).expect("HMAC takes a key of any length"),
            identities: HashMap::new(),
        }
    }

    /// Pseudonyms under the key of [`IDENTITY_KEY_VARIABLE`].
    pub fn from_environment() -> Result<Self, IdentityError> {
        match std::env::var(IDENTITY_KEY_VARIABLE) {
            Ok(key) if !key.is_empty() => Ok(Pseudonyms::new(key.as_bytes())),
            _ => Err(IdentityError::NoKey),
        }
    }

    /// Adds the `source_identity,identity` pairs of the CSV file `path`
    /// (a header line `source_identity,identity` is allowed).
    pub fn with_identities_file(mut self, path: &Path) -> Result<Self, IdentityError> {
        let problem = |problem: String| IdentityError::Identities {
            file: path.display().to_string(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|err| problem(err.to_string()))?;
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((source, identity)) = line.split_once(',') else {
                return Err(problem(format!(
                    "line {}: expected `source_identity,identity`",
                    index + 1
                )));
            };
            let (source, identity) = (source.trim(), identity.trim());
            if index == 0 && source == "source_identity" {
                continue;
            }
            if source.is_empty() || identity.is_empty() || identity.contains(',') {
                return Err(problem(format!(
                    "line {}: expected `source_identity,identity`",
                    index + 1
                )));
            }
            self.identities
                .insert(source.to_lowercase(), identity.to_lowercase());
        }
        Ok(self)
    }

    /// The `user_id` of `identity`: mapped through the identities file,
    /// lower-cased, then keyed-hashed.
    pub fn user_id(&self, identity: &str) -> String {
        let lowered = identity.trim().to_lowercase();
        let identity = self.identities.get(&lowered).unwrap_or(&lowered);
        let mut mac = self.key.clone();
        mac.update(identity.as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("u_{}", hex::encode(&digest[..16]))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn one_person_is_one_pseudonym_whatever_the_case() {
        let pseudonyms = Pseudonyms::new(b"key");
        let id = pseudonyms.user_id("Alice@Example.com");
        assert_eq!(id, pseudonyms.user_id("alice@example.com"));
        assert!(id.starts_with("u_") && id.len() == 34, "{id}");
        assert!(!id.contains("alice"));
        assert_ne!(
            id,
            Pseudonyms::new(b"other key").user_id("alice@example.com")
        );
        assert_ne!(id, pseudonyms.user_id("bob@example.com"));
    }

    #[test]
    fn the_hmac_is_the_standard_one() {
        // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
        let pseudonyms = Pseudonyms::new(b"Jefe");
        assert_eq!(
            pseudonyms.user_id("what do ya want for nothing?"),
            "u_5bdcc146bf60754e6a042426089575c7"
        );
    }

    #[test]
    fn the_identities_file_maps_a_source_identity_first() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "source_identity,identity\ngithub:Octo-Dev,alice@example.com"
        )
        .unwrap();
        let pseudonyms = Pseudonyms::new(b"key")
            .with_identities_file(file.path())
            .unwrap();
        assert_eq!(
            pseudonyms.user_id("github:octo-dev"),
            pseudonyms.user_id("alice@example.com")
        );

        let mut bad = tempfile::NamedTempFile::new().unwrap();
        writeln!(bad, "github:x alice").unwrap();
        let err = Pseudonyms::new(b"key")
            .with_identities_file(bad.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
