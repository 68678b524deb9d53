//! The `access_log` table (DESIGN §4, §6): one row per request the query
//! service answered or refused, so that who read the audit trail is itself
//! auditable, with the same tools.
//!
//! Partitioned by the UTC `date` of the request only: the log belongs to no
//! retention tier of the events it is about. A busy server commits a small
//! file every second; they are merged as the event tables' are
//! ([`crate::compact`]): continuously after each commit, and a day's files
//! into one by the scheduled compaction once the day is over. Delta
//! checkpoints every 100 commits keep opening the log quick.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use deltalake::DeltaTable;
use deltalake::kernel::Action;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};

use crate::compact::{MergePolicy, merge_full_classes};
use crate::error::StoreError;
use crate::location::StoreRoot;
use crate::rows::epoch_day;
use crate::table::{PartitionValues, commit_signed, open_or_create_named};

/// The table's name under the store root.
pub const ACCESS_LOG_TABLE: &str = "access_log";

/// One request to the query service, as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessRecord {
    /// When the request arrived, in microseconds since the epoch (UTC).
    pub time_micros: i64,
    /// The configured name of the token presented, if it was a known one.
    pub token: Option<String>,
    /// The role of that token.
    pub role: Option<String>,
    /// The HTTP method and path, e.g. `POST /v1/sql`.
    pub endpoint: String,
    /// The SQL text, or the report parameters as JSON.
    pub request: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The error code answered (`forbidden`, `timeout`, …), if any.
    pub error: Option<String>,
    /// Rows returned, when a result was returned.
    pub rows: Option<u64>,
    /// Time from arrival to the answer, in milliseconds.
    pub duration_ms: u64,
}

/// The Arrow schema of `access_log`; `date` is the partition column.
pub fn access_log_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("token", DataType::Utf8, true),
        Field::new("role", DataType::Utf8, true),
        Field::new("endpoint", DataType::Utf8, false),
        Field::new("request", DataType::Utf8, false),
        Field::new("status", DataType::Int32, false),
        Field::new("error", DataType::Utf8, true),
        Field::new("rows", DataType::Int64, true),
        Field::new("duration_ms", DataType::Int64, false),
        Field::new("date", DataType::Date32, false),
    ]))
}

/// Appends access records to the `access_log` table, creating it on first
/// use.
pub struct AccessLogWriter {
    table: DeltaTable,
    merge_policy: MergePolicy,
}

impl AccessLogWriter {
    /// Opens the table under `root`, creating it if it does not exist.
    pub async fn open(root: &StoreRoot) -> Result<Self, StoreError> {
        let table =
            open_or_create_named(root, ACCESS_LOG_TABLE, &access_log_schema(), &["date"]).await?;
        Ok(AccessLogWriter {
            table,
            merge_policy: MergePolicy::default(),
        })
    }

    /// Merges the day's small files by `policy` after each commit instead
    /// of [`MergePolicy::default`].
    pub fn with_merge_policy(mut self, policy: MergePolicy) -> Self {
        self.merge_policy = policy;
        self
    }

    /// The version of the table as of this writer's last commit or merge.
    pub fn version(&self) -> Option<u64> {
        self.table.version()
    }

    /// Commits `records` as one new table version, then merges the small
    /// files of the days written (a failed merge is logged and tried again
    /// after the next commit). Nothing is written for an empty slice; on
    /// error nothing is committed and the caller may retry with the same
    /// records.
    pub async fn append(&mut self, records: &[AccessRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut writer = RecordBatchWriter::for_table(&self.table)?;
        writer.write(record_batch(records)?).await?;
        let adds = writer.flush().await?;
        let operation = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: Some(vec!["date".to_string()]),
            predicate: None,
        };
        // One partition column, so the log's map of values is already in
        // the table's column order.
        let mut days: Vec<PartitionValues> = adds
            .iter()
            .map(|add| add.partition_values.clone().into_iter().collect())
            .collect();
        days.sort();
        days.dedup();
        let actions: Vec<Action> = adds.into_iter().map(Action::Add).collect();
        commit_signed(
            &mut self.table,
            CommitProperties::default(),
            actions,
            operation,
        )
        .await?;
        for day in days {
            let merged = merge_full_classes(&mut self.table, self.merge_policy, &day, |_| ()).await;
            if let Err(error) = merged {
                tracing::warn!(%error, ?day, "cannot merge the access log's small files; trying again after the next commit");
            }
        }
        Ok(())
    }
}

fn record_batch(records: &[AccessRecord]) -> Result<RecordBatch, StoreError> {
    let n = records.len();
    let mut time = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut token = StringBuilder::new();
    let mut role = StringBuilder::new();
    let mut endpoint = StringBuilder::new();
    let mut request = StringBuilder::new();
    let mut status = Int32Builder::with_capacity(n);
    let mut error = StringBuilder::new();
    let mut rows = Int64Builder::with_capacity(n);
    let mut duration = Int64Builder::with_capacity(n);
    let mut date = Date32Builder::with_capacity(n);
    for record in records {
        time.append_value(record.time_micros);
        token.append_option(record.token.as_deref());
        role.append_option(record.role.as_deref());
        endpoint.append_value(&record.endpoint);
        request.append_value(&record.request);
        status.append_value(i32::from(record.status));
        error.append_option(record.error.as_deref());
        rows.append_option(record.rows.map(|r| r.min(i64::MAX as u64) as i64));
        duration.append_value(record.duration_ms.min(i64::MAX as u64) as i64);
        date.append_value(epoch_day(record.time_micros));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(time.finish()),
        Arc::new(token.finish()),
        Arc::new(role.finish()),
        Arc::new(endpoint.finish()),
        Arc::new(request.finish()),
        Arc::new(status.finish()),
        Arc::new(error.finish()),
        Arc::new(rows.finish()),
        Arc::new(duration.finish()),
        Arc::new(date.finish()),
    ];
    Ok(RecordBatch::try_new(access_log_schema(), columns)?)
}
