//! The adoption report: per bucket and group, who used AI tools
//! (`active_users`), who started something with them (`engaged_users`), who
//! could have (`developers`: anyone in `ai_usage` or `code_changes`), and
//! who used them for the first time ever (`new_users`).
//!
//! `developers` is per team when grouped by team; grouped by tool, model or
//! user it is every developer of the bucket, so `adoption_rate` reads as
//! "the share of all developers who used this tool". A user is new to a
//! group in the bucket of their first usage in that group (grouped by tool:
//! their first use of that tool), if that usage is in the range.
//!
//! The plan reads `ai_usage` once for usage (up to `to`, so that first uses
//! before `from` are known) and aggregates it per day, user and session
//! before anything else: buckets and first uses are computed on those
//! aggregates, not on every event.

use super::{ReportParams, bucket_of};
use crate::reports::GroupBy;

/// The report as one SQL statement; `$k` is the k-anonymity threshold on
/// `active_users`.
pub(super) fn sql(params: &ReportParams) -> String {
    let bucket = bucket_of(params.bucket, "date");
    let first_bucket = bucket_of(params.bucket, "first_date");
    let group = params.by.column().unwrap_or("''");
    let (dev_group, dev_grp, dev_keys, dev_join) = if params.by == GroupBy::Team {
        (
            "team AS grp, ",
            "grp, ",
            "1, 2",
            " AND d.grp IS NOT DISTINCT FROM a.grp",
        )
    } else {
        ("", "", "1", "")
    };
    let group_column = if params.by == GroupBy::None {
        ""
    } else {
        "a.grp AS \"group\", "
    };
    format!(
        "WITH sessions AS (
            SELECT date, {group} AS grp, user_id, session_id, count(*) AS events,
                   bool_or(operation <> 'completion' OR coalesce(accepted, false)) AS engaged
            FROM ai_usage WHERE date < $to GROUP BY 1, 2, 3, 4
        ), usage AS (
            SELECT {bucket} AS bucket_start,
                   first_date >= $from AND {first_bucket} = {bucket} AS first_use,
                   grp, user_id, session_id, events, engaged
            FROM (SELECT *, min(date) OVER (PARTITION BY grp, user_id) AS first_date
                  FROM sessions)
            WHERE date >= $from
        ), active AS (
            SELECT bucket_start, grp, count(DISTINCT user_id) AS active_users,
                   count(DISTINCT CASE WHEN engaged THEN user_id END) AS engaged_users,
                   sum(events) AS events, count(DISTINCT session_id) AS sessions,
                   count(DISTINCT CASE WHEN first_use THEN user_id END)
                       AS new_users
            FROM usage GROUP BY 1, 2
        ), people AS (
            SELECT {bucket} AS bucket_start, {dev_grp}user_id FROM (
                SELECT DISTINCT date, {dev_group}user_id
                FROM ai_usage WHERE date >= $from AND date < $to
                UNION
                SELECT DISTINCT date, {dev_group}user_id
                FROM code_changes WHERE date >= $from AND date < $to
            )
        ), developers AS (
            SELECT bucket_start, {dev_grp}count(DISTINCT user_id) AS developers
            FROM people GROUP BY {dev_keys}
        )
        SELECT a.bucket_start, {group_column}a.active_users, a.engaged_users, d.developers,
               CAST(a.active_users AS DOUBLE) / d.developers AS adoption_rate,
               a.events, a.sessions, a.new_users
        FROM active a
        JOIN developers d ON d.bucket_start = a.bucket_start{dev_join}
        WHERE a.active_users >= $k
        ORDER BY a.bucket_start, a.grp"
    )
}
