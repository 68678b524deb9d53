//! Shared inputs of aitrail's benchmarks: the criterion benches under
//! `benches/` and the end-to-end commands described in `README.md`.

mod foreign;

use aitrail_schemas::generator::{GenConfig, generate};
use chrono::NaiveDate;

pub use foreign::{KeyOrder, foreign_events};

/// A day of a typical organization as JSONL, and the number of events in it:
/// the input every parse and validate benchmark measures.
pub fn typical_events(users: usize, days: u32) -> (Vec<u8>, u64) {
    let config = GenConfig {
        users,
        days,
        seed: 42,
        start: NaiveDate::from_ymd_opt(2026, 1, 5).expect("a fixed valid date"),
        not_after: None,
        policy: None,
    };
    let mut out = Vec::new();
    let count = generate(&config, &mut out, |_| {}).expect("generating into memory cannot fail");
    (out, count)
}
