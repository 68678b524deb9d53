//! Retention tiers, the rules that assign them and the legal holds that
//! suspend purging (DESIGN §5).

use std::collections::HashSet;
use std::path::Path;

use aitrail_schemas::Event;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::matcher::OneOrMany;
use crate::matcher::{Conditions, Matcher};

/// A policy file that cannot be used; the message names the field and says
/// what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy {path}: {source}")]
    Read {
        /// The path given.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The TOML does not fit the policy's shape (serde names the key).
    #[error("policy {path}: {message}")]
    Parse {
        /// The path given.
        path: String,
        /// The parser's message, naming the key and position.
        message: String,
    },
    /// The TOML parses but contradicts itself.
    #[error("policy {path}: {field}: {problem}")]
    Invalid {
        /// The path given.
        path: String,
        /// The offending field, e.g. `rules[2].tier`.
        field: String,
        /// What is wrong.
        problem: String,
    },
}

/// A retention tier: how long its partitions are kept.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// The tier's name, which is also its partition value.
    pub name: String,
    /// Days a partition is kept after its date.
    pub keep_days: u32,
    /// Days after which a partition's small files are merged.
    pub compact_after_days: Option<u32>,
}

impl Tier {
    /// The oldest date this tier still keeps on `today`: a partition (or an
    /// event) dated before it is expired. One rule for the `expired`
    /// rejection and for the purge, so a writer never adds what the next
    /// purge would remove.
    pub fn oldest_kept(&self, today: NaiveDate) -> NaiveDate {
        today - chrono::Days::new(u64::from(self.keep_days))
    }
}

/// A rule that sends matching events to a tier. Every condition given must
/// match; an event lacking the field a condition tests does not match it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The tier matching events go to.
    pub tier: String,
    /// Organizations.
    pub org_id: Option<OneOrMany>,
    /// Teams.
    pub team: Option<OneOrMany>,
    /// Repository globs, e.g. `github.example.com/acme/pay-*`.
    pub repository: Option<OneOrMany>,
    /// Data classes.
    pub data_class: Option<OneOrMany>,
    /// Acceptable-use domains.
    pub domain: Option<OneOrMany>,
    /// Tools.
    pub tool: Option<OneOrMany>,
}

/// A legal hold: while active, nothing of its tier dated within its range is purged.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LegalHold {
    /// The case or matter id.
    pub id: String,
    /// The tier it protects.
    pub tier: String,
    /// First protected date.
    pub from: NaiveDate,
    /// Last protected date (inclusive).
    pub to: NaiveDate,
    /// The day the hold ends (it protects nothing from then on).
    pub until: NaiveDate,
    /// Why the hold exists.
    pub reason: String,
}

impl LegalHold {
    /// Whether the hold keeps the partition (`tier`, `date`) on `today`: it
    /// is still active (`today` before `until`) and the partition is of its
    /// tier and within its range.
    pub fn protects(&self, tier: &str, date: NaiveDate, today: NaiveDate) -> bool {
        today < self.until && self.tier == tier && (self.from..=self.to).contains(&date)
    }
}

/// The retention policy, as written in `retention.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// The tier of events no rule matches.
    pub default_tier: String,
    /// The tiers.
    pub tiers: Vec<Tier>,
    /// Rules, first match wins.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Legal holds.
    #[serde(default)]
    pub legal_holds: Vec<LegalHold>,
}

impl Default for RetentionPolicy {
    /// One `standard` tier of two years, for stores run without a policy file.
    fn default() -> Self {
        RetentionPolicy {
            default_tier: "standard".to_string(),
            tiers: vec![Tier {
                name: "standard".to_string(),
                keep_days: 730,
                compact_after_days: None,
            }],
            rules: Vec::new(),
            legal_holds: Vec::new(),
        }
    }
}

impl Rule {
    /// What the rule tests.
    pub fn conditions(&self) -> Conditions {
        Conditions {
            org_id: self.org_id.clone(),
            team: self.team.clone(),
            repository: self.repository.clone(),
            data_class: self.data_class.clone(),
            domain: self.domain.clone(),
            tool: self.tool.clone(),
        }
    }
}

/// A rule ready to test, with the index of its tier.
#[derive(Debug, Clone)]
struct CompiledRule {
    tier: usize,
    matcher: Matcher,
}

/// A checked policy, ready to assign tiers.
#[derive(Debug, Clone)]
pub struct Policy {
    spec: RetentionPolicy,
    sha256: String,
    default_tier: usize,
    rules: Vec<CompiledRule>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new(RetentionPolicy::default(), "<default>")
            .expect("the default policy is consistent")
    }
}

