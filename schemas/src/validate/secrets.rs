//! The `secret_detected` rule: no string that looks like a credential is kept.
//!
//! Scanning every string of every event with a dozen regular expressions would
//! cost more than parsing it, so a single case-insensitive Aho-Corasick pass
//! over the raw bytes first asks whether any credential could be there at all;
//! only inputs it flags, rare in practice, are scanned value by value.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::Regex;
use serde_json::Value;

use super::content::REDACTED;
use super::path::FieldPath;

/// Words that name a credential in an assignment (`password=…`) or as a key.
const CREDENTIAL_WORDS: &str =
    r"(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)";

/// The credential patterns, each with the name a rejection's detail gives it;
/// assignments (`password=…`) are added from [`CREDENTIAL_WORDS`].
const PATTERNS: [(&str, &str); 9] = [
    (
        "an AWS access key",
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
    ),
    ("a GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,}"),
    (
        "a GitHub fine-grained token",
        r"\bgithub_pat_[A-Za-z0-9_]{22,}",
    ),
    ("a GitLab token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
    ("a Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    (
        "an OpenAI or Anthropic API key",
        r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}",
    ),
    ("a Google API key", r"\bAIza[0-9A-Za-z_-]{35}"),
    (
        "a JSON Web Token",
        r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}",
    ),
    (
        "a PEM private key",
        r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----",
    ),
];

/// The kind a rejection gives an assignment such as `password=hunter2`.
const ASSIGNMENT: &str = "a credential assignment";

