//! Commits batches of rows to the tables: data files first, then one Delta
//! commit per table that adds them together with the application
//! transactions (Kafka offsets) they contain.
//!
//! A failure after the files are written and before the commit leaves each
//! table exactly as it was: Delta readers see only committed files, and the
//! orphans are removed by vacuum.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use aitrail_schemas::{EventType, RejectReason, Rejection};
use arrow::array::{AsArray, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Date32Type};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use chrono::{NaiveDate, TimeDelta};
use deltalake::DeltaTable;
use deltalake::kernel::scalars::ScalarExt;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::{Action, Add, Transaction};
use deltalake::parquet::basic::{Compression, ZstdLevel};
use deltalake::parquet::file::properties::{EnabledStatistics, WriterProperties};
use deltalake::parquet::schema::types::ColumnPath;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter, WriteMode};
use foldhash::HashMap;
use futures::{StreamExt, TryStreamExt};
use indexmap::IndexMap;
use serde_json::Value;

use crate::compact::{MergePolicy, merge_full_classes};
use crate::dedup::{AddedIds, DEFAULT_RECENT_IDS, RecentIds, find_duplicates};
use crate::error::StoreError;
use crate::location::StoreRoot;
use crate::rows::{Position, TableBatch, event_id_column};
use crate::table::{
    PARTITION_COLUMNS, PartitionKey, commit_signed, open_or_create, recorded_version,
};

/// The tables of one store, open for appending.
pub struct StoreWriter {
    root: StoreRoot,
    tables: Vec<OpenTable>,
    dedup_window: TimeDelta,
    merge_policy: MergePolicy,
    merged_files: u64,
}

/// One table and the ids recently stored in it.
struct OpenTable {
    event_type: EventType,
    table: DeltaTable,
    recent: RecentIds,
}

/// A row refused at commit time because its `event_id` is already stored.
#[derive(Debug, Clone)]
pub struct Duplicate {
    /// Where the row came from.
    pub position: Position,
    /// The event's id.
    pub event_id: String,
    /// The event as it would have been stored (see
    /// [`TableBatch::events_as_json`]).
    pub event: Value,
}

impl Duplicate {
    /// The `duplicate` rejection every writer reports for this row.
    pub fn rejection(&self) -> Rejection {
        Rejection {
            reason: RejectReason::Duplicate,
            detail: format!(
                "event_id `{}` is already stored within the dedup window",
                self.event_id
            ),
            event: Some(self.event.clone()),
        }
    }
}

/// What one commit did.
#[derive(Debug, Default)]
pub struct CommitOutcome {
    /// Rows committed.
    pub rows: usize,
    /// Rows refused as duplicates.
    pub duplicates: Vec<Duplicate>,
}

/// Data files written for one table and not yet committed.
pub struct StagedFiles {
    event_type: EventType,
    adds: Vec<Add>,
    ids: Vec<AddedIds>,
    partitions: Vec<PartitionKey>,
    rows: usize,
}

impl StoreWriter {
    /// Opens (creating if needed) every event table under `root`.
    pub async fn open(root: &StoreRoot, dedup_window: TimeDelta) -> Result<Self, StoreError> {
        let mut tables = Vec::new();
        for event_type in EventType::ALL {
            tables.push(OpenTable {
                event_type: *event_type,
                table: open_or_create(root, *event_type).await?,
                recent: RecentIds::new(DEFAULT_RECENT_IDS),
            });
        }
        Ok(StoreWriter {
            root: root.clone(),
            tables,
            dedup_window,
            merge_policy: MergePolicy::default(),
            merged_files: 0,
        })
    }

    /// When the partitions this writer commits to have their small files
    /// merged (by default [`MergePolicy::default`]; [`MergePolicy::OFF`]
    /// never).
    pub fn with_merge_policy(mut self, policy: MergePolicy) -> Self {
        self.merge_policy = policy;
        self
    }

    /// When this writer merges small files.
    pub fn merge_policy(&self) -> MergePolicy {
        self.merge_policy
    }

    /// Files merged away by continuous compaction since the writer opened.
    pub fn merged_files(&self) -> u64 {
        self.merged_files
    }

    /// The store this writes to.
    pub fn root(&self) -> &StoreRoot {
        &self.root
    }

