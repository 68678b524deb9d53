//! Scheduled compaction: once a partition is old enough to no longer
//! receive much (its tier's `compact_after_days`), its files are packed
//! into files of the target size, without changing any query result. The
//! store's own logs are packed too: `access_log` by day once the day is
//! over, `retention_log` (unpartitioned) whole.

use std::collections::BTreeMap;

use aitrail_schemas::EventType;
use chrono::{Days, NaiveDate};
use deltalake::DeltaTable;
use serde::Serialize;

use super::continuous::DEFAULT_TARGET_BYTES;
use super::merge::merge_files;
use crate::access_log::ACCESS_LOG_TABLE;
use crate::error::StoreError;
use crate::location::StoreRoot;
use crate::policy::Policy;
use crate::retention::log::RETENTION_LOG;
use crate::table::{
    PartitionValues, TableFile, data_files, open_existing, partition_value, table_files,
};

/// Days after its date at which a partition is compacted when its tier does
/// not say (`compact_after_days`): the day after, when it is complete.
/// `access_log`'s days are compacted so too.
pub const DEFAULT_COMPACT_AFTER_DAYS: u32 = 1;

/// What compaction did to one tier of one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compacted {
    /// The table.
    pub table: String,
    /// The tier; `None` for the store's logs, which have no tiers.
    pub tier: Option<String>,
    /// Partitions whose files were merged.
    pub partitions: usize,
    /// Files merged away.
    pub files_removed: u64,
    /// Files written in their place.
    pub files_added: u64,
}

/// Packs the files of every partition whose date is more than its tier's
/// `compact_after_days` before `as_of` into files of the target size: one
/// merge commit per group of files; then `access_log`'s days before
/// yesterday and the whole of `retention_log`. Removed files stay in
/// storage (concurrent readers of older snapshots) until a vacuum, e.g.
/// the next retention run's. A partition another writer changes meanwhile
/// is left for the next run.
pub async fn compact(
    root: &StoreRoot,
    policy: &Policy,
    as_of: NaiveDate,
) -> Result<Vec<Compacted>, StoreError> {
    let mut done = Vec::new();
    for event_type in EventType::ALL {
        let Some(mut table) = open_existing(root, event_type.table_name()).await? else {
            continue;
        };
        let eligible = data_files(&table)?.into_iter().filter(|file| {
            let after = policy
                .tier(&file.partition.tier)
                .and_then(|tier| tier.compact_after_days)
                .unwrap_or(DEFAULT_COMPACT_AFTER_DAYS);
            file.partition.date < as_of - Days::new(u64::from(after))
        });
        let eligible = eligible.map(|file| file.file);
        done.extend(pack(&mut table, event_type.table_name(), eligible).await?);
    }
    let day_over = as_of - Days::new(u64::from(DEFAULT_COMPACT_AFTER_DAYS));
    for name in [ACCESS_LOG_TABLE, RETENTION_LOG] {
        let Some(mut table) = open_existing(root, name).await? else {
            continue;
        };
        let eligible = table_files(&table)?.into_iter().filter(|file| {
            partition_value(&file.partition_values, "date")
                .and_then(|date| date.parse::<NaiveDate>().ok())
                .is_none_or(|date| date < day_over)
        });
        done.extend(pack(&mut table, name, eligible).await?);
    }
    Ok(done)
}

/// Packs the `eligible` files of `table` (`name`), partition by partition,
/// and tells what it did per tier.
async fn pack(
    table: &mut DeltaTable,
    name: &str,
    eligible: impl Iterator<Item = TableFile>,
) -> Result<Vec<Compacted>, StoreError> {
    let mut by_partition: BTreeMap<PartitionValues, Vec<TableFile>> = BTreeMap::new();
    for file in eligible {
        by_partition
            .entry(file.partition_values.clone())
            .or_default()
            .push(file);
    }
    let mut by_tier: BTreeMap<Option<String>, Compacted> = BTreeMap::new();
    for (partition, files) in by_partition {
        let tier = partition_value(&partition, "tier");
        let mut merged_any = false;
        for group in packed(files, |file| file.size, DEFAULT_TARGET_BYTES) {
            let Some(merged) = merge_files(table, &group, DEFAULT_TARGET_BYTES).await? else {
                continue;
            };
            merged_any = true;
            let done = by_tier.entry(tier.clone()).or_insert_with(|| Compacted {
                table: name.to_string(),
                tier: tier.clone(),
                partitions: 0,
                files_removed: 0,
                files_added: 0,
            });
            done.files_removed += merged.removed.len() as u64;
            done.files_added += merged.added.len() as u64;
        }
        if merged_any && let Some(done) = by_tier.get_mut(&tier) {
            done.partitions += 1;
        }
    }
    for compacted in by_tier.values() {
        tracing::info!(
            table = name,
            tier = compacted.tier,
            partitions = compacted.partitions,
            files_removed = compacted.files_removed,
            files_added = compacted.files_added,
            "compacted"
        );
    }
    Ok(by_tier.into_values().collect())
}

/// The files of one partition in groups of at most `target_bytes` that are
/// worth merging (two files or more), smallest files first; files already
/// of the target size stay as they are.
fn packed<F>(mut files: Vec<F>, size_of: impl Fn(&F) -> u64, target_bytes: u64) -> Vec<Vec<F>> {
    files.retain(|file| size_of(file) < target_bytes);
    files.sort_by_key(&size_of);
    let mut groups: Vec<Vec<F>> = Vec::new();
    let mut size = 0;
    for file in files {
        let file_size = size_of(&file);
        match groups.last_mut() {
            Some(group) if size + file_size <= target_bytes => {
                size += file_size;
                group.push(file);
            }
            _ => {
                size = file_size;
                groups.push(vec![file]);
            }
        }
    }
    groups.retain(|group| group.len() > 1);
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_packed_up_to_the_target_and_lone_or_full_files_stay() {
        let groups = packed(vec![70, 10, 100, 20, 60, 5, 150], |size| *size, 100);
        assert_eq!(groups, vec![vec![5, 10, 20, 60]]);
        let groups = packed(vec![40, 40, 40, 40, 99], |size| *size, 100);
        assert_eq!(groups, vec![vec![40, 40], vec![40, 40]]);
        assert!(packed(vec![30], |size| *size, 100).is_empty());
    }
}
