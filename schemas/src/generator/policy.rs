//! Use that mostly follows a governance policy (DESIGN §10), with
//! violations at known rates, so that a generated organization judged by
//! that policy shows what a real one would: a few teams on tools nobody
//! approved, now and then data above what a tool may see, rare use in red
//! repositories, and a few pull requests merged without the approvals they
//! need. The policy itself lives above this crate; the generator asks it
//! only the questions below.

use std::fmt;

use chrono::NaiveDate;
use rand::Rng;
use rand_pcg::Pcg64Mcg;

use crate::vocab::{DataClass, Domain};

/// The questions the generator asks of a governance policy, shared by the
/// threads that make days (`Arc<dyn UsagePolicy>`).
pub trait UsagePolicy: Send + Sync + fmt::Debug {
    /// The highest data class an approval in force on `date` lets `tool`
    /// with `model` see, or `None` when nothing approves that use.
    fn allowed_class(&self, tool: &str, model: &str, date: NaiveDate) -> Option<DataClass>;
    /// The domain of work in `repository` (`None`: no repository).
    fn domain_of(&self, repository: Option<&str>) -> Domain;
    /// Approvals an AI-assisted pull request in `domain` needs.
    fn approvals_needed(&self, domain: Domain) -> usize;
    /// Reviewers (user ids as stored) one of whom must approve a red change.
    fn security_reviewers(&self) -> &[String];
}

/// One team in eight (the second, the tenth, …: any organization of two
/// teams or more has one) uses the tools its people like, approved or not
/// (shadow AI); every other team uses approved tools only.
pub fn keeps_unapproved_tools(team: usize) -> bool {
    team % 8 == 1
}

/// Share of sessions of an approved tool that handle restricted data.
pub const RESTRICTED_SESSIONS: f64 = 0.005;

/// Share of sessions of an approved tool that handle data one class above
/// what its approval allows (when that class is not restricted).
pub const ABOVE_ALLOWED_SESSIONS: f64 = 0.01;

/// Share of sessions that would work in a red repository and still do; the
/// rest leave the repository out of the AI's reach (no repository).
pub const RED_SESSIONS_KEPT: f64 = 0.05;

/// Share of AI-assisted pull requests merged with comments only, no
/// approval.
pub const UNAPPROVED_MERGES: f64 = 0.04;

/// The data class a session of an approved tool handles: the one drawn,
/// capped at what its approval allows, except at the known rates above.
pub fn governed_class(rng: &mut Pcg64Mcg, drawn: DataClass, allowed: DataClass) -> DataClass {
    let draw: f64 = rng.random();
    if draw < RESTRICTED_SESSIONS {
        return DataClass::Restricted;
    }
    let above = DataClass::ALL
        .iter()
        .copied()
        .find(|class| *class > allowed && *class != DataClass::Restricted);
    match above {
        Some(above) if draw < RESTRICTED_SESSIONS + ABOVE_ALLOWED_SESSIONS => above,
        _ => drawn.min(allowed),
    }
}
