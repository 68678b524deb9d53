//! Read-only SQL over the store: a DataFusion session with the event tables
//! registered (partition pruning on `tier` and `date`), and the rendering of
//! results as a table, CSV or JSON.

pub mod context;
pub mod output;

pub use context::{QueryError, StoreSession};
