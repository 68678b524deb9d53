//! `governance.toml` (DESIGN §10): the repositories' domains, the approved
//! tools, the review rules and the exceptions, read and checked once so
//! that every later question (is this use approved on that day? is this
//! finding excepted?) is answered from validated values. A mistake is
//! refused with the entry that holds it and the reason.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use chrono::{Days, NaiveDate};
use glob::Pattern;
use serde::Deserialize;

/// The longest an exception may last: a year after its `from`.
pub const MAX_EXCEPTION_DAYS: u64 = 365;

/// How long an approved entry may go without a review (`stale_tool_review`).
pub const REVIEW_INTERVAL_DAYS: u64 = 92;

/// A policy that could not be read, naming the entry and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {entry}: {problem}")]
pub struct PolicyError {
    /// The file (or section) the policy came from.
    pub source_name: String,
    /// The entry at fault (`exceptions[2] (EX-2026-014)`, `review`, …).
    pub entry: String,
    /// What is wrong with it.
    pub problem: String,
}

/// The five rules of DESIGN §10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// AI use that no approved entry valid on its date covers.
    UnapprovedTool,
    /// AI use with data of a class above what its entry allows.
    DataClassExceeded,
    /// AI use in a red domain.
    RedDomainUse,
    /// An AI-assisted pull request merged with fewer approvals than its
    /// domain requires.
    UnreviewedAiChange,
    /// An approved entry not reviewed for over a quarter.
    StaleToolReview,
}

impl Rule {
    /// Every rule, in the order reports list them.
    pub const ALL: [Rule; 5] = [
        Rule::UnapprovedTool,
        Rule::DataClassExceeded,
        Rule::RedDomainUse,
        Rule::UnreviewedAiChange,
        Rule::StaleToolReview,
    ];

    /// Its name in the policy, the reports and the findings.
    pub fn name(self) -> &'static str {
        match self {
            Rule::UnapprovedTool => "unapproved_tool",
            Rule::DataClassExceeded => "data_class_exceeded",
            Rule::RedDomainUse => "red_domain_use",
            Rule::UnreviewedAiChange => "unreviewed_ai_change",
            Rule::StaleToolReview => "stale_tool_review",
        }
    }

    /// Whether it judges AI usage (rather than changes or the policy).
    pub fn reads_usage(self) -> bool {
        matches!(
            self,
            Rule::UnapprovedTool | Rule::DataClassExceeded | Rule::RedDomainUse
        )
    }

    /// The rule named `name`.
    pub fn parse(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.name() == name)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The data classes of DESIGN §2, lowest first.
pub const DATA_CLASSES: [&str; 4] = ["public", "internal", "confidential", "restricted"];

/// The rank of a data class (`public` 0 … `restricted` 3).
pub fn data_class_rank(class: &str) -> Option<usize> {
    DATA_CLASSES.iter().position(|known| *known == class)
}

/// The acceptable-use domains of DESIGN §2.
pub const DOMAINS: [&str; 3] = ["green", "yellow", "red"];

/// A glob as written in the policy and compiled.
#[derive(Debug, Clone)]
pub struct Glob {
    text: String,
    pattern: Pattern,
}

impl Glob {
    pub(crate) fn new(text: &str) -> Result<Glob, String> {
        Pattern::new(text)
            .map(|pattern| Glob {
                text: text.to_string(),
                pattern,
            })
            .map_err(|err| format!("`{text}` is not a glob: {}", err.msg))
    }

