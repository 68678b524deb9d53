//! `aitrail review --quarter 2026Q3 --store DIR --policy FILE --out FILE`:
//! the quarterly review pack (DESIGN §10) as one self-contained HTML file,
//! the same the `review` report answers to `Accept: text/html`.

use std::path::PathBuf;
use std::sync::Arc;

use aitrail_governance::GovernancePolicy;
use aitrail_governance::review::{HTML, Review};
use aitrail_query::Prices;
use aitrail_query::reports::{self, Report, one_report_session};
use clap::Args;

use crate::config::ConfigFile;
use crate::exit::{ExitCode, UsageError};
use crate::store_args::parse_root;

/// Flags of `aitrail review`.
#[derive(Args)]
pub struct ReviewArgs {
    /// The quarter, e.g. 2026Q3.
    #[arg(long)]
    quarter: String,
    /// Store root.
    #[arg(long)]
    store: String,
    /// The governance policy (governance.toml).
    #[arg(long)]
    policy: PathBuf,
    /// An aitrail.toml whose `[[prices]]` to use.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The HTML file to write.
    #[arg(long)]
    out: PathBuf,
}

/// Gathers the pack and writes it.
pub fn run(args: ReviewArgs) -> anyhow::Result<ExitCode> {
    let root = parse_root(&args.store)?;
    let policy = GovernancePolicy::load(&args.policy).map_err(|err| UsageError(err.to_string()))?;
    let prices = match &args.config {
        Some(path) => ConfigFile::load(path)?.prices()?,
        None => Prices::default(),
    };
    let report = Review::new(Some(Arc::new(policy)));
    let today = chrono::Utc::now().date_naive();
    let params = (&report as &dyn Report)
        .parse_params([("quarter".to_string(), args.quarter.clone())], today)
        .map_err(|err| UsageError(format!("--{}: {}", err.param, err.problem)))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let answer = runtime
        .block_on(async {
            let session = one_report_session(&root, prices, &report, &params).await?;
            reports::run(&report, &session, &params, 0).await
        })
        .map_err(|err| UsageError(err.to_string()))?;
    let html = report.render(HTML, &answer).map_err(UsageError)?;
    std::fs::write(&args.out, html)
        .map_err(|err| UsageError(format!("--out {}: {err}", args.out.display())))?;
    println!("{}: the {} review pack", args.out.display(), args.quarter);
    Ok(ExitCode::Ok)
}
