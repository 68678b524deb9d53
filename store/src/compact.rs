//! Compaction: the small files a streaming ingest leaves in each partition
//! are merged (Delta optimize, bin-packing) once a partition is old enough
//! to no longer receive much, without changing any query result.

use std::collections::BTreeMap;

use aitrail_schemas::EventType;
use chrono::{Days, NaiveDate};
use deltalake::{DeltaTableError, FilterOp, FilterValue};
use serde::Serialize;

use crate::location::StoreRoot;
use crate::policy::Policy;
use crate::retention::plan::partitions;
use crate::table::open_existing;
use crate::writer::writer_properties;

/// Days after its date at which a partition is compacted when its tier does
/// not say (`compact_after_days`): the day after, when it is complete.
pub const DEFAULT_COMPACT_AFTER_DAYS: u32 = 1;

/// What compaction did to one tier of one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compacted {
    /// The table.
    pub table: String,
    /// The tier.
    pub tier: String,
    /// Partitions that had more than one file.
    pub partitions: usize,
    /// Files merged away.
    pub files_removed: u64,
    /// Files written in their place.
    pub files_added: u64,
}

/// Merges the files of every partition with more than one file whose date is
/// more than its tier's `compact_after_days` before `as_of`: one optimize
/// commit per table and tier. Removed files stay in storage (time travel,
/// concurrent readers) until a vacuum, e.g. the next retention run's.
pub async fn compact(
    root: &StoreRoot,
    policy: &Policy,
    as_of: NaiveDate,
) -> Result<Vec<Compacted>, DeltaTableError> {
    let mut done = Vec::new();
    for event_type in EventType::ALL {
        let name = event_type.table_name();
        let Some(mut table) = open_existing(root, name).await? else {
            continue;
        };
        let mut eligible: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for partition in partitions(&table, name)? {
            let after = policy
                .tier(&partition.tier)
                .and_then(|tier| tier.compact_after_days)
                .unwrap_or(DEFAULT_COMPACT_AFTER_DAYS);
            let newest = as_of - Days::new(u64::from(after));
            if partition.files > 1 && partition.date < newest {
                eligible
                    .entry(partition.tier)
                    .or_default()
                    .push(partition.date.to_string());
            }
        }
        for (tier, dates) in eligible {
            let filters = [
                ("tier", FilterOp::Eq, FilterValue::Scalar(tier.as_str())),
                (
                    "date",
                    FilterOp::In,
                    FilterValue::Set(dates.iter().map(String::as_str).collect()),
                ),
            ];
            let (optimized, metrics) = table
                .clone()
                .optimize()
                .with_filters(&filters)
                .with_writer_properties(writer_properties())
                .await?;
            table = optimized;
            tracing::info!(
                table = name,
                tier,
                partitions = dates.len(),
                files_removed = metrics.num_files_removed,
                files_added = metrics.num_files_added,
                "compacted"
            );
            done.push(Compacted {
                table: name.to_string(),
                tier,
                partitions: dates.len(),
                files_removed: metrics.num_files_removed,
                files_added: metrics.num_files_added,
            });
        }
    }
    Ok(done)
}
