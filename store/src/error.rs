//! What can go wrong in the store, one variant per failure the store
//! itself detects, and Delta Lake's, Parquet's, Arrow's, DataFusion's and
//! the object store's errors wrapped: callers match on what the store
//! found, not on how deltalake words it.

use arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use deltalake::DeltaTableError;
use parquet::errors::ParquetError;

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A local table's directory could not be made.
    #[error("cannot create {path}: {source}")]
    CreateDir {
        /// The directory.
        path: String,
        /// Why not.
        source: std::io::Error,
    },
    /// A signing key, digest or intent could not be read or written
    /// (DESIGN §11).
    #[error("integrity: {0}")]
    Integrity(String),
    /// A table that must exist does not.
    #[error("table `{0}` is missing")]
    MissingTable(String),
    /// A data file in a table's log lacks the `tier` and `date` partition
    /// values every data file has.
    #[error("file {file} has no valid tier and date partition values")]
    BadPartitionValues {
        /// The file, as the log names it.
        file: String,
    },
    /// A file or table lacks a column the store wrote into it.
    #[error("{file} has no `{column}` column")]
    MissingColumn {
        /// The file or table.
        file: String,
        /// The column.
        column: String,
    },
    /// A day number outside chrono's calendar.
    #[error("{what}: day {day} is not a date")]
    NotADate {
        /// Where it was found.
        what: String,
        /// Days since the epoch.
        day: i64,
    },
    /// A partition value the log records cannot be read as its column's type.
    #[error("partition column `{column}` value {value:?}: {reason}")]
    BadPartitionValue {
        /// The partition column.
        column: String,
        /// The value as the log records it.
        value: Option<String>,
        /// Why it cannot be read.
        reason: String,
    },
    /// Files of different partitions were given to one merge.
    #[error("cannot merge {first} and {other}: they are in different partitions")]
    MergeAcrossPartitions {
        /// The first input.
        first: String,
        /// An input of another partition.
        other: String,
    },
    /// Rows of one partition without a value in a partition column.
    #[error("partition column `{0}` has no value")]
    NoPartitionValue(String),
    /// A merge wrote a different number of rows than it read; nothing was
    /// committed.
    #[error("merging {files} files of {partition}: {rows_in} rows in, {rows_out} out")]
    MergeLostRows {
        /// The partition.
        partition: String,
        /// The files merged.
        files: usize,
        /// Rows read.
        rows_in: u64,
        /// Rows written.
        rows_out: u64,
    },
    /// A file just written has no readable row count in its statistics.
    #[error("written file {file} has no row count: {reason}")]
    NoRowCount {
        /// The file.
        file: String,
        /// What was missing or unreadable.
        reason: String,
    },
    /// The task encoding one partition's rows panicked or was cancelled.
    #[error("a partition's writer failed: {0}")]
    WriterTask(#[from] tokio::task::JoinError),
    /// The table's `_delta_log/_last_checkpoint` is not what Delta writes.
    #[error("_delta_log/_last_checkpoint: {0}")]
    LastCheckpoint(serde_json::Error),
    /// Delta Lake failed (the log, a commit, a snapshot).
    #[error(transparent)]
    Delta(#[from] DeltaTableError),
    /// A Parquet file could not be read or written.
    #[error("parquet: {0}")]
    Parquet(#[from] ParquetError),
    /// Rows could not be converted.
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
    /// A query over a table failed.
    #[error("datafusion: {0}")]
    DataFusion(#[from] DataFusionError),
    /// The object store failed.
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
}
