//! The Delta tables of the store: one per event type, partitioned by
//! retention tier and UTC date, created on first use.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use aitrail_schemas::EventType;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{
    CommitBuilder, CommitProperties, FinalizedCommit, TransactionError,
};
use deltalake::kernel::{Action, LogicalFileView, Remove, StructType, Version};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::table::state::DeltaTableState;
use deltalake::{DeltaTable, DeltaTableError, ObjectStore, ObjectStoreError, Path, TableProperty};
use object_store::ObjectStoreExt;

use crate::error::StoreError;
use crate::integrity;
use crate::location::StoreRoot;

/// How long the log remembers a removed file (`delta.deletedFileRetentionDuration`
/// of the tables aitrail creates), instead of Delta's week. Every
/// checkpoint carries each removal it remembers, and continuous
/// compaction removes a file for about every commit, so a week of them
/// made each checkpoint of a live stream's table ever larger. Two days
/// leave the daily lifecycle job, which vacuums what was removed, a day
/// to spare.
pub const REMOVED_FILE_RETENTION: &str = "interval 2 days";

/// The partition columns, outermost first (DESIGN §4).
pub const PARTITION_COLUMNS: [&str; 2] = ["tier", "date"];

/// The Arrow schema of the table holding events of `event_type`: the event's
/// own fields, then `tier` and `date`.
pub fn table_schema(event_type: EventType) -> SchemaRef {
    let mut fields: Vec<Field> = event_type
        .arrow_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("tier", DataType::Utf8, false));
    fields.push(Field::new("date", DataType::Date32, false));
    Arc::new(Schema::new(fields))
}

/// Opens the table named `name` under `root`, or `None` if it has not been
/// created yet.
pub async fn open_existing(root: &StoreRoot, name: &str) -> Result<Option<DeltaTable>, StoreError> {
    let url = root.table_url(name);
    if let Ok(dir) = url.to_file_path()
        && !dir.exists()
    {
        return Ok(None);
    }
    let mut table = integrity::table_builder(url)?.build()?;
    if !table.verify_deltatable_existence().await? {
        return Ok(None);
    }
    table.load().await?;
    Ok(Some(table))
}

/// Opens the table of `event_type` under `root`, creating it if missing.
pub async fn open_or_create(
    root: &StoreRoot,
    event_type: EventType,
) -> Result<DeltaTable, StoreError> {
    open_or_create_named(
        root,
        event_type.table_name(),
        &table_schema(event_type),
        &PARTITION_COLUMNS,
    )
    .await
}

/// Opens the table `name` under `root`, creating it with `schema` and
/// `partition_columns` if missing: the event tables and the store's own logs
/// (`retention_log`) are made the same way.
pub async fn open_or_create_named(
    root: &StoreRoot,
    name: &str,
    schema: &Schema,
    partition_columns: &[&str],
) -> Result<DeltaTable, StoreError> {
    if let Some(table) = open_existing(root, name).await? {
        integrity::complete(&table).await?;
        return Ok(table);
    }
    let url = root.table_url(name);
    if let Ok(dir) = url.to_file_path() {
        std::fs::create_dir_all(&dir).map_err(|err| StoreError::CreateDir {
            path: dir.display().to_string(),
            source: err,
        })?;
    }
    let schema: StructType = schema.try_into_kernel()?;
    let created = integrity::table_builder(url)?
        .build()?
        .create()
        .with_table_name(name)
        .with_columns(schema.fields().cloned())
        .with_partition_columns(partition_columns.iter().copied())
        .with_configuration_property(
            TableProperty::DeletedFileRetentionDuration,
            Some(REMOVED_FILE_RETENTION),
        )
        .with_save_mode(SaveMode::Ignore)
        .await;
    match created {
        Ok(table) => {
            integrity::record(&table, None, 0..=0).await?;
            Ok(table)
        }
        // Another writer created it first (its version 0 won the conditional
        // put): use theirs.
        Err(err) => open_existing(root, name).await?.ok_or(err.into()),
    }
}

/// One (tier, date) partition of a table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionKey {
    /// The retention tier.
    pub tier: String,
    /// The UTC date of `occurred_at`.
    pub date: NaiveDate,
}

impl PartitionKey {
    /// The partition's values as the Delta log records them.
    pub fn values(&self) -> PartitionValues {
        vec![
            ("tier".to_string(), Some(self.tier.clone())),
            ("date".to_string(), Some(self.date.to_string())),
        ]
    }
}

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tier={}/date={}", self.tier, self.date)
    }
}

/// The values of a file's partition columns as the Delta log records
/// them, in the table's partition column order; empty in an unpartitioned
/// table such as `retention_log`.
pub type PartitionValues = Vec<(String, Option<String>)>;

