//! Kafka offsets recorded in the store, the source of truth of exactly once
//! (DESIGN §4).
//!
//! Each Delta commit carries, per topic-partition of the batch, an
//! application transaction whose version is the last offset the batch holds.
//! The tables commit one after another, so after a crash they may disagree:
//! the consumer resumes at the smallest recorded offset + 1 and, per table,
//! skips the rows that table already holds. The consumer group's own
//! committed offsets are only for lag monitoring.

use std::collections::{BTreeMap, HashMap};

use aitrail_schemas::EventType;
use aitrail_store::StoreError;
use aitrail_store::StoreRoot;
use aitrail_store::rows::TableBatch;
use aitrail_store::table::{open_or_create, recorded_version};
use rdkafka::Offset;

use crate::partitions::TopicPartition;

/// What each table has recorded for one topic-partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionOffsets {
    /// Per table, the last committed offset, `None` if it never committed
    /// anything of this partition.
    pub tables: Vec<(EventType, Option<i64>)>,
}

impl PartitionOffsets {
    /// Where consumption must resume so that no table misses a message:
    /// after the smallest recorded offset. A table that never committed
    /// this partition leaves the consumer group's offset in charge, which
    /// is never past the first batch because it is committed after the
    /// store.
    pub fn resume_at(&self) -> Offset {
        let mut lowest = i64::MAX;
        for (_, recorded) in &self.tables {
            match recorded {
                Some(offset) => lowest = lowest.min(*offset),
                None => return Offset::Stored,
            }
        }
        Offset::Offset(lowest + 1)
    }
}

/// Reads, from the tables as they are now in the store, what each table
/// recorded for `partitions` under consumer group `group`.
pub async fn read_recorded(
    root: &StoreRoot,
    group: &str,
    partitions: &[TopicPartition],
) -> Result<Vec<PartitionOffsets>, StoreError> {
    let mut recorded = vec![
        PartitionOffsets {
            tables: Vec::with_capacity(EventType::ALL.len())
        };
        partitions.len()
    ];
    for event_type in EventType::ALL {
        let table = open_or_create(root, *event_type).await?;
        for (partition, offsets) in partitions.iter().zip(&mut recorded) {
            let version = recorded_version(&table, &partition.app_id(group)).await?;
            offsets.tables.push((*event_type, version));
        }
    }
    Ok(recorded)
}

/// The recorded offsets of the partitions this consumer owns, kept current
/// as it commits; keyed by table and partition number.
#[derive(Debug, Default)]
pub struct RecordedOffsets {
    last: HashMap<(EventType, i32), i64>,
}

impl RecordedOffsets {
    /// Takes what the store recorded for partition `number` when it was
    /// assigned, replacing anything known before.
    pub fn assign(&mut self, number: i32, offsets: &PartitionOffsets) {
        for (event_type, recorded) in &offsets.tables {
            match recorded {
                Some(offset) => self.last.insert((*event_type, number), *offset),
                None => self.last.remove(&(*event_type, number)),
            };
        }
    }

    /// Forgets partition `number`, no longer owned.
    pub fn revoke(&mut self, number: i32) {
        self.last.retain(|(_, n), _| *n != number);
    }

    /// Records that every table now holds partition `number` up to `offset`.
    /// A table that was already further (a crash between the tables' commits
    /// left it ahead) keeps its own offset: lowering it would let the rows it
    /// holds beyond `offset` be read again as duplicates.
    pub fn committed(&mut self, number: i32, offset: i64) {
        for event_type in EventType::ALL {
            let last = self.last.entry((*event_type, number)).or_insert(offset);
            *last = (*last).max(offset);
        }
    }

    /// The offset `event_type`'s table records for each partition of a
    /// batch whose last offsets are `batch`: the batch's, or the table's own
    /// when a crash between the tables' commits left it further.
    pub fn to_record(&self, event_type: EventType, batch: &BTreeMap<i32, i64>) -> Vec<(i32, i64)> {
        batch
            .iter()
            .map(|(number, offset)| {
                let held = self.last.get(&(event_type, *number)).copied();
                (*number, held.map_or(*offset, |held| held.max(*offset)))
            })
            .collect()
    }

    /// Whether every table already holds the message at `offset` of
    /// partition `number`, so reading it again must add nothing anywhere.
    pub fn everywhere(&self, number: i32, offset: i64) -> bool {
        EventType::ALL.iter().all(|event_type| {
            self.last
                .get(&(*event_type, number))
                .is_some_and(|last| offset <= *last)
        })
    }

    /// Drops, per table, the rows that table already holds. This must run
    /// before the duplicate check: a row replayed after a crash is not a
    /// producer's retry, and must not go to the dead-letter topic.
    pub fn skip_committed(&self, batches: &mut [TableBatch]) {
        for batch in batches {
            let keep: Vec<bool> = batch
                .origins
                .iter()
                .map(|origin| {
                    let key = (batch.event_type, origin.position.partition);
                    self.last
                        .get(&key)
                        .is_none_or(|last| origin.position.offset > *last)
                })
                .collect();
            batch.retain(&keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(tables: [Option<i64>; 4]) -> PartitionOffsets {
        PartitionOffsets {
            tables: EventType::ALL.iter().copied().zip(tables).collect(),
        }
    }

    #[test]
    fn resumes_after_the_table_that_is_furthest_behind() {
        assert_eq!(
            offsets([Some(9), Some(4), Some(7), Some(7)]).resume_at(),
            Offset::Offset(5)
        );
        assert_eq!(
            offsets([Some(9), None, Some(7), Some(7)]).resume_at(),
            Offset::Stored
        );
    }

    #[test]
    fn a_message_is_everywhere_only_when_every_table_holds_it() {
        let mut recorded = RecordedOffsets::default();
        recorded.assign(0, &offsets([Some(9), Some(4), Some(7), Some(7)]));
        assert!(recorded.everywhere(0, 4));
        assert!(!recorded.everywhere(0, 5));
        recorded.committed(0, 12);
        assert!(recorded.everywhere(0, 12));
        recorded.revoke(0);
        assert!(!recorded.everywhere(0, 1));
    }

    #[test]
    fn a_commit_behind_a_table_leaves_that_table_ahead() {
        let mut recorded = RecordedOffsets::default();
        recorded.assign(0, &offsets([Some(12), None, None, None]));
        recorded.committed(0, 8);
        assert_eq!(recorded.last[&(EventType::ALL[0], 0)], 12);
        assert_eq!(recorded.last[&(EventType::ALL[1], 0)], 8);
        recorded.committed(0, 14);
        assert!(recorded.everywhere(0, 14));
    }

    #[test]
    fn a_table_ahead_records_its_own_offset() {
        let mut recorded = RecordedOffsets::default();
        recorded.assign(0, &offsets([Some(12), Some(5), None, None]));
        let batch = BTreeMap::from([(0, 8), (1, 3)]);
        assert_eq!(
            recorded.to_record(EventType::ALL[0], &batch),
            [(0, 12), (1, 3)]
        );
        assert_eq!(
            recorded.to_record(EventType::ALL[1], &batch),
            [(0, 8), (1, 3)]
        );
        assert_eq!(
            recorded.to_record(EventType::ALL[2], &batch),
            [(0, 8), (1, 3)]
        );
    }
}
