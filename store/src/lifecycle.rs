//! The scheduled lifecycle job: a retention run, then compaction, as of the
//! day the schedule fired. One function, so the retention daemon and `aitrail
//! serve` run the same thing.

use chrono::{DateTime, Utc};
use deltalake::DeltaTableError;

use crate::compact::{Compacted, compact};
use crate::location::StoreRoot;
use crate::policy::Policy;
use crate::retention::{self, RunReport};

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
) -> Result<LifecycleReport, DeltaTableError> {
    let today = at.date_naive();
    let retention = retention::run(root, policy, today).await?;
    let compacted = compact(root, policy, today).await?;
    Ok(LifecycleReport {
        retention,
        compacted,
    })
}
