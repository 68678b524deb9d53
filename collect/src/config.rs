//! The `[collect]` section of `aitrail.toml` (DESIGN §9): where the
//! collector listens, where it produces, how long it waits for Kafka, and
//! the tokens its clients present.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// One `[[collect.tokens]]` entry, role `collector`: only the token's
/// SHA-256 is configured, so the file is not a secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorToken {
    /// Who holds the token (a fleet, a gateway), named in logs and rejects.
    pub name: String,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    /// The organization every event sent with this token belongs to,
    /// whatever the records say.
    #[serde(default)]
    pub org_id: Option<String>,
}

/// `[collect.github]`: the GitHub webhook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// The webhook's secret (or `AITRAIL_COLLECT__GITHUB__SECRET`).
    pub secret: String,
    /// Labels that mark a pull request as AI-assisted.
    #[serde(default = "default_ai_labels")]
    pub ai_labels: Vec<String>,
}

fn default_ai_labels() -> Vec<String> {
    vec!["ai-assisted".to_string()]
}

/// `[collect.pagerduty]`: the PagerDuty v3 webhook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    /// The subscription's signing secret.
    pub secret: String,
    /// PagerDuty service name → the repositories behind it.
    #[serde(default)]
    pub services: std::collections::BTreeMap<String, Vec<String>>,
}

/// The `[collect]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectConfig {
    /// OTLP/HTTP, webhooks and the operations endpoints.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// OTLP/gRPC.
    #[serde(default = "default_grpc_listen")]
    pub grpc_listen: String,
    /// The topic of the events.
    #[serde(default = "default_topic")]
    pub topic: String,
    /// The topic of mapped records the validator refused (redacted).
    #[serde(default = "default_dlq_topic")]
    pub dlq_topic: String,
    /// `org_id` when neither the token nor the record gives one.
    #[serde(default = "default_org")]
    pub default_org: String,
    /// The largest request body, counted after decompression.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// The longest wait for Kafka's acknowledgement before answering `503`.
    #[serde(default = "default_ack_timeout_ms")]
    pub ack_timeout_ms: u64,
    /// `source_identity,identity` pairs applied before pseudonymizing.
    #[serde(default)]
    pub identities: Option<PathBuf>,
    /// The bearer tokens of OTLP clients.
    #[serde(default)]
    pub tokens: Vec<CollectorToken>,
    /// The GitHub webhook, when configured.
    #[serde(default)]
    pub github: Option<GithubConfig>,
    /// The PagerDuty webhook, when configured.
    #[serde(default)]
    pub pagerduty: Option<PagerDutyConfig>,
}

fn default_listen() -> String {
    "127.0.0.1:4318".to_string()
}

fn default_grpc_listen() -> String {
    "127.0.0.1:4317".to_string()
}

fn default_topic() -> String {
    "ai-audit.events".to_string()
}

fn default_dlq_topic() -> String {
    "ai-audit.events.dlq".to_string()
}

fn default_org() -> String {
    "default".to_string()
}

fn default_max_body_bytes() -> usize {
    8 * 1024 * 1024
}

fn default_ack_timeout_ms() -> u64 {
    5_000
}

impl Default for CollectConfig {
    fn default() -> Self {
        CollectConfig {
            listen: default_listen(),
            grpc_listen: default_grpc_listen(),
            topic: default_topic(),
            dlq_topic: default_dlq_topic(),
            default_org: default_org(),
            max_body_bytes: default_max_body_bytes(),
            ack_timeout_ms: default_ack_timeout_ms(),
            identities: None,
            tokens: Vec::new(),
            github: None,
            pagerduty: None,
        }
    }
}

