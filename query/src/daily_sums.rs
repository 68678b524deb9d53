//! Per-day sums of the event tables, kept between reports: what the
//! adoption and token-spend reports read instead of every event.
//!
//! `ai_usage` is summed per day, user, session, team, tool and model: on
//! 10M generated events 11 times fewer rows than the events (one per
//! session, mostly), from which every figure of the two reports can be
//! summed: counts, token sums, given costs, the tokens with no given cost
//! (priced per day), whether a session had an action its user started.
//! `code_changes` is summed per day, team and user, who count as
//! developers. The sums are kept per day and worked out again only for the
//! days whose files changed since the last report (new commits land on
//! today; compaction and retention rewrite or remove old days), by
//! DataFusion aggregations over those days' partitions.

use std::collections::BTreeMap;
use std::sync::Arc;

use aitrail_schemas::EventType;
use arrow::array::AsArray;
use arrow::compute::{concat_batches, partition, sort_to_indices, take, take_record_batch};
use arrow::datatypes::{Date32Type, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::common::{Result, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::prelude::{col, lit};

use crate::context::{QueryError, StoreSession};
use crate::snapshot_scan::{DayFiles, SnapshotScan};

/// Events summed by one aggregation at most (unless one day holds more):
/// ≈ 90k sums on generated data, well within a query's memory limit and
/// time.
const ROWS_PER_AGGREGATION: usize = 1_000_000;

/// The sums of `ai_usage`. `engaged`: some event of the group was an action
/// its user started (an operation other than `completion`, or an accepted
/// suggestion). `given_cost`: the sum of the costs events gave (null when
/// none did). `*_unpaid`: the tokens of events that gave no cost, which
/// reports price.
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
FROM ai_usage GROUP BY date, user_id, session_id, team, tool, model";

/// The sums of `code_changes`.
const CODE_CHANGES_SUMS: &str = "SELECT date, team, user_id, count(*) AS changes
FROM code_changes GROUP BY date, team, user_id";

/// The per-day sums of one table, as of the snapshot last refreshed
/// against.
pub struct DailySums {
    /// The table summed.
    source: EventType,
    /// The name report sessions register the sums under.
    name: &'static str,
    /// The aggregation, grouped by `date` among other columns.
    sql: &'static str,
    days: BTreeMap<i32, Day>,
    /// The table version the sums were last brought up to date with.
    version: Option<u64>,
}

/// One day's sums and the files they were summed from.
struct Day {
    files: DayFiles,
    sums: RecordBatch,
}

impl DailySums {
    /// `ai_usage`'s sums, registered as `ai_usage_daily`.
    pub fn ai_usage() -> Self {
        DailySums::of(EventType::AiUsage, "ai_usage_daily", AI_USAGE_SUMS)
    }

    /// `code_changes`' sums, registered as `code_changes_daily`.
    pub fn code_changes() -> Self {
        DailySums::of(
            EventType::CodeChange,
            "code_changes_daily",
            CODE_CHANGES_SUMS,
        )
    }

    /// The sums of every table the reports sum.
    pub fn all() -> [DailySums; 2] {
        [DailySums::ai_usage(), DailySums::code_changes()]
    }

    fn of(source: EventType, name: &'static str, sql: &'static str) -> Self {
        DailySums {
            source,
            name,
            sql,
            days: BTreeMap::new(),
            version: None,
        }
    }

    /// The name report sessions register the sums under.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Registers the sums in `session` as a view: worked out by each query
    /// that reads them, over the days it reads (its `date` filters reach
    /// the table's partitions). For a process that makes one report, where
    /// keeping sums would cost a whole pass over the table first.
    pub async fn register_view(&self, session: &StoreSession) -> Result<(), QueryError> {
        let view = session.context().sql(self.sql).await?.into_view();
        session.context().register_table(self.name, view)?;
        Ok(())
    }

    /// Brings the sums up to date with the table `session` reads, summing
    /// again only the days whose files changed, and returns them as a
    /// table. Days are summed a million events at a time, each run kept as
    /// soon as it is done: memory stays bounded on a store of any age,
    /// and a refresh cut short (by the query timeout) is resumed by the
    /// next.
    pub async fn refresh(&mut self, session: &StoreSession) -> Result<MemTable, QueryError> {
        let ctx = session.context();
        let frame = ctx.sql(self.sql).await?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let provider = ctx.table_provider(self.source.table_name()).await?;
        let (files, version) = match provider.downcast_ref::<SnapshotScan>() {
            Some(scan) => (scan.files_by_date()?, Some(scan.version())),
            None => (BTreeMap::new(), None),
        };
        if version.is_some() && version < self.version {
            // A report that started before the last refresh: the newer
            // sums serve it too, rather than being turned back (and days
            // retention has since purged being read again).
            return self.table(session, schema);
        }
        self.days.retain(|day, _| files.contains_key(day));
        let stale: Vec<i32> = files
            .iter()
            .filter(|(day, now)| self.days.get(day).is_none_or(|known| known.files != **now))
            .map(|(day, _)| *day)
            .collect();
        if !stale.is_empty() {
            tracing::debug!(
                table = self.source.table_name(),
                days = stale.len(),
                "summing days whose files changed"
            );
        }
        for chunk in chunks(&stale, &files) {
            let days = chunk
                .iter()
                .map(|day| lit(ScalarValue::Date32(Some(*day))))
                .collect();
            let batches = frame
                .clone()
                .filter(col("date").in_list(days, false))?
                .collect()
                .await?;
            let mut by_day = split_by_day(&schema, &batches)?;
            for day in chunk {
                let sums = by_day
                    .remove(day)
                    .unwrap_or_else(|| RecordBatch::new_empty(Arc::clone(&schema)));
                let files = files[day].clone();
                self.days.insert(*day, Day { files, sums });
            }
        }
        self.version = version;
        self.table(session, schema)
    }

    /// The sums as a table of `schema`, the days spread over the session's
    /// partitions.
    fn table(&self, session: &StoreSession, schema: SchemaRef) -> Result<MemTable, QueryError> {
        let partitions = session.context().copied_config().target_partitions().max(1);
        let mut batches = vec![Vec::new(); partitions];
        for (index, day) in self.days.values().enumerate() {
            batches[index % partitions].push(day.sums.clone());
        }
        Ok(MemTable::try_new(schema, batches)?)
    }
}

/// `days` in runs of consecutive entries of at most
/// [`ROWS_PER_AGGREGATION`] events by `files`' counts (a bigger day is a
/// run of its own).
fn chunks<'a>(days: &'a [i32], files: &BTreeMap<i32, DayFiles>) -> Vec<&'a [i32]> {
    let mut chunks = Vec::new();
    let (mut start, mut rows) = (0, 0);
    for (index, day) in days.iter().enumerate() {
        let day_rows = files[day].rows;
        if index > start && rows + day_rows > ROWS_PER_AGGREGATION {
            chunks.push(&days[start..index]);
            (start, rows) = (index, 0);
        }
        rows += day_rows;
    }
    if start < days.len() {
        chunks.push(&days[start..]);
    }
    chunks
}

