//! `aitrail gen`: a realistic synthetic organization's events as JSONL.
//!
//! Users sit in teams; each team's adoption of AI tools follows an S-curve;
//! people work on working days in working hours of their time zone, in
//! sessions with heavy-tailed token counts and prompt caches; their commits
//! and pull requests are AI-assisted more often when they used AI that day;
//! deployments of changed repositories sometimes cause incidents, some of
//! which name the change that caused them. The same seed and start give the
//! same bytes; days are made in parallel and written in order.

mod day;
mod org;

use std::io::{self, Write};
use std::num::NonZeroUsize;

use chrono::{NaiveDate, TimeDelta};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

pub use day::{DayOutput, generate_day};
pub use org::{Organization, TOOLS};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenConfig {
    /// Number of developers.
    pub users: usize,
    /// Number of days, starting at `start`.
    pub days: u32,
    /// The seed: the same seed and start give the same events.
    pub seed: u64,
    /// The first day.
    pub start: NaiveDate,
}

/// Writes the events of `config` to `out` as JSONL and returns how many it
/// wrote; `progress` is told the number of events after each day.
pub fn generate(
    config: &GenConfig,
    out: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> io::Result<u64> {
    let mut rng = Pcg64Mcg::seed_from_u64(config.seed);
    let org = Organization::new(&mut rng, config.users, config.days);
    let id_prefix = format!("g{:x}-{}-", config.seed, config.start.format("%Y%m%d"));
    let threads = std::thread::available_parallelism()
        .map(NonZeroUsize::get)
        .unwrap_or(1)
        .clamp(1, 8);
    let mut written = 0u64;
    let days: Vec<u32> = (0..config.days).collect();
    for chunk in days.chunks(threads) {
        let outputs: Vec<DayOutput> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&day| {
                    let org = &org;
                    let id_prefix = id_prefix.as_str();
                    let date = config.start + TimeDelta::days(i64::from(day));
                    scope.spawn(move || generate_day(org, config.seed, id_prefix, day, date))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a generator thread does not panic"))
                .collect()
        });
        for output in outputs {
            out.write_all(&output.jsonl)?;
            written += output.events as u64;
            progress(written);
        }
    }
    out.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests;
