//! `aitrail validate`: checks JSONL and reports each rejected line.

use std::io::{self, BufWriter};
use std::path::PathBuf;

use aitrail_schemas::Validator;
use aitrail_schemas::clock::received_now;
use clap::Args;

use crate::exit::ExitCode;
use crate::input;
use crate::rejects::RejectLines;

/// Flags of `aitrail validate`.
#[derive(Args)]
pub struct ValidateArgs {
    /// JSONL file (`.gz` and `.zst` are decompressed); stdin when absent or `-`.
    file: Option<PathBuf>,
}

/// Prints the reject record (DESIGN §3) of each rejected line on stdout
/// and a summary on stderr. Blank lines are skipped.
pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let mut source = input::open(args.file.as_ref())?;
    let validator = Validator::default();
    let mut rejects = RejectLines::new(Box::new(BufWriter::new(io::stdout())), source.name.clone());
    let (mut number, mut valid) = (0u64, 0u64);
    while let Some(line) = source.next_line()? {
        number += 1;
        if line.trim_ascii().is_empty() {
            continue;
        }
        match validator.validate(line, received_now()) {
            Ok(_) => valid += 1,
            Err(rejection) => rejects.record(rejection, number)?,
        }
    }
    rejects.flush()?;
    eprintln!(
        "{}: {valid} valid, {} rejected{}",
        source.name,
        rejects.total(),
        rejects.by_reason()
    );
    Ok(if rejects.total() == 0 {
        ExitCode::Ok
    } else {
        ExitCode::Rejected
    })
}
