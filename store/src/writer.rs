//! Commits batches of rows to the tables: data files first, then one Delta
//! commit per table that adds them together with the application
//! transactions (Kafka offsets) they contain.
//!
//! A failure after the files are written and before the commit leaves each
//! table exactly as it was: Delta readers see only committed files, and the
//! orphans are removed by vacuum.

use std::sync::Arc;

use aitrail_schemas::{EventType, RejectReason, Rejection};
use arrow::array::{ArrayRef, AsArray};
use arrow::compute::{SortColumn, lexsort_to_indices, partition, take_record_batch};
use arrow::datatypes::Date32Type;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use chrono::TimeDelta;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, Transaction};
use deltalake::parquet::basic::{Compression, ZstdLevel};
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::parquet::schema::types::ColumnPath;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableError};
use serde_json::Value;

use crate::dedup::{AddedIds, DEFAULT_RECENT_IDS, RecentIds, find_duplicates, id_hash};
use crate::location::StoreRoot;
use crate::rows::{Position, TableBatch, event_id_column};
use crate::table::{PARTITION_COLUMNS, open_or_create};

/// The tables of one store, open for appending.
pub struct StoreWriter {
    root: StoreRoot,
    tables: Vec<OpenTable>,
    dedup_window: TimeDelta,
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
    rows: usize,
}

impl StoreWriter {
    /// Opens (creating if needed) every event table under `root`.
    pub async fn open(root: &StoreRoot, dedup_window: TimeDelta) -> Result<Self, DeltaTableError> {
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
        })
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
    ) -> Result<CommitOutcome, DeltaTableError> {
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
    ) -> Result<Vec<Duplicate>, DeltaTableError> {
        let window = self.dedup_window;
        let open = self.open_table_mut(batch.event_type);
        let duplicate = find_duplicates(&open.table, &mut open.recent, batch, window).await?;
        let rows: Vec<usize> = (0..duplicate.len()).filter(|row| duplicate[*row]).collect();
        let events = batch
            .events_as_json(&rows)
            .map_err(|err| DeltaTableError::Generic(format!("duplicate rows as JSON: {err}")))?;
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
    ) -> Result<usize, DeltaTableError> {
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

    /// Writes the data files of `batch` without committing them: one
    /// partition (tier, date) after another, so that only one Parquet
    /// writer's buffers are in memory at a time even when a batch spans
    /// many dates (a backlog replayed after an outage).
    pub async fn stage(&mut self, batch: &TableBatch) -> Result<StagedFiles, DeltaTableError> {
        let event_type = batch.event_type;
        let mut adds = Vec::new();
        let mut ids = Vec::new();
        for partition in split_by_partition(&batch.batch)? {
            let mut writer = RecordBatchWriter::for_table(self.table(event_type))?
                .with_writer_properties(writer_properties());
            writer.write(partition.clone()).await?;
            let written = writer.flush().await?;
            ids.push(ids_of_partition(&partition, &written));
            adds.extend(written);
        }
        Ok(StagedFiles {
            event_type,
            adds,
            ids,
            rows: batch.batch.num_rows(),
        })
    }

    /// Commits staged files, with `transactions`, as one new table version.
    pub async fn commit_staged(
        &mut self,
        files: StagedFiles,
        transactions: &[Transaction],
    ) -> Result<(), DeltaTableError> {
        if files.adds.is_empty() && transactions.is_empty() {
            return Ok(());
        }
        let OpenTable { table, recent, .. } = self.open_table_mut(files.event_type);
        let before = table.version();
        let operation = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: Some(PARTITION_COLUMNS.iter().map(|c| c.to_string()).collect()),
            predicate: None,
        };
        let actions = files.adds.into_iter().map(Action::Add).collect();
        let properties =
            CommitProperties::default().with_application_transactions(transactions.to_vec());
        let committed = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(Some(table.snapshot()?), table.log_store(), operation)
            .await?;
        // The commit already brought its snapshot up to the new version;
        // loading the log again would read every file's statistics twice.
        let version = committed.version();
        table.state = Some(committed.snapshot);
        recent.record_commit(before, version, files.ids);
        Ok(())
    }

    /// The last version recorded by application `app_id` in the table of
    /// `event_type` (for Kafka: the last offset committed for a partition).
    pub async fn transaction_version(
        &self,
        event_type: EventType,
        app_id: &str,
    ) -> Result<Option<i64>, DeltaTableError> {
        let table = self.table(event_type);
        table
            .snapshot()?
            .transaction_version(table.log_store().as_ref(), app_id)
            .await
    }
}

/// The rows of `batch` grouped by their partition columns, one slice per
/// partition.
fn split_by_partition(batch: &RecordBatch) -> Result<Vec<RecordBatch>, ArrowError> {
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let keys = |batch: &RecordBatch| -> Vec<ArrayRef> {
        PARTITION_COLUMNS
            .iter()
            .map(|name| {
                Arc::clone(
                    batch
                        .column_by_name(name)
                        .expect("every table has the partition columns"),
                )
            })
            .collect()
    };
    let sort_columns: Vec<SortColumn> = keys(batch)
        .into_iter()
        .map(|values| SortColumn {
            values,
            options: None,
        })
        .collect();
    let sorted = take_record_batch(batch, &lexsort_to_indices(&sort_columns, None)?)?;
    Ok(partition(&keys(&sorted))?
        .ranges()
        .into_iter()
        .map(|range| sorted.slice(range.start, range.len()))
        .collect())
}

/// The ids of one partition's rows and the files `written` for them, for
/// the duplicate index.
fn ids_of_partition(partition: &RecordBatch, written: &[Add]) -> AddedIds {
    AddedIds {
        day: partition
            .column_by_name("date")
            .and_then(|dates| dates.as_primitive_opt::<Date32Type>())
            .expect("every table has a Date32 `date` column")
            .value(0),
        paths: written.iter().map(|add| add.path.clone()).collect(),
        hashes: event_id_column(partition)
            .iter()
            .flatten()
            .map(id_hash)
            .collect(),
    }
}

/// Columns whose values are all, or nearly all, distinct. A dictionary of
/// them only costs time until the writer gives it up (at its page-size
/// limit) and leaves a useless dictionary page behind; without one, the
/// tables are about a tenth smaller and quicker to write.
const DISTINCT_VALUED_COLUMNS: [&str; 6] = [
    "event_id",
    "occurred_at",
    "session_id",
    "change_id",
    "incident_id",
    "resolved_at",
];

/// Parquet settings for scans: zstd, dictionary encoding of the columns
/// that repeat values, large row groups.
pub(crate) fn writer_properties() -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("3 is a valid zstd level"),
        ))
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(1 << 20));
    for column in DISTINCT_VALUED_COLUMNS {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    builder.build()
}
