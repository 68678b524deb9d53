//! Conditions on an event's fields, tested two ways that must agree: on an
//! event in Rust ([`Matcher::matches`], as the ingest assigns a retention
//! tier) and as a DataFusion expression over the event's table
//! ([`Matcher::expr`], as a query finds the stored events a rule covers).
//! Retention rules match events this way, and governance rules next.
//!
//! Every condition given must hold; a field holds a condition when its
//! value is one of the condition's values (for repositories: matches one of
//! its globs). An event lacking the field a condition tests does not match.

use aitrail_schemas::fields::Repository;
use aitrail_schemas::{Event, EventType};
use datafusion::functions::expr_fn::regexp_like;
use datafusion::functions_nested::expr_fn::array_to_string;
use datafusion::prelude::{Expr, col, lit};
use serde::{Deserialize, Serialize};

/// One value or a list of them, as a condition is written either way.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// `team = "payments"`.
    One(String),
    /// `team = ["payments", "trading"]`.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values, one or many.
    pub fn values(&self) -> &[String] {
        match self {
            OneOrMany::One(value) => std::slice::from_ref(value),
            OneOrMany::Many(values) => values,
        }
    }

    fn contains(&self, value: &str) -> bool {
        self.values().iter().any(|v| v == value)
    }
}

/// The fields a rule may test; a field not given is not tested.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
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

/// A repository glob that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{glob}` is not a valid glob: {problem}")]
pub struct InvalidGlob {
    /// The glob as written.
    pub glob: String,
    /// What is wrong with it.
    pub problem: String,
}

/// [`Conditions`] ready to test: repository globs compiled.
#[derive(Debug, Clone)]
pub struct Matcher {
    conditions: Conditions,
    repositories: Vec<glob::Pattern>,
}

