//! Removing partitions from a table for good: one Delta commit removes every
//! active file of the partitions (whole files, nothing rewritten) and records
//! the run as an application transaction, then a vacuum with no grace period
//! deletes the removed files from storage.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Transaction};
use deltalake::operations::vacuum::Clock;
use deltalake::protocol::DeltaOperation;
use deltalake::{DeltaTable, DeltaTableError};

use super::plan::partition_of;

/// The application id under which each table records the last retention
/// run whose purge it committed.
pub const RETENTION_APP_ID: &str = "aitrail-retention";

/// The last run whose purge `table` committed (0 if none).
pub async fn last_purged_run(table: &DeltaTable) -> Result<i64, DeltaTableError> {
    Ok(table
        .snapshot()?
        .transaction_version(table.log_store().as_ref(), RETENTION_APP_ID)
        .await?
        .unwrap_or(0))
}

/// Removes every active file of `partitions` (tier, date) from `table` in one
/// commit that also records `run_id`, then vacuums with a zero retention
/// period: afterwards no data file of those partitions is left in storage.
/// The vacuum also deletes any other file removed from the table earlier
/// (e.g. by compaction). Returns the number of files deleted from storage.
///
/// The commit is made even when no file is left to remove, so that the
/// table records the run and a later run does not try again.
pub async fn purge(
    table: &mut DeltaTable,
    partitions: &[(String, NaiveDate)],
    run_id: i64,
) -> Result<usize, DeltaTableError> {
    table.update_state().await?;
    let wanted: HashSet<(&str, NaiveDate)> = partitions
        .iter()
        .map(|(tier, date)| (tier.as_str(), *date))
        .collect();
    let removes: Vec<Action> = table
        .snapshot()?
        .log_data()
        .iter()
        .filter(|file| {
            partition_of(&file.partition_values_map())
                .is_some_and(|(tier, date)| wanted.contains(&(tier.as_str(), date)))
        })
        .map(|file| Action::Remove(file.remove_action(true)))
        .collect();
    let operation = DeltaOperation::Delete {
        predicate: Some(predicate(partitions)),
    };
    let properties = CommitProperties::default()
        .with_application_transaction(Transaction::new(RETENTION_APP_ID, run_id));
    let committed = CommitBuilder::from(properties)
        .with_actions(removes)
        .build(Some(table.snapshot()?), table.log_store(), operation)
        .await?;
    table.update_incremental(Some(committed.version())).await?;

    let (vacuumed, metrics) = table
        .clone()
        .vacuum()
        .with_retention_period(Duration::zero())
        .with_enforce_retention_duration(false)
        .with_clock(Arc::new(JustAfterNow))
        .await?;
    *table = vacuumed;
    if let Ok(dir) = table.table_url().to_file_path() {
        remove_empty_partition_dirs(&dir, partitions);
    }
    Ok(metrics.files_deleted.len())
}

/// The predicate the commit records (`operationParameters.predicate`), as
/// a SQL reader of the table history would write it.
fn predicate(partitions: &[(String, NaiveDate)]) -> String {
    partitions
        .iter()
        .map(|(tier, date)| format!("(tier = '{tier}' AND date = '{date}')"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// A vacuum clock a second ahead: the files this purge removed carry the
/// commit's timestamp, and a zero retention period only deletes tombstones
/// strictly older than "now".
#[derive(Debug)]
struct JustAfterNow;

impl Clock for JustAfterNow {
    fn current_timestamp_millis(&self) -> i64 {
        Utc::now().timestamp_millis() + 1000
    }
}

/// A local store keeps empty `tier=…/date=…` directories after their files
/// are deleted (object stores have no directories); they are removed so that
/// the purged partitions leave no trace. A directory still holding anything
/// is left alone.
fn remove_empty_partition_dirs(table_dir: &std::path::Path, partitions: &[(String, NaiveDate)]) {
    for (tier, date) in partitions {
        let tier_dir = table_dir.join(format!("tier={tier}"));
        // Fails harmlessly when the directory is not empty or already gone.
        let _ = std::fs::remove_dir(tier_dir.join(format!("date={date}")));
    }
}
