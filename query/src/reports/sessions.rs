//! Sessions for reports: an engine session with the per-day sums a report
//! reads registered in it, kept between reports by a long-running server
//! ([`ReportSums`]) or worked out for one report by the command line
//! ([`one_report_session`]).

use aitrail_store::StoreRoot;
use tokio::sync::Mutex;

use super::daily_sums::{DailySums, KeptSums};
use super::params::ReportParams;
use super::report::Report;
use crate::engine::{QueryError, StoreSession, StoreTables};
use crate::limits::Limits;
use crate::prices::Prices;

/// The per-day sums kept between the reports of a server.
#[derive(Default)]
pub struct ReportSums {
    kept: Mutex<KeptSums>,
}

impl ReportSums {
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
            .within_time(async {
                let mut kept = self.kept.lock().await;
                kept.register(&session, &report.sums(params)).await
            })
            .await?;
        Ok(session)
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
