//! The access log's writer task: requests are queued as they are answered
//! and committed to `access_log` in batches (every second, or sooner at
//! [`FLUSH_ROWS`]), and what is queued is committed before the server
//! exits. A failed commit keeps its records and is retried.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aitrail_store::StoreError;
use aitrail_store::StoreRoot;
use aitrail_store::access_log::{AccessLogWriter, AccessRecord};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::metrics::Metrics;

/// Records that trigger a commit before the second is up.
pub const FLUSH_ROWS: usize = 1000;
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Records queued before a request waits for the writer.
const QUEUE: usize = 10_000;
/// Commits tried at shutdown before queued records are given up.
const SHUTDOWN_ATTEMPTS: usize = 3;

/// The handle requests log through.
#[derive(Clone)]
pub struct AccessLog {
    sender: mpsc::Sender<AccessRecord>,
}

/// The running writer task.
pub struct AccessLogTask {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl AccessLog {
    /// Opens (creating if needed) `access_log` under `root` and starts the
    /// writer. `healthy` follows whether the last commit succeeded.
    pub async fn start(
        root: &StoreRoot,
        metrics: Arc<Metrics>,
        healthy: Arc<AtomicBool>,
    ) -> Result<(AccessLog, AccessLogTask), StoreError> {
        let writer = AccessLogWriter::open(root).await?;
        let (sender, receiver) = mpsc::channel(QUEUE);
        let stop = CancellationToken::new();
        let task = tokio::spawn(write(writer, receiver, stop.clone(), metrics, healthy));
        Ok((AccessLog { sender }, AccessLogTask { stop, task }))
    }

    /// Queues `record`; waits only if the writer is [`QUEUE`] records
    /// behind, so that no request goes unlogged.
    pub async fn record(&self, record: AccessRecord) {
        if self.sender.send(record).await.is_err() {
            tracing::error!("the access log writer has stopped; a request was not logged");
        }
    }
}

impl AccessLogTask {
    /// Commits everything queued so far and stops the writer. Call it once
    /// no request is being served any more.
    pub async fn finish(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the access log writer failed");
        }
    }
}

async fn write(
    mut writer: AccessLogWriter,
    mut receiver: mpsc::Receiver<AccessRecord>,
    stop: CancellationToken,
    metrics: Arc<Metrics>,
    healthy: Arc<AtomicBool>,
) {
    let mut pending: Vec<AccessRecord> = Vec::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    let mut flush = async |pending: &mut Vec<AccessRecord>| match writer.append(pending).await {
        Ok(()) => {
            pending.clear();
            healthy.store(true, Ordering::Relaxed);
        }
        Err(error) => {
            metrics.access_log_failures.inc();
            healthy.store(false, Ordering::Relaxed);
            tracing::warn!(%error, records = pending.len(), "access log commit failed; will retry");
        }
    };
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => flush(&mut pending).await,
            received = receiver.recv_many(&mut pending, FLUSH_ROWS) => {
                if received == 0 {
                    break;
                }
                if pending.len() >= FLUSH_ROWS {
                    flush(&mut pending).await;
                }
            }
        }
    }
    receiver.close();
    while let Ok(record) = receiver.try_recv() {
        pending.push(record);
    }
    for _ in 0..SHUTDOWN_ATTEMPTS {
        if pending.is_empty() {
            return;
        }
        flush(&mut pending).await;
    }
    if !pending.is_empty() {
        tracing::error!(
            records = pending.len(),
            "access records could not be committed at shutdown"
        );
    }
}
