//! Governance (DESIGN §10): whether the AI use the trail records was
//! allowed. A policy (`governance.toml`: domains, approved tools, review
//! rules, exceptions) is read and checked ([`policy`]); the findings of its
//! five rules are decided from the stored events and the policy's own
//! dates ([`evidence`], [`findings`]) and served as the `violations`
//! report ([`violations`]), which the binary registers beside the
//! built-in ones; the policy is also registered for SQL ([`tables`]).

pub mod evidence;
pub mod findings;
pub mod policy;
pub mod tables;
pub mod violations;

pub use findings::{Filter, Finding, Status, findings};
pub use policy::{GovernancePolicy, PolicyError, Rule};
pub use tables::policy_tables;
pub use violations::{VIOLATIONS, Violations};
