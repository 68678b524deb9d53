//! The store: Delta Lake tables of validated events, one per event type,
//! partitioned by retention tier and UTC date (DESIGN §4, §5), and their
//! lifecycle: retention purges, compaction and the schedule that runs them.
//!
//! [`sink::EventSink`] is the way in for every writer (`aitrail load`, the
//! Kafka ingest): it assigns tiers, refuses expired events and duplicates,
//! batches rows, and commits them with [`writer::StoreWriter`].

pub mod access_log;
pub mod compact;
pub mod dedup;
pub mod error;
mod file_reader;
pub mod integrity;
pub mod lifecycle;
pub mod location;
pub mod matcher;
pub mod policy;
pub mod retention;
pub mod rows;
pub mod schedule;
pub mod sink;
pub mod table;
pub mod writer;

pub use error::StoreError;

/// Every table the store holds: one per event type, then its own logs
/// (the access log and the retention log).
pub fn table_names() -> Vec<&'static str> {
    aitrail_schemas::EventType::ALL
        .iter()
        .map(|event_type| event_type.table_name())
        .chain([access_log::ACCESS_LOG_TABLE, retention::log::RETENTION_LOG])
        .collect()
}
pub use location::StoreRoot;
pub use policy::Policy;
