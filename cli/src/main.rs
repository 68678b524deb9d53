//! The one `aitrail` binary: parses the command line and calls into the crates.

mod commands;
mod config;
mod exit;
mod input;
mod rejects;
mod service;
mod signing;
mod store_args;

use clap::{Parser, Subcommand};

use exit::ExitCode;

/// jemalloc rather than glibc's allocator: the services free large,
/// short-lived buffers (the Delta log's JSON decoders, Parquet pages)
/// between long-lived ones on every commit, and glibc's heap grew around
/// them for as long as a live stream ran, where jemalloc's stays flat
/// (benches/HISTORY.md, the soak).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// aitrail — the audit trail of AI-assisted software development.
#[derive(Parser)]
#[command(name = "aitrail", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything in one process on built-in defaults: an embedded Kafka
    /// broker, generated history and a live stream, ingest, retention,
    /// the query service and the dashboard.
    Dev(commands::dev::DevArgs),
    /// Write a realistic synthetic organization's events as JSONL on stdout.
    Gen(commands::generate::GenArgs),
    /// Check JSONL events; print each rejected line as JSON; exit 1 if any.
    Validate(commands::validate::ValidateArgs),
    /// Send JSONL events to a Kafka topic, as a collector does.
    Produce(commands::produce::ProduceArgs),
    /// Backfill JSONL events into the store; exit 1 if any were rejected.
    Load(commands::load::LoadArgs),
    /// Consume Kafka into the store until SIGTERM or SIGINT.
    Ingest(commands::ingest::IngestArgs),
    /// Run one read-only SQL query over the store.
    Sql(commands::sql::SqlArgs),
    /// Purge partitions past their retention (plan, run, or a scheduled daemon).
    #[command(subcommand)]
    Retention(commands::retention::RetentionCommand),
    /// Merge the small files of partitions old enough to be complete.
    Compact(commands::compact::CompactArgs),
    /// Print a report: adoption, token-spend, incidents or violations.
    Report(commands::report::ReportArgs),
    /// Serve SQL and reports over HTTP until SIGTERM or SIGINT.
    Serve(commands::serve::ServeArgs),
    /// Receive OpenTelemetry from AI tools and produce metadata-only events to Kafka.
    Collect(commands::collect::CollectArgs),
    /// Print the pseudonymous user_id the collector stores for an identity.
    Pseudonym(commands::pseudonym::PseudonymArgs),
    /// Load aitrail.toml as ingest, serve and the retention daemon do; exit 2 naming a wrong key.
    CheckConfig(commands::check_config::CheckConfigArgs),
    Keygen(commands::keygen::KeygenArgs),
    /// Write the quarterly governance review pack as one HTML file.
    Review(commands::review::ReviewArgs),
    /// Check a governance policy (approved tools, domains, review rules, exceptions).
    #[command(subcommand)]
    Governance(commands::governance::GovernanceCommand),
    Verify(commands::verify::VerifyArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Dev(args) => commands::dev::run(args),
        Command::Gen(args) => commands::generate::run(args),
        Command::Validate(args) => commands::validate::run(args),
        Command::Produce(args) => commands::produce::run(args),
        Command::Load(args) => commands::load::run(args),
        Command::Ingest(args) => commands::ingest::run(args),
        Command::Sql(args) => commands::sql::run(args),
        Command::Retention(command) => commands::retention::run(command),
        Command::Compact(args) => commands::compact::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Collect(args) => commands::collect::run(args),
        Command::Pseudonym(args) => commands::pseudonym::run(args),
        Command::CheckConfig(args) => commands::check_config::run(args),
        Command::Keygen(args) => commands::keygen::run(args),
        Command::Governance(command) => commands::governance::run(command),
        Command::Review(args) => commands::review::run(args),
        Command::Verify(args) => commands::verify::run(args),
    };
    match outcome {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("aitrail: {err:#}");
            ExitCode::from_error(&err).into()
        }
    }
}
