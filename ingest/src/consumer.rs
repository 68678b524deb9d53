//! The consumer loop: read, validate and batch; hand each full batch to the
//! [`Committer`], which commits it exactly once (DESIGN §4) while the next
//! one is read.
//!
//! At most one commit runs at a time: a batch is handed over only after the
//! previous commit ended, so two batches are in memory at the most, and
//! while the reader waits nothing more is read (librdkafka's bounded
//! prefetch queue is the only buffer): that is the backpressure which keeps
//! memory bounded. The consumer group's offsets are committed after the
//! store's, for lag monitoring only.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use aitrail_schemas::clock::received_now;
use aitrail_store::StoreRoot;
use aitrail_store::rows::{Position, TableBatch};
use aitrail_store::sink::EventSink;
use aitrail_store::writer::StoreWriter;
use chrono::TimeDelta;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::IngestError;
use crate::callbacks::{AssignmentChange, ConsumerCallbacks};
use crate::committer::{Batch, CommitGate, Committed, Committer, Shared};
use crate::metrics::PartitionLabels;

/// What a run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Messages read from Kafka.
    pub consumed: u64,
    /// Rows committed to the store.
    pub committed: u64,
    /// Messages sent to the dead-letter topic.
    pub rejected: u64,
}

/// A commit running in its task, which hands the committer back.
type InFlight = JoinHandle<(Committer, Batch, Result<Committed, IngestError>)>;

/// Everything the loop changes; the consumer itself is borrowed beside it.
pub struct Pipeline {
    sink: EventSink,
    shared: Shared,
    gate: CommitGate,
    max_batch_age: Duration,
    committer: Option<Committer>,
    in_flight: Option<InFlight>,
    batch: Batch,
    summary: Summary,
    /// Partitions (by number) assigned with an offset recorded in the
    /// store, not yet read since: the offset their first message must have.
    resumed_at: HashMap<i32, i64>,
}

/// How the pipeline is put together.
pub struct PipelineParts {
    /// Validates and batches rows.
    pub sink: EventSink,
    /// Commits batches.
    pub writer: StoreWriter,
    /// What the reader, the committer and the callbacks share.
    pub shared: Shared,
    /// Tells the rebalance callbacks whether a commit runs.
    pub gate: CommitGate,
    /// The consumer group, part of every application id.
    pub group: String,
    /// Where the store is, to reopen it after a failure.
    pub root: StoreRoot,
    /// The dedup window the writer is opened with.
    pub dedup_window: TimeDelta,
    /// Flush when the oldest message of the batch is this old.
    pub max_batch_age: Duration,
    /// How long a table without new rows may go without recording offsets.
    pub idle_commit_interval: Duration,
    /// Cancelled when the ingest must stop.
    pub shutdown: CancellationToken,
}

impl Pipeline {
    /// A pipeline with nothing read yet.
    pub fn new(parts: PipelineParts) -> Self {
        Pipeline {
            sink: parts.sink,
            shared: parts.shared.clone(),
            gate: parts.gate,
            max_batch_age: parts.max_batch_age,
            committer: Some(Committer {
                writer: parts.writer,
                shared: parts.shared,
                group: parts.group,
                root: parts.root,
                dedup_window: parts.dedup_window,
                shutdown: parts.shutdown,
                idle_commit_interval: parts.idle_commit_interval,
                last_recorded: HashMap::new(),
            }),
            in_flight: None,
            batch: Batch::default(),
            summary: Summary::default(),
            resumed_at: HashMap::new(),
        }
    }

