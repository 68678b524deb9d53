//! One module per subcommand.

pub mod generate;
pub mod load;
pub mod sql;
pub mod validate;
