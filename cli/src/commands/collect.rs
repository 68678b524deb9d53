//! `aitrail collect --config aitrail.toml`: the OTLP receiver that feeds
//! Kafka (DESIGN §9).
//!
//! SIGTERM and SIGINT stop it gracefully: it stops accepting, answers the
//! requests in flight once Kafka acknowledged them, flushes the producer
//! and exits 0.

use std::path::PathBuf;

use aitrail_collect::Pseudonyms;
use clap::Args;

use crate::config::ConfigFile;
use crate::exit::{ExitCode, UsageError};
use crate::service::{LogFormat, run_service};

/// Flags of `aitrail collect`.
#[derive(Args)]
pub struct CollectArgs {
    /// The configuration file (sections kafka, collect).
    #[arg(long)]
    config: PathBuf,
    /// Log lines as JSON objects (for log collectors) or as text.
    #[arg(long, value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
}

/// Runs the collector until SIGTERM or SIGINT.
pub fn run(args: CollectArgs) -> anyhow::Result<ExitCode> {
    let file = ConfigFile::load(&args.config)?;
    let kafka = file.kafka_producer()?;
    let collect = file.collect()?;
    let pseudonyms = pseudonyms(collect.identities.as_deref())?;
    run_service(args.log_format, |shutdown| async move {
        let running = aitrail_collect::start(&collect, &kafka, pseudonyms, shutdown).await?;
        running.finished().await?;
        Ok(ExitCode::Ok)
    })
}

/// The pseudonyms of `AITRAIL_IDENTITY_KEY`, with the identities file
/// when one is configured.
pub fn pseudonyms(identities: Option<&std::path::Path>) -> Result<Pseudonyms, UsageError> {
    let pseudonyms = Pseudonyms::from_environment().map_err(|e| UsageError(e.to_string()))?;
    match identities {
        None => Ok(pseudonyms),
        Some(path) => pseudonyms
            .with_identities_file(path)
            .map_err(|e| UsageError(format!("collect.identities: {e}"))),
    }
}
