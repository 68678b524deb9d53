//! The AI usage that may break a usage rule, as a filter the engine applies
//! while it scans: an organization that mostly follows its policy has few
//! such events, and only they need grouping by user and reading into the
//! rules. The filter is exact for `unapproved_tool`, `data_class_exceeded`
//! and `red_domain_use` (the rules themselves still decide): the policy's
//! globs become `LIKE` patterns (a glob with a character class, a regular
//! expression), approvals keep their order (the first entry covering a use
//! decides, as in [`GovernancePolicy::approval`]) and so do domain rules.
//! The rules' own tests run through it (`cli/tests/governance.rs`), and the
//! benchmark compares its findings with DuckDB's row for row.

use std::ops::Not;

use aitrail_query::QueryError;
use aitrail_query::engine::StoreSession;
use chrono::NaiveDate;
use datafusion::common::ScalarValue;
use datafusion::functions::expr_fn::{coalesce, regexp_like};
use datafusion::logical_expr::expr::Like;
use datafusion::logical_expr::{Expr, col, lit};

use crate::policy::{DATA_CLASSES, Glob, GovernancePolicy, data_class_rank};

/// The table name the suspect usage is registered under in a session.
pub const SUSPECT_USAGE: &str = "suspect_ai_usage";

/// Registers [`SUSPECT_USAGE`] in `session`: the rows of `ai_usage` from
/// `from` (inclusive) to `to` (exclusive) that an approval does not cover,
/// whose data class is above what their approval allows or restricted, or
/// whose domain is red.
pub async fn register(
    session: &StoreSession,
    policy: &GovernancePolicy,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(), QueryError> {
    let in_range = col("date").gt_eq(day(from)).and(col("date").lt(day(to)));
    let frame = session
        .table_with_string_views("ai_usage")
        .await?
        .filter(in_range.and(suspect(policy)))?;
    session
        .context()
        .register_table(SUSPECT_USAGE, frame.into_view())?;
    Ok(())
}

/// Whether a row of `ai_usage` may break a usage rule of `policy`. Written
/// as plain boolean logic (no `CASE`), which the engine evaluates several
/// times faster while it decodes; each part that is negated is never null.
pub fn suspect(policy: &GovernancePolicy) -> Expr {
    approved_within_class(policy)
        .not()
        .or(col("data_class").eq(lit("restricted")))
        .or(red(policy))
}

/// Whether an approval covers the use and allows its data class: the
/// first entry covering it allows the class.
fn approved_within_class(policy: &GovernancePolicy) -> Expr {
    first_holding(policy.approved_tools.iter().map(|entry| {
        let mut covers = col("tool")
            .eq(lit(entry.tool.as_str()))
            .and(col("date").gt_eq(day(entry.from)));
        if let Some(until) = entry.until {
            covers = covers.and(col("date").lt_eq(day(until)));
        }
        if !entry.models.is_empty() {
            covers = covers.and(any_glob(col("model"), &entry.models));
        }
        let rank = data_class_rank(&entry.max_data_class).unwrap_or(0);
        let allowed = DATA_CLASSES[..=rank]
            .iter()
            .map(|class| lit(*class))
            .collect();
        (covers, class().in_list(allowed, false))
    }))
}

/// Whether the use is in a red domain: its own, else its repository's
/// (the first `[[domains]]` rule matching it, else the default).
fn red(policy: &GovernancePolicy) -> Expr {
    let default_red = lit(policy.domain_of(None) == "red");
    let rules = policy.domains.iter().map(|rule| {
        (
            any_glob(col("repository"), &rule.repositories),
            lit(rule.domain == "red"),
        )
    });
    let by_repository = first_holding(
        std::iter::once((col("repository").is_null(), default_red.clone()))
            .chain(rules)
            .chain(std::iter::once((lit(true), default_red))),
    );
    let own = col("domain")
        .is_not_null()
        .and(col("domain").eq(lit("red")));
    own.or(col("domain").is_null().and(by_repository))
}

/// Whether the outcome of the first of `branches` whose condition holds
/// holds (false when none does): for each branch, its condition, its
/// outcome, and no earlier condition. Conditions must never be null.
fn first_holding(branches: impl IntoIterator<Item = (Expr, Expr)>) -> Expr {
    let mut earlier: Option<Expr> = None;
    let mut holding = lit(false);
    for (condition, outcome) in branches {
        let first = match &earlier {
            Some(earlier) => condition.clone().and(earlier.clone().not()),
            None => condition.clone(),
        };
        holding = holding.or(first.and(outcome));
        earlier = Some(match earlier {
            Some(earlier) => earlier.or(condition),
            None => condition,
        });
    }
    holding
}

/// Whether `value` matches one of `globs`.
fn any_glob(value: Expr, globs: &[Glob]) -> Expr {
    globs
        .iter()
        .map(|glob| matches_glob(value.clone(), glob))
        .reduce(Expr::or)
        .unwrap_or_else(|| lit(false))
}

/// Whether `value` matches `glob` as [`Glob::matches`] decides (`*` any
/// text, `/` included; `?` one character; `[…]`, `[!…]` a class).
pub fn matches_glob(value: Expr, glob: &Glob) -> Expr {
    let text = glob.as_str();
    if text.contains('[') || text.contains("**") {
        return regexp_like(value, lit(glob_regex(text)), None);
    }
    let mut pattern = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        match c {
            '*' => pattern.push('%'),
            '?' => pattern.push('_'),
            '%' | '_' | '\\' => {
                pattern.push('\\');
                pattern.push(c);
            }
            c => pattern.push(c),
        }
    }
    Expr::Like(Like::new(
        false,
        Box::new(value),
        Box::new(lit(pattern)),
        Some('\\'),
        false,
    ))
}

