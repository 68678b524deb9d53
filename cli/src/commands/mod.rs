//! One module per subcommand.

pub mod generate;
pub mod ingest;
pub mod load;
pub mod produce;
pub mod report;
pub mod serve;
pub mod sql;
pub mod validate;
