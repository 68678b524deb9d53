//! `aitrail governance check --policy FILE`: reads a governance policy
//! (DESIGN §10) as `serve` and `report violations` do, and prints what it
//! holds, or the entry that is wrong and why (exit 2).

use std::path::PathBuf;

use aitrail_governance::GovernancePolicy;
use clap::{Args, Subcommand};

use crate::exit::{ExitCode, UsageError};

/// `aitrail governance …`.
#[derive(Subcommand)]
pub enum GovernanceCommand {
    /// Check a governance policy and print a summary of it.
    Check(CheckArgs),
}

/// Flags of `aitrail governance check`.
#[derive(Args)]
pub struct CheckArgs {
    /// The policy file (governance.toml).
    #[arg(long)]
    policy: PathBuf,
}

/// Runs the subcommand.
pub fn run(command: GovernanceCommand) -> anyhow::Result<ExitCode> {
    match command {
        GovernanceCommand::Check(args) => {
            let policy =
                GovernancePolicy::load(&args.policy).map_err(|err| UsageError(err.to_string()))?;
            println!("{}: ok: {}", args.policy.display(), policy.summary());
            Ok(ExitCode::Ok)
        }
    }
}
