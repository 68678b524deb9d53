//! `aitrail review --quarter 2026Q3 --store DIR --policy FILE --out FILE`:
//! the quarterly review pack (DESIGN §10) as one self-contained HTML file.

use std::path::PathBuf;

use aitrail_governance::review::{Quarter, gather};
use aitrail_governance::{GovernancePolicy, pack_html};
use aitrail_query::Prices;
use chrono::{SecondsFormat, Utc};
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
    let quarter = Quarter::parse(&args.quarter)
        .map_err(|problem| UsageError(format!("--quarter: {problem}")))?;
    let root = parse_root(&args.store)?;
    let policy = GovernancePolicy::load(&args.policy).map_err(|err| UsageError(err.to_string()))?;
    let prices = match &args.config {
        Some(path) => ConfigFile::load(path)?.prices()?,
        None => Prices::default(),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let pack = runtime
        .block_on(gather(&root, prices, &policy, quarter))
        .map_err(|err| UsageError(err.to_string()))?;
    let generated = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    std::fs::write(&args.out, pack_html::render(&pack, &generated))
        .map_err(|err| UsageError(format!("--out {}: {err}", args.out.display())))?;
    println!("{}: the {quarter} review pack", args.out.display());
    Ok(ExitCode::Ok)
}
