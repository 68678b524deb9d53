//! The sums the reports read: for each, the aggregation that makes it
//! (grouped by `date` among other columns, over the days `$from` to `$to`)
//! and the files a day's sums are made from, which tell when they must be
//! made again.

use aitrail_schemas::EventType;
use datafusion::common::ScalarValue;

/// The files a day's sums are made from, besides that day's files of the
/// table whose days they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Nothing else.
    OwnDay,
    /// The `ai_usage` and `code_changes` files of the day and of the days
    /// a lookback of this many hours reaches back to.
    Lookback(u32),
    /// Every file of the `incidents` table.
    AllIncidents,
}

/// One kind of sums: what a report says it reads
/// ([`crate::reports::Report::sums`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// The table whose days are summed.
    pub(crate) source: EventType,
    /// The name report sessions register the sums under.
    pub(crate) name: &'static str,
    /// The aggregation.
    pub(crate) sql: &'static str,
    pub(crate) reach: Reach,
}

const MICROS_PER_HOUR: i64 = 3_600_000_000;

impl Kind {
    /// `ai_usage` per day, user, session, team, tool and model: what the
    /// adoption and token-spend reports read.
    pub const AI_USAGE: Kind = Kind {
        source: EventType::AiUsage,
        name: "ai_usage_daily",
        sql: AI_USAGE_SUMS,
        reach: Reach::OwnDay,
    };

    /// `code_changes` per day, team and author: who count as developers.
    pub const CODE_CHANGES: Kind = Kind {
        source: EventType::CodeChange,
        name: "code_changes_daily",
        sql: CODE_CHANGES_SUMS,
        reach: Reach::OwnDay,
    };

    /// `code_changes` per day, author and AI assistance, each change some
    /// incident names as its cause on a row of its own: the incidents
    /// report's change-failure rates and causes.
    pub const CHANGE_OUTCOMES: Kind = Kind {
        source: EventType::CodeChange,
        name: "change_outcomes",
        sql: CHANGE_OUTCOMES,
        reach: Reach::AllIncidents,
    };

    /// Each incident's window of `lookback_hours`, per user: the incidents
    /// report's rows.
    pub const fn incident_windows(lookback_hours: u32) -> Kind {
        Kind {
            source: EventType::Incident,
            name: "incident_windows",
            sql: INCIDENT_WINDOWS,
            reach: Reach::Lookback(lookback_hours),
        }
    }

    /// The values of the aggregation's placeholders for the days `from`
    /// (included) to `to` (excluded), as `Date32` days.
    pub(crate) fn params(&self, from: i32, to: i32) -> Vec<(&'static str, ScalarValue)> {
        let mut params = vec![
            ("from", ScalarValue::Date32(Some(from))),
            ("to", ScalarValue::Date32(Some(to))),
        ];
        if let Reach::Lookback(hours) = self.reach {
            let days = lookback_days(hours);
            params.extend([
                (
                    "window_from",
                    ScalarValue::Date32(Some(from.saturating_sub(days))),
                ),
                ("lookback_days", ScalarValue::Int64(Some(i64::from(days)))),
                (
                    "lookback_us",
                    ScalarValue::Int64(Some(i64::from(hours) * MICROS_PER_HOUR)),
                ),
            ]);
        }
        params
    }
}

/// The days before its own that a window of `hours` ending on a day
/// reaches into.
pub(super) fn lookback_days(hours: u32) -> i32 {
    hours.div_ceil(24) as i32
}

/// `engaged`: some event of the group was an action its user started (an
/// operation other than `completion`, or an accepted suggestion).
/// `given_cost`: the sum of the costs events gave (null when none did).
/// `*_unpaid`: the tokens of events that gave no cost, which reports price.
const AI_USAGE_SUMS: &str = "SELECT date, user_id, session_id, team, tool, model,
       count(*) AS events,
       bool_or(operation <> 'completion' OR coalesce(accepted, false)) AS engaged,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(cache_read_tokens) AS cache_read_tokens,
       sum(cache_write_tokens) AS cache_write_tokens,
       sum(cost_usd) AS given_cost,
       sum(CASE WHEN cost_usd IS NULL THEN input_tokens ELSE 0 END) AS input_unpaid,
       sum(CASE WHEN cost_usd IS NULL THEN output_tokens ELSE 0 END) AS output_unpaid,
       sum(CASE WHEN cost_usd IS NULL THEN cache_read_tokens ELSE 0 END) AS cache_read_unpaid,
       sum(CASE WHEN cost_usd IS NULL THEN cache_write_tokens ELSE 0 END) AS cache_write_unpaid
