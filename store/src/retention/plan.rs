//! What a retention run will do, decided from the Delta log alone: the
//! partitions of each table (from the active files' partition values, sizes
//! and `numRecords` statistics) judged against the policy on one day. `plan`
//! and `run` both call [`plan`], so they see the same set.

use chrono::NaiveDate;
use deltalake::DeltaTable;
use serde::Serialize;

use super::log::LogRow;
use crate::error::StoreError;
use crate::policy::Policy;

/// One (tier, date) partition of a table, as its active files describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partition {
    /// The table.
    pub table: String,
    /// The partition's tier.
    pub tier: String,
    /// The partition's date.
    pub date: NaiveDate,
    /// Active data files.
    pub files: i64,
    /// Rows in them (from each file's `numRecords` statistic).
    pub rows: i64,
    /// Their size in bytes.
    pub bytes: i64,
}

/// A partition past its tier's retention that is not purged, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    /// The partition.
    #[serde(flatten)]
    pub partition: Partition,
    /// Why it stays: the legal hold protecting it, or the tier the policy lacks.
    pub reason: String,
}

/// What a run purges, as of one day.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    /// The day expiry is judged on.
    pub as_of: NaiveDate,
    /// The SHA-256 of the policy that judged it.
    pub policy_sha256: String,
    /// The number the run's log rows get.
    pub run_id: i64,
    /// Expired partitions to purge, logged under `run_id`.
    pub purge: Vec<Partition>,
    /// Partitions an earlier run logged but did not finish purging (it was
    /// interrupted); the run finishes them first, under their own run id.
    pub unfinished: Vec<LogRow>,
    /// Expired partitions that stay: held, or of a tier the policy lacks.
    pub kept: Vec<Kept>,
}

/// The partitions of `table` (named `name`), ordered by tier and date.
pub fn partitions(table: &DeltaTable, name: &str) -> Result<Vec<Partition>, StoreError> {
    Ok(crate::table::partitions(table)?
        .into_iter()
        .map(|(key, size)| Partition {
            table: name.to_string(),
            tier: key.tier,
            date: key.date,
            files: size.files,
            rows: size.rows,
            bytes: size.bytes,
        })
        .collect())
}

/// Sorts `partitions` into `plan`: expired ones (`date` before the tier's
/// oldest kept day) are purged unless an active legal hold protects them;
/// partitions already logged by an unfinished run are left to that run.
pub fn judge(plan: &mut Plan, policy: &Policy, partitions: Vec<Partition>) {
    for partition in partitions {
        if plan.unfinished.iter().any(|row| {
            row.table_name == partition.table
                && row.tier == partition.tier
                && row.date == partition.date
        }) {
            continue;
        }
        let Some(tier) = policy.tier(&partition.tier) else {
            let reason = format!("tier `{}` is not in the policy", partition.tier);
            plan.kept.push(Kept { partition, reason });
            continue;
        };
        if partition.date >= tier.oldest_kept(plan.as_of) {
            continue;
        }
        match policy.hold_on(&partition.tier, partition.date, plan.as_of) {
            Some(hold) => {
                let reason = format!("legal hold `{}` until {}", hold.id, hold.until);
                plan.kept.push(Kept { partition, reason });
            }
            None => plan.purge.push(partition),
        }
    }
}
