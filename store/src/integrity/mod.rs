//! Tamper evidence (DESIGN §11): every commit to a table is declared in a
//! signed intent before it is made and stated in a signed digest after,
//! each digest chained to the one before, so that `aitrail verify` can
//! show that no file, log entry or digest was edited, added or deleted
//! since it was written.

pub mod declaring;
pub mod keys;
pub mod log_entry;
pub mod records;
pub mod signer;
pub mod verify;

pub use declaring::table_builder;
pub use keys::{PublicKey, SigningKey};
pub use signer::{abandon, chain_heads, complete, install, intend, record, remove_uncommitted};
pub use verify::{Finding, Progress, Scope, verify};
