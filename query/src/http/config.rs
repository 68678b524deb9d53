//! The `[server]` section of `aitrail.toml` (DESIGN §8): where to listen,
//! the per-query limits, k-anonymity and the bearer tokens.

use std::time::Duration;

use serde::Deserialize;

use crate::limits::Limits;
use crate::reports::DEFAULT_KEPT_BYTES;
pub use crate::role::Role;

/// One `[[server.tokens]]` entry: the token itself is never configured,
/// only its SHA-256, so the file is not a secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds the token; written to the access log.
    pub name: String,
    /// What the token may do.
    pub role: Role,
    /// Hex SHA-256 of the token (`printf %s "$TOKEN" | sha256sum`).
    pub sha256: String,
}

/// The `[server]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the HTTP listener.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Groups with fewer distinct users are suppressed for leadership.
    #[serde(default = "default_k")]
    pub k_anonymity: u32,
    /// Seconds a query may run.
    #[serde(default = "default_timeout")]
    pub query_timeout_s: u64,
    /// Rows a result may have.
    #[serde(default = "default_max_rows")]
    pub max_rows: usize,
    /// Memory a query's operators may hold, in MiB.
    #[serde(default = "default_memory")]
    pub memory_limit_mb: usize,
    /// Memory the reports' per-day sums kept between requests may hold
    /// together, in MiB; sums that alone would hold more are worked out by
    /// each report.
    #[serde(default = "default_report_sums")]
    pub report_sums_mb: usize,
    /// The bearer tokens.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_string()
}

fn default_k() -> u32 {
    5
}

fn default_timeout() -> u64 {
    30
}

fn default_max_rows() -> usize {
    100_000
}

fn default_memory() -> usize {
    1024
}

fn default_report_sums() -> usize {
    DEFAULT_KEPT_BYTES >> 20
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            k_anonymity: default_k(),
            query_timeout_s: default_timeout(),
            max_rows: default_max_rows(),
            memory_limit_mb: default_memory(),
            report_sums_mb: default_report_sums(),
            tokens: Vec::new(),
        }
    }
}

/// A `[server]` value that cannot be used, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("server.{key}: {problem}")]
pub struct ServerConfigError {
    /// The key, e.g. `tokens[1].sha256`.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

impl ServerConfig {
    /// Checks what serde cannot: positive limits, at least one token, and
    /// tokens with distinct names and well-formed, distinct hashes.
    pub fn validate(&self) -> Result<(), ServerConfigError> {
        let error = |key: String, problem: &str| ServerConfigError {
            key,
            problem: problem.to_string(),
        };
        for (key, value) in [
            ("k_anonymity", self.k_anonymity as usize),
            ("query_timeout_s", self.query_timeout_s as usize),
            ("max_rows", self.max_rows),
            ("memory_limit_mb", self.memory_limit_mb),
            ("report_sums_mb", self.report_sums_mb),
        ] {
            if value == 0 {
                return Err(error(key.to_string(), "must be at least 1"));
            }
        }
        if self.tokens.is_empty() {
            return Err(error(
                "tokens".to_string(),
                "no token is configured, so no request could be answered",
            ));
        }
        for (i, token) in self.tokens.iter().enumerate() {
            if token.name.is_empty() {
                return Err(error(format!("tokens[{i}].name"), "must not be empty"));
            }
            let digest = token.sha256.to_ascii_lowercase();
            if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(error(
                    format!("tokens[{i}].sha256"),
                    "must be 64 hex digits (printf %s \"$TOKEN\" | sha256sum)",
                ));
            }
            let earlier = &self.tokens[..i];
            if earlier.iter().any(|t| t.name == token.name) {
                return Err(error(format!("tokens[{i}].name"), "is used twice"));
            }
            if earlier
                .iter()
                .any(|t| t.sha256.eq_ignore_ascii_case(&token.sha256))
            {
                return Err(error(
                    format!("tokens[{i}].sha256"),
                    "is the hash of an earlier token",
                ));
            }
        }
        Ok(())
    }

    /// The bytes the reports' kept sums may hold.
    pub fn report_sums_bytes(&self) -> usize {
        self.report_sums_mb.saturating_mul(1 << 20)
    }

    /// The per-query limits.
    pub fn limits(&self) -> Limits {
        Limits {
            memory_bytes: Some(self.memory_limit_mb.saturating_mul(1 << 20)),
            timeout: Some(Duration::from_secs(self.query_timeout_s)),
            max_rows: Some(self.max_rows),
        }
    }
}
