//! Compliance SQL and leadership reports over the store (DESIGN §6): a
//! DataFusion session per query over the store's tables (partition pruning
//! on `tier` and `date`), the three reports as SQL plans with bound
//! parameters, the limits every query runs within, and the HTTP service of
//! `aitrail serve`.

pub mod context;
pub mod daily_sums;
pub mod date_cast;
pub mod http;
pub mod limits;
pub mod output;
pub mod prices;
pub mod reports;
pub mod run_date_trunc;
pub mod snapshot_scan;

pub use context::{Answer, QueryError, StoreSession, StoreTables};
pub use limits::Limits;
pub use prices::{ModelPrice, Prices};
