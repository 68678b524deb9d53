//! The one place the reports are listed: the built-in ones, and any the
//! binary registers from a crate above this one.

use std::sync::Arc;

use super::adoption::ADOPTION;
use super::incidents::Incidents;
use super::report::Report;
use super::token_spend::TOKEN_SPEND;

/// Every report the service answers, by name: the built-in ones, and any
/// the binary registers (a report of a crate above this one).
#[derive(Clone)]
pub struct Reports {
    reports: Vec<Arc<dyn Report>>,
}

impl Reports {
    /// The reports of DESIGN §6, in the order the documentation lists
    /// them.
    pub fn builtin() -> Self {
        Reports {
            reports: vec![
                Arc::new(ADOPTION),
                Arc::new(TOKEN_SPEND),
                Arc::new(Incidents),
            ],
        }
    }

    /// Adds `report`, or replaces the one of the same name.
    pub fn register(&mut self, report: Arc<dyn Report>) {
        self.reports.retain(|known| known.name() != report.name());
        self.reports.push(report);
    }

    /// The report named `name`, if there is one.
    pub fn named(&self, name: &str) -> Option<&Arc<dyn Report>> {
        self.reports.iter().find(|report| report.name() == name)
    }

    /// Every report, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Report>> {
        self.reports.iter()
    }

    /// Every report's name, for help texts and error messages.
    pub fn names(&self) -> Vec<&'static str> {
        self.reports.iter().map(|report| report.name()).collect()
    }
}
