//! What a Delta log entry (`_delta_log/<version>.json`, one action per
//! line) says a commit did, read from its bytes: the digest is made from
//! the entry as stored, and `aitrail verify` compares the two.

use serde::Deserialize;

/// The parts of a log entry the digests pin.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The commit's operation (`commitInfo.operation`), empty if none.
    pub operation: String,
    /// The files added: path, size and `numRecords` if given.
    pub added: Vec<(String, u64, Option<u64>)>,
    /// The paths removed.
    pub removed: Vec<String>,
    /// The application transactions recorded.
    pub transactions: Vec<(String, i64)>,
}

#[derive(Deserialize)]
struct Line {
    add: Option<Add>,
    remove: Option<Remove>,
    txn: Option<Txn>,
    #[serde(rename = "commitInfo")]
    commit_info: Option<CommitInfo>,
}

#[derive(Deserialize)]
struct Add {
    path: String,
    size: u64,
    stats: Option<String>,
}

#[derive(Deserialize)]
struct Remove {
    path: String,
}

#[derive(Deserialize)]
struct Txn {
    #[serde(rename = "appId")]
    app_id: String,
    version: i64,
}

#[derive(Deserialize)]
struct CommitInfo {
    operation: Option<String>,
}

#[derive(Deserialize)]
struct Stats {
    #[serde(rename = "numRecords")]
    num_records: Option<u64>,
}

impl LogEntry {
    /// Reads an entry; the error names the line that is not an action.
    pub fn parse(bytes: &[u8]) -> Result<LogEntry, String> {
        let mut entry = LogEntry::default();
        for (number, line) in bytes.split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let line: Line = serde_json::from_slice(line)
                .map_err(|err| format!("line {} is not a Delta action: {err}", number + 1))?;
            if let Some(add) = line.add {
                let rows = add
                    .stats
                    .and_then(|stats| serde_json::from_str::<Stats>(&stats).ok())
                    .and_then(|stats| stats.num_records);
                entry.added.push((unescape(&add.path), add.size, rows));
            }
            if let Some(remove) = line.remove {
                entry.removed.push(unescape(&remove.path));
            }
            if let Some(txn) = line.txn {
                entry.transactions.push((txn.app_id, txn.version));
            }
            if let Some(operation) = line.commit_info.and_then(|info| info.operation) {
                entry.operation = operation;
            }
        }
        entry.added.sort();
        entry.removed.sort();
        entry.transactions.sort();
        Ok(entry)
    }
}

/// A log path as storage names it: Delta percent-encodes paths in the log
/// (`date=2025-03-05` stays, a space becomes `%20`).
pub fn unescape(path: &str) -> String {
    percent_decode(path).unwrap_or_else(|| path.to_string())
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = text.get(at + 1..at + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_removes_transactions_and_the_operation_are_read() {
        let entry = br#"{"commitInfo":{"timestamp":1,"operation":"OPTIMIZE"}}
{"txn":{"appId":"aitrail-retention","version":12}}
{"remove":{"path":"tier=standard/date=2025-03-05/a%20b.parquet","dataChange":false}}
{"add":{"path":"tier=standard/date=2025-03-05/c.parquet","size":42,"partitionValues":{},"modificationTime":1,"dataChange":false,"stats":"{\"numRecords\":7}"}}
"#;
        let entry = LogEntry::parse(entry).unwrap();
        assert_eq!(entry.operation, "OPTIMIZE");
        assert_eq!(
            entry.added,
            vec![(
                "tier=standard/date=2025-03-05/c.parquet".to_string(),
                42,
                Some(7)
            )]
        );
        assert_eq!(
            entry.removed,
            vec!["tier=standard/date=2025-03-05/a b.parquet"]
        );
        assert_eq!(
            entry.transactions,
            vec![("aitrail-retention".to_string(), 12)]
        );
    }

    #[test]
    fn a_line_that_is_not_an_action_is_named() {
        let err = LogEntry::parse(b"{\"add\":{}}\nnot json\n").unwrap_err();
        assert!(err.starts_with("line 1"), "{err}");
    }
}
