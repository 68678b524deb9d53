//! The consumer loop: read, validate, batch, and commit each batch exactly
//! once (DESIGN §4).
//!
//! A flush, in order: drop per table what that table already holds; find
//! duplicates; deliver every dead letter of the batch; commit the rows with
//! one application transaction per topic-partition (its last offset) to
//! every table; then commit the consumer group's offsets, for lag
//! monitoring only. A crash anywhere loses nothing: offsets not in the store
//! are read again.
//!
//! Flushing runs inline, so while it commits nothing more is read and
//! librdkafka's bounded prefetch queue is the only buffer: that is the
//! backpressure which keeps memory bounded.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aitrail_schemas::{EventType, Rejection};
use aitrail_store::StoreRoot;
use aitrail_store::rows::{Position, TableBatch};
use aitrail_store::sink::EventSink;
use aitrail_store::writer::StoreWriter;
use chrono::{TimeDelta, Utc};
use deltalake::kernel::Transaction;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::IngestError;
use crate::backoff::Backoff;
use crate::context::{AssignmentChange, IngestContext};
use crate::dlq::DeadLetters;
use crate::http::Health;
use crate::metrics::Metrics;
use crate::offsets::{RecordedOffsets, read_recorded};
use crate::partitions::{Partitions, TopicPartition};
use crate::produce::event_key;

/// Attempts at a commit once stopping, before giving the batch up to be
/// read again by the next run.
const ATTEMPTS_WHEN_STOPPING: u32 = 3;

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

/// The messages read since the last flush.
#[derive(Debug, Default)]
struct Batch {
    /// Per partition number, the last offset read.
    last_offsets: BTreeMap<i32, i64>,
    started: Option<Instant>,
    messages: u64,
}

impl Batch {
    fn note(&mut self, number: i32, offset: i64) {
        self.started.get_or_insert_with(Instant::now);
        self.messages += 1;
        let last = self.last_offsets.entry(number).or_insert(offset);
        *last = (*last).max(offset);
    }
}

/// Everything the loop changes; the consumer itself is borrowed beside it.
pub struct Pipeline {
    /// Validates and batches rows.
    pub sink: EventSink,
    /// Commits batches.
    pub writer: StoreWriter,
    /// Rejects go here.
    pub dead_letters: DeadLetters,
    /// Numbers of topic-partitions, shared with the rebalance callbacks.
    pub partitions: Partitions,
    /// The consumer group, part of every application id.
    pub group: String,
    /// Where the store is, to reopen it after a failure.
    pub root: StoreRoot,
    /// The dedup window the writer is opened with.
    pub dedup_window: TimeDelta,
    /// Flush when the oldest message of the batch is this old.
    pub max_batch_age: Duration,
    /// Counters and gauges.
    pub metrics: Arc<Metrics>,
    /// Readiness.
    pub health: Arc<Health>,
    recorded: RecordedOffsets,
    batch: Batch,
    summary: Summary,
}

impl Pipeline {
    /// A pipeline with nothing read yet.
    #[expect(clippy::too_many_arguments, reason = "each part is distinct and named")]
    pub fn new(
        sink: EventSink,
        writer: StoreWriter,
        dead_letters: DeadLetters,
        partitions: Partitions,
        group: &str,
        root: StoreRoot,
        dedup_window: TimeDelta,
        max_batch_age: Duration,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
    ) -> Self {
        Pipeline {
            sink,
            writer,
            dead_letters,
            partitions,
            group: group.to_string(),
            root,
            dedup_window,
            max_batch_age,
            metrics,
            health,
            recorded: RecordedOffsets::default(),
            batch: Batch::default(),
            summary: Summary::default(),
        }
    }

