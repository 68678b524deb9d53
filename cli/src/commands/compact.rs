//! `aitrail compact`: merges the small files of partitions old enough to be
//! complete (Delta optimize), leaving every query result as it was.

use aitrail_store::compact::compact;
use anyhow::Context;
use chrono::{NaiveDate, Utc};
use clap::Args;

use crate::exit::ExitCode;
use crate::store_args::StoreArgs;

/// Flags of `aitrail compact`. Without `--policy`, every partition dated
/// before yesterday is eligible.
#[derive(Args)]
pub struct CompactArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The day eligibility is judged on (YYYY-MM-DD); today (UTC) when absent.
    #[arg(long)]
    now: Option<NaiveDate>,
}

/// Compacts every eligible partition and prints what it merged.
pub fn run(args: CompactArgs) -> anyhow::Result<ExitCode> {
    let policy = args.store.policy()?;
    let root = args.store.root()?;
    crate::signing::install(None, "compact")?;
    let as_of = args.now.unwrap_or_else(|| Utc::now().date_naive());
    let runtime = tokio::runtime::Runtime::new()?;
    let done = runtime
        .block_on(compact(&root, &policy, as_of))
        .with_context(|| format!("compacting {root}"))?;
    for c in &done {
        println!(
            "{:<13} {:<10} {:>5} partitions: {:>6} files merged into {}",
            c.table,
            c.tier.as_deref().unwrap_or("-"),
            c.partitions,
            c.files_removed,
            c.files_added
        );
    }
    let merged: u64 = done.iter().map(|c| c.files_removed).sum();
    let written: u64 = done.iter().map(|c| c.files_added).sum();
    println!(
        "compacted {} partitions: {merged} files merged into {written}",
        done.iter().map(|c| c.partitions).sum::<usize>()
    );
    Ok(ExitCode::Ok)
}
