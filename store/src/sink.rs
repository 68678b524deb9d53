//! The way into the store for every writer: validates an input, assigns its
//! retention tier, refuses it if already past that tier's retention, and
//! collects it into the pending batch until a limit says to flush.

use aitrail_schemas::{RejectReason, Rejection, Validator, ValidatorConfig};
use chrono::{DateTime, Utc};

use crate::policy::Policy;
use crate::rows::{PendingRows, Position, TableBatch};

/// When a batch is flushed and what counts as a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Flush at this many rows.
    pub max_rows: usize,
    /// Flush at this many input bytes.
    pub max_bytes: usize,
}

impl Default for BatchLimits {
    /// DESIGN §4: 100k rows or 64 MiB.
    fn default() -> Self {
        BatchLimits {
            max_rows: 100_000,
            max_bytes: 64 << 20,
        }
    }
}

/// Validated, tiered rows on their way to a commit.
pub struct EventSink {
    validator: Validator,
    policy: Policy,
    limits: BatchLimits,
    pending: PendingRows,
}

impl EventSink {
    /// A sink that validates with `validator_config` and tiers with `policy`.
    pub fn new(validator_config: ValidatorConfig, policy: Policy, limits: BatchLimits) -> Self {
        EventSink {
            validator: Validator::new(validator_config),
            policy,
            limits,
            pending: PendingRows::default(),
        }
    }

    /// Takes one input received at `now`: a valid, unexpired event joins the
    /// pending batch; anything else is returned as a rejection.
    pub fn accept(
        &mut self,
        raw: &[u8],
        position: Position,
        now: DateTime<Utc>,
    ) -> Result<(), Rejection> {
        let event = self.validator.validate(raw, now)?;
        let tier = self.policy.tier_for(&event);
        let occurred = event.occurred_at().0.date_naive();
        let oldest_kept = tier.oldest_kept(now.date_naive());
        if occurred < oldest_kept {
            return Err(Rejection {
                reason: RejectReason::Expired,
                detail: format!(
                    "field `occurred_at`: {occurred} is past the {} days the `{}` tier keeps data",
                    tier.keep_days, tier.name
                ),
                event: serde_json::from_slice(raw).ok(),
            });
        }
        self.pending.push(&event, raw.len(), &tier.name, position);
        Ok(())
    }

    /// Whether the pending batch has reached a limit.
    pub fn is_full(&self) -> bool {
        self.pending.len() >= self.limits.max_rows || self.pending.bytes() >= self.limits.max_bytes
    }

    /// Rows pending.
    pub fn pending_rows(&self) -> usize {
        self.pending.len()
    }

    /// The pending rows as one batch per table, leaving the sink empty.
    pub fn take_batch(&mut self) -> Vec<TableBatch> {
        self.pending.take()
    }
}
