//! The events aitrail keeps and the rules they must obey.
//!
//! The Rust types of [`event`] are the single definition of schema version 1:
//! serde reads and writes them, the Arrow schemas of the tables and the JSON
//! Schema files under `schemas/json/` are derived from them, and [`validate`]
//! enforces the metadata-only rules of DESIGN §3 on top. [`generator`] makes a
//! realistic synthetic organization's events for demos, tests and benchmarks.

pub mod clock;
pub mod columns;
pub mod event;
mod fast_reader;
pub mod fields;
pub mod generator;
mod json_escape;
pub mod json_line;
pub mod json_schema;
pub mod kafka_key;
pub mod reject;
mod utc_timestamp;
pub mod validate;
pub mod vocab;

pub use event::{AiUsage, CodeChange, CodeReview, Event, Incident};
pub use reject::{RejectReason, RejectRecord, RejectSource, Rejection};
pub use validate::{Validator, ValidatorConfig};
pub use vocab::EventType;
