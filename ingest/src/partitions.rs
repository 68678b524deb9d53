//! The topic-partitions this ingest has seen, each given a small number.
//!
//! The store's `Position` of a row has a partition and an offset but no
//! topic; with several topics the ingest stores the topic-partition's number
//! here in `Position::partition`, and maps it back when it builds offsets,
//! dead letters and transactions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// A Kafka topic-partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
}

impl TopicPartition {
    /// The Delta application id that records this partition's last committed
    /// offset for consumer group `group` (DESIGN §4: per group, topic and
    /// partition).
    pub fn app_id(&self, group: &str) -> String {
        format!("aitrail:{group}:{}:{}", self.topic, self.partition)
    }
}

#[derive(Default)]
struct Numbering {
    /// Topic → partition → number; keyed by topic first so that a message's
    /// lookup borrows its topic name instead of allocating a key.
    numbers: HashMap<Arc<str>, HashMap<i32, i32>>,
    partitions: Vec<TopicPartition>,
}

/// Numbers topic-partitions on first sight; shared by the consumer loop and
/// the rebalance callbacks, so that both agree on the numbers.
#[derive(Clone, Default)]
pub struct Partitions {
    inner: Arc<Mutex<Numbering>>,
}

impl Partitions {
    /// The number of `topic`/`partition`, assigning the next one if new.
    pub fn number(&self, topic: &str, partition: i32) -> i32 {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(number) = inner
            .numbers
            .get(topic)
            .and_then(|numbers| numbers.get(&partition))
        {
            return *number;
        }
        let number =
            i32::try_from(inner.partitions.len()).expect("fewer than 2^31 topic-partitions");
        let topic: Arc<str> = Arc::from(topic);
        inner
            .numbers
            .entry(Arc::clone(&topic))
            .or_default()
            .insert(partition, number);
        inner.partitions.push(TopicPartition { topic, partition });
        number
    }

    /// The topic-partition numbered `number`.
    pub fn get(&self, number: i32) -> TopicPartition {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        usize::try_from(number)
            .ok()
            .and_then(|n| inner.partitions.get(n))
            .cloned()
            .expect("partition numbers are only handed out by `number`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_stable_per_topic_partition() {
        let partitions = Partitions::default();
        let a0 = partitions.number("a", 0);
        let b0 = partitions.number("b", 0);
        assert_ne!(a0, b0);
        let a1 = partitions.number("a", 1);
        assert_ne!(a1, a0);
        assert_ne!(a1, b0);
        assert_eq!(partitions.number("a", 0), a0);
        assert_eq!(partitions.number("a", 1), a1);
        assert_eq!(partitions.get(a1).partition, 1);
        assert_eq!(partitions.get(b0).topic.as_ref(), "b");
        assert_eq!(partitions.get(a0).app_id("g"), "aitrail:g:a:0");
    }
}
