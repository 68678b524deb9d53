//! The `violations` report (DESIGN §10): compliance gets a row per
//! finding; leadership gets counts per bucket, team and rule, each group
//! kept only when at least k people stand behind it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aitrail_query::engine::StoreSession;
use aitrail_query::output::json_rows;
use aitrail_query::reports::daily_sums::Kind;
use aitrail_query::reports::{PlanOutput, Report, ReportAnswer, ReportParams};
use aitrail_query::{Answer, QueryError};
use arrow::array::{ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::{Datelike, Days, NaiveDate};
use futures::FutureExt;
use futures::future::BoxFuture;

use crate::evidence::Evidence;
use crate::findings::{Filter, Finding, Status, findings};
use crate::ocsf::{self, OCSF_NDJSON};
use crate::policy::{GovernancePolicy, Rule};
use crate::required;

/// The violations report over the policy it was made with.
pub struct Violations {
    policy: Option<Arc<GovernancePolicy>>,
}

impl Violations {
    /// The report judging by `policy`; without one it answers that a
    /// policy is needed (so its name is known to help texts before a
    /// policy is loaded).
    pub fn new(policy: Option<Arc<GovernancePolicy>>) -> Violations {
        Violations { policy }
    }
}

/// Its name.
pub const VIOLATIONS: &str = "violations";

impl Report for Violations {
    fn name(&self) -> &'static str {
        VIOLATIONS
    }

    fn about(&self) -> &'static str {
        "findings of the governance policy: unapproved tools, data classes, red domains, \
         unreviewed AI changes, stale reviews (needs a policy)"
    }

    fn parameters(&self) -> &'static [&'static str] {
        &["from", "to", "rule", "status", "bucket"]
    }

    fn sums(&self, _: &ReportParams) -> Vec<Kind> {
        Vec::new()
    }

    fn media_types(&self) -> &'static [&'static str] {
        &[OCSF_NDJSON]
    }

    fn render(&self, _media_type: &str, answer: &ReportAnswer) -> Result<Vec<u8>, String> {
        if answer
            .rows
            .schema
            .field_with_name("first_event_id")
            .is_err()
        {
            return Err(
                "the OCSF form is of single findings, which only compliance tokens see; \
                        leadership gets counts"
                    .to_string(),
            );
        }
        let rows = json_rows(&answer.rows.batches).map_err(|err| err.to_string())?;
        ocsf::lines(&rows)
    }

    fn plan<'a>(
        &'a self,
        session: &'a StoreSession,
        params: &'a ReportParams,
        k: i64,
    ) -> BoxFuture<'a, Result<PlanOutput, QueryError>> {
        async move {
            let policy = required(self.policy.as_deref(), "the violations report")?;
            let filter = filter(params)?;
            let evidence = session
                .within_time(Evidence::read(
                    session,
                    policy,
                    params.from,
                    params.to,
                    filter.rule,
                ))
                .await?;
            let found = findings(policy, &evidence, params.from, params.to, &filter);
            let answer = if k == 0 {
                finding_rows(&found)
            } else {
                leadership_rows(&found, params, k)
            };
            Ok((
                answer.map_err(|err| QueryError::Invalid(err.to_string()))?,
                None,
            ))
        }
        .boxed()
    }
}

/// The `rule` and `status` parameters.
pub fn filter(params: &ReportParams) -> Result<Filter, QueryError> {
    let rule = params
        .other("rule")
        .map(|name| {
            Rule::parse(name).ok_or_else(|| {
                let names: Vec<&str> = Rule::ALL.iter().map(|rule| rule.name()).collect();
                QueryError::Invalid(format!("rule: `{name}` is not one of {}", names.join(", ")))
            })
        })
        .transpose()?;
    let status = params
        .other("status")
        .map(|name| {
            Status::parse(name).ok_or_else(|| {
                QueryError::Invalid(format!("status: `{name}` is not one of open, excepted"))
            })
        })
        .transpose()?;
    Ok(Filter { rule, status })
}

/// The columns of a finding row, in the order of DESIGN §10.
pub fn finding_schema() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        text("rule", false),
        text("status", false),
        text("exception_id", true),
        Field::new("day", DataType::Date32, false),
        text("org_id", true),
        text("user_id", true),
        text("team", true),
        text("tool", true),
        text("model", true),
        text("repository", true),
        text("change_id", true),
        Field::new("events", DataType::Int64, false),
        text("first_event_id", true),
        text("last_event_id", true),
    ]))
}

