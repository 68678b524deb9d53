//! The incidents report: for each incident started in the range, the code
//! changes to its repositories in the `lookback_hours` before it started
//! (how many, how many AI-assisted, with which tools), the AI tokens spent
//! on those repositories in the same window (all four counts), and whether
//! the change named as its cause was AI-assisted. The summary compares the
//! change-failure rate of AI-assisted and other changes made in the range,
//! a change having failed when some incident names it as its cause.
//!
//! Each incident is joined to the usage and changes of its repositories on
//! the days its window touches (an equality join on repository and date),
//! and only then filtered to the exact window: joining on the repository
//! alone would pair every usage row with every incident of its repository
//! over the whole range. The changes and the usage of every window are
//! gathered in one pass and aggregated once per incident.
//!
//! An incident's people are the authors of its changes and the users of
//! its tokens; an incident with fewer than k of them is suppressed, and so
//! is a summary side with fewer than k authors (it is then `null`).

use chrono::Days;
use datafusion::common::ScalarValue;
use serde_json::{Value, json};

use super::{ReportParams, date_value, range_params};
use crate::context::{Answer, QueryError, StoreSession};
use crate::output::json_rows;

const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// Runs the report and its summary; `k` is the k-anonymity threshold.
pub async fn run(
    session: &StoreSession,
    params: &ReportParams,
    k: i64,
) -> Result<(Answer, Value), QueryError> {
    let lookback_days = u64::from(params.lookback_hours.div_ceil(24));
    let window_from = params
        .from
        .checked_sub_days(Days::new(lookback_days))
        .unwrap_or(params.from);
    let mut bound = range_params(params, k);
    bound.push((
        "lookback_us",
        ScalarValue::Int64(Some(i64::from(params.lookback_hours) * MICROS_PER_HOUR)),
    ));
    bound.push(("window_from", date_value(window_from)));
    bound.push((
        "lookback_days",
        ScalarValue::Int64(Some(lookback_days as i64)),
    ));
    let rows = session.query_with_params(INCIDENTS, bound).await?;
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

const INCIDENTS: &str = "WITH inc AS (
    SELECT incident_id, severity, service, occurred_at AS started_at, caused_by_change_id,
           unnest(repositories) AS repository
    FROM incidents WHERE date >= $from AND date < $to
), inc_days AS (
    SELECT incident_id, started_at, repository,
           unnest(generate_series(CAST(CAST(CAST(started_at AS DATE) AS INT) AS BIGINT)
               - $lookback_days, CAST(CAST(CAST(started_at AS DATE) AS INT) AS BIGINT))) AS day
    FROM inc
), window_rows AS (
    SELECT i.incident_id, c.user_id, true AS is_change, c.ai_assisted, c.ai_tools,
           CAST(0 AS BIGINT) AS tokens
    FROM inc_days i JOIN code_changes c ON c.repository = i.repository
        AND CAST(CAST(c.date AS INT) AS BIGINT) = i.day
    WHERE c.date >= $window_from AND c.date < $to AND c.occurred_at <= i.started_at
      AND CAST(c.occurred_at AS BIGINT) >= CAST(i.started_at AS BIGINT) - $lookback_us
    UNION ALL
    SELECT i.incident_id, u.user_id, false, false, NULL,
           u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_tokens
    FROM inc_days i JOIN ai_usage u ON u.repository = i.repository
        AND CAST(CAST(u.date AS INT) AS BIGINT) = i.day
    WHERE u.date >= $window_from AND u.date < $to AND u.occurred_at <= i.started_at
      AND CAST(u.occurred_at AS BIGINT) >= CAST(i.started_at AS BIGINT) - $lookback_us
), per_incident AS (
    SELECT incident_id,
           count(*) FILTER (WHERE is_change) AS changes,
           count(*) FILTER (WHERE is_change AND ai_assisted) AS ai_assisted_changes,
           array_sort(array_distinct(flatten(
               array_agg(ai_tools) FILTER (WHERE ai_tools IS NOT NULL)))) AS ai_tools,
           sum(tokens) AS ai_tokens,
           count(DISTINCT user_id) AS users
    FROM window_rows GROUP BY incident_id
), causes AS (
    SELECT change_id, bool_or(ai_assisted) AS ai_assisted FROM code_changes GROUP BY change_id
), incident AS (
    SELECT DISTINCT incident_id, severity, service, started_at, caused_by_change_id FROM inc
)
SELECT i.incident_id, i.severity, i.service, i.started_at,
       coalesce(p.changes, 0) AS changes,
       coalesce(p.ai_assisted_changes, 0) AS ai_assisted_changes,
       CAST(p.ai_assisted_changes AS DOUBLE) / nullif(p.changes, 0) AS ai_share,
       coalesce(p.ai_tools, make_array()) AS ai_tools,
       coalesce(p.ai_tokens, 0) AS ai_tokens,
       c.ai_assisted AS cause_ai_assisted
FROM incident i
LEFT JOIN per_incident p ON p.incident_id = i.incident_id
LEFT JOIN causes c ON c.change_id = i.caused_by_change_id
WHERE coalesce(p.users, 0) >= $k
ORDER BY i.started_at, i.incident_id";

const SUMMARY: &str = "WITH failed AS (
    SELECT DISTINCT caused_by_change_id AS change_id FROM incidents
    WHERE caused_by_change_id IS NOT NULL
), changes AS (
    SELECT c.ai_assisted, c.user_id, f.change_id IS NOT NULL AS failed
    FROM code_changes c LEFT JOIN failed f ON f.change_id = c.change_id
    WHERE c.date >= $from AND c.date < $to
)
SELECT ai_assisted, count(*) AS changes, count(*) FILTER (WHERE failed) AS failed,
       CAST(count(*) FILTER (WHERE failed) AS DOUBLE) / count(*) AS rate
FROM changes GROUP BY ai_assisted
HAVING count(DISTINCT user_id) >= $k";
