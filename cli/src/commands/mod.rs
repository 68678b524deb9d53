//! One module per subcommand.

pub mod check_config;
pub mod collect;
pub mod compact;
pub mod dev;
pub mod generate;
pub mod governance;
pub mod ingest;
pub mod keygen;
pub mod load;
pub mod produce;
pub mod pseudonym;
pub mod report;
pub mod retention;
pub mod review;
pub mod serve;
pub mod sql;
pub mod validate;
pub mod verify;
