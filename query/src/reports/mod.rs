//! The reports of DESIGN §6, each one SQL plan run by DataFusion: its
//! parameters are bound values (`$from`, `$to`, `$k`, …), and the only text
//! a parameter chooses is one of a fixed set of bucket units and column
//! names.
//!
//! k-anonymity is part of each plan: a row is kept only when at least `$k`
//! distinct users stand behind it (`$k = 0` for compliance, who see
//! everything).

pub mod adoption;
pub mod incidents;
pub mod params;
pub mod token_spend;

use arrow::error::ArrowError;
use chrono::NaiveDate;
use datafusion::common::ScalarValue;
use serde_json::{Value, json};

pub use params::{Bucket, GroupBy, ParamError, ReportKind, ReportParams};

use crate::context::{Answer, QueryError, StoreSession};
use crate::output::json_rows;

/// A report's result.
#[derive(Debug, Clone)]
pub struct Report {
    /// The parameters, defaults filled in.
    pub params: ReportParams,
    /// The rows, columns in the order DESIGN §6 lists them.
    pub rows: Answer,
    /// The incidents report's change-failure rates.
    pub summary: Option<Value>,
}

impl Report {
    /// The JSON answer: `{report, params, rows}` and, for incidents,
    /// `summary`.
    pub fn to_json(&self) -> Result<Value, ArrowError> {
        let mut out = json!({
            "report": self.params.kind.name(),
            "params": self.params.to_json(),
            "rows": json_rows(&self.rows.batches)?,
        });
        if let Some(summary) = &self.summary {
            out["summary"] = summary.clone();
        }
        Ok(out)
    }
}

/// Runs the report `params` asks for in `session`, which has the per-day
/// sums it reads registered ([`StoreTables::session_for_report`] or
/// [`StoreSession::open_for_report`]), suppressing every group with fewer
/// than `k_anonymity` distinct users (0: suppress nothing).
///
/// [`StoreTables::session_for_report`]: crate::StoreTables::session_for_report
pub async fn run(
    session: &StoreSession,
    params: &ReportParams,
    k_anonymity: u32,
) -> Result<Report, QueryError> {
    let k = i64::from(k_anonymity);
    session.broadcast_joins();
    let (rows, summary) = match params.kind {
        ReportKind::Adoption => {
            let sql = adoption::sql(params);
            (
                session
                    .query_with_params(&sql, range_params(params, k))
                    .await?,
                None,
            )
        }
        ReportKind::TokenSpend => {
            let sql = token_spend::sql(params);
            (
                session
                    .query_with_params(&sql, range_params(params, k))
                    .await?,
                None,
            )
        }
        ReportKind::Incidents => {
            let (rows, summary) = incidents::run(session, params, k).await?;
            (rows, Some(summary))
        }
    };
    Ok(Report {
        params: params.clone(),
        rows,
        summary,
    })
}

/// A date as the `Date32` value the `date` partition column holds.
fn date_value(date: NaiveDate) -> ScalarValue {
    ScalarValue::Date32(Some(day_number(date)))
}

/// A date as days since the epoch, the number a `Date32` holds.
pub(crate) fn day_number(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch is a date");
    (date - epoch).num_days() as i32
}

/// The bound values every report uses: the range and k.
fn range_params(params: &ReportParams, k: i64) -> Vec<(&'static str, ScalarValue)> {
    vec![
        ("from", date_value(params.from)),
        ("to", date_value(params.to)),
        ("k", ScalarValue::Int64(Some(k))),
    ]
}

/// The bucket a `date` column falls in, as a date.
fn bucket_of(bucket: Bucket, column: &str) -> String {
    format!("CAST(date_trunc('{}', {column}) AS DATE)", bucket.unit())
}
