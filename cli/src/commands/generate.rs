//! `aitrail gen`: synthetic JSONL on stdout.

use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::sync::Arc;

use aitrail_governance::GovernancePolicy;
use aitrail_schemas::generator::{GenConfig, UsagePolicy, generate};
use chrono::{NaiveDate, TimeDelta, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::exit::{ExitCode, UsageError};

/// Flags of `aitrail gen`.
#[derive(Args)]
pub struct GenArgs {
    /// Number of developers in the organization.
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// Number of days to generate.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Seed; the same seed and start give the same output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First day (YYYY-MM-DD); by default the span ends yesterday (UTC).
    /// Nothing dated after the moment gen runs is written.
    #[arg(long)]
    start: Option<NaiveDate>,
    /// A governance policy (governance.toml) the organization mostly
    /// follows: approved tools and models, data within what each allows,
    /// red repositories left alone, pull requests approved as the policy
    /// requires — broken at known rates (README, "Generated violations").
    #[arg(long)]
    policy: Option<PathBuf>,
}

/// Writes the events; a closed pipe (`| head`) ends it quietly.
pub fn run(args: GenArgs) -> anyhow::Result<ExitCode> {
    let start = args
        .start
        .unwrap_or_else(|| Utc::now().date_naive() - TimeDelta::days(i64::from(args.days)));
    let policy: Option<Arc<dyn UsagePolicy>> = match &args.policy {
        Some(path) => {
            let policy = GovernancePolicy::load(path).map_err(|err| UsageError(err.to_string()))?;
            Some(Arc::new(policy))
        }
        None => None,
    };
    let config = GenConfig {
        users: args.users,
        days: args.days,
        seed: args.seed,
        start,
        not_after: Some(Utc::now()),
        policy,
    };
    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {human_pos} events ({per_sec})")
            .expect("the progress template is fixed and valid"),
    );
    // Lines are gathered into large writes: the kernel copies one long
    // buffer into a file's pages faster than many short slices.
    let mut out = BufWriter::with_capacity(8 << 20, io::stdout().lock());
    let result = generate(&config, &mut out, |events| progress.set_position(events));
    progress.finish_and_clear();
    match result {
        Ok(_) => Ok(ExitCode::Ok),
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::Ok),
        Err(err) => Err(err.into()),
    }
}
