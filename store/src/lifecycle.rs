//! The scheduled lifecycle job: a retention run, then compaction, as of the
//! day the schedule fired. One place, so the retention daemon, `aitrail
//! serve` and `aitrail dev` run the same thing.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::compact::{Compacted, compact};
use crate::error::StoreError;
use crate::location::StoreRoot;
use crate::policy::Policy;
use crate::retention::{self, RunReport};
use crate::schedule::Schedule;

/// What one lifecycle job did.
#[derive(Debug)]
pub struct LifecycleReport {
    /// The retention run.
    pub retention: RunReport,
    /// The compaction after it.
    pub compacted: Vec<Compacted>,
}

/// Purges what is expired at `at` (its UTC date), then compacts. Retention
/// goes first so that nothing about to be deleted is rewritten.
pub async fn run_lifecycle(
    root: &StoreRoot,
    policy: &Policy,
    at: DateTime<Utc>,
) -> Result<LifecycleReport, StoreError> {
    let today = at.date_naive();
    let retention = retention::run(root, policy, today).await?;
    let compacted = compact(root, policy, today).await?;
    Ok(LifecycleReport {
        retention,
        compacted,
    })
}

/// Runs [`run_lifecycle`] at every time `schedule` fires until `shutdown`
/// completes, logging what each job did; a failed job is logged and tried
/// again at the next time.
pub async fn run_on_schedule(
    schedule: &Schedule,
    root: &StoreRoot,
    policy: &Policy,
    shutdown: impl Future<Output = ()>,
) {
    tracing::info!(store = %root, policy_sha256 = policy.sha256(), "lifecycle schedule started");
    schedule
        .run(shutdown, |at| async move {
            match run_lifecycle(root, policy, at).await {
                Ok(report) => tracing::info!(
                    run_id = report.retention.plan.run_id,
                    purged = report.retention.plan.purge.len(),
                    kept_by_holds = report.retention.plan.kept.len(),
                    files_deleted = report.retention.files_deleted,
                    compacted = report.compacted.iter().map(|c| c.partitions).sum::<usize>(),
                    "lifecycle job done"
                ),
                Err(error) => tracing::error!(
                    %error,
                    "lifecycle job failed; retrying at the next scheduled time"
                ),
            }
        })
        .await;
}
