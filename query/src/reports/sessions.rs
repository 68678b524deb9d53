//! Sessions for reports: an engine session with the per-day sums a report
//! reads registered in it, kept between reports by a long-running server
//! ([`ReportSums`]) or worked out for one report by the command line
//! ([`one_report_session`]).

use aitrail_store::StoreRoot;

use super::daily_sums::{DEFAULT_KEPT_BYTES, DailySums, KeptSums};
use super::params::ReportParams;
use super::report::Report;
use crate::engine::{QueryError, StoreSession, StoreTables};
use crate::limits::Limits;
use crate::prices::Prices;

/// The per-day sums kept between the reports of a server.
pub struct ReportSums {
    kept: KeptSums,
}

impl ReportSums {
    /// No sums yet; together they will hold at most `cap_bytes` (sums
    /// that alone would hold more are worked out by each report).
    pub fn new(cap_bytes: usize) -> Self {
        ReportSums {
            kept: KeptSums::new(cap_bytes),
        }
    }

    /// A session of `tables` within `limits`, with the sums `report` reads
    /// for `params` brought up to date and registered, within the
    /// session's timeout.
    pub async fn session(
        &self,
        tables: &StoreTables,
        limits: Limits,
        report: &dyn Report,
        params: &ReportParams,
    ) -> Result<StoreSession, QueryError> {
        let session = tables.session(limits).await?;
        session
            .within_time(
                self.kept
                    .register(&session, &report.sums(params), params.from, params.to),
            )
            .await?;
        Ok(session)
    }

    /// The bytes the kept sums hold.
    pub fn bytes(&self) -> usize {
        self.kept.bytes()
    }
}

impl Default for ReportSums {
    /// Sums within [`DEFAULT_KEPT_BYTES`].
    fn default() -> Self {
        ReportSums::new(DEFAULT_KEPT_BYTES)
    }
}

/// A session over the store at `root`, without limits, for the one report
/// `report` with `params` (see [`DailySums::register_for_one_report`]).
pub async fn one_report_session(
    root: &StoreRoot,
    prices: Prices,
    report: &dyn Report,
    params: &ReportParams,
) -> Result<StoreSession, QueryError> {
    let session = StoreSession::open(root, prices).await?;
    for kind in report.sums(params) {
        DailySums::of(kind)
            .register_for_one_report(&session, params.from, params.to)
            .await?;
    }
    Ok(session)
}
