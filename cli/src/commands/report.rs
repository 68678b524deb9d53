//! `aitrail report NAME`: the reports of the query service, from the
//! command line, unrestricted (whoever can read the store's files sees
//! everything anyway). [`registry`] is where the binary says which reports
//! there are, for this command and for `aitrail serve` alike.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use aitrail_governance::review::Review;
use aitrail_governance::{Exceptions, GovernancePolicy, Violations};

use aitrail_query::Prices;
use aitrail_query::output::write;
use aitrail_query::reports::{self, Reports, one_report_session};
use aitrail_store::StoreRoot;
use clap::Args;
use clap::builder::{PossibleValue, PossibleValuesParser};

use super::sql::OutputFormat;
use crate::config::ConfigFile;
use crate::exit::{ExitCode, UsageError};
use crate::store_args::parse_root;

/// Every report the binary answers, by name: the built-in ones and the
/// governance policy's `violations`, `exceptions` and `review`, judging by `policy`
/// (without one they answer that they need one).
pub fn registry(policy: Option<Arc<GovernancePolicy>>) -> Reports {
    let mut reports = Reports::builtin();
    reports.register(Arc::new(Violations::new(policy.clone())));
    reports.register(Arc::new(Exceptions::new(policy.clone())));
    reports.register(Arc::new(Review::new(policy)));
    reports
}

/// The names `aitrail report` accepts, each with what it answers.
fn report_names() -> PossibleValuesParser {
    let names: Vec<PossibleValue> = registry(None)
        .iter()
        .map(|report| PossibleValue::new(report.name()).help(report.about()))
        .collect();
    PossibleValuesParser::new(names)
}

/// Flags of `aitrail report`.
#[derive(Args)]
pub struct ReportArgs {
    /// Which report.
    #[arg(value_parser = report_names())]
    report: String,
    /// Store root; defaults to `[store] root` of --config.
    #[arg(long)]
    store: Option<String>,
    /// An aitrail.toml whose `[[prices]]` (and `[store]`) to use.
    #[arg(long)]
    config: Option<PathBuf>,
    /// First date included (YYYY-MM-DD); default 90 days before --to.
    #[arg(long)]
    from: Option<String>,
    /// First date excluded (YYYY-MM-DD); default tomorrow (UTC).
    #[arg(long)]
    to: Option<String>,
    /// day, week (ISO, from Monday) or month; adoption and token-spend.
    #[arg(long)]
    bucket: Option<String>,
    /// none, tool, team, model or user; adoption and token-spend.
    #[arg(long)]
    by: Option<String>,
    /// Hours before an incident that count; incidents only (default 72).
    #[arg(long)]
    lookback_hours: Option<String>,
    /// The governance policy (violations); default `[governance]` of --config.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Only this rule's findings (violations): unapproved_tool,
    /// data_class_exceeded, red_domain_use, unreviewed_ai_change, stale_tool_review.
    #[arg(long)]
    rule: Option<String>,
    /// Only open or only excepted findings (violations).
    #[arg(long)]
    status: Option<String>,
    /// A calendar quarter, e.g. 2026Q3 (review; sets --from and --to).
    #[arg(long)]
    quarter: Option<String>,
    /// Output format; json prints the server's answer.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

/// Runs the report and prints it.
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let (root, prices, policy) = store_prices_and_policy(&args)?;
    let given = [
        ("from", &args.from),
        ("to", &args.to),
        ("bucket", &args.bucket),
        ("by", &args.by),
        ("lookback_hours", &args.lookback_hours),
        ("rule", &args.rule),
        ("status", &args.status),
        ("quarter", &args.quarter),
    ];
    let pairs = given
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|v| (name.to_string(), v)));
    let today = chrono::Utc::now().date_naive();
    let reports = registry(policy.map(Arc::new));
    let report = reports
        .named(&args.report)
        .expect("clap accepts only the registered names");
    let params = report.parse_params(pairs, today).map_err(|err| {
        UsageError(format!(
            "--{}: {}",
            err.param.replace('_', "-"),
            err.problem
        ))
    })?;
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime
        .block_on(async {
            let session = one_report_session(&root, prices, report.as_ref(), &params).await?;
            reports::run(report.as_ref(), &session, &params, 0).await
        })
        .map_err(|err| UsageError(err.to_string()))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        OutputFormat::Json => {
            out.write_all(&report.to_json()?)?;
            out.write_all(b"\n")?;
        }
        format => {
            write(&report.rows.batches, format.into(), &mut out)?;
            if let (Some(summary), OutputFormat::Table) = (&report.summary, format) {
                writeln!(out, "change-failure rate: {summary}")?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::Ok)
}

fn store_prices_and_policy(
    args: &ReportArgs,
) -> Result<(StoreRoot, Prices, Option<GovernancePolicy>), UsageError> {
    let file = args.config.as_deref().map(ConfigFile::load).transpose()?;
    let policy = match (&args.policy, &file) {
        (Some(path), _) => {
            Some(GovernancePolicy::load(path).map_err(|err| UsageError(err.to_string()))?)
        }
        (None, Some(file)) => file.governance()?,
        (None, None) => None,
    };
    let prices = match &file {
        Some(file) => file.prices()?,
        None => Prices::default(),
    };
    let root = match (&args.store, &file) {
        (Some(store), _) => parse_root(store)?,
        (None, Some(file)) => file.store()?,
        (None, None) => {
            return Err(UsageError(
                "--store or --config is required to find the store".to_string(),
            ));
        }
    };
    Ok((root, prices, policy))
}
