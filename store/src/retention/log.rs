//! `retention_log`: one row per purged partition (DESIGN §5), a Delta table
//! of the store that `aitrail sql` and any Delta reader can query.
//!
//! The rows of a run are committed *before* its partitions are deleted: the
//! log is the run's record of intent, and a purge interrupted after it is
//! completed by the next run (see [`super`]). A row therefore never goes
//! missing for a partition that was purged.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Date32Type, Field, Int64Type, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use chrono::{DateTime, NaiveDate, Utc};
use datafusion::prelude::SessionContext;
use deltalake::kernel::Action;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use serde::Serialize;

use crate::compact::{MergePolicy, merge_full_classes};
use crate::error::StoreError;
use crate::location::StoreRoot;
use crate::table::{commit_signed, open_existing, open_or_create_named};

/// The name of the table under the store root.
pub const RETENTION_LOG: &str = "retention_log";

/// One purged partition, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogRow {
    /// The run that purged it; runs are numbered 1, 2, … in the order they purge.
    pub run_id: i64,
    /// When the run committed to the purge.
    pub purged_at: DateTime<Utc>,
    /// The day the run judged expiry on (`--now`, else today, UTC).
    pub as_of: NaiveDate,
    /// The table the partition belonged to.
    pub table_name: String,
    /// The partition's tier.
    pub tier: String,
    /// The partition's date.
    pub date: NaiveDate,
    /// Data files removed.
    pub files: i64,
    /// Rows removed (from the files' `numRecords` statistics).
    pub rows: i64,
    /// Bytes of data files removed.
    pub bytes: i64,
    /// SHA-256 of the policy that judged it expired ([`crate::Policy::sha256`]).
    pub policy_sha256: String,
}

/// The Arrow schema of `retention_log`.
pub fn retention_log_schema() -> SchemaRef {
    let text = |name| Field::new(name, DataType::Utf8, false);
    let count = |name| Field::new(name, DataType::Int64, false);
    Arc::new(Schema::new(vec![
        count("run_id"),
        Field::new(
            "purged_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("as_of", DataType::Date32, false),
        text("table_name"),
        text("tier"),
        Field::new("date", DataType::Date32, false),
        count("files"),
        count("rows"),
        count("bytes"),
        text("policy_sha256"),
    ]))
}

/// Every row of the log at `root`; none when the log does not exist yet.
pub async fn read_log(root: &StoreRoot) -> Result<Vec<LogRow>, StoreError> {
    let Some(table) = open_existing(root, RETENTION_LOG).await? else {
        return Ok(Vec::new());
    };
    if table.snapshot()?.log_data().num_files() == 0 {
        return Ok(Vec::new());
    }
    let ctx = SessionContext::new();
    table.update_datafusion_session(&ctx.state())?;
    let batches = ctx
        .read_table(table.table_provider().await?)?
        .collect()
        .await?;
    let mut rows = Vec::new();
    for batch in batches {
        rows.extend(rows_of(&batch)?);
    }
    rows.sort_by(|a, b| {
        (a.run_id, &a.table_name, &a.tier, a.date).cmp(&(b.run_id, &b.table_name, &b.tier, b.date))
    });
    Ok(rows)
}

/// Appends `rows` to the log at `root` in one commit, creating the log if
/// missing; then merges its small files once ten have gathered
/// ([`MergePolicy::default`]), so that years of daily runs keep the log
/// quick to read.
pub async fn append_log(root: &StoreRoot, rows: &[LogRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut table = open_or_create_named(root, RETENTION_LOG, &retention_log_schema(), &[]).await?;
    let mut writer = RecordBatchWriter::for_table(&table)?;
    writer.write(batch_of(rows)?).await?;
    let actions: Vec<Action> = writer.flush().await?.into_iter().map(Action::Add).collect();
    let operation = DeltaOperation::Write {
        mode: SaveMode::Append,
        partition_by: None,
        predicate: None,
    };
    commit_signed(&mut table, CommitProperties::default(), actions, operation).await?;
    let unpartitioned = Vec::new();
    let merged =
        merge_full_classes(&mut table, MergePolicy::default(), &unpartitioned, |_| ()).await;
    if let Err(error) = merged {
        tracing::warn!(%error, "cannot merge the retention log's small files; trying again after the next run");
    }
    Ok(())
}

fn batch_of(rows: &[LogRow]) -> Result<RecordBatch, StoreError> {
    let ints = |f: fn(&LogRow) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(rows.iter().map(f)))
    };
    let texts = |f: fn(&LogRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let dates = |f: fn(&LogRow) -> NaiveDate| -> ArrayRef {
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|row| f(row).to_epoch_days()),
        ))
    };
    let purged_at = TimestampMicrosecondArray::from_iter_values(
        rows.iter().map(|row| row.purged_at.timestamp_micros()),
    )
    .with_timezone("UTC");
    Ok(RecordBatch::try_new(
        retention_log_schema(),
        vec![
            ints(|r| r.run_id),
            Arc::new(purged_at),
            dates(|r| r.as_of),
            texts(|r| &r.table_name),
            texts(|r| &r.tier),
            dates(|r| r.date),
            ints(|r| r.files),
            ints(|r| r.rows),
            ints(|r| r.bytes),
            texts(|r| &r.policy_sha256),
        ],
    )?)
}

