//! `aitrail keygen`: the Ed25519 key pair that signs the store's digests
//! (DESIGN §11).

use std::path::PathBuf;

use aitrail_store::integrity::SigningKey;
use clap::Args;

use crate::exit::{ExitCode, UsageError};

/// Flags of `aitrail keygen`.
#[derive(Args)]
pub struct KeygenArgs {
    /// Directory to write `signing.key` (mode 0600) and `signing.pub` into;
    /// an existing key is never overwritten.
    #[arg(long)]
    out: PathBuf,
}

/// Writes the pair and says where.
pub fn run(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let (private, public) =
        SigningKey::generate(&args.out).map_err(|err| UsageError(err.to_string()))?;
    println!("private key: {}", private.display());
    println!("public key:  {}", public.display());
    println!(
        "writers sign with AITRAIL_SIGNING_KEY_FILE={} (or [integrity] signing_key_file); \
         aitrail verify --public-key {} checks the store",
        private.display(),
        public.display()
    );
    Ok(ExitCode::Ok)
}