/// The rows of `batches` by their `date`, each day in arrays of its own:
/// a slice of a larger batch would keep all of it alive, and DataFusion
/// counts a slice's memory as the whole of the arrays it is cut from.
fn split_by_day(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<BTreeMap<i32, RecordBatch>> {
    let sums = concat_batches(schema, batches)?;
    let mut days = BTreeMap::new();
    if sums.num_rows() == 0 {
        return Ok(days);
    }
    let date = sums
        .column_by_name("date")
        .expect("the sums are grouped by date");
    let order = sort_to_indices(date, None, None)?;
    let dates = take(date, &order, None)?;
    for range in partition(std::slice::from_ref(&dates))?.ranges() {
        let day = dates.as_primitive::<Date32Type>().value(range.start);
        let rows = order.slice(range.start, range.len());
        days.insert(day, take_record_batch(&sums, &rows)?);
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use aitrail_schemas::ValidatorConfig;
    use aitrail_store::policy::Policy;
    use aitrail_store::retention::purge::remove_partitions;
    use aitrail_store::rows::Position;
    use aitrail_store::sink::{BatchLimits, EventSink};
    use aitrail_store::writer::StoreWriter;
    use aitrail_store::{StoreRoot, table::open_existing};
    use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

    use crate::context::StoreTables;
    use crate::limits::Limits;
    use crate::output::json_rows;
    use crate::prices::Prices;

    use super::*;

    fn usage(id: &str, day: &str, session: &str) -> String {
        serde_json::json!({
            "schema_version": 1, "event_id": id, "event_type": "ai_usage",
            "occurred_at": format!("{day}T10:00:00Z"), "org_id": "acme",
            "user_id": "u1", "tool": "cursor", "model": "m", "session_id": session,
            "input_tokens": 10, "output_tokens": 1,
        })
        .to_string()
    }

    fn change(id: &str, day: &str) -> String {
        serde_json::json!({
            "schema_version": 1, "event_id": id, "event_type": "code_change",
            "occurred_at": format!("{day}T11:00:00Z"), "org_id": "acme",
            "change_id": id, "kind": "commit", "repository": "github.com/acme/web",
            "user_id": "u2", "team": "web", "ai_assisted": true,
        })
        .to_string()
    }

    async fn commit(root: &StoreRoot, lines: &[String]) {
        let now: DateTime<Utc> = "2026-11-24T00:00:00Z".parse().unwrap();
        let mut sink = EventSink::new(
            ValidatorConfig::default(),
            Policy::default(),
            BatchLimits::default(),
        );
        for (n, line) in lines.iter().enumerate() {
            let position = Position {
                partition: -1,
                offset: n as i64 + 1,
            };
            sink.accept(line.as_bytes(), position, now).unwrap();
        }
        let mut writer = StoreWriter::open(root, TimeDelta::hours(24)).await.unwrap();
        writer.commit(sink.take_batch(), &[]).await.unwrap();
    }

    /// Retention's removal of `ai_usage`'s `day` from the table (its files
    /// stay until a vacuum).
    async fn purge(root: &StoreRoot, day: &str) {
        let mut table = open_existing(root, "ai_usage").await.unwrap().unwrap();
        let day: NaiveDate = day.parse().unwrap();
        remove_partitions(&mut table, &[("standard".to_string(), day)], 1)
            .await
            .unwrap();
    }

    /// Events, sessions and unpaid tokens per day, and changes per day and
    /// author, as the reports' sums give them.
    async fn per_day(tables: &StoreTables) -> serde_json::Value {
        let session = tables.session_with_daily_sums(Limits::NONE).await.unwrap();
        let mut answers = Vec::new();
        for sql in [
            "SELECT CAST(date AS VARCHAR) AS day, sum(events) AS events,
                    count(session_id) AS sessions, sum(input_unpaid) AS unpaid
             FROM ai_usage_daily GROUP BY date ORDER BY date",
            "SELECT CAST(date AS VARCHAR) AS day, team, user_id, changes
             FROM code_changes_daily ORDER BY date",
        ] {
            let answer = session.query(sql).await.unwrap();
            answers.push(serde_json::Value::Array(
                json_rows(&answer.batches).unwrap(),
            ));
        }
        serde_json::json!({"usage": answers[0], "changes": answers[1]})
    }

    #[tokio::test]
    async fn only_the_days_whose_files_changed_are_summed_again() {
        let dir = tempfile::tempdir().unwrap();
        let root = StoreRoot::parse(dir.path().to_str().unwrap()).unwrap();
        let tables = StoreTables::new(root.clone(), Prices::default()).unwrap();
        assert_eq!(
            per_day(&tables).await,
            serde_json::json!({"usage": [], "changes": []})
        );

        commit(
            &root,
            &[
                usage("a", "2026-11-20", "s1"),
                usage("b", "2026-11-20", "s1"),
                usage("c", "2026-11-10", "s2"),
                change("x", "2026-11-20"),
            ],
        )
        .await;
        assert_eq!(
            per_day(&tables).await,
            serde_json::json!({
                "usage": [
                    {"day": "2026-11-10", "events": 1, "sessions": 1, "unpaid": 10},
                    {"day": "2026-11-20", "events": 2, "sessions": 1, "unpaid": 20},
                ],
                "changes": [{"day": "2026-11-20", "team": "web", "user_id": "u2", "changes": 1}],
            })
        );

        // The 10th's file is gone from storage: summing that day again
        // would fail, so the next answer shows it was kept, not re-read.
        for entry in
            std::fs::read_dir(dir.path().join("ai_usage/tier=standard/date=2026-11-10")).unwrap()
        {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        commit(
            &root,
            &[usage("d", "2026-11-20", "s3"), change("y", "2026-11-20")],
        )
        .await;
        assert_eq!(
            per_day(&tables).await,
            serde_json::json!({
                "usage": [
                    {"day": "2026-11-10", "events": 1, "sessions": 1, "unpaid": 10},
                    {"day": "2026-11-20", "events": 3, "sessions": 2, "unpaid": 30},
                ],
                "changes": [{"day": "2026-11-20", "team": "web", "user_id": "u2", "changes": 2}],
            })
        );

        purge(&root, "2026-11-10").await;
        assert_eq!(
            per_day(&tables).await,
            serde_json::json!({
                "usage": [{"day": "2026-11-20", "events": 3, "sessions": 2, "unpaid": 30}],
                "changes": [{"day": "2026-11-20", "team": "web", "user_id": "u2", "changes": 2}],
            })
        );
    }

    #[tokio::test]
    async fn a_report_on_an_older_snapshot_reads_the_newer_sums() {
        let dir = tempfile::tempdir().unwrap();
        let root = StoreRoot::parse(dir.path().to_str().unwrap()).unwrap();
        commit(
            &root,
            &[
                usage("a", "2026-11-10", "s1"),
                usage("b", "2026-11-20", "s2"),
            ],
        )
        .await;
        let tables = StoreTables::new(root.clone(), Prices::default()).unwrap();
        let older = tables.session(Limits::NONE).await.unwrap();

        // Retention purges the 10th and vacuums its files away.
        purge(&root, "2026-11-10").await;
        std::fs::remove_dir_all(dir.path().join("ai_usage/tier=standard/date=2026-11-10")).unwrap();
        let newer = tables.session(Limits::NONE).await.unwrap();

        let mut sums = DailySums::ai_usage();
        sums.refresh(&newer).await.unwrap();
        let table = sums.refresh(&older).await.unwrap();
        older
            .context()
            .register_table("sums", Arc::new(table))
            .unwrap();
        let days = older
            .query("SELECT CAST(date AS VARCHAR) AS day, sum(events) AS events FROM sums GROUP BY date")
            .await
            .unwrap();
        assert_eq!(
            serde_json::Value::Array(json_rows(&days.batches).unwrap()),
            serde_json::json!([{"day": "2026-11-20", "events": 1}])
        );
    }

    #[test]
    fn days_are_summed_in_runs_of_at_most_a_million_events() {
        let rows = [600_000, 300_000, 200_000, 2_000_000, 10, 20];
        let files: BTreeMap<i32, DayFiles> = rows
            .iter()
            .enumerate()
            .map(|(day, rows)| {
                let files = DayFiles {
                    paths: vec![format!("day-{day}")],
                    rows: *rows,
                };
                (day as i32, files)
            })
            .collect();
        let days: Vec<i32> = files.keys().copied().collect();
        assert_eq!(
            chunks(&days, &files),
            vec![&[0, 1][..], &[2][..], &[3][..], &[4, 5][..]]
        );
        assert!(chunks(&[], &files).is_empty());
    }
}