/// The value of partition column `column`, if the partition has one.
pub(crate) fn partition_value(partition: &PartitionValues, column: &str) -> Option<String> {
    partition
        .iter()
        .find(|(name, _)| name == column)
        .and_then(|(_, value)| value.clone())
}

/// An active file of any table of the store, event tables and the store's
/// own logs alike, as its Delta log describes it: what compaction needs to
/// know of it without reading it.
#[derive(Clone)]
pub struct TableFile {
    /// Its partition.
    pub partition_values: PartitionValues,
    /// Its path relative to the table root, as the log names it (decoded).
    pub path: String,
    /// Where it is in the table's object store.
    pub location: Path,
    /// Its size in bytes.
    pub size: u64,
    /// Its rows (the `numRecords` statistic; 0 if the log has none).
    pub rows: usize,
    view: LogicalFileView,
}

impl TableFile {
    /// The action that removes this file from the table.
    pub fn remove_action(&self, data_change: bool) -> Remove {
        self.view.remove_action(data_change)
    }
}

/// The active files of `table` as of its loaded version, whatever its
/// partition columns.
pub fn table_files(table: &DeltaTable) -> Result<Vec<TableFile>, StoreError> {
    let snapshot = table.snapshot()?;
    let columns = snapshot.metadata().partition_columns();
    Ok(snapshot
        .log_data()
        .iter()
        .map(|view| {
            let mut values = view.partition_values_map();
            let partition_values = columns
                .iter()
                .map(|column| (column.clone(), values.remove(column).flatten()))
                .collect();
            TableFile {
                partition_values,
                path: view.path().into_owned(),
                location: view.object_store_path(),
                size: view.size().unsigned_abs(),
                rows: view.num_records().unwrap_or(0),
                view,
            }
        })
        .collect())
}

/// An active data file of an event table: a [`TableFile`] whose partition
/// is read as its (tier, date), for compaction, retention and the
/// duplicate index.
#[derive(Clone)]
pub struct DataFile {
    /// Its partition.
    pub partition: PartitionKey,
    /// The file.
    pub file: TableFile,
}

impl std::ops::Deref for DataFile {
    type Target = TableFile;

    fn deref(&self) -> &TableFile {
        &self.file
    }
}

/// The active data files of an event table as of its loaded version. A
/// file without valid `tier` and `date` partition values is an error: no
/// writer of aitrail makes one.
pub fn data_files(table: &DeltaTable) -> Result<Vec<DataFile>, StoreError> {
    table_files(table)?
        .into_iter()
        .map(|file| {
            let tier = partition_value(&file.partition_values, "tier");
            let date =
                partition_value(&file.partition_values, "date").and_then(|date| date.parse().ok());
            let (Some(tier), Some(date)) = (tier, date) else {
                return Err(StoreError::BadPartitionValues { file: file.path });
            };
            Ok(DataFile {
                partition: PartitionKey { tier, date },
                file,
            })
        })
        .collect()
}

/// What the active files of one partition hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartitionSize {
    /// Active data files.
    pub files: i64,
    /// Rows in them (from each file's `numRecords` statistic).
    pub rows: i64,
    /// Their size in bytes.
    pub bytes: i64,
}

/// The partitions of `table` as of its loaded version, ordered by tier and
/// date, with what their active files hold: read from the Delta log alone.
pub fn partitions(table: &DeltaTable) -> Result<BTreeMap<PartitionKey, PartitionSize>, StoreError> {
    let mut found: BTreeMap<PartitionKey, PartitionSize> = BTreeMap::new();
    for file in data_files(table)? {
        let size = found.entry(file.partition.clone()).or_default();
        size.files += 1;
        size.rows += file.rows as i64;
        size.bytes += file.size as i64;
    }
    Ok(found)
}

/// The last version application `app_id` recorded in `table` with a Delta
/// application transaction, `None` if it never did: for the ingest, the
/// last offset it committed of a topic-partition (DESIGN §4); for
/// retention, its last run whose purge the table committed.
pub async fn recorded_version(table: &DeltaTable, app_id: &str) -> Result<Option<i64>, StoreError> {
    Ok(table
        .snapshot()?
        .transaction_version(table.log_store().as_ref(), app_id)
        .await?)
}

/// Commits `actions` to `table` as one new version, signed when this
/// process signs, and makes `table` hold the result. Every append of the
/// store commits here: `CommitBuilder::from(properties)` runs Delta's
/// post-commit hook (a checkpoint every 100 versions, expired log
/// cleanup), which `CommitBuilder::default()` does not.
pub async fn commit_signed(
    table: &mut DeltaTable,
    properties: CommitProperties,
    actions: Vec<Action>,
    operation: DeltaOperation,
) -> Result<Version, StoreError> {
    let intent = integrity::intend(table, &actions).await?;
    let committed = CommitBuilder::from(properties)
        .with_actions(actions)
        .build(Some(table.snapshot()?), table.log_store(), operation)
        .await?;
    // The commit already brought its snapshot up to the new version;
    // loading the log again would read every file's statistics twice.
    let version = committed.version();
    adopt_commit(table, committed).await?;
    integrity::record(table, intent, version..=version).await?;
    Ok(version)
}