/// An anchored regular expression matching what the glob `text` matches.
fn glob_regex(text: &str) -> String {
    let mut regex = String::from("^");
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.next_if_eq(&'*').is_some() => {
                if chars.next_if_eq(&'/').is_some() {
                    regex.push_str("(?:.*/)?");
                } else {
                    regex.push_str(".*");
                }
            }
            '*' => regex.push_str(".*"),
            '?' => regex.push('.'),
            '[' => {
                regex.push('[');
                if chars.next_if_eq(&'!').is_some() {
                    regex.push('^');
                }
                let mut first = true;
                for c in chars.by_ref() {
                    if c == ']' && !first {
                        break;
                    }
                    first = false;
                    push_escaped(&mut regex, c, c != '-');
                }
                regex.push(']');
            }
            c => push_escaped(&mut regex, c, true),
        }
    }
    regex.push('$');
    regex
}

/// Appends `c`, escaped when it is punctuation (and `escape_dash` allows).
fn push_escaped(regex: &mut String, c: char, escape_dash: bool) {
    if c.is_ascii_punctuation() && (escape_dash || c != '-') {
        regex.push('\\');
    }
    regex.push(c);
}

/// The event's data class (`internal` when it gave none).
fn class() -> Expr {
    coalesce(vec![col("data_class"), lit("internal")])
}

/// `day` as an SQL date value.
pub fn day_value(day: NaiveDate) -> ScalarValue {
    ScalarValue::Date32(Some(day.to_epoch_days()))
}

fn day(day: NaiveDate) -> Expr {
    lit(day_value(day))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        Array, ArrayRef, AsArray, Date32Array, Int64Array, RecordBatch, StringArray,
    };
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use datafusion::prelude::SessionContext;

    use super::*;

    const VALUES: &[&str] = &[
        "claude-sonnet-4-5",
        "claude-",
        "claude",
        "gpt-5",
        "a/b",
        "a/x/y/b",
        "ab",
        "50%_off",
        "50x_off",
        "back\\slash",
        "back/slash",
        "[x]",
        "-",
        "ümlaut-ß",
        "",
    ];

    const GLOBS: &[&str] = &[
        "claude-*",
        "claude-?*",
        "*",
        "?",
        "a/**/b",
        "a/*",
        "a?b",
        "50%_off",
        "50?_off",
        "back\\*",
        "[[]x[]]",
        "[!a-c]*",
        "[a-c-]*",
        "[-]",
        "*[0-9]",
        "ü*-?",
    ];

    /// Two approvals of one tool with different classes and days, one
    /// without models, domains whose first match decides; the second
    /// policy makes unmatched repositories red.
    const POLICY: &str = r#"
