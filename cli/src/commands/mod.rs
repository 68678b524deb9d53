//! One module per subcommand.

pub mod compact;
pub mod generate;
pub mod ingest;
pub mod load;
pub mod produce;
pub mod retention;
pub mod sql;
pub mod validate;
