//! `aitrail produce`: the reference collector, JSONL → Kafka.

use std::path::PathBuf;

use aitrail_kafka::kafka_config_error;
use aitrail_kafka::producer::{ProduceConfig, ProduceError, produce_lines};
use clap::Args;

use crate::exit::{ExitCode, UsageError};
use crate::input;

/// Flags of `aitrail produce`.
#[derive(Args)]
pub struct ProduceArgs {
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    #[arg(long)]
    brokers: String,
    /// The topic to produce to.
    #[arg(long)]
    topic: String,
    /// Compression: none, gzip, lz4, zstd or snappy.
    #[arg(long, default_value = "zstd")]
    compression: String,
    /// A further librdkafka property, `KEY=VALUE` (SASL, TLS…); repeatable.
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    property: Vec<String>,
    /// JSONL file (`.gz`, `.zst` by extension); stdin when absent or `-`.
    file: Option<PathBuf>,
}

/// Sends every line and waits until the broker acknowledged all of them.
pub fn run(args: ProduceArgs) -> anyhow::Result<ExitCode> {
    let mut properties = Vec::new();
    for property in &args.property {
        let (key, value) = property
            .split_once('=')
            .ok_or_else(|| UsageError(format!("-X {property}: expected KEY=VALUE")))?;
        properties.push((key.to_string(), value.to_string()));
    }
    let config = ProduceConfig {
        brokers: args.brokers,
        topic: args.topic,
        compression: args.compression,
        properties,
    };
    let mut source = input::open(args.file.as_ref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let sent = runtime.block_on(produce_lines(&config, source.reader.as_mut()));
    match sent {
        Ok(sent) => {
            eprintln!("produced {sent} events to {}", config.topic);
            Ok(ExitCode::Ok)
        }
        Err(ProduceError::Kafka(err)) => match kafka_config_error(&err) {
            Some(config) => Err(UsageError(config.to_string()).into()),
            None => Err(ProduceError::Kafka(err).into()),
        },
        Err(err) => Err(err.into()),
    }
}
