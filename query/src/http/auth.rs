//! Bearer tokens: the presented token's SHA-256 is compared, in constant
//! time, with every configured hash, so neither the comparison's timing nor
//! the configuration file reveals a token.

use axum::http::HeaderValue;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::config::{Role, TokenConfig};

/// A configured token, by its hash.
#[derive(Debug, Clone)]
pub struct Token {
    /// Who holds it.
    pub name: String,
    /// What it may do.
    pub role: Role,
    hash: [u8; 32],
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("an `Authorization: Bearer <token>` header is required")]
    Missing,
    /// A header that is not `Bearer <token>`.
    #[error("the Authorization header must be `Bearer <token>`")]
    Malformed,
    /// A token no entry of `[[server.tokens]]` hashes to.
    #[error("the bearer token is not a configured token")]
    Unknown,
}

/// Every configured token.
#[derive(Debug, Clone)]
pub struct Tokens {
    tokens: Vec<Token>,
}

impl Tokens {
    /// The tokens of `[[server.tokens]]`, already validated (64 hex digits).
    pub fn new(configs: &[TokenConfig]) -> Self {
        let tokens = configs
            .iter()
            .map(|config| {
                let mut hash = [0u8; 32];
                hex::decode_to_slice(config.sha256.to_ascii_lowercase(), &mut hash)
                    .unwrap_or_else(|_| hash.fill(0));
                Token {
                    name: config.name.clone(),
                    role: config.role,
                    hash,
                }
            })
            .collect();
        Tokens { tokens }
    }

    /// The token `header` presents. Every configured hash is compared, in
    /// constant time, whichever matches.
    pub fn authenticate(&self, header: Option<&HeaderValue>) -> Result<&Token, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let presented = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(AuthError::Malformed)?;
        let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for token in &self.tokens {
            if bool::from(token.hash.ct_eq(&hash)) {
                found = Some(token);
            }
        }
        found.ok_or(AuthError::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        let config = |name: &str, role, token: &str| TokenConfig {
            name: name.to_string(),
            role,
            sha256: hex::encode(Sha256::digest(token.as_bytes())),
        };
        Tokens::new(&[
            config("audit", Role::Compliance, "c-secret"),
            config("cto", Role::Leadership, "l-secret"),
        ])
    }

    #[test]
    fn a_token_is_known_by_its_hash() {
        let tokens = tokens();
        let header = HeaderValue::from_static("Bearer l-secret");
        let token = tokens.authenticate(Some(&header)).unwrap();
        assert_eq!((token.name.as_str(), token.role), ("cto", Role::Leadership));
        let wrong = HeaderValue::from_static("Bearer l-secreT");
        assert_eq!(
            tokens.authenticate(Some(&wrong)).unwrap_err(),
            AuthError::Unknown
        );
        let basic = HeaderValue::from_static("Basic YTpi");
        assert_eq!(
            tokens.authenticate(Some(&basic)).unwrap_err(),
            AuthError::Malformed
        );
        assert_eq!(tokens.authenticate(None).unwrap_err(), AuthError::Missing);
    }
}
