//! Producing to Kafka, for every service that does: the `[kafka]`
//! configuration section, an [`outbox::Outbox`] that keeps each message
//! until the broker acknowledges it, the [`backoff::Backoff`] of every
//! retry, and the reference collector ([`producer::produce_lines`]).
//!
//! It depends on `schemas` alone (for the message key,
//! [`aitrail_schemas::Event::kafka_key`]), so a collector links neither the
//! store nor the query engine.

pub mod backoff;
pub mod config;
pub mod outbox;
pub mod producer;

pub use config::{ConfigError, KafkaConfig, kafka_config_error};
