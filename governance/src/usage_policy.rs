//! The policy as the generator asks it (`aitrail gen --policy`): so that a
//! generated organization mostly follows it and breaks it at known rates.

use aitrail_schemas::generator::UsagePolicy;
use aitrail_schemas::vocab::{DataClass, Domain};
use chrono::NaiveDate;

use crate::policy::GovernancePolicy;

impl UsagePolicy for GovernancePolicy {
    fn allowed_class(&self, tool: &str, model: &str, date: NaiveDate) -> Option<DataClass> {
        let entry = self.approval(tool, model, date)?;
        DataClass::ALL
            .iter()
            .copied()
            .find(|class| class.as_str() == entry.max_data_class)
    }

    fn domain_of(&self, repository: Option<&str>) -> Domain {
        let name = GovernancePolicy::domain_of(self, repository);
        Domain::ALL
            .iter()
            .copied()
            .find(|domain| domain.as_str() == name)
            .unwrap_or(Domain::Green)
    }

    fn approvals_needed(&self, domain: Domain) -> usize {
        let needed = match domain {
            Domain::Red => self.review.red_min_approvals,
            Domain::Green | Domain::Yellow => self.review.min_approvals,
        };
        needed as usize
    }

    fn security_reviewers(&self) -> &[String] {
        &self.review.security_reviewers
    }
}
