//! The consumer's callbacks: rebalances, statistics and errors.
//!
//! On every assignment the partitions are assigned at the offsets recorded
//! in the store (DESIGN §4), not at the consumer group's: the callback reads
//! the tables as they are now, so a partition moving between instances
//! resumes exactly where the last commit of any instance left it. The
//! consumer loop learns of assignments and revocations from
//! [`ConsumerCallbacks::take_changes`].

use std::sync::{Arc, Mutex, PoisonError};

use aitrail_kafka::backoff::Backoff;
use aitrail_store::StoreRoot;
use rdkafka::TopicPartitionList;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};
use tokio_util::sync::CancellationToken;

use crate::committer::CommitGate;
use crate::http::Health;
use crate::metrics::{Metrics, PartitionLabels};
use crate::offsets::{PartitionOffsets, read_recorded};
use crate::partitions::{Partitions, TopicPartition};

/// A change of the partitions this consumer owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentChange {
    /// Partitions (by number) now owned, with what the store recorded.
    Assigned(Vec<(i32, PartitionOffsets)>),
    /// Partitions (by number) no longer owned.
    Revoked(Vec<i32>),
}

/// The ingest consumer's callbacks (what librdkafka calls its context).
pub struct ConsumerCallbacks {
    root: StoreRoot,
    group: String,
    partitions: Partitions,
    changes: Mutex<Vec<AssignmentChange>>,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    gate: CommitGate,
    shutdown: CancellationToken,
}

impl ConsumerCallbacks {
    /// Callbacks reading recorded offsets of consumer group `group` from the
    /// store at `root`; a revocation waits for the commit `gate` tells of;
    /// `shutdown` ends a wait for an unreachable store.
    pub fn new(
        root: StoreRoot,
        group: &str,
        partitions: Partitions,
        health: Arc<Health>,
        metrics: Arc<Metrics>,
        gate: CommitGate,
        shutdown: CancellationToken,
    ) -> Self {
        ConsumerCallbacks {
            root,
            group: group.to_string(),
            partitions,
            changes: Mutex::new(Vec::new()),
            health,
            metrics,
            gate,
            shutdown,
        }
    }

    /// The changes of assignment since the last call, oldest first.
    pub fn take_changes(&self) -> Vec<AssignmentChange> {
        std::mem::take(&mut *self.changes.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn push(&self, change: AssignmentChange) {
        self.changes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(change);
    }

    /// Reads the recorded offsets of `partitions`, retrying while the store
    /// is unreachable; `None` if the ingest is stopping meanwhile. The
    /// callback is synchronous, so the read runs on a thread of its own.
    fn recorded_offsets(&self, partitions: &[TopicPartition]) -> Option<Vec<PartitionOffsets>> {
        let read = || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!(%error, "cannot start a runtime to read recorded offsets");
                    return None;
                }
            };
            runtime.block_on(async {
                let mut backoff = Backoff::default();
                loop {
                    match read_recorded(&self.root, &self.group, partitions).await {
                        Ok(recorded) => {
                            self.health.set_store(true);
                            return Some(recorded);
                        }
                        Err(error) => {
                            self.health.set_store(false);
                            tracing::warn!(%error, "cannot read the offsets recorded in the store; retrying");
                        }
                    }
                    tokio::select! {
                        () = self.shutdown.cancelled() => return None,
                        () = backoff.wait() => {}
                    }
                }
            })
        };
        std::thread::scope(|scope| {
            scope
                .spawn(read)
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn assign(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        let assigned: Vec<TopicPartition> = tpl
            .elements()
            .iter()
            .map(|e| TopicPartition {
                topic: Arc::from(e.topic()),
                partition: e.partition(),
            })
            .collect();
        let Some(recorded) = self.recorded_offsets(&assigned) else {
            tracing::info!("stopping: partitions left unassigned");
            return;
        };
        let mut change = Vec::with_capacity(assigned.len());
        for (partition, offsets) in assigned.iter().zip(recorded) {
            let resume_at = offsets.resume_at();
            if let Err(error) =
                tpl.set_partition_offset(&partition.topic, partition.partition, resume_at)
            {
                tracing::error!(%error, topic = %partition.topic, partition = partition.partition, "cannot set the offset to resume at");
            }
            tracing::info!(
                topic = %partition.topic,
                partition = partition.partition,
                resume_at = ?resume_at,
                "partition assigned"
            );
            change.push((
                self.partitions
                    .number(&partition.topic, partition.partition),
                offsets,
            ));
        }
        self.push(AssignmentChange::Assigned(change));
        let assigned = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_assign(tpl),
            _ => consumer.assign(tpl),
        };
        if let Err(error) = assigned {
            tracing::error!(%error, "cannot assign partitions");
        }
    }

    /// Releases partitions, once the running commit (which may hold rows
    /// of them) has ended: their next owner starts from the store's offsets,
    /// which must then be final. The loop then drops their pending rows.
    fn revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        self.gate.wait_idle();
        let mut numbers = Vec::new();
        for element in tpl.elements() {
            tracing::info!(
                topic = element.topic(),
                partition = element.partition(),
                "partition revoked"
            );
            numbers.push(self.partitions.number(element.topic(), element.partition()));
            self.metrics.lag.remove(&PartitionLabels {
                topic: element.topic().to_string(),
                partition: element.partition(),
            });
        }
        self.push(AssignmentChange::Revoked(numbers));
        let revoked = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_unassign(tpl),
            _ => consumer.unassign(),
        };
        if let Err(error) = revoked {
            tracing::error!(%error, "cannot revoke partitions");
        }
    }
}

impl ClientContext for ConsumerCallbacks {
    /// Readiness and lag come from librdkafka's statistics: a broker is
    /// reachable when one is `UP`, and each partition reports its lag
    /// behind the consumer group's committed offset.
    fn stats(&self, statistics: Statistics) {
        let broker_up = statistics
            .brokers
            .values()
            .any(|broker| broker.nodeid >= 0 && broker.state == "UP");
        self.health.set_broker(broker_up);
        for (topic, stats) in &statistics.topics {
            for partition in stats.partitions.values() {
                if partition.partition < 0 || !partition.desired || partition.consumer_lag < 0 {
                    continue;
                }
                self.metrics
                    .lag
                    .get_or_create(&PartitionLabels {
                        topic: topic.clone(),
                        partition: partition.partition,
                    })
                    .set(partition.consumer_lag);
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.health.set_broker(false);
        }
        tracing::warn!(%error, reason, "kafka client error; librdkafka retries");
    }
}

impl ConsumerContext for ConsumerCallbacks {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.assign(consumer, tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.revoke(consumer, tpl),
            _ => {
                tracing::error!(error = ?RDKafkaErrorCode::from(err), "rebalance failed; releasing the partitions");
                self.revoke(consumer, tpl);
            }
        }
    }
}
