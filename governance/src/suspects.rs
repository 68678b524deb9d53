//! The AI usage that may break a usage rule, as a filter the engine applies
//! while it scans: an organization that mostly follows its policy has few
//! such events, and only they need grouping by user and reading into the
//! rules. The filter is exact for `unapproved_tool`, `data_class_exceeded`
//! and `red_domain_use` (the rules themselves still decide): the policy's
//! globs become `LIKE` patterns (a glob with a character class, a regular
//! expression), approvals keep their order (the first entry covering a use
//! decides, as in [`GovernancePolicy::approval`]) and so do domain rules.

use std::ops::Not;

use aitrail_query::QueryError;
use aitrail_query::engine::StoreSession;
use chrono::NaiveDate;
use datafusion::common::ScalarValue;
use datafusion::functions::expr_fn::{coalesce, regexp_like};
use datafusion::logical_expr::expr::Like;
use datafusion::logical_expr::{Expr, col, lit, when};

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
        .context()
        .table("ai_usage")
        .await?
        .filter(in_range.and(suspect(policy)))?;
    session
        .context()
        .register_table(SUSPECT_USAGE, frame.into_view())?;
    Ok(())
}

/// Whether a row of `ai_usage` may break a usage rule of `policy`.
pub fn suspect(policy: &GovernancePolicy) -> Expr {
    approved_within_class(policy)
        .and(class().not_eq(lit("restricted")))
        .and(red(policy).not())
        .not()
}

/// Whether an approval covers the use and allows its data class: the
/// rank the first covering entry allows (−1 without one) is at least the
/// class's.
fn approved_within_class(policy: &GovernancePolicy) -> Expr {
    let branches = policy.approved_tools.iter().map(|entry| {
        let mut covers = col("tool")
            .eq(lit(entry.tool.as_str()))
            .and(col("date").gt_eq(day(entry.from)));
        if let Some(until) = entry.until {
            covers = covers.and(col("date").lt_eq(day(until)));
        }
        if !entry.models.is_empty() {
            covers = covers.and(any_glob(col("model"), &entry.models));
        }
        let rank = data_class_rank(&entry.max_data_class).unwrap_or(0) as i64;
        (covers, lit(rank))
    });
    first_match(branches, lit(-1i64)).gt_eq(class_rank())
}

/// Whether the use is in a red domain: its own, else its repository's
/// (the first `[[domains]]` rule matching it, else the default).
fn red(policy: &GovernancePolicy) -> Expr {
    let default = lit(policy.domain_of(None));
    let rules = policy.domains.iter().map(|rule| {
        (
            any_glob(col("repository"), &rule.repositories),
            lit(rule.domain.as_str()),
        )
    });
    let by_repository = first_match(
        std::iter::once((col("repository").is_null(), default.clone())).chain(rules),
        default,
    );
    coalesce(vec![col("domain"), by_repository]).eq(lit("red"))
}

/// `CASE WHEN … THEN … END` over `branches` in order, else `otherwise`.
fn first_match(branches: impl IntoIterator<Item = (Expr, Expr)>, otherwise: Expr) -> Expr {
    let mut branches = branches.into_iter();
    let Some((condition, then)) = branches.next() else {
        return otherwise;
    };
    branches
        .fold(when(condition, then), |mut case, (condition, then)| {
            case.when(condition, then)
        })
        .otherwise(otherwise)
        .expect("a CASE with branches and an ELSE is well formed")
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

/// The rank of the event's data class (`public` 0 … `restricted` 3).
fn class_rank() -> Expr {
    let ranks = DATA_CLASSES
        .iter()
        .enumerate()
        .map(|(rank, name)| (class().eq(lit(*name)), lit(rank as i64)));
    first_match(ranks, lit(DATA_CLASSES.len() as i64))
}

fn day_value(day: NaiveDate) -> ScalarValue {
    ScalarValue::Date32(Some(day.to_epoch_days()))
}

fn day(day: NaiveDate) -> Expr {
    lit(day_value(day))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, AsArray, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
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