/// Reads the rows of one batch of the log, whatever string and timestamp
/// encodings the reader chose.
fn rows_of(batch: &RecordBatch) -> Result<Vec<LogRow>, StoreError> {
    let column = |name: &str, to: &DataType| -> Result<ArrayRef, StoreError> {
        let array = batch
            .column_by_name(name)
            .ok_or_else(|| StoreError::MissingColumn {
                file: RETENTION_LOG.to_string(),
                column: name.to_string(),
            })?;
        Ok(cast(array, to)?)
    };
    let int = |name: &str| -> Result<Vec<i64>, StoreError> {
        let array = column(name, &DataType::Int64)?;
        Ok(array.as_primitive::<Int64Type>().values().to_vec())
    };
    let text = |name: &str| -> Result<Vec<String>, StoreError> {
        let array = column(name, &DataType::Utf8)?;
        let strings = array.as_string::<i32>();
        Ok((0..strings.len())
            .map(|i| strings.value(i).to_string())
            .collect())
    };
    let date = |name: &str| -> Result<Vec<NaiveDate>, StoreError> {
        let array = column(name, &DataType::Date32)?;
        array
            .as_primitive::<Date32Type>()
            .values()
            .iter()
            .map(|day| {
                NaiveDate::from_epoch_days(*day).ok_or_else(|| StoreError::NotADate {
                    what: format!("{RETENTION_LOG}.{name}"),
                    day: i64::from(*day),
                })
            })
            .collect()
    };
    let purged_at = column(
        "purged_at",
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    )?;
    let purged_at: Vec<DateTime<Utc>> = purged_at
        .as_primitive::<TimestampMicrosecondType>()
        .values()
        .iter()
        .map(|micros| DateTime::from_timestamp_micros(*micros).unwrap_or_default())
        .collect();
    let (run_id, files, rows, bytes) = (int("run_id")?, int("files")?, int("rows")?, int("bytes")?);
    let (as_of, date) = (date("as_of")?, date("date")?);
    let (table_name, tier, policy) = (text("table_name")?, text("tier")?, text("policy_sha256")?);
    Ok((0..batch.num_rows())
        .map(|i| LogRow {
            run_id: run_id[i],
            purged_at: purged_at[i],
            as_of: as_of[i],
            table_name: table_name[i].clone(),
            tier: tier[i].clone(),
            date: date[i],
            files: files[i],
            rows: rows[i],
            bytes: bytes[i],
            policy_sha256: policy[i].clone(),
        })
        .collect())
}
