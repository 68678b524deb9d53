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
mod policy;

use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

pub use day::{DayOutput, DayPlan, generate_day};
pub use org::{Organization, TOOLS};
pub use policy::{
    ABOVE_ALLOWED_SESSIONS, RED_SESSIONS_KEPT, RESTRICTED_SESSIONS, UNAPPROVED_MERGES, UsagePolicy,
    keeps_unapproved_tools,
};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Number of developers.
    pub users: usize,
    /// Number of days, starting at `start`.
    pub days: u32,
    /// The seed: the same seed and start give the same events.
    pub seed: u64,
    /// The first day.
    pub start: NaiveDate,
    /// The generator's clock: no event occurs after it, and an incident not
    /// resolved by then has no `resolved_at` yet. `aitrail gen` sets it to
    /// the moment it runs, so that a span ending today (or a late worker
    /// west of UTC, whose yesterday ends in today's UTC hours) never
    /// produces an event the validator refuses as `future_timestamp`.
    pub not_after: Option<DateTime<Utc>>,
    /// A governance policy the organization's use mostly follows, with
    /// violations at known rates ([`RESTRICTED_SESSIONS`] and its
    /// neighbours); without one, people use any tool on any data anywhere.
    pub policy: Option<Arc<dyn UsagePolicy>>,
}

impl GenConfig {
    /// The organization the seed draws, whose adoption unfolds over the
    /// configured days; later days (a live stream) continue it.
    pub fn organization(&self) -> Organization {
        let mut rng = Pcg64Mcg::seed_from_u64(self.seed);
        let mut org = Organization::new(&mut rng, self.users, self.days);
        org.policy = self.policy.clone();
        org
    }

    /// The prefix of every generated `event_id`: the seed and the start, so
    /// spans with different seeds or starts never share an id.
    pub fn id_prefix(&self) -> String {
        format!("g{:x}-{}-", self.seed, self.start.format("%Y%m%d"))
    }
}

/// Days a maker may have finished before the writer takes them: enough to
/// keep the makers busy while the writer waits on the output.
const DAYS_AHEAD: usize = 2;

/// Writes the events of `config` to `out` as JSONL and returns how many it
/// wrote; `progress` is told the number of events after each day.
///
/// Days are made on every core, day `d` by maker `d % makers`, while the
/// calling thread writes them in order: writing (for a file, copying into
/// the page cache) overlaps with making. Each maker fills the buffers the
/// writer hands back, so memory stays at a few days' worth.
pub fn generate(
    config: &GenConfig,
    out: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> io::Result<u64> {
    let org = config.organization();
    let id_prefix = config.id_prefix();
    let makers = std::thread::available_parallelism()
        .map(NonZeroUsize::get)
        .unwrap_or(1)
        .clamp(1, 8);
    std::thread::scope(|scope| {
        let mut lanes: Vec<(Receiver<DayOutput>, SyncSender<DayOutput>)> = Vec::new();
        for maker in 0..makers {
            let (made_tx, made_rx) = sync_channel::<DayOutput>(DAYS_AHEAD);
            let (free_tx, free_rx) = sync_channel::<DayOutput>(DAYS_AHEAD + 1);
            for _ in 0..=DAYS_AHEAD {
                free_tx
                    .send(DayOutput::default())
                    .expect("the channel has room for every buffer");
            }
            let (org, id_prefix) = (&org, id_prefix.as_str());
            scope.spawn(move || {
                let days = (maker as u32..config.days).step_by(makers);
                for (day, mut output) in days.zip(free_rx) {
                    let date = config.start + TimeDelta::days(i64::from(day));
                    let day = DayPlan {
                        day,
                        date,
                        not_after: config.not_after,
                    };
                    generate_day(org, config.seed, id_prefix, &day, &mut output);
                    if made_tx.send(output).is_err() {
                        // The writer stopped on an error.
                        return;
                    }
                }
            });
            lanes.push((made_rx, free_tx));
        }
        let mut written = 0u64;
        for day in 0..config.days {
            let (made, free) = &lanes[day as usize % makers];
            let output = made
                .recv()
                .expect("a maker sends each of its days unless it panicked");
            output.write_to(out)?;
            written += output.events() as u64;
            progress(written);
            // A maker past its last day has dropped its receiver.
            let _ = free.send(output);
        }
        out.flush()?;
        Ok(written)
    })
}

#[cfg(test)]
mod tests;
