//! `aitrail ingest --config aitrail.toml`: the Kafka → store service.
//!
//! SIGTERM and SIGINT stop it gracefully: the pending batch is flushed and
//! committed, and it exits 0.

use std::path::PathBuf;

use aitrail_ingest::{IngestConfig, IngestError, KafkaConfig, Settings};
use clap::{Args, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::config::ConfigFile;
use crate::exit::{ExitCode, UsageError};

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

/// How log lines are written to stderr.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Text for people.
    Text,
}

/// Runs the ingest until SIGTERM or SIGINT.
pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let file = ConfigFile::load(&args.config)?;
    let settings = Settings {
        kafka: file.section::<KafkaConfig>("kafka")?,
        ingest: file.section::<IngestConfig>("ingest")?,
        store: file.store()?,
        policy: file.policy()?,
    };
    init_logs(args.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        match aitrail_ingest::run(settings, shutdown).await {
            Ok(_) => Ok(ExitCode::Ok),
            Err(IngestError::Config(err)) => {
                Err(UsageError(format!("{}: {err}", args.config.display())).into())
            }
            Err(err) => Err(err.into()),
        }
    })
}

/// Without `RUST_LOG`: aitrail's own events at `info`, its libraries' only
/// from `warn` (the Delta kernel logs every snapshot load at `info`).
const DEFAULT_LOG_FILTER: &str =
    "warn,aitrail=info,aitrail_ingest=info,aitrail_store=info,aitrail_query=info";

/// Sends `tracing` output to stderr in `format`, filtered by `RUST_LOG`.
pub(crate) fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Cancels `shutdown` on the first SIGTERM or SIGINT.
pub(crate) async fn stop_on_signal(shutdown: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
        () = terminate => tracing::info!("SIGTERM: stopping"),
    }
    shutdown.cancel();
}
