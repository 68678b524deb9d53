//! Governance (DESIGN §10): whether the AI use the trail records was
//! allowed. A policy (`governance.toml`: domains, approved tools, review
//! rules, exceptions) is read and checked ([`policy`]); the findings of its
//! five rules are decided from the stored events and the policy's own
//! dates ([`evidence`], [`findings`]) and served as the `violations`
//! report ([`violations`]) and the exceptions report ([`exceptions`]),
//! which the binary registers beside the built-in ones; the policy is also
//! registered for SQL ([`tables`]). The quarterly review pack is gathered
//! by [`review`] and written as HTML by [`pack_html`].

pub mod evidence;
pub mod exceptions;
pub mod findings;
pub mod ocsf;
pub mod pack_html;
pub mod policy;
pub mod review;
mod suspects;
pub mod tables;
mod usage_policy;
pub mod violations;

pub use exceptions::Exceptions;
pub use findings::{Filter, Finding, Status, findings};
pub use policy::{GovernancePolicy, PolicyError, Rule};
pub use tables::policy_tables;
pub use violations::{VIOLATIONS, Violations};

/// The policy a report judges by, or the answer that `what` needs one.
fn required<'a>(
    policy: Option<&'a GovernancePolicy>,
    what: &str,
) -> Result<&'a GovernancePolicy, aitrail_query::QueryError> {
    policy.ok_or_else(|| {
        aitrail_query::QueryError::Invalid(format!(
            "{what} needs a governance policy: --policy FILE, or [governance] policy in the \
             configuration"
        ))
    })
}

/// The example policy (`governance/governance.example.toml`), written for
/// the organization `aitrail gen` generates: what `aitrail dev` judges by,
/// and a start for a policy of one's own.
pub const EXAMPLE_POLICY: &str = include_str!("../governance.example.toml");

#[cfg(test)]
mod tests {
    #[test]
    fn the_example_policy_is_valid() {
        let policy = super::GovernancePolicy::parse(super::EXAMPLE_POLICY, "example").unwrap();
        assert_eq!(policy.approved_tools.len(), 2);
        assert_eq!(policy.exceptions.len(), 1);
    }
}