/// A `[collect]` value that cannot be used, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("collect.{key}: {problem}")]
pub struct CollectConfigError {
    /// The key, e.g. `tokens[1].sha256`.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

impl CollectConfig {
    /// Checks what serde cannot: addresses, positive limits, and tokens with
    /// distinct names and well-formed, distinct hashes.
    pub fn validate(&self) -> Result<(), CollectConfigError> {
        let error = |key: String, problem: String| CollectConfigError { key, problem };
        for (key, address) in [("listen", &self.listen), ("grpc_listen", &self.grpc_listen)] {
            if address.parse::<SocketAddr>().is_err() {
                return Err(error(
                    key.to_string(),
                    format!("`{address}` is not an address and port, e.g. 127.0.0.1:4318"),
                ));
            }
        }
        for (key, value) in [
            ("topic", &self.topic),
            ("dlq_topic", &self.dlq_topic),
            ("default_org", &self.default_org),
        ] {
            if value.trim().is_empty() {
                return Err(error(key.to_string(), "must not be empty".to_string()));
            }
        }
        if self.max_body_bytes == 0 {
            return Err(error("max_body_bytes".into(), "must be positive".into()));
        }
        if self.ack_timeout_ms == 0 {
            return Err(error("ack_timeout_ms".into(), "must be positive".into()));
        }
        if self.tokens.is_empty() {
            return Err(error(
                "tokens".into(),
                "at least one [[collect.tokens]] entry is required: OTLP clients present one"
                    .into(),
            ));
        }
        let secrets = [
            ("github.secret", self.github.as_ref().map(|g| &g.secret)),
            (
                "pagerduty.secret",
                self.pagerduty.as_ref().map(|p| &p.secret),
            ),
        ];
        for (key, secret) in secrets {
            if secret.is_some_and(|s| s.trim().is_empty()) {
                return Err(error(key.into(), "must not be empty".into()));
            }
        }
        for (index, token) in self.tokens.iter().enumerate() {
            let well_formed =
                token.sha256.len() == 64 && token.sha256.bytes().all(|b| b.is_ascii_hexdigit());
            if !well_formed {
                return Err(error(
                    format!("tokens[{index}].sha256"),
                    "must be 64 hex digits (the SHA-256 of the token)".into(),
                ));
            }
            let earlier = &self.tokens[..index];
            if earlier.iter().any(|t| t.name == token.name) {
                return Err(error(
                    format!("tokens[{index}].name"),
                    format!("`{}` is used twice", token.name),
                ));
            }
            if earlier
                .iter()
                .any(|t| t.sha256.eq_ignore_ascii_case(&token.sha256))
            {
                return Err(error(
                    format!("tokens[{index}].sha256"),
                    "the same token is configured twice".into(),
                ));
            }
        }
        Ok(())
    }

    /// [`CollectConfig::ack_timeout_ms`] as a duration.
    pub fn ack_timeout(&self) -> Duration {
        Duration::from_millis(self.ack_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CollectConfig, String> {
        let config: CollectConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    const TOKEN: &str = "[[tokens]]\nname = \"fleet\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n";

    #[test]
    fn defaults_follow_the_design() {
        let config = parse(TOKEN).unwrap();
        assert_eq!(config.listen, "127.0.0.1:4318");
        assert_eq!(config.grpc_listen, "127.0.0.1:4317");
        assert_eq!(config.topic, "ai-audit.events");
        assert_eq!(config.max_body_bytes, 8 * 1024 * 1024);
        assert_eq!(config.ack_timeout(), Duration::from_secs(5));
    }

    #[test]
    fn mistakes_are_named() {
        let unknown = parse(&format!("colour = \"red\"\n{TOKEN}")).unwrap_err();
        assert!(unknown.contains("colour"), "{unknown}");
        let no_token = parse("").unwrap_err();
        assert!(no_token.contains("collect.tokens"), "{no_token}");
        let short = parse("[[tokens]]\nname = \"a\"\nsha256 = \"abc\"\n").unwrap_err();
        assert!(short.contains("collect.tokens[0].sha256"), "{short}");
        let twice = parse(&format!("{TOKEN}{TOKEN}")).unwrap_err();
        assert!(twice.contains("collect.tokens[1].name"), "{twice}");
        let address = parse(&format!("listen = \"localhost\"\n{TOKEN}")).unwrap_err();
        assert!(address.contains("collect.listen"), "{address}");
    }
}
