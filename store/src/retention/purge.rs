//! Removing partitions from a table for good: one Delta commit removes every
//! active file of the partitions (whole files, nothing rewritten) and records
//! the run as an application transaction; a vacuum with no grace period then
//! deletes the removed files from storage.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::{Action, Transaction};
use deltalake::operations::vacuum::Clock;
use deltalake::protocol::DeltaOperation;
use deltalake::{DeltaTable, Path};
use futures::TryStreamExt;

use crate::error::StoreError;
use crate::integrity;
use crate::table::{commit_on_held_version, data_files, recorded_version};

/// The application id under which each table records the last retention
/// run whose purge it committed.
pub const RETENTION_APP_ID: &str = "aitrail-retention";

/// The last run whose purge `table` committed (0 if none).
pub async fn last_purged_run(table: &DeltaTable) -> Result<i64, StoreError> {
    Ok(recorded_version(table, RETENTION_APP_ID)
        .await?
        .unwrap_or(0))
}

/// Removes every active file of `partitions` (tier, date) from `table` in one
/// commit that also records `run_id`. The files stay in storage until
/// [`vacuum_removed`].
///
/// The commit is made even when no file is left to remove, so that the
/// table records the run and a later run does not try again. It is made on
/// the version whose files it lists, never rebased over another writer's
/// commit: rebased over a compaction, it would remove the files the
/// compaction merged away and leave their merged copy (delta-rs does not
/// see removals that change no data as a conflict). When the table moved
/// on in between, the files are listed again.
pub async fn remove_partitions(
    table: &mut DeltaTable,
    partitions: &[(String, NaiveDate)],
    run_id: i64,
) -> Result<(), StoreError> {
    let wanted: HashSet<(&str, NaiveDate)> = partitions
        .iter()
        .map(|(tier, date)| (tier.as_str(), *date))
        .collect();
    loop {
        table.update_state().await?;
        let removes: Vec<Action> = data_files(table)?
            .iter()
            .filter(|file| wanted.contains(&(file.partition.tier.as_str(), file.partition.date)))
            .map(|file| Action::Remove(file.remove_action(true)))
            .collect();
        let operation = DeltaOperation::Delete {
            predicate: Some(predicate(partitions)),
        };
        let properties = CommitProperties::default()
            .with_application_transaction(Transaction::new(RETENTION_APP_ID, run_id));
        if commit_on_held_version(table, properties, removes, operation)
            .await?
            .is_some()
        {
            return Ok(());
        }
        tracing::info!(
            table = %table.table_url(),
            "another writer committed while the purge listed its files; listing them again"
        );
    }
}

/// Deletes from storage, with no grace period, every file `table` has
/// removed (a vacuum with a zero retention period): the partitions just
/// purged, files a purge interrupted before its vacuum left behind, and any
/// other removed file (e.g. compaction's inputs). On a local store the
/// partition directories this leaves empty go too. Returns the number of
/// files deleted.
pub async fn vacuum_removed(table: &mut DeltaTable) -> Result<usize, StoreError> {
    table.update_state().await?;
    let vacuum = |dry_run: bool| {
        table
            .clone()
            .vacuum()
            .with_retention_period(Duration::zero())
            .with_enforce_retention_duration(false)
            .with_clock(Arc::new(JustAfterNow))
            .with_dry_run(dry_run)
    };
    // Removed files stay listed in the log for a week after their deletion,
    // so a vacuum would "delete" them again on every run and commit each
    // time: it runs only when one of them is still in storage.
    let (_, candidates) = vacuum(true).await?;
    let present = still_stored(table, &candidates.files_deleted).await?;
    if present > 0 {
        let before = table.version().unwrap_or(0);
        let intent = integrity::intend(table, &[]).await?;
        let (vacuumed, _) = vacuum(false).await?;
        *table = vacuumed;
        let after = table.version().unwrap_or(0);
        integrity::record(table, intent, before + 1..=after).await?;
    }
    if let Ok(dir) = table.table_url().to_file_path() {
        remove_empty_dirs(&dir, &candidates.files_deleted);
    }
    Ok(present)
}

/// How many of `paths` (relative to the table root) exist in storage: one
/// listing per directory they are in, not one request per file.
async fn still_stored(table: &DeltaTable, paths: &[String]) -> Result<usize, StoreError> {
    let mut by_dir: BTreeMap<&str, HashSet<&str>> = BTreeMap::new();
    for path in paths {
        let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
        by_dir.entry(dir).or_default().insert(path.as_str());
    }
    let store = table.log_store().object_store(None);
    let mut present = 0;
    for (dir, wanted) in by_dir {
        let prefix = (!dir.is_empty()).then(|| Path::from(dir));
        let listed: Vec<_> = store.list(prefix.as_ref()).try_collect().await?;
        present += listed
            .iter()
            .filter(|meta| wanted.contains(meta.location.as_ref()))
            .count();
    }
    Ok(present)
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
/// purged partitions leave no trace. A directory still holding anything is
/// left alone.
fn remove_empty_dirs(table_dir: &std::path::Path, deleted: &[String]) {
    let dirs: HashSet<&str> = deleted
        .iter()
        .filter_map(|path| path.rsplit_once('/').map(|(dir, _)| dir))
        .collect();
    for dir in dirs {
        let dir = table_dir.join(dir);
        // Fails harmlessly when the directory is not empty or already gone.
        let _ = std::fs::remove_dir(&dir);
        if let Some(tier_dir) = dir.parent().filter(|d| d != &table_dir) {
            let _ = std::fs::remove_dir(tier_dir);
        }
    }
}
