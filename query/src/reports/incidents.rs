//! The incidents report: for each incident started in the range, the code
//! changes to its repositories in the `lookback_hours` before it started
//! (how many, how many AI-assisted, with which tools), the AI tokens spent
//! on those repositories in the same window (all four counts), and whether
//! the change named as its cause was AI-assisted. The summary compares the
//! change-failure rate of AI-assisted and other changes made in the range,
//! a change having failed when some incident names it as its cause.
//!
//! Both read sums (see [`super::daily_sums`]): each incident's window per
//! user (`incident_windows`, for the lookback asked for), and the changes
//! per day, author and AI assistance, the failed ones each on a row of
//! their own (`change_outcomes`).
//!
//! An incident may have several events (triggered, resolved, cause
//! found): it started at the earliest, and its severity, service and cause
//! are the latest given (DESIGN §9).
//!
//! An incident's people are the authors of its changes and the users of
//! its tokens; an incident with fewer than k of them is suppressed, and so
//! is a summary side with fewer than k authors (it is then `null`).

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::daily_sums::Kind;
use super::params::ReportParams;
use super::report::{PlanOutput, Report, range_params};
use crate::engine::{Answer, QueryError, StoreSession};
use crate::output::json_rows;

/// The incidents report.
pub struct Incidents;

impl Report for Incidents {
    fn name(&self) -> &'static str {
        "incidents"
    }

    fn about(&self) -> &'static str {
        "Changes before each incident; change-failure rates"
    }

    fn parameters(&self) -> &'static [&'static str] {
        &["from", "to", "lookback_hours"]
    }

    fn sums(&self, params: &ReportParams) -> Vec<Kind> {
        vec![
            Kind::CHANGE_OUTCOMES,
            Kind::incident_windows(params.lookback_hours),
        ]
    }

    fn plan<'a>(
        &'a self,
        session: &'a StoreSession,
        params: &'a ReportParams,
        k: i64,
    ) -> BoxFuture<'a, Result<PlanOutput, QueryError>> {
        async move {
            let (rows, summary) = run(session, params, k).await?;
            Ok((rows, Some(summary)))
        }
        .boxed()
    }
}

/// Runs the report and its summary; `k` is the k-anonymity threshold.
async fn run(
    session: &StoreSession,
    params: &ReportParams,
    k: i64,
) -> Result<(Answer, Value), QueryError> {
    let rows = session
        .query_with_params(INCIDENTS, range_params(params, k))
        .await?;
    let sides = session
        .query_with_params(SUMMARY, range_params(params, k))
        .await?;
    let sides = json_rows(&sides.batches).map_err(|err| QueryError::Engine(err.into()))?;
    let side = |ai: bool| {
        sides
            .iter()
            .find(|row| row["ai_assisted"] == json!(ai))
            .map_or(Value::Null, |row| {
                json!({"changes": row["changes"], "failed": row["failed"], "rate": row["rate"]})
            })
    };
    let summary = json!({"ai_assisted": side(true), "other": side(false)});
    Ok((rows, summary))
}

/// An incident is the earliest start of its events, and its severity,
/// service and cause are those of its latest events that give one
/// (DESIGN §9); its windows are those of that start.
const INCIDENTS: &str = concat!(
    "WITH windows AS (
    SELECT * FROM incident_windows WHERE date >= $from AND date < $to
), incident AS (
    SELECT incident_id, min(occurred_at) AS started_at,
           first_value(severity ",
    latest_incident_event_first!(),
    ") AS severity,
           first_value(service ",
    latest_incident_event_first!(),
    ") FILTER (WHERE service IS NOT NULL) AS service,
           first_value(caused_by_change_id ",
    latest_incident_event_first!(),
    ") FILTER (WHERE caused_by_change_id IS NOT NULL) AS caused_by_change_id
    FROM incidents WHERE incident_id IN (SELECT incident_id FROM windows)
    GROUP BY incident_id
), per_incident AS (
    SELECT w.incident_id, sum(w.changes) AS changes,
           sum(w.ai_assisted_changes) AS ai_assisted_changes,
           array_sort(array_distinct(flatten(
               array_agg(w.ai_tools) FILTER (WHERE w.ai_tools IS NOT NULL)))) AS ai_tools,
           sum(w.tokens) AS ai_tokens,
           count(DISTINCT w.user_id) AS users
    FROM windows w JOIN incident i
        ON i.incident_id = w.incident_id AND i.started_at = w.started_at
    GROUP BY w.incident_id
), causes AS (
    SELECT failed_change_id AS change_id, bool_or(ai_assisted) AS ai_assisted
    FROM change_outcomes WHERE failed_change_id IS NOT NULL GROUP BY failed_change_id
)
SELECT i.incident_id, i.severity, i.service, i.started_at,
       p.changes, p.ai_assisted_changes,
       CAST(p.ai_assisted_changes AS DOUBLE) / nullif(p.changes, 0) AS ai_share,
       coalesce(p.ai_tools, make_array()) AS ai_tools,
       p.ai_tokens,
       c.ai_assisted AS cause_ai_assisted
FROM incident i
JOIN per_incident p ON p.incident_id = i.incident_id
LEFT JOIN causes c ON c.change_id = i.caused_by_change_id
WHERE p.users >= $k
ORDER BY i.started_at, i.incident_id"
);

const SUMMARY: &str = "SELECT ai_assisted, sum(changes) AS changes,
       coalesce(sum(changes) FILTER (WHERE failed_change_id IS NOT NULL), 0) AS failed,
       CAST(coalesce(sum(changes) FILTER (WHERE failed_change_id IS NOT NULL), 0) AS DOUBLE)
           / sum(changes) AS rate
FROM change_outcomes WHERE date >= $from AND date < $to
GROUP BY ai_assisted
HAVING count(DISTINCT user_id) >= $k";
