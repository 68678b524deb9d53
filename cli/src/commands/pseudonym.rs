//! `aitrail pseudonym IDENTITY`: the `user_id` the collector stores for an
//! identity (DESIGN §9), so compliance can find one person's events
//! without the store ever holding an email.

use std::path::PathBuf;

use clap::Args;

use crate::commands::collect::pseudonyms;
use crate::config::ConfigFile;
use crate::exit::ExitCode;

/// Flags of `aitrail pseudonym`.
#[derive(Args)]
pub struct PseudonymArgs {
    /// An email, account id or `github:<login>`, as a source names a person.
    identity: String,
    /// The configuration whose `[collect] identities` file maps source
    /// identities first, as the collector does.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Prints the pseudonym of the identity under `AITRAIL_IDENTITY_KEY`.
pub fn run(args: PseudonymArgs) -> anyhow::Result<ExitCode> {
    let identities = match &args.config {
        Some(path) => ConfigFile::load(path)?.collect()?.identities,
        None => None,
    };
    let pseudonyms = pseudonyms(identities.as_deref())?;
    println!("{}", pseudonyms.user_id(&args.identity));
    Ok(ExitCode::Ok)
}