default_domain = "DEFAULT"
[[domains]]
domain = "yellow"
repositories = ["github.com/acme/auth-docs"]
[[domains]]
domain = "red"
repositories = ["github.com/acme/auth-*", "github.com/acme/pay?"]
[[domains]]
domain = "green"
repositories = ["github.com/acme/*"]
[[approved_tools]]
tool = "claude-code"
models = ["claude-*"]
from = "2026-01-01"
until = "2026-01-31"
max_data_class = "public"
[[approved_tools]]
tool = "claude-code"
models = ["claude-s*", "[g]pt-5"]
from = "2026-01-15"
max_data_class = "confidential"
[[approved_tools]]
tool = "copilot"
from = "2026-01-01"
max_data_class = "internal"
"#;

    /// What the rules decide of one row (`findings::usage_findings`).
    fn breaks(policy: &GovernancePolicy, row: &Row) -> bool {
        let approval = policy.approval(row.tool, row.model, row.day);
        let class = row.class.unwrap_or("internal");
        let exceeds = class == "restricted"
            || approval.is_some_and(|entry| {
                data_class_rank(class) > data_class_rank(&entry.max_data_class)
            });
        let domain = row
            .domain
            .unwrap_or_else(|| policy.domain_of(row.repository));
        approval.is_none() || exceeds || domain == "red"
    }

    struct Row {
        tool: &'static str,
        model: &'static str,
        day: NaiveDate,
        class: Option<&'static str>,
        domain: Option<&'static str>,
        repository: Option<&'static str>,
    }

    fn rows() -> Vec<Row> {
        let mut rows = Vec::new();
        for tool in ["claude-code", "copilot", "cursor"] {
            for model in ["claude-sonnet-4-5", "claude-opus-4-1", "gpt-5"] {
                for day in [
                    "2025-12-31",
                    "2026-01-01",
                    "2026-01-15",
                    "2026-01-31",
                    "2026-02-01",
                ] {
                    for class in [
                        None,
                        Some("public"),
                        Some("internal"),
                        Some("confidential"),
                        Some("restricted"),
                    ] {
                        for domain in [None, Some("green"), Some("red")] {
                            for repository in [
                                None,
                                Some("github.com/acme/auth-docs"),
                                Some("github.com/acme/auth-api"),
                                Some("github.com/acme/pays"),
                                Some("github.com/acme/web"),
                                Some("gitlab.com/other/x"),
                            ] {
                                rows.push(Row {
                                    tool,
                                    model,
                                    day: day.parse().unwrap(),
                                    class,
                                    domain,
                                    repository,
                                });
                            }
                        }
                    }
                }
            }
        }
        rows
    }

    #[tokio::test]
    async fn the_filter_keeps_exactly_the_rows_the_rules_judge_broken() {
        let rows = rows();
        let text = |values: Vec<Option<&str>>| Arc::new(StringArray::from(values)) as ArrayRef;
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::Int64, false),
                Field::new("tool", DataType::Utf8, false),
                Field::new("model", DataType::Utf8, false),
                Field::new("date", DataType::Date32, false),
                Field::new("data_class", DataType::Utf8, true),
                Field::new("domain", DataType::Utf8, true),
                Field::new("repository", DataType::Utf8, true),
            ])),
            vec![
                Arc::new(Int64Array::from_iter_values(0..rows.len() as i64)),
                text(rows.iter().map(|r| Some(r.tool)).collect()),
                text(rows.iter().map(|r| Some(r.model)).collect()),
                Arc::new(Date32Array::from_iter_values(
                    rows.iter().map(|r| r.day.to_epoch_days()),
                )),
                text(rows.iter().map(|r| r.class).collect()),
                text(rows.iter().map(|r| r.domain).collect()),
                text(rows.iter().map(|r| r.repository).collect()),
            ],
        )
        .unwrap();
        let ctx = SessionContext::new();
        ctx.register_batch("ai_usage", batch).unwrap();
        for default in ["green", "red"] {
            let policy =
                GovernancePolicy::parse(&POLICY.replace("DEFAULT", default), "test").unwrap();
            let frame = ctx
                .table("ai_usage")
                .await
                .unwrap()
                .filter(suspect(&policy))
                .unwrap();
            let mut kept = Vec::new();
            for batch in frame.collect().await.unwrap() {
                let ids = batch.column(0).as_primitive::<Int64Type>();
                kept.extend(ids.values().iter().map(|id| *id as usize));
            }
            kept.sort_unstable();
            let expected: Vec<usize> = (0..rows.len())
                .filter(|index| breaks(&policy, &rows[*index]))
                .collect();
            assert!(expected.len() > 100 && expected.len() < rows.len() - 100);
            assert_eq!(kept, expected, "default domain {default}");
        }
    }

    #[tokio::test]
    async fn a_glob_in_sql_matches_what_the_policy_matches() {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Utf8, false)]));
        let values = StringArray::from(VALUES.to_vec());
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(values)]).unwrap();
        let ctx = SessionContext::new();
        ctx.register_batch("t", batch).unwrap();
        for text in GLOBS {
            let glob = Glob::new(text).unwrap();
            let frame = ctx
                .table("t")
                .await
                .unwrap()
                .filter(matches_glob(col("v"), &glob))
                .unwrap();
            let mut matched: Vec<String> = Vec::new();
            for batch in frame.collect().await.unwrap() {
                let column = batch.column(0).as_string::<i32>();
                matched.extend((0..column.len()).map(|row| column.value(row).to_string()));
            }
            let expected: Vec<String> = VALUES
                .iter()
                .filter(|value| glob.matches(value))
                .map(|value| value.to_string())
                .collect();
            assert_eq!(matched, expected, "glob {text}");
        }
    }
}