/// Literals at least one of which occurs in the raw bytes of any input that
/// holds a credential, JSON escapes (`\u…`, `\n`) included.
fn prefilter_literals() -> Vec<String> {
    let mut literals: Vec<String> = [
        "akia",
        "asia",
        "abia",
        "acca",
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "glpat-",
        "xoxa-",
        "xoxb-",
        "xoxp-",
        "xoxo-",
        "xoxs-",
        "xoxr-",
        "sk-",
        "aiza",
        "eyj",
        "-----begin",
        "\\u",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let words = [
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "api-key",
        "accesskey",
        "access_key",
        "access-key",
        "privatekey",
        "private_key",
        "private-key",
    ];
    for word in words {
        for follower in ["=", ":", " ", "\t", "\\", "\""] {
            literals.push(format!("{word}{follower}"));
        }
    }
    literals
}

/// Finds credentials in strings and redacts them from JSON values.
pub struct SecretScanner {
    prefilter: AhoCorasick,
    patterns: Vec<(&'static str, Regex)>,
    credential_key: Regex,
}

/// A credential found in an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFinding {
    /// The path of the field that held it.
    pub path: String,
    /// What it looks like, e.g. "a GitHub token".
    pub kind: &'static str,
}

impl Default for SecretScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl SecretScanner {
    /// Compiles the patterns; done once per validator.
    pub fn new() -> Self {
        let prefilter = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(prefilter_literals())
            .expect("the prefilter literals are fixed and valid");
        let assignment = format!(
            r"(?i)(?:^|[^a-z0-9])(?:[a-z0-9]+[_-])*{CREDENTIAL_WORDS}\s*[:=]\s*([^\s'\x22]{{4,}})"
        );
        let patterns = PATTERNS
            .iter()
            .map(|(kind, pattern)| (*kind, pattern.to_string()))
            .chain([(ASSIGNMENT, assignment)])
            .map(|(kind, pattern)| {
                (
                    kind,
                    Regex::new(&pattern).expect("the secret patterns are fixed and valid"),
                )
            })
            .collect();
        let credential_key = Regex::new(&format!(r"(?i)^(?:[a-z0-9]+[_-])*{CREDENTIAL_WORDS}$"))
            .expect("the credential key pattern is fixed and valid");
        SecretScanner {
            prefilter,
            patterns,
            credential_key,
        }
    }

    /// Whether the raw input may hold a credential. A `false` is certain; a
    /// `true` asks for [`SecretScanner::redact`] to decide.
    pub fn may_contain_secret(&self, raw: &[u8]) -> bool {
        self.prefilter.is_match(raw)
    }

    /// What credential `text` looks like, if any.
    pub fn find(&self, text: &str) -> Option<&'static str> {
        self.patterns.iter().find_map(|(kind, regex)| {
            let found = match regex.captures(text) {
                Some(captures) => match captures.get(1) {
                    // An assignment of a plain number (`max_token=4096`) is a setting, not a secret.
                    Some(value) => !value.as_str().bytes().all(|b| b.is_ascii_digit()),
                    None => true,
                },
                None => false,
            };
            found.then_some(*kind)
        })
    }

    /// Whether an object key names a credential, so that its value is one.
    pub fn is_credential_key(&self, key: &str) -> bool {
        self.credential_key.is_match(key)
    }

    /// Replaces every string in `value` that looks like a credential (and the
    /// value of every key that names one) by `"[REDACTED]"`; returns what it found.
    pub fn redact(&self, value: &mut Value) -> Vec<SecretFinding> {
        let mut found = Vec::new();
        self.walk(value, &mut FieldPath::root(), &mut found);
        found
    }

    fn walk(&self, value: &mut Value, path: &mut FieldPath, found: &mut Vec<SecretFinding>) {
        match value {
            Value::String(text) => {
                if let Some(kind) = self.find(text) {
                    found.push(SecretFinding {
                        path: path.to_string(),
                        kind,
                    });
                    *text = REDACTED.to_string();
                }
            }
            Value::Object(map) => {
                let secret_keys: Vec<String> = map
                    .keys()
                    .filter(|key| self.find(key).is_some())
                    .cloned()
                    .collect();
                for key in secret_keys {
                    if let Some(child) = map.remove(&key) {
                        path.push_key(REDACTED);
                        found.push(SecretFinding {
                            path: path.to_string(),
                            kind: self.find(&key).unwrap_or("a credential"),
                        });
                        path.pop();
                        drop(child);
                        map.insert(REDACTED.to_string(), Value::String(REDACTED.to_string()));
                    }
                }
                for (key, child) in map.iter_mut() {
                    path.push_key(key);
                    let holds_credential = self.is_credential_key(key)
                        && matches!(child, Value::String(s) if !s.is_empty() && s != REDACTED);
                    if holds_credential {
                        found.push(SecretFinding {
                            path: path.to_string(),
                            kind: "a credential",
                        });
                        *child = Value::String(REDACTED.to_string());
                    } else {
                        self.walk(child, path, found);
                    }
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter_mut().enumerate() {
                    path.push_index(index);
                    self.walk(child, path, found);
                    path.pop();
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scanner() -> SecretScanner {
        SecretScanner::new()
    }

    /// Asserts that `secret` is detected as `kind`, in a value and through the
    /// raw prefilter, and that a near miss beside it is not.
    fn detects(kind: &str, secret: &str, near_miss: &str) {
        let scanner = scanner();
        assert_eq!(scanner.find(secret), Some(kind), "{secret}");
        let embedded = format!("deploy note: {secret} (rotated)");
        assert_eq!(scanner.find(&embedded), Some(kind), "{embedded}");
        let raw = serde_json::to_vec(&json!({ "note": embedded })).unwrap();
        assert!(
            scanner.may_contain_secret(&raw),
            "prefilter missed {secret}"
        );
        assert_eq!(
            scanner.find(near_miss),
            None,
            "false positive on {near_miss}"
        );
    }

    #[test]
    fn aws_access_keys() {
        detects("an AWS access key", "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7");
        detects(
            "an AWS access key",
            "ASIAY34FZKBOKMUTVV7A",
            "ASIA-PACIFIC-REGION",
        );
    }

    #[test]
    fn github_tokens() {
        let body = "a".repeat(36);
        for prefix in ["ghp_", "gho_", "ghs_", "ghu_"] {
            detects(
                "a GitHub token",
                &format!("{prefix}{body}"),
                &format!("{prefix}short"),
            );
        }
        detects(
            "a GitHub fine-grained token",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "github_pat_short",
        );
    }

    #[test]
    fn gitlab_tokens() {
        detects(
            "a GitLab token",
            "glpat-xxxxxxxxxxxxxxxxxxxx",
            "glpat-short",
        );
    }

    #[test]
    fn slack_tokens() {
        detects("a Slack token", "xoxb-123456789012-abcdefghij", "xoxb-1");
    }

    #[test]
    fn openai_and_anthropic_keys() {
        detects(
            "an OpenAI or Anthropic API key",
            "sk-proj-abcdefghijklmnopqrstuvwx",
            "task-1234",
        );
        detects(
            "an OpenAI or Anthropic API key",
            "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
            "sk-short",
        );
    }

    #[test]
    fn google_api_keys() {
        detects(
            "a Google API key",
            "AIzaSyA1234567890abcdefghijklmnopqrstuv",
            "AIzaShort",
        );
    }

    #[test]
    fn json_web_tokens() {
        detects(
            "a JSON Web Token",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "eyJhbGciOiJIUzI1NiJ9",
        );
    }

    #[test]
    fn pem_private_keys() {
        detects(
            "a PEM private key",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow==\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN CERTIFICATE-----",
        );
        detects(
            "a PEM private key",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "-----BEGIN PUBLIC KEY-----",
        );
    }

    #[test]
    fn credential_assignments() {
        for assignment in [
            "password=hunter2",
            "secret = s3cr3t-value",
            "token=abcd1234",
            "api_key: zyx987",
            "DB_PASSWORD=letmein",
        ] {
            detects(ASSIGNMENT, assignment, "max_token=4096");
        }
    }

    #[test]
    fn redacts_values_and_keys_that_name_credentials() {
        let scanner = scanner();
        let mut value = json!({
            "attributes": {"note": "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "db_password": "x", "team": "ok"},
            "tool": "claude-code"
        });
        let found = scanner.redact(&mut value);
        let paths: Vec<&str> = found.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["attributes.db_password", "attributes.note"]);
        assert_eq!(value["attributes"]["note"], REDACTED);
        assert_eq!(value["attributes"]["db_password"], REDACTED);
        assert_eq!(value["attributes"]["team"], "ok");
        assert_eq!(value["tool"], "claude-code");
    }

    #[test]
    fn a_secret_hidden_by_json_escapes_still_trips_the_prefilter() {
        let raw = br#"{"note":"\u0041KIAIOSFODNN7EXAMPLE"}"#;
        assert!(scanner().may_contain_secret(raw));
    }

    #[test]
    fn ordinary_metadata_does_not_trip_the_prefilter() {
        let raw = br#"{"tool":"claude-code","model":"claude-sonnet-4-5","input_tokens":1200,"output_tokens":300,"repository":"github.example.com/acme/payments-api"}"#;
        assert!(!scanner().may_contain_secret(raw));
    }
}
