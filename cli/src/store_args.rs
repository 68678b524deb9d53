//! `--store` and `--policy`: the same two flags, parsed the same way, on
//! every command that writes to or purges the store.

use std::path::PathBuf;

use aitrail_store::{Policy, StoreRoot};
use clap::Args;

use crate::exit::UsageError;

/// The store a command works on and the retention policy it applies.
#[derive(Args)]
pub struct StoreArgs {
    /// Store root: a directory or s3://bucket/prefix.
    #[arg(long)]
    store: String,
    /// Retention policy (TOML, DESIGN §5): each event's tier and each
    /// tier's expiry and `compact_after_days`; without it every event is
    /// `standard`, kept 730 days.
    #[arg(long)]
    policy: Option<PathBuf>,
}

impl StoreArgs {
    /// The store root given.
    pub fn root(&self) -> Result<StoreRoot, UsageError> {
        parse_root(&self.store)
    }

    /// The policy given, or the default policy.
    pub fn policy(&self) -> Result<Policy, UsageError> {
        match &self.policy {
            Some(path) => load_policy(path),
            None => Ok(Policy::default()),
        }
    }

    /// The policy given, for a command that must not guess it (a purge).
    pub fn required_policy(&self, why: &str) -> Result<Policy, UsageError> {
        match &self.policy {
            Some(path) => load_policy(path),
            None => Err(UsageError(format!("--policy is required: {why}"))),
        }
    }
}

/// A store root as `--store` takes it, for commands that read the store
/// without a policy.
pub fn parse_root(store: &str) -> Result<StoreRoot, UsageError> {
    StoreRoot::parse(store).map_err(|err| UsageError(err.to_string()))
}

fn load_policy(path: &std::path::Path) -> Result<Policy, UsageError> {
    Policy::load(path).map_err(|err| UsageError(err.to_string()))
}
