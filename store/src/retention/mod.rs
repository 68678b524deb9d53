//! The retention lifecycle (DESIGN §5): whole partitions past their tier's
//! `keep_days` are purged, unless an active legal hold protects them, and
//! every purged partition gets a row in `retention_log`.
//!
//! A run is crash-safe and idempotent:
//! 1. Its plan is computed from the Delta logs ([`plan::plan`]).
//! 2. Its log rows are committed to `retention_log` under a new run id.
//! 3. Each table gets one commit removing the partitions' files and
//!    recording the run id as an application transaction.
//! 4. Every table is vacuumed with no grace period.
//!
//! A crash after 2 leaves rows whose run id is above what their table
//! recorded; the next run (and `plan`) sees them as unfinished and completes
//! exactly those partitions first. A crash after 3 leaves removed files in
//! storage; the next run's vacuum (4 runs every time) deletes them. A second
//! run finds nothing expired and logs nothing.

pub mod log;
pub mod plan;
pub mod purge;

use std::collections::BTreeMap;

use aitrail_schemas::EventType;
use chrono::{NaiveDate, Utc};
use deltalake::DeltaTable;
use serde::Serialize;

use self::log::{LogRow, append_log, read_log};
use self::plan::{Plan, judge, partitions};
use self::purge::{last_purged_run, remove_partitions, vacuum_removed};
use crate::error::StoreError;
use crate::location::StoreRoot;
use crate::policy::Policy;
use crate::table::open_existing;

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The plan it carried out.
    #[serde(flatten)]
    pub plan: Plan,
    /// Data files deleted from storage (the purged ones and any other file
    /// the tables had already removed).
    pub files_deleted: usize,
}

/// What [`run`] would do on `as_of`, without changing anything.
pub async fn plan(root: &StoreRoot, policy: &Policy, as_of: NaiveDate) -> Result<Plan, StoreError> {
    let logged = read_log(root).await?;
    let mut plan = Plan {
        as_of,
        policy_sha256: policy.sha256().to_string(),
        run_id: logged.iter().map(|row| row.run_id).max().unwrap_or(0) + 1,
        ..Plan::default()
    };
    for event_type in EventType::ALL {
        let name = event_type.table_name();
        let Some(table) = open_existing(root, name).await? else {
            continue;
        };
        let recorded = last_purged_run(&table).await?;
        plan.run_id = plan.run_id.max(recorded + 1);
        plan.unfinished.extend(
            logged
                .iter()
                .filter(|row| row.table_name == name && row.run_id > recorded)
                .cloned(),
        );
        judge(&mut plan, policy, partitions(&table, name)?);
    }
    Ok(plan)
}

/// Finishes any interrupted run, then purges what [`plan`] finds expired on
/// `as_of`, logging each partition before removing it, and finally vacuums
/// every table so that no removed file stays in storage, including files a
/// run interrupted before its vacuum left behind.
pub async fn run(
    root: &StoreRoot,
    policy: &Policy,
    as_of: NaiveDate,
) -> Result<RunReport, StoreError> {
    let plan = plan(root, policy, as_of).await?;
    let mut unfinished: BTreeMap<(String, i64), Vec<(String, NaiveDate)>> = BTreeMap::new();
    for row in &plan.unfinished {
        unfinished
            .entry((row.table_name.clone(), row.run_id))
            .or_default()
            .push((row.tier.clone(), row.date));
    }
    for ((table, run_id), partitions) in unfinished {
        tracing::warn!(
            table,
            run_id,
            partitions = partitions.len(),
            "finishing an interrupted purge"
        );
        remove_partitions(&mut open(root, &table).await?, &partitions, run_id).await?;
    }

    let purged_at = Utc::now();
    let rows: Vec<LogRow> = plan
        .purge
        .iter()
        .map(|p| LogRow {
            run_id: plan.run_id,
            purged_at,
            as_of,
            table_name: p.table.clone(),
            tier: p.tier.clone(),
            date: p.date,
            files: p.files,
            rows: p.rows,
            bytes: p.bytes,
            policy_sha256: plan.policy_sha256.clone(),
        })
        .collect();
    append_log(root, &rows).await?;
    let mut by_table: BTreeMap<String, Vec<(String, NaiveDate)>> = BTreeMap::new();
    for p in &plan.purge {
        by_table
            .entry(p.table.clone())
            .or_default()
            .push((p.tier.clone(), p.date));
    }
    for (table, partitions) in by_table {
        remove_partitions(&mut open(root, &table).await?, &partitions, plan.run_id).await?;
        tracing::info!(
            table,
            run_id = plan.run_id,
            partitions = partitions.len(),
            "removed expired partitions"
        );
    }

    let mut files_deleted = 0;
    for event_type in EventType::ALL {
        let name = event_type.table_name();
        let Some(mut table) = open_existing(root, name).await? else {
            continue;
        };
        let deleted = vacuum_removed(&mut table).await?;
        if deleted > 0 {
            tracing::info!(table = name, files_deleted = deleted, "vacuumed");
        }
        files_deleted += deleted;
    }
    Ok(RunReport {
        plan,
        files_deleted,
    })
}

async fn open(root: &StoreRoot, name: &str) -> Result<DeltaTable, StoreError> {
    open_existing(root, name)
        .await?
        .ok_or_else(|| StoreError::MissingTable(name.to_string()))
}
