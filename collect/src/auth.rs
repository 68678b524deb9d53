//! Who is sending: the bearer token of an OTLP request, checked against the
//! SHA-256 digests of `[[collect.tokens]]` in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::CollectorToken;

/// The holder of a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The token's name.
    pub name: String,
    /// The organization the token is bound to, if any.
    pub org_id: Option<String>,
}

/// The configured tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    entries: Vec<([u8; 32], Client)>,
}

impl Tokens {
    /// The tokens of a validated configuration.
    pub fn new(tokens: &[CollectorToken]) -> Self {
        let entries = tokens
            .iter()
            .filter_map(|token| {
                let digest: [u8; 32] = hex::decode(&token.sha256).ok()?.try_into().ok()?;
                Some((
                    digest,
                    Client {
                        name: token.name.clone(),
                        org_id: token.org_id.clone(),
                    },
                ))
            })
            .collect();
        Tokens { entries }
    }

    /// The client of an `Authorization` header value (`Bearer <token>`),
    /// `None` when it is missing, malformed or unknown. Every configured
    /// digest is compared, in constant time, so the answer's timing says
    /// nothing about which bytes matched.
    pub fn client(&self, authorization: Option<&str>) -> Option<Client> {
        let header = authorization?.trim();
        let (scheme, token) = header.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        let mut found = None;
        for (expected, client) in &self.entries {
            if bool::from(expected.ct_eq(&digest)) {
                found = Some(client);
            }
        }
        found.cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(&[CollectorToken {
            name: "fleet".into(),
            sha256: hex::encode(Sha256::digest(b"s3cret")),
            org_id: Some("acme".into()),
        }])
    }

    #[test]
    fn a_configured_bearer_token_names_its_client() {
        let client = tokens().client(Some("Bearer s3cret")).unwrap();
        assert_eq!(client.name, "fleet");
        assert_eq!(client.org_id.as_deref(), Some("acme"));
        assert!(tokens().client(Some("bearer s3cret")).is_some());
    }

    #[test]
    fn anything_else_is_refused() {
        for header in [
            None,
            Some(""),
            Some("s3cret"),
            Some("Basic s3cret"),
            Some("Bearer wrong"),
        ] {
            assert_eq!(tokens().client(header), None, "{header:?}");
        }
    }
}