impl Policy {
    /// Reads and checks a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: name.clone(),
            source,
        })?;
        Self::parse(&text, &name)
    }

    /// Parses and checks policy TOML; `name` says where it came from in errors.
    pub fn parse(text: &str, name: &str) -> Result<Self, PolicyError> {
        let spec: RetentionPolicy = toml::from_str(text).map_err(|err| PolicyError::Parse {
            path: name.to_string(),
            message: err.to_string().trim().replace('\n', " "),
        })?;
        Self::new(spec, name)
    }

    /// Checks a parsed policy: every tier named exists once, ranges are ordered.
    pub fn new(spec: RetentionPolicy, name: &str) -> Result<Self, PolicyError> {
        let invalid = |field: String, problem: String| PolicyError::Invalid {
            path: name.to_string(),
            field,
            problem,
        };
        if spec.tiers.is_empty() {
            return Err(invalid(
                "tiers".into(),
                "at least one tier is required".into(),
            ));
        }
        let mut seen = HashSet::new();
        for (i, tier) in spec.tiers.iter().enumerate() {
            if !is_partition_safe(&tier.name) {
                return Err(invalid(
                    format!("tiers[{i}].name"),
                    format!(
                        "`{}` must be 1–64 characters of a-z, 0-9, '_' or '-'",
                        tier.name
                    ),
                ));
            }
            if !seen.insert(tier.name.as_str()) {
                return Err(invalid(
                    format!("tiers[{i}].name"),
                    format!("`{}` is defined twice", tier.name),
                ));
            }
            if tier.keep_days == 0 {
                return Err(invalid(
                    format!("tiers[{i}].keep_days"),
                    "must be at least 1".into(),
                ));
            }
        }
        let tier_names: Vec<&str> = spec.tiers.iter().map(|t| t.name.as_str()).collect();
        let tier_index = |field: String, tier: &str| {
            tier_names.iter().position(|t| *t == tier).ok_or_else(|| {
                invalid(
                    field,
                    format!("`{tier}` is not a tier (tiers: {})", tier_names.join(", ")),
                )
            })
        };
        let default_tier = tier_index("default_tier".into(), &spec.default_tier)?;
        let mut rules = Vec::with_capacity(spec.rules.len());
        for (i, rule) in spec.rules.iter().enumerate() {
            let tier = tier_index(format!("rules[{i}].tier"), &rule.tier)?;
            let matcher = Matcher::new(rule.conditions())
                .map_err(|err| invalid(format!("rules[{i}].repository"), err.to_string()))?;
            rules.push(CompiledRule { tier, matcher });
        }
        for (i, hold) in spec.legal_holds.iter().enumerate() {
            tier_index(format!("legal_holds[{i}].tier"), &hold.tier)?;
            if hold.from > hold.to {
                return Err(invalid(
                    format!("legal_holds[{i}].from"),
                    format!("{} is after `to` ({})", hold.from, hold.to),
                ));
            }
        }
        let canonical = serde_json::to_vec(&spec).expect("a policy serializes to JSON");
        Ok(Policy {
            sha256: hex::encode(Sha256::digest(&canonical)),
            spec,
            default_tier,
            rules,
        })
    }

    /// The policy as written.
    pub fn spec(&self) -> &RetentionPolicy {
        &self.spec
    }

    /// The SHA-256 (hex) of the policy's canonical form (its parsed content
    /// as JSON): the same policy written inline in `aitrail.toml` or in its
    /// own file, with other comments or spacing, has the same hash, which
    /// `retention_log` records with every purge.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The first active legal hold that keeps the partition (`tier`, `date`)
    /// on `today`.
    pub fn hold_on(&self, tier: &str, date: NaiveDate, today: NaiveDate) -> Option<&LegalHold> {
        self.spec
            .legal_holds
            .iter()
            .find(|hold| hold.protects(tier, date, today))
    }

    /// The tier of `event`: the first matching rule's, else the default.
    pub fn tier_for(&self, event: &Event<'_>) -> &Tier {
        let index = self
            .rules
            .iter()
            .find(|rule| rule.matcher.matches(event))
            .map_or(self.default_tier, |rule| rule.tier);
        &self.spec.tiers[index]
    }

    /// The tier named `name`, if the policy has one.
    pub fn tier(&self, name: &str) -> Option<&Tier> {
        self.spec.tiers.iter().find(|t| t.name == name)
    }
}

