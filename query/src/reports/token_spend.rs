//! The token-spend report: per bucket and group, the four token counts and
//! what they cost. An event's own `cost_usd` wins; otherwise its tokens are
//! priced with the `model_prices` entry of its model valid on its date, and
//! tokens with neither are counted as `unpriced_tokens` (and cost nothing),
//! so a gap in the price table shows instead of hiding in a low total.

use super::{ReportParams, bucket_of, range_params};
use crate::context::{Answer, QueryError, StoreSession};
use crate::reports::GroupBy;

/// Runs the report; `k` is the k-anonymity threshold on distinct users.
pub async fn run(
    session: &StoreSession,
    params: &ReportParams,
    k: i64,
) -> Result<Answer, QueryError> {
    session
        .query_with_params(&sql(params), range_params(params, k))
        .await
}

fn sql(params: &ReportParams) -> String {
    let bucket = bucket_of(params.bucket, "u.date");
    let group = params
        .by
        .column()
        .map_or_else(|| "''".to_string(), |c| format!("u.{c}"));
    let group_column = if params.by == GroupBy::None {
        ""
    } else {
        "grp AS \"group\", "
    };
    format!(
        "WITH priced AS (
            SELECT {bucket} AS bucket_start, {group} AS grp, u.user_id,
                   u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens,
                   coalesce(u.cost_usd, (u.input_tokens * p.input + u.output_tokens * p.output
                       + u.cache_read_tokens * p.cache_read
                       + u.cache_write_tokens * p.cache_write) / 1000000.0) AS cost_usd,
                   CASE WHEN u.cost_usd IS NULL AND p.model IS NULL
                        THEN u.input_tokens + u.output_tokens + u.cache_read_tokens
                             + u.cache_write_tokens
                        ELSE 0 END AS unpriced_tokens
            FROM ai_usage u
            LEFT JOIN model_prices p ON p.model = u.model AND u.date >= p.valid_from
                AND (p.valid_until IS NULL OR u.date < p.valid_until)
            WHERE u.date >= $from AND u.date < $to
        )
        SELECT bucket_start, {group_column}sum(input_tokens) AS input_tokens,
               sum(output_tokens) AS output_tokens, sum(cache_read_tokens) AS cache_read_tokens,
               sum(cache_write_tokens) AS cache_write_tokens,
               coalesce(sum(cost_usd), 0.0) AS cost_usd, sum(unpriced_tokens) AS unpriced_tokens
        FROM priced
        GROUP BY bucket_start, grp
        HAVING count(DISTINCT user_id) >= $k
        ORDER BY bucket_start, grp"
    )
}
