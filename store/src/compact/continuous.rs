//! Continuous compaction: the partitions a writer is writing keep few
//! files however often it commits, so that a live stream's today stays as
//! quick to read, and its table's log as small, as a day loaded at once.
//!
//! Each commit of a live stream adds one small file to every partition it
//! touches (one a second with `aitrail dev`'s one-second batches). Right
//! after a commit, the writer looks at the partitions it wrote: their files
//! below the target size fall into size classes, each `fan_in` times wider
//! than the one below (under 640 KiB, under 6.4 MiB, under 64 MiB with the
//! defaults), and once a class holds `fan_in` files they are merged into
//! one, which lands in a higher class. So a partition keeps fewer than
//! `fan_in` small files per class, and a row is rewritten about once per
//! class on its way to a full-size file, never more: the cost follows the
//! data, not the age of the partition. The daily schedule
//! ([`super::compact`]) then packs complete partitions into full-size files.

use deltalake::DeltaTable;

use super::merge::{Merged, merge_files};
use crate::error::StoreError;
use crate::table::{PartitionValues, TableFile, table_files};

/// The smallest files' class bound: files below `BASE_BYTES × fan_in` are
/// in class 0.
const BASE_BYTES: u64 = 64 << 10;

/// When the files of a partition being written are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergePolicy {
    /// How many files of one size class are merged together; also the
    /// width of each class. 0 turns continuous compaction off.
    pub fan_in: usize,
    /// Files at least this large are left alone, and merged files are cut
    /// at this size.
    pub target_bytes: u64,
}

/// Defaults: ten files a class, 128 MiB files.
pub const DEFAULT_FAN_IN: usize = 10;

/// The target size of a merged file.
pub const DEFAULT_TARGET_BYTES: u64 = 128 << 20;

impl Default for MergePolicy {
    fn default() -> Self {
        MergePolicy {
            fan_in: DEFAULT_FAN_IN,
            target_bytes: DEFAULT_TARGET_BYTES,
        }
    }
}

impl MergePolicy {
    /// No continuous compaction.
    pub const OFF: MergePolicy = MergePolicy {
        fan_in: 0,
        target_bytes: DEFAULT_TARGET_BYTES,
    };

    /// Which of a partition's files, given by their sizes, to merge now:
    /// the indices of the smallest size class holding `fan_in` files, or
    /// `None` when no class is full.
    pub fn files_to_merge(&self, sizes: &[u64]) -> Option<Vec<usize>> {
        if self.fan_in < 2 {
            return None;
        }
        let mut classes: Vec<Vec<usize>> = Vec::new();
        for (index, size) in sizes.iter().enumerate() {
            if *size >= self.target_bytes {
                continue;
            }
            let class = self.size_class(*size);
            if classes.len() <= class {
                classes.resize_with(class + 1, Vec::new);
            }
            classes[class].push(index);
        }
        classes.into_iter().find(|class| class.len() >= self.fan_in)
    }

    /// The class of a file of `size` bytes: 0 below `BASE_BYTES × fan_in`,
    /// one more for each further factor of `fan_in`.
    fn size_class(&self, size: u64) -> usize {
        let fan_in = self.fan_in as u64;
        let mut class = 0;
        let mut bound = BASE_BYTES.saturating_mul(fan_in);
        while size >= bound {
            class += 1;
            bound = bound.saturating_mul(fan_in);
        }
        class
    }
}

/// Continuous compaction of one partition of `table` just written: merges
/// its small files while one of its size classes is full, calling
/// `on_merged` after each merge's commit. Stops at the first merge that
/// does not commit (another writer changed the partition): the next
/// commit tries again.
pub(crate) async fn merge_full_classes(
    table: &mut DeltaTable,
    policy: MergePolicy,
    partition: &PartitionValues,
    mut on_merged: impl FnMut(&Merged),
) -> Result<(), StoreError> {
    loop {
        let files: Vec<TableFile> = table_files(table)?
            .into_iter()
            .filter(|file| &file.partition_values == partition)
            .collect();
        let sizes: Vec<u64> = files.iter().map(|file| file.size).collect();
        let Some(chosen) = policy.files_to_merge(&sizes) else {
            return Ok(());
        };
        let inputs: Vec<TableFile> = chosen.into_iter().map(|i| files[i].clone()).collect();
        match merge_files(table, &inputs, policy.target_bytes).await? {
            Some(merged) => on_merged(&merged),
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;

    #[test]
    fn a_class_is_merged_once_it_holds_fan_in_files() {
        let policy = MergePolicy::default();
        let nine_small = vec![5 * KIB; 9];
        assert_eq!(policy.files_to_merge(&nine_small), None);
        let mut ten = nine_small.clone();
        ten.push(600 * KIB);
        assert_eq!(policy.files_to_merge(&ten), Some((0..10).collect()));
    }

    #[test]
    fn classes_are_apart_and_the_smallest_full_one_goes_first() {
        let policy = MergePolicy::default();
        // Nine tiny files, ten of class 1 (640 KiB to 6.4 MiB), ten of class 2.
        let mut sizes = vec![8 * KIB; 9];
        sizes.extend(vec![MIB; 10]);
        sizes.extend(vec![10 * MIB; 10]);
        assert_eq!(policy.files_to_merge(&sizes), Some((9..19).collect()));
        sizes.truncate(18);
        assert_eq!(policy.files_to_merge(&sizes[..18]), None);
        sizes.extend(vec![10 * MIB; 10]);
        assert_eq!(policy.files_to_merge(&sizes), Some((18..28).collect()));
    }

    #[test]
    fn files_of_the_target_size_are_left_alone() {
        let policy = MergePolicy {
            fan_in: 2,
            target_bytes: 100 * MIB,
        };
        assert_eq!(policy.files_to_merge(&[100 * MIB, 200 * MIB]), None);
        assert_eq!(
            policy.files_to_merge(&[100 * MIB, 3 * KIB, 4 * KIB]),
            Some(vec![1, 2])
        );
    }

    #[test]
    fn a_fan_in_below_two_merges_nothing() {
        assert_eq!(MergePolicy::OFF.files_to_merge(&[KIB; 100]), None);
        let one = MergePolicy {
            fan_in: 1,
            ..MergePolicy::default()
        };
        assert_eq!(one.files_to_merge(&[KIB; 100]), None);
    }

    #[test]
    fn a_stream_of_small_commits_keeps_few_files_and_rewrites_each_byte_a_few_times() {
        let policy = MergePolicy::default();
        let mut files: Vec<u64> = Vec::new();
        let (mut written, mut rewritten) = (0u64, 0u64);
        for _ in 0..86_400 {
            files.push(10 * KIB);
            written += 10 * KIB;
            while let Some(merge) = policy.files_to_merge(&files) {
                let merged: u64 = merge.iter().map(|i| files[*i]).sum();
                rewritten += merged;
                let keep: Vec<u64> = (0..files.len())
                    .filter(|i| !merge.contains(i))
                    .map(|i| files[i])
                    .collect();
                files = keep;
                files.push(merged);
            }
            assert!(files.len() < 4 * policy.fan_in, "{} files", files.len());
        }
        let amplification = rewritten as f64 / written as f64;
        assert!(
            amplification < 8.0,
            "each byte rewritten {amplification:.1} times"
        );
    }
}