/// Commits `actions` on exactly the version `table` holds, never rebased
/// over another writer's commit, and makes `table` hold the result.
/// `Ok(None)` when another writer committed first: the caller reads the
/// table again and decides afresh. Merges and purges commit this way
/// because delta-rs does not see removals that change no data as a
/// conflict, so a rebased merge and purge could both take the same files.
pub async fn commit_on_held_version(
    table: &mut DeltaTable,
    properties: CommitProperties,
    actions: Vec<Action>,
    operation: DeltaOperation,
) -> Result<Option<Version>, StoreError> {
    let intent = integrity::intend(table, &actions).await?;
    let committed = CommitBuilder::from(properties)
        .with_max_retries(0)
        .with_actions(actions)
        .build(Some(table.snapshot()?), table.log_store(), operation)
        .await;
    match committed {
        Ok(committed) => {
            let version = committed.version();
            adopt_commit(table, committed).await?;
            integrity::record(table, intent, version..=version).await?;
            Ok(Some(version))
        }
        Err(DeltaTableError::Transaction {
            source: TransactionError::MaxCommitAttempts(_),
        }) => {
            integrity::abandon(intent).await;
            Ok(None)
        }
        Err(error) => {
            integrity::abandon(intent).await;
            Err(error.into())
        }
    }
}

/// Makes `table` hold the snapshot of the commit it just made: the
/// commit's own snapshot, advanced from the one before without reading the
/// log again, except when the commit wrote a checkpoint; then the snapshot
/// is read afresh from that checkpoint. A snapshot advanced commit by
/// commit keeps about 600 KiB for every commit it was advanced over (the
/// JSON decoder delta-rs read that commit with, measured with jemalloc's
/// heap profiles, benches/HISTORY.md), all freed when it is read afresh;
/// doing so at each checkpoint bounds that memory by the checkpoint
/// interval however long a writer runs.
pub async fn adopt_commit(
    table: &mut DeltaTable,
    committed: FinalizedCommit,
) -> Result<(), StoreError> {
    table.state = Some(if committed.metrics.new_checkpoint_created {
        DeltaTableState::try_new(table.log_store().as_ref(), Some(committed.version())).await?
    } else {
        committed.snapshot
    });
    Ok(())
}

/// What a table's log holds beyond a version a reader has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Newer {
    /// Nothing: the version is current.
    Nothing,
    /// Commits after it, and no checkpoint past it.
    Commits,
    /// A checkpoint past it: read the table afresh rather than update it
    /// (an updated snapshot keeps memory for every commit it was updated
    /// over; see [`adopt_commit`]).
    Checkpoint,
}

/// What `table`'s log holds beyond `version`, found with two lookups (the
/// next commit file and `_last_checkpoint`) where an update lists the whole
/// log directory, which grows with every commit. Log cleanup deletes the
/// commit files before the newest checkpoint once they are older than the
/// log retention (30 days by default), so a reader idle that long may find
/// no next commit file although newer commits exist; the checkpoint tells.
pub async fn newer_than(table: &DeltaTable, version: Version) -> Result<Newer, StoreError> {
    let store = table.log_store().object_store(None);
    let next = Path::from(format!("_delta_log/{:020}.json", version + 1));
    let has_next = match store.head(&next).await {
        Ok(_) => true,
        Err(ObjectStoreError::NotFound { .. }) => false,
        Err(err) => return Err(err.into()),
    };
    if last_checkpoint(store.as_ref())
        .await?
        .is_some_and(|checkpoint| checkpoint > version)
    {
        return Ok(Newer::Checkpoint);
    }
    Ok(if has_next {
        Newer::Commits
    } else {
        Newer::Nothing
    })
}

/// The version of the table's newest checkpoint, from `_last_checkpoint`.
async fn last_checkpoint(store: &dyn ObjectStore) -> Result<Option<Version>, StoreError> {
    #[derive(serde::Deserialize)]
    struct LastCheckpoint {
        version: Version,
    }
    let pointer = Path::from("_delta_log/_last_checkpoint");
    let bytes = match store.get(&pointer).await {
        Ok(found) => found.bytes().await?,
        Err(ObjectStoreError::NotFound { .. }) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let last: LastCheckpoint =
        serde_json::from_slice(&bytes).map_err(StoreError::LastCheckpoint)?;
    Ok(Some(last.version))
}
