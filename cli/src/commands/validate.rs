//! `aitrail validate`: checks JSONL and reports each rejected line.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use aitrail_schemas::clock::received_now;
use aitrail_schemas::{RejectReason, Validator};
use clap::Args;
use serde_json::json;

use crate::exit::ExitCode;
use crate::input;

/// Flags of `aitrail validate`.
#[derive(Args)]
pub struct ValidateArgs {
    /// JSONL file (`.gz` and `.zst` are decompressed); stdin when absent or `-`.
    file: Option<PathBuf>,
}

/// Prints `{line, reason, detail, event}` for each rejected line on stdout
/// and a summary on stderr. Blank lines are skipped.
pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let mut source = input::open(args.file.as_ref())?;
    let validator = Validator::default();
    let mut out = BufWriter::new(io::stdout().lock());
    let (mut number, mut valid) = (0u64, 0u64);
    let mut rejected: BTreeMap<RejectReason, u64> = BTreeMap::new();
    while let Some(line) = source.next_line()? {
        number += 1;
        if line.trim_ascii().is_empty() {
            continue;
        }
        match validator.validate(line, received_now()) {
            Ok(_) => valid += 1,
            Err(rejection) => {
                *rejected.entry(rejection.reason).or_default() += 1;
                let record = json!({
                    "line": number,
                    "reason": rejection.reason,
                    "detail": rejection.detail,
                    "event": rejection.event,
                });
                serde_json::to_writer(&mut out, &record)?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    let total_rejected: u64 = rejected.values().sum();
    let by_reason: Vec<String> = rejected
        .iter()
        .map(|(reason, count)| format!("{reason}: {count}"))
        .collect();
    eprintln!(
        "{}: {valid} valid, {total_rejected} rejected{}",
        source.name,
        if by_reason.is_empty() {
            String::new()
        } else {
            format!(" ({})", by_reason.join(", "))
        }
    );
    Ok(if total_rejected == 0 {
        ExitCode::Ok
    } else {
        ExitCode::Rejected
    })
}
