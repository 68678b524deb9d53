//! `aitrail sql`: one read-only query over the store.

use std::io::Write;

use aitrail_query::output::{Format, render};
use aitrail_query::{Prices, StoreSession};
use clap::{Args, ValueEnum};

use crate::exit::{ExitCode, UsageError};
use crate::store_args::parse_root;

/// Output formats of `aitrail sql` and `aitrail report`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header.
    Csv,
    /// A JSON array of row objects.
    Json,
}

impl From<OutputFormat> for Format {
    fn from(format: OutputFormat) -> Self {
        match format {
            OutputFormat::Table => Format::Table,
            OutputFormat::Csv => Format::Csv,
            OutputFormat::Json => Format::Json,
        }
    }
}

/// Flags of `aitrail sql`.
#[derive(Args)]
pub struct SqlArgs {
    /// Store root: a directory or s3://bucket/prefix.
    #[arg(long)]
    store: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// The query; tables: ai_usage, code_changes, incidents, retention_log,
    /// access_log, model_prices (empty here).
    sql: String,
}

/// Runs the query and prints its result.
pub fn run(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let root = parse_root(&args.store)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let answer = runtime.block_on(async {
        let session = StoreSession::open(&root, Prices::default()).await?;
        session.query(&args.sql).await
    });
    let answer = answer.map_err(|err| UsageError(err.to_string()))?;
    std::io::stdout().write_all(&render(&answer.batches, args.format.into())?)?;
    Ok(ExitCode::Ok)
}