    /// Bounds the ids each table's duplicate index holds (by default
    /// [`DEFAULT_RECENT_IDS`]); a batch whose dates hold more is checked
    /// against the table itself.
    pub fn with_recent_ids_limit(mut self, limit: usize) -> Self {
        for open in &mut self.tables {
            open.recent = RecentIds::new(limit);
        }
        self
    }

    /// The open table of `event_type`.
    pub fn table(&self, event_type: EventType) -> &DeltaTable {
        &self.open_table(event_type).table
    }

    fn open_table(&self, event_type: EventType) -> &OpenTable {
        self.tables
            .iter()
            .find(|open| open.event_type == event_type)
            .expect("every event type's table is opened")
    }

    fn open_table_mut(&mut self, event_type: EventType) -> &mut OpenTable {
        self.tables
            .iter_mut()
            .find(|open| open.event_type == event_type)
            .expect("every event type's table is opened")
    }

    /// Drops duplicates from `batches`, writes the rest and commits it. With
    /// `transactions`, every table gets a commit carrying them, even one that
    /// got no rows, so that each table's recorded offsets cover the batch.
    pub async fn commit(
        &mut self,
        mut batches: Vec<TableBatch>,
        transactions: &[Transaction],
    ) -> Result<CommitOutcome, StoreError> {
        let mut duplicates = Vec::new();
        for batch in &mut batches {
            duplicates.extend(self.take_duplicates(batch).await?);
        }
        duplicates.sort_by_key(|d| d.position);
        let rows = self
            .commit_unique(&batches, |_| transactions.to_vec())
            .await?;
        Ok(CommitOutcome { rows, duplicates })
    }

    /// Removes from `batch` the rows whose `event_id` is already stored (or
    /// earlier in the batch) within the dedup window, and returns them in
    /// input order. Split from [`StoreWriter::commit_unique`] so that a
    /// writer whose rejects must be durable before the commit (the Kafka
    /// ingest's dead-letter topic) can record them in between.
    pub async fn take_duplicates(
        &mut self,
        batch: &mut TableBatch,
    ) -> Result<Vec<Duplicate>, StoreError> {
        let window = self.dedup_window;
        let open = self.open_table_mut(batch.event_type);
        let duplicate = find_duplicates(&open.table, &mut open.recent, batch, window).await?;
        let rows: Vec<usize> = (0..duplicate.len()).filter(|row| duplicate[*row]).collect();
        let events = batch.events_as_json(&rows)?;
        let ids = batch.event_ids();
        let mut found: Vec<Duplicate> = rows
            .iter()
            .zip(events)
            .map(|(row, event)| Duplicate {
                position: batch.origins[*row].position,
                event_id: ids.value(*row).to_string(),
                event,
            })
            .collect();
        let keep: Vec<bool> = duplicate.iter().map(|d| !d).collect();
        batch.retain(&keep);
        found.sort_by_key(|d| d.position);
        Ok(found)
    }

    /// Writes and commits `batches` as they are (see
    /// [`StoreWriter::take_duplicates`]) and returns the rows committed.
    /// Each table's commit carries `transactions_of(its event type)`; a
    /// table with transactions gets a commit even without rows, so that
    /// each table's recorded offsets cover the batch. The versions are per
    /// table because the tables commit one after another: after a crash
    /// one table may already hold more of a partition than another, and
    /// must not record less than it holds.
    pub async fn commit_unique(
        &mut self,
        batches: &[TableBatch],
        transactions_of: impl Fn(EventType) -> Vec<Transaction>,
    ) -> Result<usize, StoreError> {
        let mut staged = Vec::new();
        for batch in batches {
            staged.push(self.stage(batch).await?);
        }
        for event_type in EventType::ALL {
            if !staged.iter().any(|s| s.event_type == *event_type) {
                staged.push(StagedFiles {
                    event_type: *event_type,
                    adds: Vec::new(),
                    ids: Vec::new(),
                    partitions: Vec::new(),
                    rows: 0,
                });
            }
        }
        let mut rows = 0;
        for files in staged {
            rows += files.rows;
            let transactions = transactions_of(files.event_type);
            self.commit_staged(files, &transactions).await?;
        }
        Ok(rows)
    }

