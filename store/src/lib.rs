//! The store: Delta Lake tables of validated events, one per event type,
//! partitioned by retention tier and UTC date (DESIGN §4, §5).
//!
//! [`sink::EventSink`] is the way in for every writer (`aitrail load`, the
//! Kafka ingest): it assigns tiers, refuses expired events and duplicates,
//! batches rows, and commits them with [`writer::StoreWriter`].

pub mod access_log;
pub mod dedup;
pub mod location;
pub mod policy;
pub mod rows;
pub mod sink;
pub mod table;
pub mod writer;

pub use location::StoreRoot;
pub use policy::Policy;
