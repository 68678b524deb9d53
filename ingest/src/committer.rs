//! The store side of a flush, run as a task of its own so that the next
//! batch is read and validated while this one is written and committed.
//!
//! A commit, in order: drop per table what that table already holds; find
//! duplicates; deliver every dead letter of the batch (those the reader
//! sent while collecting it included); commit the rows with one application
//! transaction per topic-partition to every table. A crash anywhere loses
//! nothing: offsets not in the store are read again.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aitrail_kafka::backoff::Backoff;
use aitrail_schemas::kafka_key::kafka_key_of_value;
use aitrail_schemas::{EventType, Rejection};
use aitrail_store::StoreRoot;
use aitrail_store::rows::TableBatch;
use aitrail_store::writer::StoreWriter;
use chrono::{TimeDelta, Utc};
use deltalake::kernel::Transaction;
use tokio_util::sync::CancellationToken;

use crate::IngestError;
use crate::dlq::DeadLetters;
use crate::http::Health;
use crate::metrics::Metrics;
use crate::offsets::{RecordedOffsets, read_recorded};
use crate::partitions::{Partitions, TopicPartition};

/// Attempts at a commit once stopping, before giving the batch up to be
/// read again by the next run.
const ATTEMPTS_WHEN_STOPPING: u32 = 3;

/// What the consumer shares with the committer and the rebalance callbacks.
#[derive(Clone)]
pub struct Shared {
    /// Rejects go here, from the reader and from the duplicate check.
    pub dead_letters: Arc<tokio::sync::Mutex<DeadLetters>>,
    /// What each table holds of each owned partition.
    pub recorded: Arc<Mutex<RecordedOffsets>>,
    /// Numbers of topic-partitions.
    pub partitions: Partitions,
    /// Counters and gauges.
    pub metrics: Arc<Metrics>,
    /// Readiness.
    pub health: Arc<Health>,
}

impl Shared {
    /// The offsets recorded, locked for a moment.
    pub fn recorded(&self) -> std::sync::MutexGuard<'_, RecordedOffsets> {
        self.recorded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `rejection` of the message at `offset` of partition `number` to
    /// the dead-letter topic and counts it.
    pub async fn reject(
        &self,
        rejection: Rejection,
        number: i32,
        offset: i64,
        key: Option<&[u8]>,
    ) -> Result<(), IngestError> {
        let source = self.partitions.get(number);
        tracing::debug!(topic = %source.topic, partition = source.partition, offset, reason = %rejection.reason, "rejected");
        self.metrics.reject(rejection.reason);
        self.dead_letters
            .lock()
            .await
            .send(rejection, &source, offset, key, Utc::now())
            .await?;
        Ok(())
    }
}

/// The messages read since the last flush.
#[derive(Debug, Default)]
pub struct Batch {
    /// Per partition number, the last offset read.
    pub last_offsets: BTreeMap<i32, i64>,
    /// When its first message was read.
    pub started: Option<Instant>,
    /// Messages read, valid or not.
    pub messages: u64,
}

impl Batch {
    /// Counts the message at `offset` of partition `number`.
    pub fn note(&mut self, number: i32, offset: i64) {
        self.started.get_or_insert_with(Instant::now);
        self.messages += 1;
        let last = self.last_offsets.entry(number).or_insert(offset);
        *last = (*last).max(offset);
    }
}

/// What a commit did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Committed {
    /// Rows committed.
    pub rows: u64,
    /// Rows sent to the dead-letter topic as duplicates.
    pub duplicates: u64,
}

/// Whether a commit is running, so that a rebalance callback can wait for
/// it: a revoked partition must not be committed by this instance after
/// its next owner has read the store's offsets.
#[derive(Clone, Default)]
pub struct CommitGate {
    running: Arc<(Mutex<bool>, Condvar)>,
}

impl CommitGate {
    /// Marks a commit as running until the returned guard is dropped.
    pub fn enter(&self) -> CommitRunning {
        *self
            .running
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        CommitRunning(self.clone())
    }

