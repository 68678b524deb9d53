//! Merging data files of one partition into fewer, larger ones: one Delta
//! commit removes them and adds the merged files, and no row is added,
//! lost or changed.
//!
//! Every compaction goes through [`merge_files`], and it commits only at
//! the table version at which it last saw all its inputs still active,
//! never rebased over another writer's commit. delta-rs's conflict checker
//! ignores removals that change no data (`dataChange: false`), so two
//! compactions of the same files, rebased over one another, would both
//! commit and store those rows twice; a purge rebased over a compaction
//! would leave the merged copy of what it purged.

use std::collections::HashSet;

use deltalake::DeltaTable;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::{Action, Add, Version};
use deltalake::protocol::DeltaOperation;
use deltalake::writer::{DeltaWriter, RecordBatchWriter, WriteMode};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
use serde::Deserialize;

use crate::error::StoreError;
use crate::file_reader::DataFileReader;
use crate::table::{PartitionValues, TableFile, commit_on_held_version, table_files};
use crate::writer::writer_properties;

/// How often a merge re-checks its inputs and tries to commit when other
/// writers keep committing in between, before it gives up for now.
const COMMIT_ATTEMPTS: usize = 4;

/// What one merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The table version of the merge's commit.
    pub version: Version,
    /// The table version the commit was made on.
    pub before: Version,
    /// Paths (relative to the table root) of the files merged away.
    pub removed: Vec<String>,
    /// Paths of the files written in their place.
    pub added: Vec<String>,
    /// Rows moved, the same number in and out.
    pub rows: u64,
}

/// Merges `inputs`, active files of one partition of `table` (any table of
/// the store: an event table, `access_log` or `retention_log`), into files
/// of about `target_bytes` each and commits the swap. `Ok(None)` when
/// another writer removed one of the inputs first, or kept the table
/// moving through every attempt: nothing was changed, and the files
/// written are deleted.
pub async fn merge_files(
    table: &mut DeltaTable,
    inputs: &[TableFile],
    target_bytes: u64,
) -> Result<Option<Merged>, StoreError> {
    let Some(first) = inputs.first() else {
        return Ok(None);
    };
    let partition = &first.partition_values;
    if let Some(other) = inputs
        .iter()
        .find(|file| &file.partition_values != partition)
    {
        return Err(StoreError::MergeAcrossPartitions {
            first: first.path.clone(),
            other: other.path.clone(),
        });
    }
    let rows_in: u64 = inputs.iter().map(|file| file.rows as u64).sum();
    let mut adds = write_merged(table, partition, inputs, target_bytes).await?;
    let rows_out: u64 = adds.iter().map(rows_of).sum::<Result<u64, _>>()?;
    if rows_out != rows_in {
        discard(table, &adds).await;
        return Err(StoreError::MergeLostRows {
            partition: display(partition),
            files: inputs.len(),
            rows_in,
            rows_out,
        });
    }
    for add in &mut adds {
        add.data_change = false;
    }
    let outcome = commit_if_inputs_active(table, partition, inputs, &adds, target_bytes).await;
    match outcome {
        Ok(Some(version)) => Ok(Some(Merged {
            version,
            before: version - 1,
            removed: inputs.iter().map(|file| file.path.clone()).collect(),
            added: adds.iter().map(|add| add.path.clone()).collect(),
            rows: rows_in,
        })),
        Ok(None) => {
            discard(table, &adds).await;
            Ok(None)
        }
        Err(error) => {
            discard(table, &adds).await;
            Err(error)
        }
    }
}

/// Streams the rows of `inputs` into new files of the partition, a batch at
/// a time, so that memory holds one row group being encoded rather than
/// the partition.
async fn write_merged(
    table: &DeltaTable,
    partition: &PartitionValues,
    inputs: &[TableFile],
    target_bytes: u64,
) -> Result<Vec<Add>, StoreError> {
    let schema = table.snapshot()?.schema();
    let values = partition
        .iter()
        .map(|(column, raw)| {
            let bad = |reason: String| StoreError::BadPartitionValue {
                column: column.clone(),
                value: raw.clone(),
                reason,
            };
            let field = schema
                .field(column)
                .ok_or_else(|| bad("the table has no such column".to_string()))?;
            // An empty value is how the log records a null one.
            let value = field
                .data_type()
                .as_primitive_opt()
                .ok_or_else(|| bad("not a primitive type".to_string()))?
                .parse_scalar(raw.as_deref().unwrap_or(""))
                .map_err(|err| bad(err.to_string()))?;
            Ok((column.clone(), value))
        })
        .collect::<Result<_, StoreError>>()?;
    let mut writer = RecordBatchWriter::for_table(table)?
        .with_writer_properties(writer_properties(inputs.iter().map(|file| file.rows).sum()))
        .with_target_file_size(target_bytes);
    let store = table.log_store().object_store(None);
    for file in inputs {
        let mut batches = ParquetRecordBatchStreamBuilder::new(DataFileReader::of(&store, file))
            .await?
            .build()?;
        while let Some(batch) = batches.try_next().await? {
            writer
                .write_partition(batch, &values, WriteMode::Default)
                .await?;
        }
    }
    Ok(writer.flush().await?)
}

