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
//! `sessions` counts each user's distinct sessions, summed over the users
//! of the group (a session is one user's).
//!
//! The plan has no distinct counts over many groups (DataFusion keeps a
//! hash set per group for those: a daily report by team over two years of
//! 1,120 developers took 10.6 s with them, 4.1 s without). It aggregates
//! the per-day sums of `ai_usage` (see [`super::daily_sums`]) per bucket,
//! group, user and session, then per user, then per group, each level a
//! plain count or sum; developers come from the per-day sums of both
//! tables. First uses come
//! from their own aggregation (each user's first day per group, over
//! everything before `to`), counted per bucket and joined to the buckets:
//! a window over the sessions would sort every one of them, and the sort
//! counts each slice of its input batches as if it owned the whole of
//! them, so the per-query memory limit tripped on data a fraction that
//! size.

use super::params::{GroupBy, ReportParams};
use super::report::{BucketReport, bucket_of};

/// The adoption report.
pub const ADOPTION: BucketReport = BucketReport {
    name: "adoption",
    about: "Active, engaged and new users, and adoption rate",
    sql,
};

/// The report as one SQL statement; `$k` is the k-anonymity threshold on
/// `active_users`.
fn sql(params: &ReportParams) -> String {
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
            SELECT {bucket} AS bucket_start, {group} AS grp, user_id, session_id,
                   sum(events) AS events, bool_or(engaged) AS engaged
            FROM ai_usage_daily WHERE date >= $from AND date < $to GROUP BY 1, 2, 3, 4
        ), users AS (
            SELECT bucket_start, grp, user_id, sum(events) AS events,
                   bool_or(engaged) AS engaged, count(session_id) AS sessions
            FROM sessions GROUP BY 1, 2, 3
        ), active AS (
            SELECT bucket_start, grp, count(*) AS active_users,
                   count(*) FILTER (WHERE engaged) AS engaged_users,
                   sum(events) AS events, sum(sessions) AS sessions
            FROM users GROUP BY 1, 2
        ), first_uses AS (
            SELECT {first_bucket} AS bucket_start, grp, count(*) AS new_users
            FROM (SELECT {group} AS grp, user_id, min(date) AS first_date
                  FROM ai_usage_daily WHERE date < $to GROUP BY 1, 2)
            WHERE first_date >= $from
            GROUP BY 1, 2
        ), people AS (
            SELECT {bucket} AS bucket_start, {dev_grp}user_id FROM (
                SELECT DISTINCT date, {dev_group}user_id
                FROM ai_usage_daily WHERE date >= $from AND date < $to
                UNION
                SELECT DISTINCT date, {dev_group}user_id
                FROM code_changes_daily WHERE date >= $from AND date < $to
            )
        ), developers AS (
            SELECT bucket_start, {dev_grp}count(DISTINCT user_id) AS developers
            FROM people GROUP BY {dev_keys}
        )
        SELECT a.bucket_start, {group_column}a.active_users, a.engaged_users, d.developers,
               CAST(a.active_users AS DOUBLE) / d.developers AS adoption_rate,
               a.events, a.sessions, coalesce(f.new_users, 0) AS new_users
        FROM active a
        JOIN developers d ON d.bucket_start = a.bucket_start{dev_join}
        LEFT JOIN first_uses f ON f.bucket_start = a.bucket_start
            AND f.grp IS NOT DISTINCT FROM a.grp
        WHERE a.active_users >= $k
        ORDER BY a.bucket_start, a.grp"
    )
}