    /// Blocks the calling thread until no commit is running.
    pub fn wait_idle(&self) {
        let (running, idle) = &*self.running;
        let guard = running.lock().unwrap_or_else(PoisonError::into_inner);
        let _idle = idle
            .wait_while(guard, |running| *running)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

/// A running commit; dropping it (even by a panic) opens the gate.
pub struct CommitRunning(CommitGate);

impl Drop for CommitRunning {
    fn drop(&mut self) {
        let (running, idle) = &*self.0.running;
        *running.lock().unwrap_or_else(PoisonError::into_inner) = false;
        idle.notify_all();
    }
}

/// The owner of the store writer.
pub struct Committer {
    /// Commits batches.
    pub writer: StoreWriter,
    /// What is shared with the reader.
    pub shared: Shared,
    /// The consumer group, part of every application id.
    pub group: String,
    /// Where the store is, to reopen it after a failure.
    pub root: StoreRoot,
    /// The dedup window the writer is opened with.
    pub dedup_window: TimeDelta,
    /// Once cancelled, a failing commit gives up after a few attempts, and
    /// every table records the offsets of the last batch.
    pub shutdown: CancellationToken,
    /// How long a table without new rows may go without recording offsets.
    pub idle_commit_interval: Duration,
    /// When each table last recorded offsets in this run.
    pub last_recorded: HashMap<EventType, Instant>,
}

impl Committer {
    /// Commits `tables`, the rows of `batch`, retrying while the store is
    /// unreachable. A failed attempt may have committed some tables and not
    /// others; the retry reads what each table recorded and skips it.
    pub async fn commit(
        &mut self,
        mut tables: Vec<TableBatch>,
        batch: &Batch,
    ) -> Result<Committed, IngestError> {
        let started = Instant::now();
        let mut backoff = Backoff::default();
        let mut attempts = 0;
        let committed = loop {
            attempts += 1;
            match self.try_commit(&mut tables, &batch.last_offsets).await {
                Ok(committed) => break committed,
                Err(error) => {
                    self.shared.health.set_store(false);
                    if self.shutdown.is_cancelled() && attempts >= ATTEMPTS_WHEN_STOPPING {
                        return Err(error);
                    }
                    tracing::warn!(%error, attempts, "commit failed; retrying");
                    backoff.wait().await;
                    if let Err(error) = self.reopen(batch).await {
                        tracing::warn!(%error, "cannot reopen the store");
                    }
                }
            }
        };
        self.shared.health.set_store(true);
        {
            let mut recorded = self.shared.recorded();
            for (number, offset) in &batch.last_offsets {
                recorded.committed(*number, *offset);
            }
        }
        let elapsed = started.elapsed();
        let metrics = &self.shared.metrics;
        metrics.committed.inc_by(committed.rows);
        metrics.batch_messages.observe(batch.messages as f64);
        metrics.commit_seconds.observe(elapsed.as_secs_f64());
        metrics
            .last_commit
            .set(Utc::now().timestamp_micros() as f64 / 1e6);
        tracing::info!(
            rows = committed.rows,
            messages = batch.messages,
            partitions = batch.last_offsets.len(),
            ms = elapsed.as_millis() as u64,
            "batch committed"
        );
        Ok(committed)
    }

    /// One attempt: skip what each table holds, send duplicates to the
    /// dead-letter topic, wait for every dead letter, then commit with each
    /// table's offsets of the batch's partitions.
    async fn try_commit(
        &mut self,
        tables: &mut [TableBatch],
        last_offsets: &BTreeMap<i32, i64>,
    ) -> Result<Committed, IngestError> {
        self.shared.recorded().skip_committed(tables);
        let mut duplicates = 0;
        for table in tables.iter_mut() {
            for duplicate in self.writer.take_duplicates(table).await? {
                let key = kafka_key_of_value(&duplicate.event);
                self.shared
                    .reject(
                        duplicate.rejection(),
                        duplicate.position.partition,
                        duplicate.position.offset,
                        key.as_deref(),
                    )
                    .await?;
                duplicates += 1;
            }
        }
        self.shared.dead_letters.lock().await.deliver().await?;
        let recording: Vec<EventType> = EventType::ALL
            .iter()
            .copied()
            .filter(|event_type| self.records_offsets(*event_type, tables))
            .collect();
        let transactions: Vec<(EventType, Vec<Transaction>)> = {
            let recorded = self.shared.recorded();
            recording
                .iter()
                .map(|event_type| {
                    let versions = recorded.to_record(*event_type, last_offsets);
                    let transactions = versions
                        .into_iter()
                        .map(|(number, offset)| {
                            let app_id = self.shared.partitions.get(number).app_id(&self.group);
                            Transaction::new(app_id, offset)
                        })
                        .collect();
                    (*event_type, transactions)
                })
                .collect()
        };
        let transactions_of = |event_type: EventType| -> Vec<Transaction> {
            transactions
                .iter()
                .find(|(t, _)| *t == event_type)
                .map(|(_, transactions)| transactions.clone())
                .unwrap_or_default()
        };
        let merged_before = self.writer.merged_files();
        let rows = self.writer.commit_unique(tables, transactions_of).await?;
        self.shared
            .metrics
            .merged_files
            .inc_by(self.writer.merged_files() - merged_before);
        let now = Instant::now();
        for event_type in recording {
            self.last_recorded.insert(event_type, now);
        }
        Ok(Committed {
            rows: rows as u64,
            duplicates,
        })
    }

    /// Whether the table of `event_type` commits in this flush: when it has
    /// rows; or, without rows, to record the batch's offsets, when its last
    /// record is older than the idle interval or the ingest is stopping.
    /// A table that skips keeps older offsets in the store, which only
    /// costs replay after a crash: the messages it has not recorded are
    /// read again, and each table skips what it holds (DESIGN §4).
    fn records_offsets(&self, event_type: EventType, tables: &[TableBatch]) -> bool {
        let has_rows = tables
            .iter()
            .any(|table| table.event_type == event_type && table.batch.num_rows() > 0);
        has_rows
            || self.shutdown.is_cancelled()
            || self
                .last_recorded
                .get(&event_type)
                .is_none_or(|at| at.elapsed() >= self.idle_commit_interval)
    }

    /// After a failed commit: a fresh writer, and what each table recorded
    /// for the batch's partitions, which the failed attempt may have moved.
    async fn reopen(&mut self, batch: &Batch) -> Result<(), IngestError> {
        let merge_policy = self.writer.merge_policy();
        self.writer = StoreWriter::open(&self.root, self.dedup_window)
            .await?
            .with_merge_policy(merge_policy);
        let numbers: Vec<i32> = batch.last_offsets.keys().copied().collect();
        let partitions: Vec<TopicPartition> = numbers
            .iter()
            .map(|n| self.shared.partitions.get(*n))
            .collect();
        let recorded = read_recorded(&self.root, &self.group, &partitions).await?;
        let mut current = self.shared.recorded();
        for (number, offsets) in numbers.iter().zip(&recorded) {
            current.assign(*number, offsets);
        }
        Ok(())
    }
}
