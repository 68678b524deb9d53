//! `aitrail serve --config aitrail.toml`: the query service (DESIGN §6),
//! and the retention purge and compaction on the `[retention] schedule`
//! when one is set (DESIGN §5), until SIGTERM or SIGINT, after which
//! requests in flight finish and the access log is committed.

use std::path::PathBuf;

use aitrail_query::http::{App, serve};
use clap::Args;

use crate::config::ConfigFile;
use crate::exit::{ExitCode, UsageError};
use crate::service::{LogFormat, run_service, spawn_lifecycle};

/// Flags of `aitrail serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// The configuration file (sections store, server, prices, retention,
    /// integrity, governance).
    #[arg(long)]
    config: PathBuf,
    /// Log lines as JSON objects (for log collectors) or as text.
    #[arg(long, value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
}

/// Serves until SIGTERM or SIGINT.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let file = ConfigFile::load(&args.config)?;
    let server = file.server()?;
    let prices = file.prices()?;
    let root = file.store()?;
    let schedule = file.retention_schedule()?;
    let policy = file.policy()?;
    let governance = file.governance()?;
    let policy_tables = match &governance {
        Some(governance) => aitrail_governance::policy_tables(governance)?,
        None => Vec::new(),
    };
    let reports = super::report::registry(governance.map(std::sync::Arc::new));
    crate::signing::install(Some(&file), "serve")?;
    run_service(args.log_format, |shutdown| async move {
        let listener = tokio::net::TcpListener::bind(&server.listen)
            .await
            .map_err(|err| UsageError(format!("server.listen `{}`: {err}", server.listen)))?;
        let address = listener.local_addr()?;
        let lifecycle = spawn_lifecycle(schedule, root.clone(), policy, shutdown.clone());
        let (app, background) = App::start(server, root, prices, reports, policy_tables).await?;
        tracing::info!(%address, "serving");
        let served = serve(listener, app, shutdown).await;
        background.finish().await;
        if let Some(lifecycle) = lifecycle {
            lifecycle.await?;
        }
        served?;
        Ok(ExitCode::Ok)
    })
}
