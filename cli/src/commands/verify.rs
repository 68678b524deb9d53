//! `aitrail verify`: checks the store against its signed digests (DESIGN
//! §11) and prints one line per finding; exit 0 when intact, 1 otherwise.

use std::io::Write;
use std::path::PathBuf;

use aitrail_store::integrity::{self, Progress, PublicKey, Scope};
use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::exit::{ExitCode, UsageError};
use crate::store_args::parse_root;

/// Flags of `aitrail verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// Store root: a directory or s3://bucket/prefix.
    #[arg(long)]
    store: String,
    /// The writers' public key (`signing.pub` from `aitrail keygen`).
    #[arg(long)]
    public_key: PathBuf,
    /// Only this table.
    #[arg(long)]
    table: Option<String>,
    /// Check versions from this one on (live files are always checked).
    #[arg(long, default_value_t = 0)]
    from_version: u64,
    /// The retention policy purges are judged against (too young, under
    /// a legal hold); without it a purge is checked against the retention
    /// log only.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// How findings are printed.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// One line per finding.
    Text,
    /// `{"intact": …, "findings": […]}`.
    Json,
}

/// A progress bar over the bytes hashed.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn start_table(&self, table: &str, bytes: u64) {
        self.0.set_position(0);
        self.0.set_length(bytes);
        self.0.set_message(table.to_string());
    }

    fn hashed(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}

/// Verifies and reports.
pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let root = parse_root(&args.store)?;
    let key = PublicKey::read(&args.public_key).map_err(|err| UsageError(err.to_string()))?;
    let policy = args
        .policy
        .as_deref()
        .map(aitrail_store::Policy::load)
        .transpose()
        .map_err(|err| UsageError(err.to_string()))?;
    let scope = Scope {
        table: args.table,
        from_version: args.from_version,
        policy,
    };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{msg:13} {bar:30} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec})",
        )
        .expect("the progress template is fixed and valid"),
    );
    let runtime = tokio::runtime::Runtime::new()?;
    let findings = runtime
        .block_on(integrity::verify(&root, &key, &scope, &Bar(bar.clone())))
        .with_context(|| format!("verifying {root}"))?;
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Text => {
            for finding in &findings {
                writeln!(out, "{finding}")?;
            }
            if findings.is_empty() {
                writeln!(
                    out,
                    "intact: every version signed, chained and matching its files"
                )?;
            }
        }
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::json!({"intact": findings.is_empty(), "findings": findings})
        )?,
    }
    Ok(if findings.is_empty() {
        ExitCode::Ok
    } else {
        ExitCode::Rejected
    })
}
