//! Rejected lines of a JSONL input, written as DESIGN §3 reject records
//! (the dead-letter topic's record, with the file and line as its source)
//! and counted by reason for the summary.

use std::collections::BTreeMap;
use std::io::{self, Write};

use aitrail_schemas::{RejectReason, RejectRecord, RejectSource, Rejection};
use chrono::Utc;

/// Where `validate` and `load` write the lines they refuse.
pub struct RejectLines {
    out: Box<dyn Write + Send>,
    file: String,
    counts: BTreeMap<RejectReason, u64>,
}

impl RejectLines {
    /// Records to `out` of the rejected lines of input `file` (its path,
    /// or `-` for stdin).
    pub fn new(out: Box<dyn Write + Send>, file: String) -> Self {
        RejectLines {
            out,
            file,
            counts: BTreeMap::new(),
        }
    }

    /// Writes the record of line `line` (1-based), refused for `rejection`.
    pub fn record(&mut self, rejection: Rejection, line: u64) -> io::Result<()> {
        *self.counts.entry(rejection.reason).or_default() += 1;
        let source = RejectSource::File {
            file: self.file.clone(),
            line,
        };
        let record = RejectRecord::new(rejection, source, Utc::now());
        serde_json::to_writer(&mut self.out, &record)?;
        self.out.write_all(b"\n")
    }

    /// Lines rejected so far.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// ` (reason: n, …)` for a summary line; empty when nothing was rejected.
    pub fn by_reason(&self) -> String {
        if self.counts.is_empty() {
            return String::new();
        }
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(reason, count)| format!("{reason}: {count}"))
            .collect();
        format!(" ({})", counts.join(", "))
    }

    /// Flushes what was written.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