impl Matcher {
    /// Compiles `conditions`; refuses a repository glob that is not valid.
    pub fn new(conditions: Conditions) -> Result<Self, InvalidGlob> {
        let repositories = conditions
            .repository
            .iter()
            .flat_map(OneOrMany::values)
            .map(|glob| {
                glob::Pattern::new(glob).map_err(|err| InvalidGlob {
                    glob: glob.clone(),
                    problem: err.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Matcher {
            conditions,
            repositories,
        })
    }

    /// Whether `event` meets every condition.
    pub fn matches(&self, event: &Event<'_>) -> bool {
        let subject = Subject::of(event);
        let c = &self.conditions;
        let field = |condition: &Option<OneOrMany>, value: Option<&str>| match condition {
            None => true,
            Some(allowed) => value.is_some_and(|v| allowed.contains(v)),
        };
        field(&c.org_id, Some(subject.org_id))
            && field(&c.team, subject.team)
            && field(&c.data_class, subject.data_class)
            && field(&c.domain, subject.domain)
            && field(&c.tool, subject.tool)
            && (c.repository.is_none()
                || subject.repositories.iter().any(|repo| {
                    self.repositories
                        .iter()
                        .any(|glob| glob.matches(repo.as_str()))
                }))
    }

    /// The same test as a boolean expression over the table of
    /// `event_type`: true exactly for the rows [`Matcher::matches`] accepts,
    /// never null.
    pub fn expr(&self, event_type: EventType) -> Expr {
        let c = &self.conditions;
        let columns = Columns::of(event_type);
        let mut tests = Vec::new();
        for (condition, column) in [
            (&c.org_id, Some("org_id")),
            (&c.team, columns.team),
            (&c.data_class, columns.data_class),
            (&c.domain, columns.domain),
            (&c.tool, columns.tool),
        ] {
            let Some(allowed) = condition else { continue };
            tests.push(match column {
                Some(name) => {
                    let values = allowed.values().iter().map(|v| lit(v.as_str())).collect();
                    col(name).in_list(values, false)
                }
                None => lit(false),
            });
        }
        if let Some(globs) = &c.repository {
            let any_glob = globs
                .values()
                .iter()
                .map(|glob| glob_regex(glob))
                .collect::<Vec<_>>()
                .join("|");
            tests.push(match columns.repository {
                RepositoryColumn::One(name) => {
                    regexp_like(col(name), lit(format!("^(?:{any_glob})$")), None)
                }
                // The list's repositories one a line, none of which holds a
                // line break; a match of any line is a match of any of them.
                RepositoryColumn::List(name) => regexp_like(
                    array_to_string(col(name), lit("\n")),
                    lit(format!("(?m)^(?:{any_glob})$")),
                    None,
                ),
            });
        }
        tests
            .into_iter()
            .reduce(Expr::and)
            .map_or(lit(true), |all| all.is_true())
    }
}

/// The fields of an event that conditions test.
struct Subject<'e, 'a> {
    org_id: &'e str,
    team: Option<&'e str>,
    repositories: &'e [Repository<'a>],
    data_class: Option<&'e str>,
    domain: Option<&'e str>,
    tool: Option<&'e str>,
}

impl<'e, 'a> Subject<'e, 'a> {
    fn of(event: &'e Event<'a>) -> Self {
        match event {
            Event::AiUsage(e) => Subject {
                org_id: e.org_id.as_str(),
                team: e.team.as_ref().map(|t| t.as_str()),
                repositories: e.repository.as_slice(),
                data_class: Some(e.data_class.as_str()),
                domain: e.domain.map(|d| d.as_str()),
                tool: Some(e.tool.as_str()),
            },
            Event::CodeChange(e) => Subject {
                org_id: e.org_id.as_str(),
                team: e.team.as_ref().map(|t| t.as_str()),
                repositories: std::slice::from_ref(&e.repository),
                data_class: None,
                domain: e.domain.map(|d| d.as_str()),
                tool: None,
            },
            Event::Incident(e) => Subject {
                org_id: e.org_id.as_str(),
                team: None,
                repositories: &e.repositories.0,
                data_class: None,
                domain: None,
                tool: None,
            },
            Event::CodeReview(e) => Subject {
                org_id: e.org_id.as_str(),
                team: None,
                repositories: std::slice::from_ref(&e.repository),
                data_class: None,
                domain: None,
                tool: None,
            },
        }
    }
}

/// Where a table keeps the fields of [`Subject`]; `None` where its events
/// lack the field.
struct Columns {
    team: Option<&'static str>,
    data_class: Option<&'static str>,
    domain: Option<&'static str>,
    tool: Option<&'static str>,
    repository: RepositoryColumn,
}

/// A table's repositories: one per row, or a list.
enum RepositoryColumn {
    One(&'static str),
    List(&'static str),
}

impl Columns {
    fn of(event_type: EventType) -> Self {
        match event_type {
            EventType::AiUsage => Columns {
                team: Some("team"),
                data_class: Some("data_class"),
                domain: Some("domain"),
                tool: Some("tool"),
                repository: RepositoryColumn::One("repository"),
            },
            EventType::CodeChange => Columns {
                team: Some("team"),
                data_class: None,
                domain: Some("domain"),
                tool: None,
                repository: RepositoryColumn::One("repository"),
            },
            EventType::Incident => Columns {
                team: None,
                data_class: None,
                domain: None,
                tool: None,
                repository: RepositoryColumn::List("repositories"),
            },
            EventType::CodeReview => Columns {
                team: None,
                data_class: None,
                domain: None,
                tool: None,
                repository: RepositoryColumn::One("repository"),
            },
        }
    }
}

/// A regular expression (unanchored) of what `glob` matches as
/// [`glob::Pattern::matches`] does: `*` any run of characters, `/`
/// included; `?` one character; `[…]` and `[!…]` a class, `]` first in it
/// taken literally; anything else itself. Class members are written as
/// `\x{…}` escapes, which no character of a glob can break out of.
fn glob_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut regex = String::new();
    let mut at = 0;
    while at < chars.len() {
        match chars[at] {
            '*' => regex.push_str(".*"),
            '?' => regex.push('.'),
            '[' => {
                if let Some((class, end)) = class_at(&chars, at) {
                    regex.push_str(&class);
                    at = end;
                } else {
                    regex.push_str(&regex::escape("["));
                }
            }
            other => regex.push_str(&regex::escape(&other.to_string())),
        }
        at += 1;
    }
    regex
}

/// The class opening at `chars[open]` as a regex class, and the index of
/// its closing `]`; `None` when it does not close. A range whose end comes
/// before its start holds nothing, as in `glob`.
fn class_at(chars: &[char], open: usize) -> Option<(String, usize)> {
    let mut at = open + 1;
    let negated = chars.get(at) == Some(&'!');
    if negated {
        at += 1;
    }
    let first = at;
    let escaped = |c: char| format!("\\x{{{:x}}}", u32::from(c));
    let mut members = String::new();
    loop {
        let c = *chars.get(at)?;
        if c == ']' && at > first {
            break;
        }
        match (chars.get(at + 1), chars.get(at + 2)) {
            (Some('-'), Some(&end)) if end != ']' => {
                if c <= end {
                    members.push_str(&format!("{}-{}", escaped(c), escaped(end)));
                }
                at += 3;
            }
            _ => {
                members.push_str(&escaped(c));
                at += 1;
            }
        }
    }
    let class = match (members.is_empty(), negated) {
        (false, false) => format!("[{members}]"),
        (false, true) => format!("[^{members}]"),
        (true, false) => r"[^\x{0}-\x{10ffff}]".to_string(),
        (true, true) => r"[\x{0}-\x{10ffff}]".to_string(),
    };
    Some((class, at))
}

#[cfg(test)]
mod tests;