    /// Writes the data files of `batch` without committing them: one file
    /// per partition (tier, date), [`PARALLEL_ENCODERS`] partitions at a
    /// time, so that encoding uses the cores the caller leaves idle while
    /// only that many Parquet writers' buffers are in memory, however many
    /// dates a batch spans (a backlog replayed after an outage).
    pub async fn stage(&mut self, batch: &TableBatch) -> Result<StagedFiles, StoreError> {
        let event_type = batch.event_type;
        let table = self.table(event_type);
        let mut written = futures::stream::iter(split_by_partition(&batch.batch)?)
            .map(|partition| {
                let writer = RecordBatchWriter::for_table(table).map(|writer| {
                    writer.with_writer_properties(writer_properties(partition.rows.num_rows()))
                });
                async move { tokio::spawn(write_partition(writer?, partition)).await? }
            })
            .buffered(PARALLEL_ENCODERS);
        let mut adds = Vec::new();
        let mut ids = Vec::new();
        let mut partitions = Vec::new();
        while let Some((partition, files, partition_ids)) = written.try_next().await? {
            adds.extend(files);
            ids.push(partition_ids);
            partitions.push(partition);
        }
        Ok(StagedFiles {
            event_type,
            adds,
            ids,
            partitions,
            rows: batch.batch.num_rows(),
        })
    }

    /// Commits staged files, with `transactions`, as one new table version.
    pub async fn commit_staged(
        &mut self,
        files: StagedFiles,
        transactions: &[Transaction],
    ) -> Result<(), StoreError> {
        if files.adds.is_empty() && transactions.is_empty() {
            return Ok(());
        }
        let event_type = files.event_type;
        let written: BTreeSet<PartitionKey> = files.partitions.iter().cloned().collect();
        let OpenTable { table, recent, .. } = self.open_table_mut(event_type);
        let before = table.version();
        let operation = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: Some(PARTITION_COLUMNS.iter().map(|c| c.to_string()).collect()),
            predicate: None,
        };
        let actions: Vec<Action> = files.adds.into_iter().map(Action::Add).collect();
        let properties =
            CommitProperties::default().with_application_transactions(transactions.to_vec());
        let version = commit_signed(table, properties, actions, operation).await?;
        recent.record_commit(before, version, files.ids);
        for partition in written {
            self.merge_small_files(event_type, &partition).await;
        }
        Ok(())
    }

    /// Continuous compaction of one partition just written (see
    /// [`crate::compact`]): merges its small files while a size class is
    /// full. A failure is logged and left for the next commit: the rows
    /// are committed either way.
    async fn merge_small_files(&mut self, event_type: EventType, partition: &PartitionKey) {
        let policy = self.merge_policy;
        let OpenTable { table, recent, .. } = self.open_table_mut(event_type);
        let mut merged_files = 0;
        let merged = merge_full_classes(table, policy, &partition.values(), |merged| {
            tracing::debug!(table = event_type.table_name(), %partition, files = merged.removed.len(), rows = merged.rows, version = merged.version, "merged small files");
            merged_files += merged.removed.len() as u64;
            recent.record_merge(partition, merged);
        })
        .await;
        if let Err(error) = merged {
            tracing::warn!(%error, table = event_type.table_name(), %partition, "cannot merge small files; trying again after the next commit");
        }
        self.merged_files += merged_files;
    }

    /// The last version recorded by application `app_id` in the table of
    /// `event_type` (for Kafka: the last offset committed for a partition).
    pub async fn transaction_version(
        &self,
        event_type: EventType,
        app_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        recorded_version(self.table(event_type), app_id).await
    }
}

/// The rows of one partition (tier, date) of a batch.
struct PartitionRows {
    /// Its tier.
    tier: String,
    /// Its date, as days since the epoch.
    day: i32,
    /// Its rows, in the table's schema.
    rows: RecordBatch,
}

