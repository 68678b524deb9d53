//! `aitrail retention plan|run|daemon`: the retention purge of DESIGN §5,
//! once (`plan` shows what `run` then does) or on the configured schedule.

use std::io::Write;
use std::path::PathBuf;

use aitrail_store::lifecycle::run_on_schedule;
use aitrail_store::retention::plan::{Partition, Plan};
use aitrail_store::retention::{self, RunReport};
use anyhow::Context;
use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};

use crate::config::ConfigFile;
use crate::exit::{ExitCode, UsageError};
use crate::service::{LogFormat, run_service};
use crate::store_args::StoreArgs;

/// Subcommands of `aitrail retention`.
#[derive(Subcommand)]
pub enum RetentionCommand {
    /// List the partitions a run would purge, and the expired ones legal holds keep.
    Plan(OnceArgs),
    /// Purge expired partitions (delete + vacuum) and log them in `retention_log`.
    Run(OnceArgs),
    /// Run retention and compaction on the `[retention] schedule` until SIGTERM/SIGINT.
    Daemon(DaemonArgs),
}

/// Flags of `retention plan` and `retention run`; `--policy` is required:
/// a purge never guesses the tiers.
#[derive(Args)]
pub struct OnceArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The day expiry is judged on (YYYY-MM-DD); today (UTC) when absent.
    #[arg(long)]
    now: Option<NaiveDate>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Flags of `retention daemon`.
#[derive(Args)]
pub struct DaemonArgs {
    /// The configuration file (sections store and retention, with `schedule`).
    #[arg(long)]
    config: PathBuf,
    /// Log lines as JSON objects (for log collectors) or as text.
    #[arg(long, value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
}

/// How a plan or a run is printed.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    Table,
    /// One JSON object.
    Json,
}

/// Runs the subcommand.
pub fn run(command: RetentionCommand) -> anyhow::Result<ExitCode> {
    match command {
        RetentionCommand::Plan(args) => once(args, false),
        RetentionCommand::Run(args) => once(args, true),
        RetentionCommand::Daemon(args) => daemon(args),
    }
}

fn once(args: OnceArgs, purge: bool) -> anyhow::Result<ExitCode> {
    let policy = args
        .store
        .required_policy("retention purges by the policy's tiers and expiry")?;
    let root = args.store.root()?;
    if purge {
        crate::signing::install(None, "retention")?;
    }
    let as_of = args.now.unwrap_or_else(|| Utc::now().date_naive());
    let runtime = tokio::runtime::Runtime::new()?;
    let text = if purge {
        let report = runtime
            .block_on(retention::run(&root, &policy, as_of))
            .with_context(|| format!("retention run on {root}"))?;
        match args.format {
            Format::Json => serde_json::to_string_pretty(&report)?,
            Format::Table => describe_run(&report),
        }
    } else {
        let plan = runtime
            .block_on(retention::plan(&root, &policy, as_of))
            .with_context(|| format!("retention plan on {root}"))?;
        match args.format {
            Format::Json => serde_json::to_string_pretty(&plan)?,
            Format::Table => describe_plan(&plan, "purge", "to purge"),
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    Ok(ExitCode::Ok)
}

fn daemon(args: DaemonArgs) -> anyhow::Result<ExitCode> {
    let file = ConfigFile::load(&args.config)?;
    let schedule = file.retention_schedule()?.ok_or_else(|| {
        UsageError(format!(
            "{}: retention.schedule: missing; the daemon needs a cron expression",
            args.config.display()
        ))
    })?;
    let root = file.store()?;
    let policy = file.policy()?;
    crate::signing::install(Some(&file), "retention")?;
    run_service(args.log_format, |shutdown| async move {
        run_on_schedule(&schedule, &root, &policy, shutdown.cancelled()).await;
        Ok(ExitCode::Ok)
    })
}

fn describe_plan(plan: &Plan, verb: &str, summary: &str) -> String {
    let mut lines = vec![format!(
        "retention as of {} (policy sha256 {}), run {}",
        plan.as_of, plan.policy_sha256, plan.run_id
    )];
    let row = |what: &str, p: &Partition, note: &str| {
        format!(
            "{what:<10} {:<13} {:<10} {}  {:>6} files {:>10} rows {:>12} bytes  {note}",
            p.table, p.tier, p.date, p.files, p.rows, p.bytes
        )
        .trim_end()
        .to_string()
    };
    for p in &plan.purge {
        lines.push(row(verb, p, ""));
    }
    for unfinished in &plan.unfinished {
        let p = Partition {
            table: unfinished.table_name.clone(),
            tier: unfinished.tier.clone(),
            date: unfinished.date,
            files: unfinished.files,
            rows: unfinished.rows,
            bytes: unfinished.bytes,
        };
        let note = format!("(logged by run {}, interrupted)", unfinished.run_id);
        lines.push(row("finish", &p, &note));
    }
    for kept in &plan.kept {
        lines.push(row("keep", &kept.partition, &kept.reason));
    }
    let (files, rows, bytes) = plan.purge.iter().fold((0, 0, 0), |(f, r, b), p| {
        (f + p.files, r + p.rows, b + p.bytes)
    });
    lines.push(format!(
        "{} partitions {summary} ({files} files, {rows} rows, {bytes} bytes); {} expired kept by legal holds or unknown tiers",
        plan.purge.len(),
        plan.kept.len()
    ));
    lines.join("\n")
}

fn describe_run(report: &RunReport) -> String {
    format!(
        "{}\n{} files deleted from storage",
        describe_plan(&report.plan, "purged", "purged"),
        report.files_deleted
    )
}