    /// Consumes until `shutdown`, then flushes what is pending and commits it.
    pub async fn run(
        mut self,
        consumer: &StreamConsumer<ConsumerCallbacks>,
        shutdown: &CancellationToken,
    ) -> Result<Summary, IngestError> {
        // One timer for the batch age, set again only when a batch starts:
        // a new timer per message would cost a timer-wheel registration
        // (and a wake-up of the driver) for every message.
        let age_limit = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(age_limit);
        let mut age_limit_at = None;
        let cancelled = shutdown.cancelled();
        tokio::pin!(cancelled);
        loop {
            let deadline = self
                .batch
                .started
                .map(|started| tokio::time::Instant::from_std(started + self.max_batch_age));
            if deadline != age_limit_at {
                if let Some(deadline) = deadline {
                    age_limit.as_mut().reset(deadline);
                }
                age_limit_at = deadline;
            }
            tokio::select! {
                biased;
                () = &mut cancelled => break,
                () = &mut age_limit, if deadline.is_some() => {
                    self.apply_changes(consumer).await?;
                    self.flush(consumer).await?;
                }
                received = consumer.recv() => {
                    self.apply_changes(consumer).await?;
                    match received {
                        Ok(message) => self.take(&message).await?,
                        Err(error) => consume_error(&error).await,
                    }
                    if self.sink.is_full() {
                        self.flush(consumer).await?;
                    }
                }
            }
        }
        tracing::info!(
            pending_messages = self.batch.messages,
            "stopping: flushing the pending batch"
        );
        self.apply_changes(consumer).await?;
        self.flush(consumer).await?;
        self.settle(consumer, CommitMode::Sync).await?;
        Ok(self.summary)
    }

    /// Follows the rebalances the callbacks saw: assigned partitions take
    /// the offsets the store recorded; a revoked partition's pending rows
    /// are dropped (its next owner reads them again from the store's
    /// offsets) and the rest of the batch is committed at once. The revoke
    /// callback already waited for a running commit to end.
    async fn apply_changes(
        &mut self,
        consumer: &StreamConsumer<ConsumerCallbacks>,
    ) -> Result<(), IngestError> {
        for change in consumer.context().take_changes() {
            match change {
                AssignmentChange::Assigned(assigned) => {
                    let mut recorded = self.shared.recorded();
                    for (number, offsets) in &assigned {
                        recorded.assign(*number, offsets);
                        if let Offset::Offset(resume_at) = offsets.resume_at() {
                            self.resumed_at.insert(*number, resume_at);
                        }
                    }
                }
                AssignmentChange::Revoked(revoked) => {
                    self.settle(consumer, CommitMode::Async).await?;
                    let revoked: HashSet<i32> = revoked.into_iter().collect();
                    if self.batch.last_offsets.keys().any(|n| revoked.contains(n)) {
                        let mut tables = self.sink.take_batch();
                        for table in &mut tables {
                            let keep: Vec<bool> = table
                                .origins
                                .iter()
                                .map(|o| !revoked.contains(&o.position.partition))
                                .collect();
                            table.retain(&keep);
                        }
                        self.batch.last_offsets.retain(|n, _| !revoked.contains(n));
                        if self.batch.last_offsets.is_empty() {
                            self.batch = Batch::default();
                        } else {
                            self.start_commit(consumer, tables).await?;
                            self.settle(consumer, CommitMode::Async).await?;
                        }
                    }
                    let mut recorded = self.shared.recorded();
                    for number in revoked {
                        recorded.revoke(number);
                        self.resumed_at.remove(&number);
                    }
                }
            }
        }
        Ok(())
    }

    /// Takes one message: a valid event joins the batch, anything else goes
    /// to the dead-letter topic. Either way its offset is the batch's.
    async fn take(&mut self, message: &BorrowedMessage<'_>) -> Result<(), IngestError> {
        self.shared.metrics.consumed.inc();
        self.summary.consumed += 1;
        self.shared.health.set_broker(true);
        let number = self
            .shared
            .partitions
            .number(message.topic(), message.partition());
        let offset = message.offset();
        if let Some(expected) = self.resumed_at.remove(&number)
            && offset > expected
        {
            self.report_skipped(number, expected, offset);
        }
        if self.shared.recorded().everywhere(number, offset) {
            return Ok(());
        }
        self.batch.note(number, offset);
        let raw = message.payload().unwrap_or_default();
        let position = Position {
            partition: number,
            offset,
        };
        if let Err(rejection) = self.sink.accept(raw, position, received_now()) {
            self.summary.rejected += 1;
            self.shared
                .reject(rejection, number, offset, message.key())
                .await?;
        }
        Ok(())
    }

