//! The `exceptions` report (`GET /v1/exceptions`, DESIGN §10): every
//! exception of the policy, whether it is in force, about to expire or
//! expired on the report's day, and the findings and events it covered.

use std::collections::BTreeMap;
use std::sync::Arc;

use aitrail_query::engine::StoreSession;
use aitrail_query::reports::daily_sums::Kind;
use aitrail_query::reports::{PlanOutput, Report, ReportParams};
use aitrail_query::{Answer, QueryError};
use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{Days, NaiveDate};
use futures::FutureExt;
use futures::future::BoxFuture;

use crate::evidence::Evidence;
use crate::findings::{Filter, Status, findings};
use crate::policy::{Exception, GovernancePolicy};
use crate::required;
use crate::tables;

/// Days before its `until` an exception counts as expiring.
pub const EXPIRING_WITHIN_DAYS: u64 = 30;

/// The exceptions report over the policy it was made with.
pub struct Exceptions {
    policy: Option<Arc<GovernancePolicy>>,
}

impl Exceptions {
    /// The report of `policy`'s exceptions (without one, it answers that a
    /// policy is needed).
    pub fn new(policy: Option<Arc<GovernancePolicy>>) -> Exceptions {
        Exceptions { policy }
    }
}

/// Where an exception stands on a day.
pub fn state(exception: &Exception, day: NaiveDate) -> &'static str {
    let expiring_from = exception
        .until
        .checked_sub_days(Days::new(EXPIRING_WITHIN_DAYS))
        .unwrap_or(exception.until);
    if day < exception.from {
        "upcoming"
    } else if day > exception.until {
        "expired"
    } else if day >= expiring_from {
        "expiring"
    } else {
        "active"
    }
}

impl Report for Exceptions {
    fn name(&self) -> &'static str {
        "exceptions"
    }

    fn about(&self) -> &'static str {
        "the governance policy's exceptions: active, expiring within 30 days or expired on \
         the day before `to`, with the findings and events each covered (needs a policy)"
    }

    fn alias(&self) -> Option<&'static str> {
        Some("exceptions")
    }

    fn parameters(&self) -> &'static [&'static str] {
        &["to"]
    }

    fn sums(&self, _: &ReportParams) -> Vec<Kind> {
        Vec::new()
    }

    fn plan<'a>(
        &'a self,
        session: &'a StoreSession,
        params: &'a ReportParams,
        _k: i64,
    ) -> BoxFuture<'a, Result<PlanOutput, QueryError>> {
        async move {
            let policy = required(self.policy.as_deref(), "the exceptions report")?;
            let today = params.to.pred_opt().unwrap_or(params.to);
            let covered = covered(session, policy, params.to).await?;
            let rows = rows(policy, today, &covered);
            Ok((
                rows.map_err(|err| QueryError::Invalid(err.to_string()))?,
                None,
            ))
        }
        .boxed()
    }
}

/// Findings and events each exception covered, up to `to` (exclusive).
async fn covered(
    session: &StoreSession,
    policy: &GovernancePolicy,
    to: NaiveDate,
) -> Result<BTreeMap<String, (i64, i64)>, QueryError> {
    let mut covered = BTreeMap::new();
    let Some(from) = policy.exceptions.iter().map(|e| e.from).min() else {
        return Ok(covered);
    };
    let end = policy
        .exceptions
        .iter()
        .filter_map(|e| e.until.succ_opt())
        .max()
        .map_or(to, |end| end.min(to));
    if from >= end {
        return Ok(covered);
    }
    let evidence = session
        .within_time(Evidence::read(session, policy, from, end, None))
        .await?;
    let filter = Filter {
        rule: None,
        status: Some(Status::Excepted),
    };
    for finding in findings(policy, &evidence, from, end, &filter) {
        if let Some(id) = finding.exception_id {
            let entry = covered.entry(id.to_string()).or_insert((0, 0));
            entry.0 += 1;
            entry.1 += i64::try_from(finding.events).unwrap_or(i64::MAX);
        }
    }
    Ok(covered)
}

/// The policy's `exceptions` table with, for each, its state on `today`,
/// the days left and the findings and events it covered.
fn rows(
    policy: &GovernancePolicy,
    today: NaiveDate,
    covered: &BTreeMap<String, (i64, i64)>,
) -> Result<Answer, arrow::error::ArrowError> {
    let exceptions = &policy.exceptions;
    let listed = tables::exceptions(policy)?;
    let count = |index: usize| -> ArrayRef {
        Arc::new(Int64Array::from(
            exceptions
                .iter()
                .map(|e| {
                    covered
                        .get(&e.id)
                        .map_or(0, |(findings, events)| [*findings, *events][index])
                })
                .collect::<Vec<_>>(),
        ))
    };
    let mut fields: Vec<Field> = listed
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.extend([
        Field::new("state", DataType::Utf8, false),
        Field::new("days_left", DataType::Int64, false),
        Field::new("findings", DataType::Int64, false),
        Field::new("events", DataType::Int64, false),
    ]);
    let schema = Arc::new(Schema::new(fields));
    let mut columns: Vec<ArrayRef> = listed.columns().to_vec();
    columns.extend([
        Arc::new(
            exceptions
                .iter()
                .map(|e| Some(state(e, today)))
                .collect::<StringArray>(),
        ) as ArrayRef,
        Arc::new(Int64Array::from(
            exceptions
                .iter()
                .map(|e| (e.until - today).num_days().max(0))
                .collect::<Vec<_>>(),
        )),
        count(0),
        count(1),
    ]);
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    Ok(Answer {
        schema,
        batches: vec![batch],
    })
}
