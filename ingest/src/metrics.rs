//! The Prometheus metrics of the ingest, served at `/metrics`.

use std::sync::atomic::AtomicU64;

use aitrail_schemas::RejectReason;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a per-reason counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The reject reason's wire name.
    pub reason: &'static str,
}

/// Labels of a per-partition gauge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct PartitionLabels {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
}

/// Every metric of the ingest and the registry that exposes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Messages read from Kafka.
    pub consumed: Counter,
    /// Rows committed to the store.
    pub committed: Counter,
    /// Messages sent to the dead-letter topic, by reason.
    pub rejected: Family<ReasonLabel, Counter>,
    /// Messages per flushed batch.
    pub batch_messages: Histogram,
    /// Seconds from the start of a flush to its store commit.
    pub commit_seconds: Histogram,
    /// Messages not yet committed to the consumer group, per partition.
    pub lag: Family<PartitionLabels, Gauge>,
    /// Unix time of the last store commit.
    pub last_commit: Gauge<f64, AtomicU64>,
    /// Offsets the broker no longer held where the ingest resumed, per
    /// partition: events its retention deleted before they were stored.
    pub skipped: Family<PartitionLabels, Counter>,
    /// Small files merged away by continuous compaction.
    pub merged_files: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("aitrail_ingest");
        let m = Metrics {
            registry: Registry::default(),
            consumed: Counter::default(),
            committed: Counter::default(),
            rejected: Family::default(),
            batch_messages: Histogram::new(exponential_buckets(1.0, 4.0, 10)),
            commit_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            lag: Family::default(),
            last_commit: Gauge::default(),
            skipped: Family::default(),
            merged_files: Counter::default(),
        };
        registry.register("consumed", "Messages read from Kafka", m.consumed.clone());
        registry.register(
            "committed_rows",
            "Rows committed to the store",
            m.committed.clone(),
        );
        registry.register(
            "rejected",
            "Messages sent to the dead-letter topic, by reason",
            m.rejected.clone(),
        );
        registry.register(
            "batch_messages",
            "Messages per flushed batch",
            m.batch_messages.clone(),
        );
        registry.register(
            "commit_seconds",
            "Seconds from the start of a flush to its store commit",
            m.commit_seconds.clone(),
        );
        registry.register(
            "consumer_lag",
            "Messages of a partition not yet committed to the consumer group",
            m.lag.clone(),
        );
        registry.register(
            "last_commit_timestamp_seconds",
            "Unix time of the last store commit",
            m.last_commit.clone(),
        );
        registry.register(
            "skipped_offsets",
            "Offsets the broker no longer held where the ingest resumed from the store \
             (deleted by the topic's retention before they were ingested, or transaction markers)",
            m.skipped.clone(),
        );
        registry.register(
            "merged_files",
            "Small files merged away by continuous compaction of the partitions being written",
            m.merged_files.clone(),
        );
        registry.register_collector(Box::new(DigestHeads));
        Metrics { registry, ..m }
    }
}

/// The head of each table's digest chain (DESIGN §11) as of the last
/// commit this process signed: `aitrail_ingest_digest_head{table,
/// sha256}` = its version, so the latest digest hash can be witnessed
/// outside the store. Read at each scrape, so a hash that is no longer the
/// head leaves no series behind.
#[derive(Debug)]
struct DigestHeads;

impl Collector for DigestHeads {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let heads = aitrail_store::integrity::chain_heads();
        if heads.is_empty() {
            return Ok(());
        }
        let mut family = encoder.encode_descriptor(
            "digest_head",
            "Version of each table's latest signed digest, labelled with the digest's SHA-256",
            None,
            MetricType::Gauge,
        )?;
        for (table, version, sha256) in heads {
            let labels = vec![("table".to_string(), table), ("sha256".to_string(), sha256)];
            ConstGauge::new(i64::try_from(version).unwrap_or(i64::MAX))
                .encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

impl Metrics {
    /// Counts one message sent to the dead-letter topic.
    pub fn reject(&self, reason: RejectReason) {
        self.rejected
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .inc();
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        aitrail_ops::encode(&self.registry)
    }
}