/// The rows of `batch` grouped by their partition (tier, date), one group
/// per partition in the order of its (tier, date), rows in input order.
/// One pass groups the row numbers, so no comparison sort of the rows'
/// tier names is needed; each group is then copied out once.
fn split_by_partition(batch: &RecordBatch) -> Result<Vec<PartitionRows>, ArrowError> {
    let tiers = batch
        .column_by_name("tier")
        .and_then(|tiers| tiers.as_string_opt::<i32>())
        .expect("every table has a Utf8 `tier` column");
    let dates = batch
        .column_by_name("date")
        .and_then(|dates| dates.as_primitive_opt::<Date32Type>())
        .expect("every table has a Date32 `date` column");
    let mut groups: HashMap<(&str, i32), Vec<u32>> = HashMap::default();
    for row in 0..batch.num_rows() {
        groups
            .entry((tiers.value(row), dates.value(row)))
            .or_default()
            .push(row as u32);
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_unstable_by_key(|(key, _)| *key);
    groups
        .into_iter()
        .map(|((tier, day), rows)| {
            Ok(PartitionRows {
                tier: tier.to_string(),
                day,
                rows: take_record_batch(batch, &UInt32Array::from(rows))?,
            })
        })
        .collect()
}

/// Partitions of one batch encoded at once by [`StoreWriter::stage`]: two,
/// for the two cores the figures of benches/HISTORY.md are measured on; more
/// would hold more writers' buffers for no gain there.
const PARALLEL_ENCODERS: usize = 2;

/// Writes one partition's rows as a data file with `writer`, its own, and
/// returns the partition, the file and the ids it holds.
async fn write_partition(
    mut writer: RecordBatchWriter,
    partition: PartitionRows,
) -> Result<(PartitionKey, Vec<Add>, AddedIds), StoreError> {
    let values = partition_values(&partition.rows)?;
    writer
        .write_partition(partition.rows.clone(), &values, WriteMode::Default)
        .await?;
    let written = writer.flush().await?;
    let ids = ids_of_partition(&partition, &written);
    let date = NaiveDate::from_epoch_days(partition.day).ok_or_else(|| StoreError::NotADate {
        what: format!("a partition of tier {}", partition.tier),
        day: i64::from(partition.day),
    })?;
    let key = PartitionKey {
        tier: partition.tier,
        date,
    };
    Ok((key, written, ids))
}

/// The partition column values of `partition`, whose rows all share them,
/// as the Delta writer names its files' directory and `partitionValues`
/// after them. Given directly, they spare the writer a second sort of rows
/// already grouped by [`split_by_partition`].
pub(crate) fn partition_values<S: ScalarExt>(
    partition: &RecordBatch,
) -> Result<IndexMap<String, S>, StoreError> {
    PARTITION_COLUMNS
        .iter()
        .map(|name| {
            let column = partition
                .column_by_name(name)
                .expect("every table has the partition columns");
            S::from_array(column.as_ref(), 0)
                .map(|value| (name.to_string(), value))
                .ok_or_else(|| StoreError::NoPartitionValue(name.to_string()))
        })
        .collect()
}

/// The ids of one partition's rows and the files `written` for them, for
/// the duplicate index.
fn ids_of_partition(partition: &PartitionRows, written: &[Add]) -> AddedIds {
    AddedIds {
        day: partition.day,
        paths: written.iter().map(|add| add.path.clone()).collect(),
        ids: event_id_column(&partition.rows).clone(),
    }
}

/// Columns whose values are all, or nearly all, distinct. A dictionary of
/// them only costs time until the writer gives it up (at its page-size
/// limit) and leaves a useless dictionary page behind; without one, the
/// tables are about a tenth smaller and quicker to write. (`session_id`
/// is not one: a session holds about ten events.)
const DISTINCT_VALUED_COLUMNS: [&str; 5] = [
    "event_id",
    "occurred_at",
    "change_id",
    "incident_id",
    "resolved_at",
];

/// Counts and amounts (tokens, cost, lines, durations). They repeat values,
/// but spread over a long tail: on a year of `gen`, `ai_usage` came out 7 %
/// smaller with zstd over their plain values than with a dictionary, and
/// the load ran about 1 % fewer instructions (benches/HISTORY.md).
const MEASURE_COLUMNS: [&str; 10] = [
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "lines_added",
    "lines_removed",
    "ai_lines_added",
    "duration_ms",
];

/// Columns of a few names or flags (enums, tools, models, teams). Their
/// dictionary and bit-packed indices leave zstd little to find: on a year
/// of `gen`, it made most of them 7 % smaller at best, or larger, and the
/// rest together ≈ 2 MB smaller in 160 MB. Each compressed column chunk
/// costs the writer a zstd compressor and decompressor of its own, which
/// weighs most in small files (benches/HISTORY.md).
const SMALL_VOCABULARY_COLUMNS: [&str; 17] = [
    "schema_version",
    "event_type",
    "org_id",
    "team",
    "tool",
    "tool_version",
    "provider",
    "model",
    "operation",
    "data_class",
    "domain",
    "client",
    "accepted",
    "kind",
    "ai_assisted",
    "severity",
    "service",
];

/// The top-level text columns of every event type. They carry no statistics: a
/// file holds one date of one tier, and every such file holds users,
/// sessions, repositories, tools and models from across their range, so
/// their minimum and maximum never let a reader skip a file or a page,
/// while comparing each value to find them took about 5 % of a load's
/// instructions (benches/HISTORY.md). Numbers and timestamps keep theirs.
fn text_columns() -> Vec<ColumnPath> {
    let mut columns = Vec::new();
    for event_type in EventType::ALL {
        let schema = event_type.arrow_schema();
        columns.extend(
            schema
                .fields()
                .iter()
                .filter(|field| field.data_type() == &DataType::Utf8)
                .map(|field| ColumnPath::from(field.name().as_str())),
        );
    }
    columns
}

/// Parquet settings for scans: zstd (except where it gains nothing),
/// dictionary encoding of the columns that repeat values, large row
/// groups. Level 2 of zstd, not its default 3: on a year of `gen` the
/// tables came out no larger and the load ran about 3 % fewer
/// instructions (benches/HISTORY.md). A Bloom filter on `event_id` in every
/// row group, so that the duplicate check reads only the row groups that
/// may hold an id it looks up (the writer folds it to the rows written:
/// about 1–2 bytes a row), allocated for `rows` ids (at most a row
/// group's): a filter sized for a whole row group would cost every
/// partition written 2 MiB until it is folded at the flush.
pub(crate) fn writer_properties(rows: usize) -> WriterProperties {
    let ids = rows.clamp(1, ROW_GROUP_ROWS) as u64;
    WRITER_PROPERTIES
        .clone()
        .into_builder()
        .set_column_bloom_filter_max_ndv(ColumnPath::from("event_id"), ids)
        .build()
}

/// How often a row group's `event_id` Bloom filter says "maybe" of an id
/// it does not hold.
const ROW_GROUP_ID_FALSE_POSITIVES: f64 = 0.01;

/// The most rows a row group holds.
const ROW_GROUP_ROWS: usize = 1 << 20;

static WRITER_PROPERTIES: LazyLock<WriterProperties> = LazyLock::new(|| {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(2).expect("2 is a valid zstd level"),
        ))
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_column_bloom_filter_enabled(ColumnPath::from("event_id"), true)
        .set_column_bloom_filter_fpp(ColumnPath::from("event_id"), ROW_GROUP_ID_FALSE_POSITIVES);
    for column in DISTINCT_VALUED_COLUMNS.into_iter().chain(MEASURE_COLUMNS) {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    for column in SMALL_VOCABULARY_COLUMNS {
        builder =
            builder.set_column_compression(ColumnPath::from(column), Compression::UNCOMPRESSED);
    }
    for column in text_columns() {
        builder = builder.set_column_statistics_enabled(column, EnabledStatistics::None);
    }
    builder.build()
});

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Date32Array, Int32Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn rows_are_grouped_by_tier_and_date_in_input_order() {
        let schema = Schema::new(vec![
            Field::new("tier", DataType::Utf8, false),
            Field::new("date", DataType::Date32, false),
            Field::new("row", DataType::Int32, false),
        ]);
        let tiers = [
            "standard",
            "regulated",
            "standard",
            "standard",
            "regulated",
            "standard",
        ];
        let dates = [20_000, 20_000, 19_999, 20_000, 20_000, 19_999];
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from(tiers.to_vec())),
                Arc::new(Date32Array::from(dates.to_vec())),
                Arc::new(Int32Array::from_iter_values(0..6)),
            ],
        )
        .unwrap();
        let groups: Vec<(String, i32, Vec<i32>)> = split_by_partition(&batch)
            .unwrap()
            .iter()
            .map(|part| {
                let part = &part.rows;
                let tiers = part.column(0).as_string::<i32>();
                let dates = part.column(1).as_primitive::<Date32Type>();
                assert!(tiers.iter().all(|t| t == Some(tiers.value(0))));
                assert!(dates.iter().all(|d| d == Some(dates.value(0))));
                let rows = part.column(2).as_primitive::<arrow::datatypes::Int32Type>();
                (
                    tiers.value(0).to_string(),
                    dates.value(0),
                    rows.values().to_vec(),
                )
            })
            .collect();
        assert_eq!(
            groups,
            vec![
                ("regulated".to_string(), 20_000, vec![1, 4]),
                ("standard".to_string(), 19_999, vec![2, 5]),
                ("standard".to_string(), 20_000, vec![0, 3]),
            ]
        );
    }
}
