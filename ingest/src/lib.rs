//! The Kafka ingest service (DESIGN §1, §3, §4): a consumer group that
//! validates events, sends rejects to the dead-letter topic and commits
//! batches exactly once through [`aitrail_store::sink::EventSink`],
//! recording each topic-partition's last offset as a Delta application
//! transaction in the same commit.
//!
//! [`run`] is the service; `aitrail_kafka::producer::produce_lines` is the
//! reference collector that feeds it.

pub mod callbacks;
pub mod committer;
pub mod config;
pub mod consumer;
pub mod dlq;
pub mod http;
pub mod metrics;
pub mod offsets;
pub mod partitions;

use std::sync::Arc;

use aitrail_kafka::backoff::Backoff;
use aitrail_schemas::ValidatorConfig;
use aitrail_store::sink::{BatchLimits, EventSink};
use aitrail_store::writer::StoreWriter;
use aitrail_store::{Policy, StoreError, StoreRoot};
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::callbacks::ConsumerCallbacks;
use crate::committer::{CommitGate, Shared};
pub use crate::config::{ConfigError, IngestConfig, KafkaConfig};
use crate::config::{check_kafka, ingest_consumer};
pub use crate::consumer::Summary;
use crate::consumer::{Pipeline, PipelineParts};
use crate::dlq::DeadLetters;
use crate::http::{Health, Operations};
use crate::metrics::Metrics;
use crate::partitions::Partitions;

/// Why the ingest could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The configuration is wrong; the message names the key.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The operations endpoint could not listen.
    #[error("ingest.listen: cannot listen on {addr}: {source}")]
    Listen {
        /// The address configured.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Kafka refused an operation that is not retried.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The store failed, and the ingest was stopping so did not retry.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Everything the ingest needs, from `aitrail.toml`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The `[kafka]` section.
    pub kafka: KafkaConfig,
    /// The `[ingest]` section.
    pub ingest: IngestConfig,
    /// The `[store]` root.
    pub store: StoreRoot,
    /// The `[retention]` policy, which assigns tiers.
    pub policy: Policy,
}

/// Runs the ingest until `shutdown` is cancelled, then flushes, commits and
/// returns what it did. A broker or store that is down only delays it; an
/// invalid configuration fails at once with [`IngestError::Config`].
pub async fn run(settings: Settings, shutdown: CancellationToken) -> Result<Summary, IngestError> {
    let Settings {
        kafka,
        ingest,
        store,
        policy,
    } = settings;
    ingest.validate()?;
    check_kafka(&kafka)?;
    let group = kafka.group_id()?.to_string();
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health::default());
    let partitions = Partitions::default();

    let producer: FutureProducer = kafka.producer().create().map_err(config_or_kafka)?;
    let gate = CommitGate::default();
    let callbacks = ConsumerCallbacks::new(
        store.clone(),
        &group,
        partitions.clone(),
        Arc::clone(&health),
        Arc::clone(&metrics),
        gate.clone(),
        shutdown.clone(),
    );
    let consumer: StreamConsumer<ConsumerCallbacks> =
        StreamConsumer::from_config_and_context(&ingest_consumer(&kafka), callbacks)
            .map_err(config_or_kafka)?;

    let listener =
        TcpListener::bind(ingest.listen)
            .await
            .map_err(|source| IngestError::Listen {
                addr: ingest.listen,
                source,
            })?;
    tracing::info!(listen = %listener.local_addr().unwrap_or(ingest.listen), "serving /metrics, /healthz, /readyz");
    let stop_serving = CancellationToken::new();
    let operations = aitrail_ops::router(Arc::new(Operations {
        metrics: Arc::clone(&metrics),
        health: Arc::clone(&health),
    }));
    let server = tokio::spawn(aitrail_ops::serve(
        listener,
        operations,
        stop_serving.clone(),
    ));

    let outcome = async {
        let Some(writer) = open_store(&store, &ingest, &health, &shutdown).await else {
            return Ok(Summary::default());
        };
        let topics: Vec<&str> = ingest.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        tracing::info!(topics = ?ingest.topics, group, store = %store, "consuming");
        let limits = BatchLimits {
            max_rows: ingest.max_batch_rows,
            max_bytes: ingest.max_batch_bytes,
        };
        let validator = ValidatorConfig {
            max_future_skew: ingest.max_future_skew(),
        };
        let pipeline = Pipeline::new(PipelineParts {
            sink: EventSink::new(validator, policy, limits),
            writer,
            shared: Shared {
                dead_letters: Arc::new(tokio::sync::Mutex::new(DeadLetters::new(
                    producer,
                    &ingest.dlq_topic,
                ))),
                recorded: Arc::default(),
                partitions,
                metrics: Arc::clone(&metrics),
                health: Arc::clone(&health),
            },
            gate,
            group: group.clone(),
            root: store.clone(),
            dedup_window: ingest.dedup_window(),
            max_batch_age: ingest.max_batch_age(),
            idle_commit_interval: ingest.idle_commit_interval(),
            shutdown: shutdown.clone(),
        });
        pipeline.run(&consumer, &shutdown).await
    }
    .await;
    drop(consumer);
    stop_serving.cancel();
    match server.await {
        Ok(Err(error)) => tracing::warn!(%error, "the operations endpoint failed"),
        Err(error) => tracing::warn!(%error, "the operations endpoint panicked"),
        Ok(Ok(())) => {}
    }
    if let Ok(summary) = &outcome {
        tracing::info!(
            consumed = summary.consumed,
            committed = summary.committed,
            rejected = summary.rejected,
            "stopped"
        );
    }
    outcome
}

/// Opens the store, waiting with backoff while it is unreachable; `None`
/// if asked to stop first.
async fn open_store(
    root: &StoreRoot,
    ingest: &IngestConfig,
    health: &Health,
    shutdown: &CancellationToken,
) -> Option<StoreWriter> {
    let mut backoff = Backoff::default();
    loop {
        match StoreWriter::open(root, ingest.dedup_window()).await {
            Ok(writer) => {
                health.set_store(true);
                return Some(writer.with_merge_policy(ingest.merge_policy()));
            }
            Err(error) => {
                health.set_store(false);
                tracing::warn!(%error, store = %root, "cannot open the store; retrying");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return None,
            () = backoff.wait() => {}
        }
    }
}

fn config_or_kafka(error: KafkaError) -> IngestError {
    match aitrail_kafka::kafka_config_error(&error) {
        Some(config) => IngestError::Config(config),
        None => IngestError::Kafka(error),
    }
}