/// The partition as a SQL predicate, as the commit records it in the
/// table's history (`operationParameters.predicate`); `None` for an
/// unpartitioned table.
fn predicate(partition: &PartitionValues) -> Option<String> {
    (!partition.is_empty()).then(|| {
        partition
            .iter()
            .map(|(column, value)| match value {
                Some(value) => format!("{column} = '{value}'"),
                None => format!("{column} IS NULL"),
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    })
}

/// The partition as a Hive-style path (`tier=standard/date=2026-01-01`),
/// for messages.
fn display(partition: &PartitionValues) -> String {
    if partition.is_empty() {
        return "the unpartitioned table".to_string();
    }
    partition
        .iter()
        .map(|(column, value)| format!("{column}={}", value.as_deref().unwrap_or("null")))
        .collect::<Vec<_>>()
        .join("/")
}

/// Commits the swap on the version `table` holds, provided every input is
/// still active there, with no retry, so that it fails rather than be
/// rebased if anything committed in between; after such a failure the
/// table is read again and the inputs checked again. The first attempt
/// reads nothing: the writer's table is current after its own commit.
/// `Ok(None)` when an input went away, or every attempt lost such a race.
async fn commit_if_inputs_active(
    table: &mut DeltaTable,
    partition: &PartitionValues,
    inputs: &[TableFile],
    adds: &[Add],
    target_bytes: u64,
) -> Result<Option<Version>, StoreError> {
    for attempt in 0..COMMIT_ATTEMPTS {
        if attempt > 0 {
            table.update_incremental(None).await?;
        }
        let active: HashSet<String> = table_files(table)?.into_iter().map(|f| f.path).collect();
        let Some(removes) = inputs
            .iter()
            .map(|input| {
                active
                    .contains(&input.path)
                    .then(|| Action::Remove(input.remove_action(false)))
            })
            .collect::<Option<Vec<Action>>>()
        else {
            return Ok(None);
        };
        let actions = removes
            .into_iter()
            .chain(adds.iter().cloned().map(Action::Add))
            .collect();
        let operation = DeltaOperation::Optimize {
            predicate: predicate(partition),
            target_size: i64::try_from(target_bytes).unwrap_or(i64::MAX),
        };
        let committed =
            commit_on_held_version(table, CommitProperties::default(), actions, operation).await?;
        if committed.is_some() {
            return Ok(committed);
        }
    }
    Ok(None)
}

/// The `numRecords` of an added file's statistics.
fn rows_of(add: &Add) -> Result<u64, StoreError> {
    #[derive(Deserialize)]
    struct Stats {
        #[serde(rename = "numRecords")]
        num_records: u64,
    }
    let no_row_count = |reason: String| StoreError::NoRowCount {
        file: add.path.clone(),
        reason,
    };
    let stats = add
        .stats
        .as_deref()
        .ok_or_else(|| no_row_count("no statistics".to_string()))?;
    let stats: Stats = serde_json::from_str(stats).map_err(|err| no_row_count(err.to_string()))?;
    Ok(stats.num_records)
}

/// Deletes files written for a merge that was not committed, which no
/// vacuum would find: they were never in the log.
async fn discard(table: &DeltaTable, adds: &[Add]) {
    let store = table.log_store().object_store(None);
    for add in adds {
        let deleted = match Path::from_url_path(&add.path) {
            Ok(path) => store.delete(&path).await.map_err(|err| err.to_string()),
            Err(err) => Err(err.to_string()),
        };
        if let Err(error) = deleted {
            tracing::warn!(path = add.path, %error, "cannot delete a merged file that was not committed");
        }
    }
}
