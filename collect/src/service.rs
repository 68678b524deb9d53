//! `aitrail collect`: binds the OTLP/HTTP and OTLP/gRPC listeners, watches
//! Kafka's health, and on shutdown stops accepting, lets the requests in
//! flight finish and flushes what the producer still holds.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aitrail_kafka::KafkaConfig;
use rdkafka::producer::FutureProducer;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::Tokens;
use crate::collector::Collector;
use crate::config::CollectConfig;
use crate::delivery::Delivery;
use crate::identity::Pseudonyms;
use crate::mapping::Mapper;

/// How often Kafka's health is checked while it answers.
const HEALTH_INTERVAL: Duration = Duration::from_secs(5);

/// Why the collector could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The configured address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The producer could not be created from `[kafka]`.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// A server failed.
    #[error("{0}")]
    Serve(String),
}

/// A running collector.
pub struct Running {
    /// Where OTLP/HTTP, the webhooks and the operations endpoints answer.
    pub http: SocketAddr,
    /// Where OTLP/gRPC answers.
    pub grpc: SocketAddr,
    collector: Arc<Collector>,
    delivery: Arc<Delivery>,
    servers: Vec<JoinHandle<Result<(), String>>>,
}

impl Running {
    /// The collector's state (metrics, readiness).
    pub fn collector(&self) -> &Arc<Collector> {
        &self.collector
    }

    /// Waits until the servers stopped (after `shutdown`), then flushes
    /// the producer.
    pub async fn finished(self) -> Result<(), CollectError> {
        let mut failure = None;
        for server in self.servers {
            match server.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => failure = Some(error),
                Err(error) => failure = Some(error.to_string()),
            }
        }
        let delivery = self.delivery;
        tokio::task::spawn_blocking(move || delivery.flush())
            .await
            .map_err(|e| CollectError::Serve(e.to_string()))?;
        failure.map_or(Ok(()), |error| Err(CollectError::Serve(error)))
    }
}

/// Starts the collector of `config` producing with `kafka`; it runs until
/// `shutdown` is cancelled.
pub async fn start(
    config: &CollectConfig,
    kafka: &KafkaConfig,
    pseudonyms: Pseudonyms,
    shutdown: CancellationToken,
) -> Result<Running, CollectError> {
    let bind = |address: String| async move {
        TcpListener::bind(&address)
            .await
            .map_err(|source| CollectError::Listen { address, source })
    };
    let http_listener = bind(config.listen.clone()).await?;
    let grpc_listener = bind(config.grpc_listen.clone()).await?;
    let listen = |l: &TcpListener, address: &str| {
        l.local_addr().map_err(|source| CollectError::Listen {
            address: address.to_string(),
            source,
        })
    };
    let http = listen(&http_listener, &config.listen)?;
    let grpc = listen(&grpc_listener, &config.grpc_listen)?;

    let mut producer_config = kafka.producer();
    producer_config.set("linger.ms", "5");
    let producer: FutureProducer = producer_config.create()?;
    let delivery = Arc::new(Delivery::new(
        producer,
        config.topic.clone(),
        config.dlq_topic.clone(),
        config.ack_timeout(),
    ));
    tokio::spawn(Arc::clone(&delivery).watch(HEALTH_INTERVAL, shutdown.clone()));

    let mapper = Mapper::new(pseudonyms, config.default_org.clone());
    let collector = Arc::new(Collector::new(
        mapper,
        Arc::clone(&delivery),
        Tokens::new(&config.tokens),
        config.max_body_bytes,
    ));
    let router = crate::http::router(Arc::clone(&collector)).merge(crate::webhooks::router(
        &collector,
        config.github.clone(),
        config.pagerduty.clone(),
    ));
    let http_server = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            aitrail_ops::serve(http_listener, router, shutdown)
                .await
                .map_err(|e| format!("OTLP/HTTP: {e}"))
        }
    });
    let grpc_server = tokio::spawn({
        let collector = Arc::clone(&collector);
        async move {
            crate::grpc::serve(grpc_listener, collector, shutdown)
                .await
                .map_err(|e| format!("OTLP/gRPC: {e}"))
        }
    });
    tracing::info!(%http, %grpc, topic = %config.topic, "collecting");
    Ok(Running {
        http,
        grpc,
        collector,
        delivery,
        servers: vec![http_server, grpc_server],
    })
}