/// Tier names become directory names (`tier=<name>`), so they are kept plain.
fn is_partition_safe(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use aitrail_schemas::Validator;
    use chrono::Utc;
    use serde_json::json;

    use super::*;

    const DESIGN_EXAMPLE: &str = r#"
default_tier = "standard"

[[tiers]]
name = "regulated"
keep_days = 2557
compact_after_days = 1

[[tiers]]
name = "standard"
keep_days = 730

[[rules]]
tier = "regulated"
team = ["payments", "trading"]

[[rules]]
tier = "regulated"
data_class = ["confidential", "restricted"]

[[rules]]
tier = "regulated"
repository = "github.example.com/acme/ledger-*"

[[legal_holds]]
id = "case-2026-17"
tier = "standard"
from = "2025-01-01"
to = "2025-03-31"
until = "2027-01-01"
reason = "litigation"
"#;

    fn tier_of(policy: &Policy, fields: serde_json::Value) -> String {
        let mut event = json!({
            "schema_version": 1, "event_id": "e1", "event_type": "ai_usage",
            "occurred_at": "2026-01-05T10:00:00Z", "org_id": "acme", "user_id": "u1",
            "tool": "claude-code", "model": "m", "input_tokens": 1, "output_tokens": 1
        });
        for (key, value) in fields.as_object().unwrap() {
            event[key] = value.clone();
        }
        let bytes = serde_json::to_vec(&event).unwrap();
        let event = Validator::default().validate(&bytes, Utc::now()).unwrap();
        policy.tier_for(&event).name.clone()
    }

    #[test]
    fn first_matching_rule_wins_else_the_default() {
        let policy = Policy::parse(DESIGN_EXAMPLE, "retention.toml").unwrap();
        assert_eq!(tier_of(&policy, json!({"team": "payments"})), "regulated");
        assert_eq!(tier_of(&policy, json!({"team": "web"})), "standard");
        assert_eq!(
            tier_of(&policy, json!({"data_class": "restricted"})),
            "regulated"
        );
        assert_eq!(
            tier_of(
                &policy,
                json!({"repository": "github.example.com/acme/ledger-core"})
            ),
            "regulated"
        );
        assert_eq!(
            tier_of(
                &policy,
                json!({"repository": "github.example.com/acme/web-app"})
            ),
            "standard"
        );
        assert_eq!(tier_of(&policy, json!({})), "standard");
    }

    #[test]
    fn the_hash_follows_the_content_not_the_formatting() {
        let policy = Policy::parse(DESIGN_EXAMPLE, "retention.toml").unwrap();
        let reformatted = DESIGN_EXAMPLE
            .replace("keep_days = 2557", "keep_days = 2557   # seven years")
            .replace("\n\n", "\n");
        let same = Policy::parse(&reformatted, "aitrail.toml").unwrap();
        assert_eq!(policy.sha256(), same.sha256());
        assert_eq!(policy.sha256().len(), 64);
        let shorter = DESIGN_EXAMPLE.replace("keep_days = 730", "keep_days = 729");
        let other = Policy::parse(&shorter, "retention.toml").unwrap();
        assert_ne!(policy.sha256(), other.sha256());
    }

    #[test]
    fn a_hold_protects_its_tier_and_range_until_its_end() {
        let policy = Policy::parse(DESIGN_EXAMPLE, "retention.toml").unwrap();
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        let today = day("2026-12-31");
        assert!(
            policy
                .hold_on("standard", day("2025-01-01"), today)
                .is_some()
        );
        assert!(
            policy
                .hold_on("standard", day("2025-03-31"), today)
                .is_some()
        );
        assert!(
            policy
                .hold_on("standard", day("2025-04-01"), today)
                .is_none()
        );
        assert!(
            policy
                .hold_on("regulated", day("2025-02-01"), today)
                .is_none()
        );
        assert!(
            policy
                .hold_on("standard", day("2025-02-01"), day("2027-01-01"))
                .is_none()
        );
    }

    #[test]
    fn errors_name_the_field_and_the_problem() {
        let cases = [
            (
                DESIGN_EXAMPLE.replace("keep_days = 730", "keep_day = 730"),
                "keep_day",
            ),
            (
                DESIGN_EXAMPLE.replace("default_tier = \"standard\"", "default_tier = \"gold\""),
                "default_tier: `gold` is not a tier",
            ),
            (
                DESIGN_EXAMPLE.replace("tier = \"regulated\"\nteam", "tier = \"vault\"\nteam"),
                "rules[0].tier: `vault` is not a tier",
            ),
            (
                DESIGN_EXAMPLE.replace("from = \"2025-01-01\"", "from = \"2025-06-01\""),
                "legal_holds[0].from",
            ),
            (
                DESIGN_EXAMPLE.replace("keep_days = 2557", "keep_days = 0"),
                "tiers[0].keep_days: must be at least 1",
            ),
            (
                DESIGN_EXAMPLE.replace("name = \"standard\"", "name = \"regulated\""),
                "tiers[1].name: `regulated` is defined twice",
            ),
            (
                DESIGN_EXAMPLE.replace("keep_days = 730", "keep_days = \"two years\""),
                "keep_days",
            ),
        ];
        for (text, expected) in cases {
            let err = Policy::parse(&text, "retention.toml")
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "`{err}` lacks `{expected}`");
            assert!(err.starts_with("policy retention.toml"), "{err}");
        }
    }
}
