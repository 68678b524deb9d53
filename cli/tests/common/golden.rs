//! The hand-built dataset (`data/golden.jsonl`, its table in
//! `golden.rs`) and the store the report and service tests load it into.

use std::path::Path;

use super::{aitrail, stderr};

/// The hand-built dataset, one event per line.
pub const GOLDEN: &[u8] = include_bytes!("../data/golden.jsonl");

/// Keeps everything for a century, so that the fixed dates never expire.
pub const POLICY: &str =
    "default_tier = \"standard\"\n[[tiers]]\nname = \"standard\"\nkeep_days = 36500\n";

/// Two prices of m-priced: from 2025-01-01, and cheaper from 2025-03-10;
/// and prices of two generated models, one of which changes.
pub const PRICES: &str = r#"
[[prices]]
model = "claude-sonnet-4-5"
valid_from = "2025-01-01"
input = 3.0
output = 15.0
cache_read = 0.3
cache_write = 3.75

[[prices]]
model = "claude-sonnet-4-5"
valid_from = "2025-02-15"
input = 2.5
output = 12.0
cache_read = 0.25
cache_write = 3.0

[[prices]]
model = "gpt-5"
valid_from = "2025-01-20"
input = 1.25
output = 10.0

[[prices]]
model = "m-priced"
valid_from = "2025-01-01"
input = 3.0
output = 15.0
cache_read = 0.3
cache_write = 3.75

[[prices]]
model = "m-priced"
valid_from = "2025-03-10"
input = 1.0
output = 5.0
cache_read = 0.1
cache_write = 1.0
"#;

/// Loads `events` into the store at `store` with `aitrail load`, under
/// [`POLICY`] (written beside the store).
pub fn load_for_a_century(store: &Path, events: &[u8]) {
    let policy = store.with_file_name("retention.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let out = aitrail(
        &[
            "load",
            "--store",
            store.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ],
        events,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
