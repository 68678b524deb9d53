//! `aitrail ingest --config aitrail.toml`: the Kafka → store service.
//!
//! SIGTERM and SIGINT stop it gracefully: the pending batch is flushed and
//! committed, and it exits 0.

use std::path::PathBuf;

use aitrail_ingest::{IngestError, Settings};
use clap::Args;

use crate::config::ConfigFile;
use crate::exit::ExitCode;
use crate::service::{LogFormat, run_service};

/// Flags of `aitrail ingest`.
#[derive(Args)]
pub struct IngestArgs {
    /// The configuration file (sections store, kafka, ingest, retention).
    #[arg(long)]
    config: PathBuf,
    /// Log lines as JSON objects (for log collectors) or as text.
    #[arg(long, value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
}

/// Runs the ingest until SIGTERM or SIGINT.
pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let file = ConfigFile::load(&args.config)?;
    let settings = Settings {
        kafka: file.kafka()?,
        ingest: file.ingest()?,
        store: file.store()?,
        policy: file.policy()?,
    };
    crate::signing::install(Some(&file), "ingest")?;
    run_service(args.log_format, |shutdown| async move {
        match aitrail_ingest::run(settings, shutdown).await {
            Ok(_) => Ok(ExitCode::Ok),
            Err(IngestError::Config(err)) => Err(file.named(&err).into()),
            Err(err) => Err(err.into()),
        }
    })
}