FROM ai_usage WHERE date >= $from AND date < $to
GROUP BY date, user_id, session_id, team, tool, model";

const CODE_CHANGES_SUMS: &str = "SELECT date, team, user_id, count(*) AS changes
FROM code_changes WHERE date >= $from AND date < $to
GROUP BY date, team, user_id";

/// `failed_change_id`: the change's id when some incident, of any day,
/// names it as its cause (its latest cause, when its events name several);
/// null for the others, which are counted together.
const CHANGE_OUTCOMES: &str = concat!(
    "WITH causes AS (
    SELECT first_value(caused_by_change_id ",
    latest_incident_event_first!(),
    ") AS change_id
    FROM incidents WHERE caused_by_change_id IS NOT NULL GROUP BY incident_id
), failed AS (
    SELECT DISTINCT change_id FROM causes
)
SELECT c.date, c.ai_assisted, c.user_id, f.change_id AS failed_change_id, count(*) AS changes
FROM code_changes c LEFT JOIN failed f ON f.change_id = c.change_id
WHERE c.date >= $from AND c.date < $to
GROUP BY c.date, c.ai_assisted, c.user_id, f.change_id"
);

/// Per incident start (an incident's `date`, id and `started_at`: events
/// of one incident that agree on when it started count once) and user: the
/// changes to its repositories in the `lookback_hours` before it started
/// (how many, how many AI-assisted, with which tools) and the AI tokens
/// spent on them in the same window (all four counts), by that user; and
/// one row with no user and nothing counted, so that an incident with an
/// empty window is still there. The report keeps the earliest start of
/// each incident and takes its other attributes from its latest events.
///
/// Each incident is joined to the usage and changes of its repositories on
/// the days its window touches (an equality join on repository and date),
/// and only then filtered to the exact window: joining on the repository
/// alone would pair every usage row with every incident of its repository.
const INCIDENT_WINDOWS: &str = "WITH inc AS (
    SELECT DISTINCT date, incident_id, started_at, repository FROM (
        SELECT date, incident_id, occurred_at AS started_at, unnest(repositories) AS repository
        FROM incidents WHERE date >= $from AND date < $to)
), inc_days AS (
    SELECT date, incident_id, started_at, repository,
           unnest(generate_series(CAST(CAST(date AS INT) AS BIGINT) - $lookback_days,
                                  CAST(CAST(date AS INT) AS BIGINT))) AS day
    FROM inc
), window_rows AS (
    SELECT i.date, i.incident_id, i.started_at,
           c.user_id, true AS is_change, c.ai_assisted, c.ai_tools, CAST(0 AS BIGINT) AS tokens
    FROM inc_days i JOIN code_changes c ON c.repository = i.repository
        AND CAST(CAST(c.date AS INT) AS BIGINT) = i.day
    WHERE c.date >= $window_from AND c.date < $to AND c.occurred_at <= i.started_at
      AND CAST(c.occurred_at AS BIGINT) >= CAST(i.started_at AS BIGINT) - $lookback_us
    UNION ALL
    SELECT i.date, i.incident_id, i.started_at,
           u.user_id, false, false, NULL,
           u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_tokens
    FROM inc_days i JOIN ai_usage u ON u.repository = i.repository
        AND CAST(CAST(u.date AS INT) AS BIGINT) = i.day
    WHERE u.date >= $window_from AND u.date < $to AND u.occurred_at <= i.started_at
      AND CAST(u.occurred_at AS BIGINT) >= CAST(i.started_at AS BIGINT) - $lookback_us
    UNION ALL
    SELECT DISTINCT date, incident_id, started_at, NULL, false, false, NULL, CAST(0 AS BIGINT)
    FROM inc
)
SELECT date, incident_id, started_at, user_id,
       count(*) FILTER (WHERE is_change) AS changes,
       count(*) FILTER (WHERE is_change AND ai_assisted) AS ai_assisted_changes,
       array_distinct(flatten(array_agg(ai_tools) FILTER (WHERE ai_tools IS NOT NULL))) AS ai_tools,
       sum(tokens) AS tokens
FROM window_rows
GROUP BY date, incident_id, started_at, user_id";
