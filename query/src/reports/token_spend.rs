//! The token-spend report: per bucket and group, the four token counts and
//! what they cost. An event's own `cost_usd` wins; otherwise its tokens are
//! priced with the `model_prices` entry of its model valid on its date, and
//! tokens with neither are counted as `unpriced_tokens` (and cost nothing),
//! so a gap in the price table shows instead of hiding in a low total.
//!
//! The per-day sums of `ai_usage` (see [`super::daily_sums`]) are summed
//! per day, model and user first, and the prices joined to those sums: the
//! price of a model is the same all day.

use super::params::{GroupBy, ReportParams};
use super::report::{BucketReport, bucket_of};

/// The token-spend report.
pub const TOKEN_SPEND: BucketReport = BucketReport {
    name: "token-spend",
    about: "Token counts and cost, priced with `[[prices]]`",
    sql,
};

/// The report as one SQL statement; `$k` is the k-anonymity threshold on
/// distinct users.
fn sql(params: &ReportParams) -> String {
    let bucket = bucket_of(params.bucket, "d.date");
    let group = params.by.column().unwrap_or("''");
    let group_column = if params.by == GroupBy::None {
        ""
    } else {
        "grp AS \"group\", "
    };
    format!(
        "WITH daily AS (
            SELECT date, {group} AS grp, model, user_id,
                   sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
                   sum(cache_read_tokens) AS cache_read_tokens,
                   sum(cache_write_tokens) AS cache_write_tokens,
                   coalesce(sum(given_cost), 0.0) AS given_cost,
                   sum(input_unpaid) AS input_unpaid, sum(output_unpaid) AS output_unpaid,
                   sum(cache_read_unpaid) AS cache_read_unpaid,
                   sum(cache_write_unpaid) AS cache_write_unpaid
            FROM ai_usage_daily WHERE date >= $from AND date < $to GROUP BY 1, 2, 3, 4
        ), priced AS (
            SELECT {bucket} AS bucket_start, d.grp, d.user_id,
                   d.input_tokens, d.output_tokens, d.cache_read_tokens, d.cache_write_tokens,
                   d.given_cost + coalesce((d.input_unpaid * p.input
                       + d.output_unpaid * p.output + d.cache_read_unpaid * p.cache_read
                       + d.cache_write_unpaid * p.cache_write) / 1000000.0, 0.0) AS cost_usd,
                   CASE WHEN p.model IS NULL
                        THEN d.input_unpaid + d.output_unpaid + d.cache_read_unpaid
                             + d.cache_write_unpaid
                        ELSE 0 END AS unpriced_tokens
            FROM daily d
            LEFT JOIN model_prices p ON p.model = d.model AND d.date >= p.valid_from
                AND (p.valid_until IS NULL OR d.date < p.valid_until)
        )
        SELECT bucket_start, {group_column}sum(input_tokens) AS input_tokens,
               sum(output_tokens) AS output_tokens, sum(cache_read_tokens) AS cache_read_tokens,
               sum(cache_write_tokens) AS cache_write_tokens,
               sum(cost_usd) AS cost_usd, sum(unpriced_tokens) AS unpriced_tokens
        FROM priced
        GROUP BY bucket_start, grp
        HAVING count(DISTINCT user_id) >= $k
        ORDER BY bucket_start, grp"
    )
}
