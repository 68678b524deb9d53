//! `aitrail collect` (DESIGN §9): receives what AI tools already emit —
//! OpenTelemetry logs and spans over OTLP/HTTP and OTLP/gRPC — and what
//! GitHub's and PagerDuty's webhooks send, maps it
//! into metadata-only §2 events, validates them, and produces them to
//! Kafka, answering each request only once Kafka has acknowledged it.
//!
//! It links the `schemas`, `kafka` and `ops` crates and neither the store
//! nor the query engine, so it deploys as a small stateless service.

pub mod auth;
pub mod collector;
pub mod config;
pub mod delivery;
pub mod grpc;
pub mod http;
pub mod identity;
pub mod mapping;
pub mod metrics;
pub mod otlp;
pub mod service;
pub mod webhooks;

pub use config::CollectConfig;
pub use identity::Pseudonyms;
pub use service::{CollectError, Running, start};
