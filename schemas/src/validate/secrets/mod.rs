//! The `secret_detected` rule: no string that looks like a credential is kept.
//!
//! Scanning every string of every event with a dozen regular expressions would
//! cost more than reading it, so two cheap questions come first, which every
//! credential answers "yes" to, and only strings flagged by either, rare in
//! practice, are matched against the patterns:
//! - a credential of a fixed form starts with one of a few literals, found
//!   by one SIMD pass, and matches its pattern where the literal stands,
//!   which one regular expression of all the fixed forms confirms
//!   ([`FixedFormScreen`]). The validator's fast path asks it once of the
//!   raw input, which is exact for every string written without escapes,
//!   and of each string it decoded;
//! - an assignment (`password=…`) needs a `:` or `=` and a credential word
//!   in the same string ([`may_hold_assignment`], asked of each free-text
//!   value, the only place where the case of a word does not matter).
//!
//! The thorough path asks the same two questions of each string before it
//! matches the patterns, and captures only where the capture decides.

mod fixed_form;

use regex::{Regex, RegexSet};
use serde_json::Value;

use super::content::REDACTED;
use super::path::FieldPath;

pub use fixed_form::FixedFormScreen;

/// Words that name a credential in an assignment (`password=…`) or as a key.
const CREDENTIAL_WORDS: &str =
    r"(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)";

/// Parts of the credential words of which every one contains at least one
/// (`api_key`, `access-key`… all contain `key`): the screen for assignments.
const CREDENTIAL_STEMS: [&str; 4] = ["passw", "secret", "token", "key"];

/// How every credential word ends: the screen for keys that name one.
const CREDENTIAL_ENDINGS: [&str; 5] = ["password", "passwd", "secret", "token", "key"];

/// The credential patterns of a fixed form, each with the name a rejection's
/// detail gives it; assignments (`password=…`) are added from
/// [`CREDENTIAL_WORDS`].
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

/// The only characters beyond ASCII that the Unicode case folding of the
/// patterns' `(?i)` makes letters of a credential word: `ſ` is an `s`, the
/// Kelvin sign `K` a `k` (a test asks the regex engine of every character).
const FOLDED_INTO_ASCII: [char; 2] = ['\u{17f}', '\u{212a}'];

/// Whether a string may hold a credential assignment (`password=…`). A
/// `false` is certain: the assignment pattern needs a `:` or `=` and one of
/// the credential words, every one of which holds one of
/// [`CREDENTIAL_STEMS`], case aside, unless a character of
/// [`FOLDED_INTO_ASCII`] spells a letter of it.
pub fn may_hold_assignment(text: &str) -> bool {
    memchr::memchr2(b':', b'=', text.as_bytes()).is_some()
        && (CREDENTIAL_STEMS
            .iter()
            .any(|stem| contains_ignoring_ascii_case(text, stem))
            || may_fold_into_ascii(text))
}

/// Whether an object key may name a credential, so that its value counts as
/// one ([`SecretScanner::is_credential_key`]). A `false` is certain: such a
/// key is made of ASCII letters, digits, `_` and `-` (or characters of
/// [`FOLDED_INTO_ASCII`]) and ends with one of [`CREDENTIAL_ENDINGS`].
pub fn may_name_credential(key: &str) -> bool {
    if !key.is_ascii() {
        return may_fold_into_ascii(key);
    }
    CREDENTIAL_ENDINGS.iter().any(|ending| {
        key.len() >= ending.len()
            && key.as_bytes()[key.len() - ending.len()..].eq_ignore_ascii_case(ending.as_bytes())
    })
}

/// Whether `text` holds a character of [`FOLDED_INTO_ASCII`].
fn may_fold_into_ascii(text: &str) -> bool {
    !text.is_ascii() && text.contains(FOLDED_INTO_ASCII)
}

/// Whether `needle`, ASCII letters, is in `haystack`, case aside: compared
/// only where a SIMD search finds its first letter.
fn contains_ignoring_ascii_case(haystack: &str, needle: &str) -> bool {
    let (haystack, needle) = (haystack.as_bytes(), needle.as_bytes());
    let first = needle[0];
    memchr::memchr2_iter(
        first.to_ascii_lowercase(),
        first.to_ascii_uppercase(),
        haystack,
    )
    .any(|at| {
        haystack
            .get(at..at + needle.len())
            .is_some_and(|window| window.eq_ignore_ascii_case(needle))
    })
}