    /// Says loudly that a partition resumed past offsets the store has not
    /// recorded: the broker no longer had them (the topic's retention
    /// deleted them before they were ingested), unless they were
    /// transaction markers, which take offsets too.
    fn report_skipped(&self, number: i32, expected: i64, delivered: i64) {
        let partition = self.shared.partitions.get(number);
        let missing = delivered - expected;
        tracing::error!(
            topic = %partition.topic,
            partition = partition.partition,
            first_missing = expected,
            first_delivered = delivered,
            missing,
            "the broker no longer holds offsets the store has not recorded: deleted by the topic's retention before they were ingested, or transaction markers"
        );
        self.shared
            .metrics
            .skipped
            .get_or_create(&PartitionLabels {
                topic: partition.topic.to_string(),
                partition: partition.partition,
            })
            .inc_by(u64::try_from(missing).unwrap_or(0));
    }

    /// Hands the pending batch to the committer, if anything was read since
    /// the last one.
    async fn flush(
        &mut self,
        consumer: &StreamConsumer<ConsumerCallbacks>,
    ) -> Result<(), IngestError> {
        if self.batch.last_offsets.is_empty() {
            return Ok(());
        }
        let tables = self.sink.take_batch();
        self.start_commit(consumer, tables).await
    }

    /// Waits for the running commit, if any, then starts committing
    /// `tables` with the batch's offsets.
    async fn start_commit(
        &mut self,
        consumer: &StreamConsumer<ConsumerCallbacks>,
        tables: Vec<TableBatch>,
    ) -> Result<(), IngestError> {
        self.settle(consumer, CommitMode::Async).await?;
        let batch = std::mem::take(&mut self.batch);
        let mut committer = self
            .committer
            .take()
            .expect("the committer is back once the running commit is settled");
        let running = self.gate.enter();
        self.in_flight = Some(tokio::spawn(async move {
            let outcome = committer.commit(tables, &batch).await;
            drop(running);
            (committer, batch, outcome)
        }));
        Ok(())
    }

    /// Waits for the running commit, if any, takes the committer back and
    /// tells the consumer group how far the store now is.
    async fn settle(
        &mut self,
        consumer: &StreamConsumer<ConsumerCallbacks>,
        mode: CommitMode,
    ) -> Result<(), IngestError> {
        let Some(in_flight) = self.in_flight.take() else {
            return Ok(());
        };
        let (committer, batch, outcome) = match in_flight.await {
            Ok(done) => done,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        };
        self.committer = Some(committer);
        let committed = outcome?;
        self.summary.committed += committed.rows;
        self.summary.rejected += committed.duplicates;
        self.commit_group_offsets(consumer, &batch.last_offsets, mode);
        Ok(())
    }

    /// Tells the consumer group how far the store is, so that lag is
    /// monitored the usual way; the store stays the source of truth.
    fn commit_group_offsets(
        &self,
        consumer: &StreamConsumer<ConsumerCallbacks>,
        last_offsets: &BTreeMap<i32, i64>,
        mode: CommitMode,
    ) {
        let mut list = TopicPartitionList::with_capacity(last_offsets.len());
        for (number, offset) in last_offsets {
            let partition = self.shared.partitions.get(*number);
            if let Err(error) = list.add_partition_offset(
                &partition.topic,
                partition.partition,
                Offset::Offset(offset + 1),
            ) {
                tracing::warn!(%error, "cannot list an offset to commit to the group");
            }
        }
        if let Err(error) = consumer.commit(&list, mode) {
            tracing::warn!(%error, "cannot commit offsets to the consumer group");
        }
    }
}

/// librdkafka reconnects by itself; an error while consuming is logged and
/// the loop goes on after a pause, so a broker outage never ends the run.
async fn consume_error(error: &KafkaError) {
    if matches!(error, KafkaError::PartitionEOF(_)) {
        return;
    }
    tracing::warn!(%error, "cannot consume; librdkafka retries");
    tokio::time::sleep(Duration::from_millis(200)).await;
}
