//! Compliance SQL and leadership reports over the store (DESIGN §6), in
//! three layers that import downwards only: the engine (a DataFusion
//! session per query over the store's tables, with partition pruning on
//! `tier` and `date`, within the limits every query runs in), the reports
//! (an open set of named SQL plans over per-day sums, found by name in a
//! registry), and the HTTP service of `aitrail serve`.

pub mod date_cast;
pub mod engine;
pub mod http;
pub mod limits;
pub mod output;
pub mod prices;
pub mod reports;
pub mod role;
pub mod run_date_trunc;
pub mod snapshot_scan;

pub use engine::{Answer, QueryError, StoreSession, StoreTables};
pub use limits::Limits;
pub use prices::{ModelPrice, Prices};
pub use role::Role;
