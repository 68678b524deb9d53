//! What a report is ([`Report`]), what it answers ([`ReportAnswer`]) and
//! the helpers its plans share.

use arrow::error::ArrowError;
use chrono::NaiveDate;
use datafusion::common::ScalarValue;
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::daily_sums::Kind;
use super::params::{Bucket, GroupBy, ParamError, ReportParams};
use crate::engine::{Answer, QueryError, StoreSession};
use crate::output::{Format, write};
use crate::role::Role;

/// What a plan returns: the rows and, for a report that has one, a
/// summary beside them (the incidents report's change-failure rates).
pub type PlanOutput = (Answer, Option<Value>);

/// One report: its name, the parameters it takes, what each role may ask
/// of it, the per-day sums it reads and its plan.
pub trait Report: Send + Sync {
    /// Its name in URLs (`/v1/reports/{name}`), on the command line and in
    /// its output.
    fn name(&self) -> &'static str;

    /// One line on what it answers, for help texts.
    fn about(&self) -> &'static str;

    /// A path under `/v1` it is also served at, beside
    /// `/v1/reports/{name}` (`exceptions` at `/v1/exceptions`).
    fn alias(&self) -> Option<&'static str> {
        None
    }

    /// Media types it can be answered in beyond the tabular ones, as
    /// `Accept` names them with their parameters (`application/x-ndjson;
    /// profile=ocsf`); [`Report::render`] writes them.
    fn media_types(&self) -> &'static [&'static str] {
        &[]
    }

    /// `answer` in `media_type`, one of [`Report::media_types`]; the
    /// reason when this answer cannot be given in it.
    fn render(&self, media_type: &str, answer: &ReportAnswer) -> Result<Vec<u8>, String> {
        let _ = answer;
        Err(format!(
            "the {} report is not offered as {media_type}",
            self.name()
        ))
    }

    /// The parameters it takes, of `from`, `to`, `bucket`, `by` and
    /// `lookback_hours` (see [`ReportParams::parse`]).
    fn parameters(&self) -> &'static [&'static str];

    /// Whether `role` may have it with `params`; the reason when not. By
    /// default leadership may have any report but never per user.
    fn allows(&self, role: Role, params: &ReportParams) -> Result<(), String> {
        if role == Role::Leadership && params.by == GroupBy::User {
            return Err("leadership reports are never grouped by user".to_string());
        }
        Ok(())
    }

    /// The per-day sums its plan reads, registered in its session under
    /// their names before the plan runs.
    fn sums(&self, params: &ReportParams) -> Vec<Kind>;

    /// Runs it in `session`, suppressing every group with fewer than `k`
    /// distinct users.
    fn plan<'a>(
        &'a self,
        session: &'a StoreSession,
        params: &'a ReportParams,
        k: i64,
    ) -> BoxFuture<'a, Result<PlanOutput, QueryError>>;
}

impl dyn Report {
    /// The `pairs` of a query string or of command-line flags as this
    /// report's parameters (see [`ReportParams::parse`]).
    pub fn parse_params(
        &self,
        pairs: impl IntoIterator<Item = (String, String)>,
        today: NaiveDate,
    ) -> Result<ReportParams, ParamError> {
        ReportParams::parse(self.name(), self.parameters(), pairs, today)
    }
}

/// A report's result.
#[derive(Debug, Clone)]
pub struct ReportAnswer {
    /// The parameters, defaults filled in.
    pub params: ReportParams,
    /// The rows, columns in the order DESIGN §6 lists them.
    pub rows: Answer,
    /// The summary some reports give beside their rows.
    pub summary: Option<Value>,
}

impl ReportAnswer {
    /// The JSON answer: `{report, params, rows}` and, for a report with
    /// one, `summary`. The rows are written straight from their batches
    /// into the answer, not built as JSON values first: a year of findings
    /// is tens of thousands of rows.
    pub fn to_json(&self) -> Result<Vec<u8>, ArrowError> {
        let head = json!({"report": self.params.report, "params": self.params.to_json()});
        let mut out =
            serde_json::to_vec(&head).map_err(|err| ArrowError::JsonError(err.to_string()))?;
        out.pop();
        out.extend_from_slice(b",\"rows\":");
        write(&self.rows.batches, Format::Json, &mut out)?;
        if out.ends_with(b"\n") {
            out.pop();
        }
        if let Some(summary) = &self.summary {
            out.extend_from_slice(b",\"summary\":");
            serde_json::to_writer(&mut out, summary)
                .map_err(|err| ArrowError::JsonError(err.to_string()))?;
        }
        out.push(b'}');
        Ok(out)
    }
}

/// Runs `report` with `params` in `session`, which has the per-day sums it
/// reads registered ([`super::ReportSums::session`] or
/// [`super::one_report_session`]),
/// suppressing every group with fewer than `k_anonymity` distinct users
/// (0: suppress nothing).
pub async fn run(
    report: &dyn Report,
    session: &StoreSession,
    params: &ReportParams,
    k_anonymity: u32,
) -> Result<ReportAnswer, QueryError> {
    session.broadcast_joins();
    let (rows, summary) = report.plan(session, params, i64::from(k_anonymity)).await?;
    Ok(ReportAnswer {
        params: params.clone(),
        rows,
        summary,
    })
}

/// A date as the `Date32` value the `date` partition column holds.
pub(super) fn date_value(date: NaiveDate) -> ScalarValue {
    ScalarValue::Date32(Some(date.to_epoch_days()))
}

/// A report over the usage and change sums by bucket and group, that is
/// one SQL statement bound to the range and k, with no summary: adoption
/// and token spend.
pub struct BucketReport {
    /// Its name.
    pub name: &'static str,
    /// What it answers.
    pub about: &'static str,
    /// Its statement for the parameters.
    pub sql: fn(&ReportParams) -> String,
}

impl Report for BucketReport {
    fn name(&self) -> &'static str {
        self.name
    }

    fn about(&self) -> &'static str {
        self.about
    }

    fn parameters(&self) -> &'static [&'static str] {
        &["from", "to", "bucket", "by"]
    }

    fn sums(&self, _: &ReportParams) -> Vec<Kind> {
        vec![Kind::AI_USAGE, Kind::CODE_CHANGES]
    }

    fn plan<'a>(
        &'a self,
        session: &'a StoreSession,
        params: &'a ReportParams,
        k: i64,
    ) -> BoxFuture<'a, Result<PlanOutput, QueryError>> {
        async move {
            let sql = (self.sql)(params);
            let rows = session
                .query_with_params(&sql, range_params(params, k))
                .await?;
            Ok((rows, None))
        }
        .boxed()
    }
}

/// The bound values every report uses: the range and k.
pub(super) fn range_params(params: &ReportParams, k: i64) -> Vec<(&'static str, ScalarValue)> {
    vec![
        ("from", date_value(params.from)),
        ("to", date_value(params.to)),
        ("k", ScalarValue::Int64(Some(k))),
    ]
}

/// The bucket a `date` column falls in, as a date.
pub(super) fn bucket_of(bucket: Bucket, column: &str) -> String {
    format!("CAST(date_trunc('{}', {column}) AS DATE)", bucket.unit())
}