    /// Whether `value` matches it.
    pub fn matches(&self, value: &str) -> bool {
        self.pattern.matches(value)
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A rule of `[[domains]]`: repositories matching one of its globs are of
/// its domain.
#[derive(Debug, Clone)]
pub struct DomainRule {
    /// `green`, `yellow` or `red`.
    pub domain: String,
    /// The repository globs.
    pub repositories: Vec<Glob>,
}

/// An entry of `[[approved_tools]]`.
#[derive(Debug, Clone)]
pub struct ApprovedTool {
    /// The tool, as events name it.
    pub tool: String,
    /// Model globs; empty means any model.
    pub models: Vec<Glob>,
    /// First day approved.
    pub from: NaiveDate,
    /// Last day approved (inclusive); none is open-ended.
    pub until: Option<NaiveDate>,
    /// The highest data class its prompts may carry.
    pub max_data_class: String,
    /// When the entry was last reviewed.
    pub last_reviewed: Option<NaiveDate>,
}

impl ApprovedTool {
    /// Whether it approves `tool` with `model` on `day`.
    pub fn covers(&self, tool: &str, model: &str, day: NaiveDate) -> bool {
        self.tool == tool
            && day >= self.from
            && self.until.is_none_or(|until| day <= until)
            && (self.models.is_empty() || self.models.iter().any(|glob| glob.matches(model)))
    }
}

/// `[review]`: approvals an AI-assisted pull request needs before merging.
#[derive(Debug, Clone)]
pub struct ReviewRules {
    /// Green and yellow domains.
    pub min_approvals: u32,
    /// Red domain; at least one of them from a security reviewer.
    pub red_min_approvals: u32,
    /// The user ids (as stored) of the security reviewers.
    pub security_reviewers: Vec<String>,
}

/// An entry of `[[exceptions]]`: findings of `rule` matching `conditions`
/// are excepted from `from` to `until`.
#[derive(Debug, Clone)]
pub struct Exception {
    /// Its id.
    pub id: String,
    /// The rule it excepts.
    pub rule: Rule,
    /// Field → globs a finding must match (every field given).
    pub conditions: Vec<(MatchField, Vec<Glob>)>,
    /// Who approved it.
    pub approved_by: String,
    /// Why.
    pub reason: String,
    /// What stands in for the rule meanwhile.
    pub compensating_controls: Option<String>,
    /// First day it applies.
    pub from: NaiveDate,
    /// Last day it applies (inclusive).
    pub until: NaiveDate,
}

impl Exception {
    /// Whether it is in force on `day`.
    pub fn active_on(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.until
    }

    /// The `match` as written, for the policy tables.
    pub fn match_text(&self) -> String {
        self.conditions
            .iter()
            .map(|(field, globs)| {
                let globs: Vec<&str> = globs.iter().map(Glob::as_str).collect();
                format!("{}={}", field.name(), globs.join("|"))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The finding fields an exception may match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchField {
    /// `org_id`.
    OrgId,
    /// `user_id`.
    UserId,
    /// `team`.
    Team,
    /// `tool`.
    Tool,
    /// `model`.
    Model,
    /// `repository`.
    Repository,
    /// `change_id`.
    ChangeId,
}

impl MatchField {
    const ALL: [MatchField; 7] = [
        MatchField::OrgId,
        MatchField::UserId,
        MatchField::Team,
        MatchField::Tool,
        MatchField::Model,
        MatchField::Repository,
        MatchField::ChangeId,
    ];

    /// Its name in `match`.
    pub fn name(self) -> &'static str {
        match self {
            MatchField::OrgId => "org_id",
            MatchField::UserId => "user_id",
            MatchField::Team => "team",
            MatchField::Tool => "tool",
            MatchField::Model => "model",
            MatchField::Repository => "repository",
            MatchField::ChangeId => "change_id",
        }
    }
}

/// A validated governance policy.
#[derive(Debug, Clone)]
pub struct GovernancePolicy {
    /// The domain of a repository no `[[domains]]` rule matches.
    pub default_domain: String,
    /// Domain rules, first match wins.
    pub domains: Vec<DomainRule>,
    /// The approved tools.
    pub approved_tools: Vec<ApprovedTool>,
    /// The review rules.
    pub review: ReviewRules,
    /// The exceptions.
    pub exceptions: Vec<Exception>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default = "green")]
    default_domain: String,
    #[serde(default)]
    domains: Vec<RawDomain>,
    #[serde(default)]
    approved_tools: Vec<RawApprovedTool>,
    #[serde(default)]
    review: RawReview,
    #[serde(default)]
    exceptions: Vec<RawException>,
}

fn green() -> String {
    "green".to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDomain {
    domain: String,
    repositories: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApprovedTool {
    tool: String,
    models: Option<Vec<String>>,
    from: NaiveDate,
    until: Option<NaiveDate>,
    max_data_class: Option<String>,
    last_reviewed: Option<NaiveDate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReview {
    #[serde(default = "one")]
    min_approvals: u32,
    #[serde(default = "two")]
    red_min_approvals: u32,
    #[serde(default)]
    security_reviewers: Vec<String>,
}

impl Default for RawReview {
    fn default() -> Self {
        RawReview {
            min_approvals: one(),
            red_min_approvals: two(),
            security_reviewers: Vec::new(),
        }
    }
}

fn one() -> u32 {
    1
}

fn two() -> u32 {
    2
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawException {
    id: String,
    rule: String,
    #[serde(rename = "match", default)]
    conditions: BTreeMap<String, OneOrMany>,
    approved_by: String,
    reason: String,
    compensating_controls: Option<String>,
    from: NaiveDate,
    until: Option<NaiveDate>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

/// The class an approved entry allows when it names none: the default
/// class of an event, so confidential use needs an explicit approval.
const DEFAULT_MAX_DATA_CLASS: &str = "internal";

impl GovernancePolicy {
    /// Reads the policy file at `path`.
    pub fn load(path: &Path) -> Result<GovernancePolicy, PolicyError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| PolicyError {
            source_name: name.clone(),
            entry: "file".to_string(),
            problem: err.to_string(),
        })?;
        GovernancePolicy::parse(&text, &name)
    }

    /// Parses policy text; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<GovernancePolicy, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|err| PolicyError {
            source_name: source_name.to_string(),
            entry: "toml".to_string(),
            problem: err.message().to_string() + &span_of(text, err.span()),
        })?;
        GovernancePolicy::from_table(raw, source_name)
    }

    /// Reads a policy given as a TOML table (`[governance]` of aitrail.toml).
    pub fn from_toml(
        value: toml::Value,
        source_name: &str,
    ) -> Result<GovernancePolicy, PolicyError> {
        let raw: RawPolicy = value
            .try_into()
            .map_err(|err: toml::de::Error| PolicyError {
                source_name: source_name.to_string(),
                entry: "toml".to_string(),
                problem: err.message().to_string(),
            })?;
        GovernancePolicy::from_table(raw, source_name)
    }

    fn from_table(raw: RawPolicy, source_name: &str) -> Result<GovernancePolicy, PolicyError> {
        let error = |entry: String, problem: String| PolicyError {
            source_name: source_name.to_string(),
            entry,
            problem,
        };
        let domain = |entry: &str, value: &str| -> Result<String, PolicyError> {
            if DOMAINS.contains(&value) {
                Ok(value.to_string())
            } else {
                Err(error(
                    entry.to_string(),
                    format!("unknown domain `{value}` (one of {})", DOMAINS.join(", ")),
                ))
            }
        };
        let default_domain = domain("default_domain", &raw.default_domain)?;
        let mut domains = Vec::new();
        for (n, rule) in raw.domains.into_iter().enumerate() {
            let entry = format!("domains[{n}]");
            let globs = rule
                .repositories
                .iter()
                .map(|text| Glob::new(text).map_err(|problem| error(entry.clone(), problem)))
                .collect::<Result<Vec<_>, _>>()?;
            if globs.is_empty() {
                return Err(error(entry, "no repositories".to_string()));
            }
            domains.push(DomainRule {
                domain: domain(&entry, &rule.domain)?,
                repositories: globs,
            });
        }
        let mut approved_tools = Vec::new();
        for (n, entry) in raw.approved_tools.into_iter().enumerate() {
            let name = format!("approved_tools[{n}] ({})", entry.tool);
            if entry.until.is_some_and(|until| until < entry.from) {
                return Err(error(
                    name,
                    format!(
                        "until {} is before from {}",
                        entry.until.unwrap_or(entry.from),
                        entry.from
                    ),
                ));
            }
            let models = entry
                .models
                .unwrap_or_default()
                .iter()
                .map(|text| Glob::new(text).map_err(|problem| error(name.clone(), problem)))
                .collect::<Result<Vec<_>, _>>()?;
            let max_data_class = entry
                .max_data_class
                .unwrap_or_else(|| DEFAULT_MAX_DATA_CLASS.to_string());
            if data_class_rank(&max_data_class).is_none() {
                return Err(error(
                    name,
                    format!(
                        "unknown data class `{max_data_class}` (one of {})",
                        DATA_CLASSES.join(", ")
                    ),
                ));
            }
            approved_tools.push(ApprovedTool {
                tool: entry.tool,
                models,
                from: entry.from,
                until: entry.until,
                max_data_class,
                last_reviewed: entry.last_reviewed,
            });
        }
        if raw.review.red_min_approvals < 1 {
            return Err(error(
                "review".to_string(),
                "red_min_approvals must be at least 1 (one of them a security reviewer)"
                    .to_string(),
            ));
        }
        let review = ReviewRules {
            min_approvals: raw.review.min_approvals,
            red_min_approvals: raw.review.red_min_approvals,
            security_reviewers: raw.review.security_reviewers,
        };
        let mut exceptions: Vec<Exception> = Vec::new();
        for (n, entry) in raw.exceptions.into_iter().enumerate() {
            let name = format!("exceptions[{n}] ({})", entry.id);
            if exceptions.iter().any(|known| known.id == entry.id) {
                return Err(error(name, "the id is used twice".to_string()));
            }
            let rule = Rule::parse(&entry.rule).ok_or_else(|| {
                let rules: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
                error(
                    name.clone(),
                    format!(
                        "unknown rule `{}` (one of {})",
                        entry.rule,
                        rules.join(", ")
                    ),
                )
            })?;
            let until = entry.until.ok_or_else(|| {
                error(
                    name.clone(),
                    "no `until`: every exception expires (at most 365 days after `from`)"
                        .to_string(),
                )
            })?;
            if until < entry.from {
                return Err(error(
                    name,
                    format!("until {until} is before from {}", entry.from),
                ));
            }
            let latest = entry
                .from
                .checked_add_days(Days::new(MAX_EXCEPTION_DAYS))
                .unwrap_or(NaiveDate::MAX);
            if until > latest {
                return Err(error(
                    name,
                    format!(
                        "until {until} is more than {MAX_EXCEPTION_DAYS} days after from {} \
                         (at most {latest})",
                        entry.from
                    ),
                ));
            }
            let mut conditions = Vec::new();
            for (field, values) in entry.conditions {
                let known = MatchField::ALL
                    .into_iter()
                    .find(|known| known.name() == field)
                    .ok_or_else(|| {
                        let fields: Vec<&str> = MatchField::ALL.iter().map(|f| f.name()).collect();
                        error(
                            name.clone(),
                            format!(
                                "match: unknown field `{field}` (one of {})",
                                fields.join(", ")
                            ),
                        )
                    })?;
                let globs = values
                    .into_vec()
                    .iter()
                    .map(|text| {
                        Glob::new(text)
                            .map_err(|problem| error(name.clone(), format!("match: {problem}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if globs.is_empty() {
                    return Err(error(name, format!("match: `{field}` lists no value")));
                }
                conditions.push((known, globs));
            }
            exceptions.push(Exception {
                id: entry.id,
                rule,
                conditions,
                approved_by: entry.approved_by,
                reason: entry.reason,
                compensating_controls: entry.compensating_controls,
                from: entry.from,
                until,
            });
        }
        Ok(GovernancePolicy {
            default_domain,
            domains,
            approved_tools,
            review,
            exceptions,
        })
    }

    /// The domain of `repository`: the first `[[domains]]` rule whose glob
    /// matches it, else the default.
    pub fn domain_of(&self, repository: Option<&str>) -> &str {
        repository
            .and_then(|repository| {
                self.domains.iter().find(|rule| {
                    rule.repositories
                        .iter()
                        .any(|glob| glob.matches(repository))
                })
            })
            .map_or(self.default_domain.as_str(), |rule| rule.domain.as_str())
    }

    /// The first approved entry covering `tool` with `model` on `day`.
    pub fn approval(&self, tool: &str, model: &str, day: NaiveDate) -> Option<&ApprovedTool> {
        self.approved_tools
            .iter()
            .find(|entry| entry.covers(tool, model, day))
    }

    /// A one-line summary for `aitrail governance check`.
    pub fn summary(&self) -> String {
        format!(
            "default domain {}, {} domain rules, {} approved tools, review {} approvals \
             ({} in red, {} security reviewers), {} exceptions",
            self.default_domain,
            self.domains.len(),
            self.approved_tools.len(),
            self.review.min_approvals,
            self.review.red_min_approvals,
            self.review.security_reviewers.len(),
            self.exceptions.len()
        )
    }
}

/// ` (line L, column C)` of a TOML error's span, when it has one.
fn span_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1;
        format!(" (line {line}, column {column})")
    })
    .unwrap_or_default()
}
