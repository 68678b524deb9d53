//! The AI usage that may break a usage rule, as a filter the engine applies
//! while it scans: an organization that mostly follows its policy has few
//! such events, and only they need grouping by user and reading into the
//! rules. The filter is exact for `unapproved_tool`, `data_class_exceeded`
//! and `red_domain_use` (the rules themselves still decide): the policy's
//! globs are resolved against the tools, models and repositories the range
//! holds, and approvals keep their order (the first entry covering a use
//! decides, as in [`GovernancePolicy::approval`]).

use std::collections::BTreeSet;
use std::ops::Not;

use aitrail_query::QueryError;
use aitrail_query::engine::StoreSession;
use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use chrono::NaiveDate;
use datafusion::common::ScalarValue;
use datafusion::functions::expr_fn::coalesce;
use datafusion::logical_expr::{Expr, col, lit, when};

use crate::policy::{DATA_CLASSES, GovernancePolicy, data_class_rank};

/// The table name the suspect usage is registered under in a session.
pub const SUSPECT_USAGE: &str = "suspect_ai_usage";

const VALUES: &str = "SELECT tool, model, repository FROM ai_usage \
    WHERE date >= $from AND date < $to GROUP BY tool, model, repository";

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
    let (pairs, repositories) = values(session, from, to).await?;
    let in_range = col("date").gt_eq(day(from)).and(col("date").lt(day(to)));
    let suspect = approved_within_class(policy, &pairs)
        .and(class().not_eq(lit("restricted")))
        .and(red(policy, &repositories).not())
        .not();
    let frame = session
        .context()
        .table("ai_usage")
        .await?
        .filter(in_range.and(suspect))?;
    session
        .context()
        .register_table(SUSPECT_USAGE, frame.into_view())?;
    Ok(())
}

/// The distinct (tool, model) pairs and repositories of the range.
async fn values(
    session: &StoreSession,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(BTreeSet<(String, String)>, BTreeSet<String>), QueryError> {
    let params = vec![("from", day_value(from)), ("to", day_value(to))];
    let mut pairs = BTreeSet::new();
    let mut repositories = BTreeSet::new();
    for batch in session.query_with_params(VALUES, params).await?.batches {
        let text = |index: usize| {
            cast(batch.column(index), &DataType::Utf8)
                .map_err(|err| QueryError::Invalid(format!("governance evidence: {err}")))
        };
        let (tools, models, repos) = (text(0)?, text(1)?, text(2)?);
        let (tools, models, repos) = (
            tools.as_string::<i32>(),
            models.as_string::<i32>(),
            repos.as_string::<i32>(),
        );
        for row in 0..batch.num_rows() {
            if tools.is_valid(row) && models.is_valid(row) {
                pairs.insert((tools.value(row).to_string(), models.value(row).to_string()));
            }
            if repos.is_valid(row) {
                repositories.insert(repos.value(row).to_string());
            }
        }
    }
    Ok((pairs, repositories))
}

/// Whether an approval covers the use and allows its data class: the
/// rank the first covering entry allows (−1 without one) is at least the
/// class's.
fn approved_within_class(policy: &GovernancePolicy, pairs: &BTreeSet<(String, String)>) -> Expr {
    let mut branches = policy.approved_tools.iter().filter_map(|entry| {
        let models: Vec<Expr> = pairs
            .iter()
            .filter(|(tool, model)| {
                *tool == entry.tool
                    && (entry.models.is_empty() || entry.models.iter().any(|g| g.matches(model)))
            })
            .map(|(_, model)| lit(model.as_str()))
            .collect();
        if models.is_empty() {
            return None;
        }
        let mut covers = col("tool")
            .eq(lit(entry.tool.as_str()))
            .and(col("model").in_list(models, false))
            .and(col("date").gt_eq(day(entry.from)));
        if let Some(until) = entry.until {
            covers = covers.and(col("date").lt_eq(day(until)));
        }
        let rank = data_class_rank(&entry.max_data_class).unwrap_or(0) as i64;
        Some((covers, lit(rank)))
    });
    let Some((covers, rank)) = branches.next() else {
        return lit(false);
    };
    let allowed = branches
        .fold(when(covers, rank), |mut case, (covers, rank)| {
            case.when(covers, rank)
        })
        .otherwise(lit(-1i64))
        .expect("a CASE with branches and an ELSE is well formed");
    allowed.gt_eq(class_rank())
}

/// Whether the use is in a red domain: its own, else its repository's.
fn red(policy: &GovernancePolicy, repositories: &BTreeSet<String>) -> Expr {
    let red_repositories: Vec<Expr> = repositories
        .iter()
        .filter(|repository| policy.domain_of(Some(repository)) == "red")
        .map(|repository| lit(repository.as_str()))
        .collect();
    let by_repository = if red_repositories.is_empty() {
        lit(false)
    } else {
        col("repository").in_list(red_repositories, false)
    };
    let by_repository = when(
        col("repository").is_null(),
        lit(policy.domain_of(None) == "red"),
    )
    .otherwise(by_repository)
    .expect("a CASE with a branch and an ELSE is well formed");
    coalesce(vec![col("domain").eq(lit("red")), by_repository])
}

/// The event's data class (`internal` when it gave none).
fn class() -> Expr {
    coalesce(vec![col("data_class"), lit("internal")])
}

/// The rank of the event's data class (`public` 0 … `restricted` 3).
fn class_rank() -> Expr {
    let mut classes = DATA_CLASSES.iter().enumerate();
    let (rank, name) = classes.next().expect("there are data classes");
    classes
        .fold(
            when(class().eq(lit(*name)), lit(rank as i64)),
            |mut case, (rank, name)| case.when(class().eq(lit(*name)), lit(rank as i64)),
        )
        .otherwise(lit(DATA_CLASSES.len() as i64))
        .expect("a CASE with branches and an ELSE is well formed")
}

fn day_value(day: NaiveDate) -> ScalarValue {
    ScalarValue::Date32(Some(day.to_epoch_days()))
}

fn day(day: NaiveDate) -> Expr {
    lit(day_value(day))
}