/// Finds credentials in strings and redacts them from JSON values.
pub struct SecretScanner {
    fixed_form: FixedFormScreen,
    /// The fixed forms of [`PATTERNS`] in order, then the assignment.
    patterns: RegexSet,
    /// The assignment alone, for the capture of its value.
    assignment: Regex,
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
        let assignment = format!(
            r"(?i)(?:^|[^a-z0-9])(?:[a-z0-9]+[_-])*{CREDENTIAL_WORDS}\s*[:=]\s*([^\s'\x22]{{4,}})"
        );
        let patterns = RegexSet::new(
            PATTERNS
                .iter()
                .map(|(_, pattern)| *pattern)
                .chain([assignment.as_str()]),
        )
        .expect("the secret patterns are fixed and valid");
        let credential_key = Regex::new(&format!(r"(?i)^(?:[a-z0-9]+[_-])*{CREDENTIAL_WORDS}$"))
            .expect("the credential key pattern is fixed and valid");
        SecretScanner {
            fixed_form: FixedFormScreen::new(),
            patterns,
            assignment: Regex::new(&assignment).expect("the assignment pattern is fixed and valid"),
            credential_key,
        }
    }

    /// The screen for credentials of a fixed form, which the validator's
    /// fast path asks of raw input and of decoded strings.
    pub fn fixed_form(&self) -> &FixedFormScreen {
        &self.fixed_form
    }

    /// What credential `text` looks like, if any: the first of [`PATTERNS`]
    /// it matches, else an assignment whose value is not a plain number.
    pub fn find(&self, text: &str) -> Option<&'static str> {
        // Both screens' "no" is certain, and nearly every string gets one.
        if !self.fixed_form.may_hold(text.as_bytes()) && !may_hold_assignment(text) {
            return None;
        }
        self.patterns
            .matches(text)
            .iter()
            .find_map(|index| match PATTERNS.get(index) {
                Some((kind, _)) => Some(*kind),
                None => self.assignment_of_more_than_a_number(text),
            })
    }

    /// [`ASSIGNMENT`] when the first assignment in `text` assigns more than
    /// a plain number: `max_token=4096` is a setting, not a secret.
    fn assignment_of_more_than_a_number(&self, text: &str) -> Option<&'static str> {
        let value = self.assignment.captures(text)?.get(1)?;
        (!value.as_str().bytes().all(|b| b.is_ascii_digit())).then_some(ASSIGNMENT)
    }

    /// Whether an object key names a credential, so that its value is one.
    pub fn is_credential_key(&self, key: &str) -> bool {
        may_name_credential(key) && self.credential_key.is_match(key)
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
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn scanner() -> SecretScanner {
        SecretScanner::new()
    }

    /// What [`SecretScanner::find`] must answer: every pattern in order,
    /// each asked for its captures, without the screens.
    fn find_unscreened(text: &str) -> Option<&'static str> {
        let assignment = format!(
            r"(?i)(?:^|[^a-z0-9])(?:[a-z0-9]+[_-])*{CREDENTIAL_WORDS}\s*[:=]\s*([^\s'\x22]{{4,}})"
        );
        let patterns = PATTERNS
            .iter()
            .map(|(kind, pattern)| (*kind, pattern.to_string()))
            .chain([(ASSIGNMENT, assignment)]);
        patterns.into_iter().find_map(|(kind, pattern)| {
            let captures = Regex::new(&pattern).unwrap().captures(text)?;
            match captures.get(1) {
                Some(value) if value.as_str().bytes().all(|b| b.is_ascii_digit()) => None,
                _ => Some(kind),
            }
        })
    }

    fn credential_like_text() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "password",
            "PassWd",
            "db_",
            "token",
            "api-key",
            "Key",
            "secret",
            "max_token",
            "=",
            ":",
            " ",
            "\u{a0}",
            "ſ",
            "é",
            "日",
            "AKIA",
            "IOSFODNN7EXAMPLE",
            "ghp_",
            "github_pat_",
            "glpat-",
            "xoxb-",
            "sk-ant-",
            "risk-",
            "task-",
            "AIza",
            "eyJhbGciOi",
            ".",
            "-----BEGIN RSA PRIVATE KEY-----",
            "0123456789abcdefghij",
            "4096",
            "abcdefghijklmnopqrstuvwxyz0123456789",
            "'",
            "x",
        ]);
        prop::collection::vec(pieces, 0..8).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn screened_set_finds_what_each_pattern_in_turn_finds(text in credential_like_text()) {
            prop_assert_eq!(scanner().find(&text), find_unscreened(&text), "{}", text);
        }
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
            scanner.fixed_form().may_hold(&raw) || may_hold_assignment(&embedded),
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
    fn ordinary_metadata_does_not_trip_the_prefilters() {
        let raw = br#"{"tool":"claude-code","model":"claude-sonnet-4-5","input_tokens":1200,"output_tokens":300,"repository":"github.example.com/acme/payments-api","attributes":{"ticket":"PAY-12"}}"#;
        assert!(!scanner().fixed_form().may_hold(raw));
        for text in [
            "claude-code",
            "github.example.com/acme/payments-api",
            "urn:evt:42",
        ] {
            assert!(!may_hold_assignment(text), "{text}");
        }
        for key in ["ticket", "team", "tokens_used"] {
            assert!(!may_name_credential(key), "{key}");
        }
    }

    #[test]
    fn every_credential_word_trips_the_screens_in_any_case() {
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
        let scanner = scanner();
        for word in words {
            for word in [word.to_string(), word.to_uppercase()] {
                let assignment = format!("db_{word} = hunter22");
                assert_eq!(scanner.find(&assignment), Some(ASSIGNMENT), "{assignment}");
                assert!(may_hold_assignment(&assignment), "{assignment}");
                let key = format!("db_{word}");
                assert!(scanner.is_credential_key(&key), "{key}");
                assert!(may_name_credential(&key), "{key}");
            }
        }
        // Unicode case folding makes `ſ` an `s` and `K` a `k` for the
        // patterns; the screens leave text with either to them.
        for folded in ["paſſword=hunter22", "api_\u{212a}ey: hunter22"] {
            assert_eq!(scanner.find(folded), Some(ASSIGNMENT), "{folded}");
            assert!(may_hold_assignment(folded), "{folded}");
        }
        assert!(may_name_credential("paſſword"));
        assert!(scanner.is_credential_key("paſſword"));
        // Other text beyond ASCII is screened like ASCII text.
        for text in ["Zürich: Plattform", "équipe=données", "日本語:チーム"] {
            assert!(!may_hold_assignment(text), "{text}");
            assert_eq!(scanner.find(text), None, "{text}");
        }
        assert!(may_hold_assignment("Zürich password=x"));
        for key in ["équipe", "日本語", "clé_password"] {
            assert!(!may_name_credential(key), "{key}");
            assert!(!scanner.is_credential_key(key), "{key}");
        }
    }

    #[test]
    fn no_other_character_folds_into_a_letter_of_a_credential_word() {
        let letters = CREDENTIAL_WORDS.replace(|c: char| !c.is_ascii_alphabetic(), "");
        let class = Regex::new(&format!("(?i)^[{letters}]$")).unwrap();
        let folding: Vec<char> = (0x80..=0x10_ffff)
            .filter_map(char::from_u32)
            .filter(|c| class.is_match(c.encode_utf8(&mut [0; 4])))
            .collect();
        assert_eq!(folding, FOLDED_INTO_ASCII);
    }

    #[test]
    fn timestamps_and_wire_names_spell_no_credential() {
        let scanner = scanner();
        // Everything RFC 3339 allows, in one string.
        let timestamp = "2026-03-02T09:15:00.123456789+01:00 t z Z 1985-04-12t23:20:50.52z";
        assert!(scanner.find(timestamp).is_none());
        assert!(!scanner.fixed_form().may_hold(timestamp.as_bytes()));
        let names = crate::vocab::EventType::ALL
            .iter()
            .map(|t| t.as_str())
            .chain(crate::vocab::Operation::ALL.iter().map(|t| t.as_str()))
            .chain(crate::vocab::DataClass::ALL.iter().map(|t| t.as_str()))
            .chain(crate::vocab::Domain::ALL.iter().map(|t| t.as_str()))
            .chain(crate::vocab::Client::ALL.iter().map(|t| t.as_str()))
            .chain(crate::vocab::ChangeKind::ALL.iter().map(|t| t.as_str()))
            .chain(crate::vocab::Severity::ALL.iter().map(|t| t.as_str()));
        for name in names {
            assert!(scanner.find(name).is_none(), "{name}");
        }
    }

    #[test]
    fn no_field_name_looks_like_or_names_a_credential() {
        let scanner = scanner();
        let fields = crate::AiUsage::arrow_fields()
            .into_iter()
            .chain(crate::CodeChange::arrow_fields())
            .chain(crate::Incident::arrow_fields());
        for field in fields {
            let name = field.name();
            assert!(scanner.find(name).is_none(), "{name}");
            assert!(!scanner.is_credential_key(name), "{name}");
            assert!(!scanner.fixed_form().may_hold(name.as_bytes()), "{name}");
        }
    }
}
