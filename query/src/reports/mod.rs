//! The reports of DESIGN §6, an open set: each is a [`Report`] in a file
//! of its own, registered in [`Reports`] (`registry.rs`), where the
//! command line and the HTTP service find it by name. A report is one
//! SQL plan (or a few) run by DataFusion over per-day sums
//! ([`daily_sums`]): its parameters are bound values (`$from`, `$to`,
//! `$k`, …), and the only text a parameter chooses is one of a fixed set
//! of bucket units and column names.
//!
//! k-anonymity is part of each plan: a row is kept only when at least `$k`
//! distinct users stand behind it (`$k = 0` for compliance, who see
//! everything).

/// The order of one incident's events, latest first, for what DESIGN §9
/// takes from an incident's latest events (severity, service, cause): by
/// `occurred_at`, then a resolved event before an open one, then by
/// `event_id`, so that the choice never depends on the order files are
/// read in.
macro_rules! latest_incident_event_first {
    () => {
        "ORDER BY occurred_at DESC, resolved_at DESC NULLS LAST, event_id DESC"
    };
}

pub mod adoption;
pub mod daily_sums;
pub mod incidents;
pub mod params;
pub mod registry;
pub mod report;
pub mod sessions;
pub mod token_spend;

pub use daily_sums::DEFAULT_KEPT_BYTES;
pub use params::{Bucket, GroupBy, ParamError, ReportParams};
pub use registry::Reports;
pub use report::{BucketReport, PlanOutput, Report, ReportAnswer, run};
pub use sessions::{ReportSums, one_report_session};