/// One row per finding.
pub fn finding_rows(found: &[Finding]) -> Result<Answer, arrow::error::ArrowError> {
    let text = |get: fn(&Finding) -> Option<&str>| -> ArrayRef {
        Arc::new(found.iter().map(get).collect::<StringArray>())
    };
    let columns: Vec<ArrayRef> = vec![
        text(|f| Some(f.rule.name())),
        text(|f| Some(f.status.name())),
        text(|f| f.exception_id.as_deref()),
        Arc::new(Date32Array::from(
            found
                .iter()
                .map(|f| f.day.to_epoch_days())
                .collect::<Vec<_>>(),
        )),
        text(|f| f.org_id.as_deref()),
        text(|f| f.user_id.as_deref()),
        text(|f| f.team.as_deref()),
        text(|f| f.tool.as_deref()),
        text(|f| f.model.as_deref()),
        text(|f| f.repository.as_deref()),
        text(|f| f.change_id.as_deref()),
        Arc::new(
            found
                .iter()
                .map(|f| i64::try_from(f.events).unwrap_or(i64::MAX))
                .collect::<Int64Array>(),
        ),
        text(|f| f.first_event_id.as_deref()),
        text(|f| f.last_event_id.as_deref()),
    ];
    let schema = finding_schema();
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    Ok(Answer {
        schema,
        batches: vec![batch],
    })
}

/// The first day of the bucket (day, ISO week, month) holding `day`.
fn bucket_start(day: NaiveDate, unit: &str) -> NaiveDate {
    match unit {
        "day" => day,
        "month" => day.with_day(1).unwrap_or(day),
        _ => day
            .checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))
            .unwrap_or(day),
    }
}

/// Per bucket, team and rule: findings, open and excepted ones, events;
/// a group of people's findings is kept only with at least `k` of them
/// (a stale review, nobody's, always is).
fn leadership_rows(
    found: &[Finding],
    params: &ReportParams,
    k: i64,
) -> Result<Answer, arrow::error::ArrowError> {
    #[derive(Default)]
    struct Counts<'a> {
        findings: i64,
        open: i64,
        excepted: i64,
        events: i64,
        users: BTreeSet<&'a str>,
    }
    let mut groups: BTreeMap<(NaiveDate, Option<&str>, Rule), Counts> = BTreeMap::new();
    for finding in found {
        let key = (
            bucket_start(finding.day, params.bucket.unit()),
            finding.team.as_deref(),
            finding.rule,
        );
        let counts = groups.entry(key).or_default();
        counts.findings += 1;
        match finding.status {
            Status::Open => counts.open += 1,
            Status::Excepted => counts.excepted += 1,
        }
        counts.events += i64::try_from(finding.events).unwrap_or(i64::MAX);
        if let Some(user) = finding.user_id.as_deref() {
            counts.users.insert(user);
        }
    }
    groups.retain(|_, counts| counts.users.is_empty() || counts.users.len() as i64 >= k);
    let schema = Arc::new(Schema::new(vec![
        Field::new("bucket_start", DataType::Date32, false),
        Field::new("team", DataType::Utf8, true),
        Field::new("rule", DataType::Utf8, false),
        Field::new("findings", DataType::Int64, false),
        Field::new("open", DataType::Int64, false),
        Field::new("excepted", DataType::Int64, false),
        Field::new("events", DataType::Int64, false),
    ]));
    let count = |get: fn(&Counts) -> i64| -> ArrayRef {
        Arc::new(groups.values().map(get).collect::<Int64Array>())
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Date32Array::from(
            groups
                .keys()
                .map(|(bucket, _, _)| bucket.to_epoch_days())
                .collect::<Vec<_>>(),
        )),
        Arc::new(
            groups
                .keys()
                .map(|(_, team, _)| *team)
                .collect::<StringArray>(),
        ),
        Arc::new(
            groups
                .keys()
                .map(|(_, _, rule)| Some(rule.name()))
                .collect::<StringArray>(),
        ),
        count(|c| c.findings),
        count(|c| c.open),
        count(|c| c.excepted),
        count(|c| c.events),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    Ok(Answer {
        schema,
        batches: vec![batch],
    })
}