    /// Consumes until `shutdown`, then flushes what is pending and commits it.
    pub async fn run(
        mut self,
        consumer: &StreamConsumer<IngestContext>,
        shutdown: &CancellationToken,
    ) -> Result<Summary, IngestError> {
        loop {
            let deadline = self
                .batch
                .started
                .map(|started| tokio::time::Instant::from_std(started + self.max_batch_age));
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = sleep_until(deadline) => {
                    self.apply_changes(consumer, false).await?;
                    self.flush(consumer, CommitMode::Async, false).await?;
                }
                received = consumer.recv() => {
                    self.apply_changes(consumer, false).await?;
                    match received {
                        Ok(message) => self.take(&message).await?,
                        Err(error) => consume_error(&error).await,
                    }
                    if self.sink.is_full() {
                        self.flush(consumer, CommitMode::Async, false).await?;
                    }
                }
            }
        }
        tracing::info!(
            pending_messages = self.batch.messages,
            "stopping: flushing the pending batch"
        );
        self.apply_changes(consumer, true).await?;
        self.flush(consumer, CommitMode::Sync, true).await?;
        Ok(self.summary)
    }

    /// Follows the rebalances the callbacks saw: assigned partitions take
    /// the offsets the store recorded; a revoked partition's pending rows
    /// are dropped (its next owner reads them again from the store's
    /// offsets) and the rest of the batch is committed at once.
    async fn apply_changes(
        &mut self,
        consumer: &StreamConsumer<IngestContext>,
        stopping: bool,
    ) -> Result<(), IngestError> {
        for change in consumer.context().take_changes() {
            match change {
                AssignmentChange::Assigned(assigned) => {
                    for (number, offsets) in &assigned {
                        self.recorded.assign(*number, offsets);
                    }
                }
                AssignmentChange::Revoked(revoked) => {
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
                            self.commit(consumer, tables, CommitMode::Async, stopping)
                                .await?;
                        }
                    }
                    for number in revoked {
                        self.recorded.revoke(number);
                    }
                }
            }
        }
        Ok(())
    }

    /// Takes one message: a valid event joins the batch, anything else goes
    /// to the dead-letter topic. Either way its offset is the batch's.
    async fn take(&mut self, message: &BorrowedMessage<'_>) -> Result<(), IngestError> {
        self.metrics.consumed.inc();
        self.summary.consumed += 1;
        self.health.set_broker(true);
        let number = self.partitions.number(message.topic(), message.partition());
        let offset = message.offset();
        if self.recorded.everywhere(number, offset) {
            return Ok(());
        }
        self.batch.note(number, offset);
        let raw = message.payload().unwrap_or_default();
        let now = Utc::now();
        let position = Position {
            partition: number,
            offset,
        };
        if let Err(rejection) = self.sink.accept(raw, position, now) {
            let source = self.partitions.get(number);
            self.reject(rejection, &source, offset, message.key())
                .await?;
        }
        Ok(())
    }

    async fn reject(
        &mut self,
        rejection: Rejection,
        source: &TopicPartition,
        offset: i64,
        key: Option<&[u8]>,
    ) -> Result<(), IngestError> {
        tracing::debug!(topic = %source.topic, partition = source.partition, offset, reason = %rejection.reason, "rejected");
        self.metrics.reject(rejection.reason);
        self.summary.rejected += 1;
        self.dead_letters
            .send(rejection, source, offset, key, Utc::now())
            .await?;
        Ok(())
    }

    /// Commits the pending batch, if anything was read since the last one.
    async fn flush(
        &mut self,
        consumer: &StreamConsumer<IngestContext>,
        mode: CommitMode,
        stopping: bool,
    ) -> Result<(), IngestError> {
        if self.batch.last_offsets.is_empty() {
            return Ok(());
        }
        let tables = self.sink.take_batch();
        self.commit(consumer, tables, mode, stopping).await
    }

    /// Commits `tables` with the batch's offsets, retrying while the store
    /// is unreachable. A failed attempt may have committed some tables and
    /// not others; the retry reads what each table recorded and skips it.
    async fn commit(
        &mut self,
        consumer: &StreamConsumer<IngestContext>,
        mut tables: Vec<TableBatch>,
        mode: CommitMode,
        stopping: bool,
    ) -> Result<(), IngestError> {
        let started = Instant::now();
        let batch = std::mem::take(&mut self.batch);
        let mut backoff = Backoff::default();
        let mut attempts = 0;
        let rows = loop {
            attempts += 1;
            match self.try_commit(&mut tables, &batch.last_offsets).await {
                Ok(rows) => break rows,
                Err(error) => {
                    self.health.set_store(false);
                    if stopping && attempts >= ATTEMPTS_WHEN_STOPPING {
                        return Err(error);
                    }
                    tracing::warn!(%error, attempts, "commit failed; retrying");
                    backoff.wait().await;
                    if let Err(error) = self.reopen(&batch).await {
                        tracing::warn!(%error, "cannot reopen the store");
                    }
                }
            }
        };
        self.health.set_store(true);
        for (number, offset) in &batch.last_offsets {
            self.recorded.committed(*number, *offset);
        }
        let elapsed = started.elapsed();
        self.metrics.committed.inc_by(rows as u64);
        self.metrics.batch_messages.observe(batch.messages as f64);
        self.metrics.commit_seconds.observe(elapsed.as_secs_f64());
        self.metrics
            .last_commit
            .set(Utc::now().timestamp_micros() as f64 / 1e6);
        self.summary.committed += rows as u64;
        tracing::info!(
            rows,
            messages = batch.messages,
            partitions = batch.last_offsets.len(),
            ms = elapsed.as_millis() as u64,
            "batch committed"
        );
        self.commit_group_offsets(consumer, &batch.last_offsets, mode);
        Ok(())
    }

    /// One attempt: skip what each table holds, send duplicates to the
    /// dead-letter topic, wait for every dead letter, then commit with each
    /// table's offsets of the batch's partitions.
    async fn try_commit(
        &mut self,
        tables: &mut [TableBatch],
        last_offsets: &BTreeMap<i32, i64>,
    ) -> Result<usize, IngestError> {
        self.recorded.skip_committed(tables);
        for table in tables.iter_mut() {
            for duplicate in self.writer.take_duplicates(table).await? {
                let rejection = duplicate.rejection();
                let source = self.partitions.get(duplicate.position.partition);
                let key = event_key(&duplicate.raw);
                self.reject(
                    rejection,
                    &source,
                    duplicate.position.offset,
                    key.as_deref(),
                )
                .await?;
            }
        }
        self.dead_letters.deliver().await?;
        let (recorded, partitions, group) = (&self.recorded, &self.partitions, &self.group);
        let transactions_of = |event_type: EventType| -> Vec<Transaction> {
            recorded
                .to_record(event_type, last_offsets)
                .into_iter()
                .map(|(number, offset)| {
                    Transaction::new(partitions.get(number).app_id(group), offset)
                })
                .collect()
        };
        Ok(self.writer.commit_unique(tables, transactions_of).await?)
    }

    /// After a failed commit: a fresh writer, and what each table recorded
    /// for the batch's partitions, which the failed attempt may have moved.
    async fn reopen(&mut self, batch: &Batch) -> Result<(), IngestError> {
        self.writer = StoreWriter::open(&self.root, self.dedup_window).await?;
        let numbers: Vec<i32> = batch.last_offsets.keys().copied().collect();
        let partitions: Vec<TopicPartition> =
            numbers.iter().map(|n| self.partitions.get(*n)).collect();
        let recorded = read_recorded(&self.root, &self.group, &partitions).await?;
        for (number, offsets) in numbers.iter().zip(&recorded) {
            self.recorded.assign(*number, offsets);
        }
        Ok(())
    }

    /// Tells the consumer group how far the store is, so that lag is
    /// monitored the usual way; the store stays the source of truth.
    fn commit_group_offsets(
        &self,
        consumer: &StreamConsumer<IngestContext>,
        last_offsets: &BTreeMap<i32, i64>,
        mode: CommitMode,
    ) {
        let mut list = TopicPartitionList::with_capacity(last_offsets.len());
        for (number, offset) in last_offsets {
            let partition = self.partitions.get(*number);
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

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
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
