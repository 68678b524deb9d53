//! The findings of DESIGN §10, decided from the stored events and the
//! dates in the policy (never today's policy alone): one finding per rule,
//! UTC day, organization, user, team, tool, model and repository (per
//! change for `unreviewed_ai_change`), with its event count and its first
//! and last event, `excepted` when an exception in force on its day
//! matches it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate};

use crate::evidence::{Evidence, MergedChange, Review, UsageGroup};
use crate::policy::{
    ApprovedTool, Exception, GovernancePolicy, MatchField, REVIEW_INTERVAL_DAYS, Rule,
    data_class_rank,
};

/// Whether a finding stands or an exception covers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Nothing excepts it.
    Open,
    /// An exception in force on its day matches it.
    Excepted,
}

impl Status {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Excepted => "excepted",
        }
    }

    /// The status named `name`.
    pub fn parse(name: &str) -> Option<Status> {
        [Status::Open, Status::Excepted]
            .into_iter()
            .find(|status| status.name() == name)
    }
}

/// One finding, its columns in the order of DESIGN §10; a column that does
/// not apply to its rule is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule broken.
    pub rule: Rule,
    /// Open or excepted.
    pub status: Status,
    /// The exception that covers it.
    pub exception_id: Option<String>,
    /// The UTC day (a stale review: the report's last day).
    pub day: NaiveDate,
    /// The organization.
    pub org_id: Option<String>,
    /// The user (the author, for a change).
    pub user_id: Option<String>,
    /// The team.
    pub team: Option<String>,
    /// The tool.
    pub tool: Option<String>,
    /// The model (a stale review: the entry's first model glob).
    pub model: Option<String>,
    /// The repository.
    pub repository: Option<String>,
    /// The change (`unreviewed_ai_change`).
    pub change_id: Option<String>,
    /// Events behind it.
    pub events: u64,
    /// The first of them (by time, then id).
    pub first_event_id: Option<String>,
    /// The last of them.
    pub last_event_id: Option<String>,
}

impl Finding {
    /// Its value of an exception's match field.
    fn field(&self, field: MatchField) -> Option<&str> {
        match field {
            MatchField::OrgId => self.org_id.as_deref(),
            MatchField::UserId => self.user_id.as_deref(),
            MatchField::Team => self.team.as_deref(),
            MatchField::Tool => self.tool.as_deref(),
            MatchField::Model => self.model.as_deref(),
            MatchField::Repository => self.repository.as_deref(),
            MatchField::ChangeId => self.change_id.as_deref(),
        }
    }

    /// Whether `exception` covers it: its rule, in force on its day, and
    /// every field it names matched (a field the finding lacks matches
    /// nothing).
    fn excepted_by(&self, exception: &Exception) -> bool {
        exception.rule == self.rule
            && exception.active_on(self.day)
            && exception.conditions.iter().all(|(field, globs)| {
                self.field(*field)
                    .is_some_and(|value| globs.iter().any(|glob| glob.matches(value)))
            })
    }
}

/// Which findings to keep.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this rule.
    pub rule: Option<Rule>,
    /// Only this status.
    pub status: Option<Status>,
}

/// The findings of `policy` over `evidence` for the days `from` (inclusive)
/// to `to` (exclusive), sorted by rule, day and the rest.
pub fn findings(
    policy: &GovernancePolicy,
    evidence: &Evidence,
    from: NaiveDate,
    to: NaiveDate,
    filter: &Filter,
) -> Vec<Finding> {
    let mut found = usage_findings(policy, &evidence.usage);
    found.extend(change_findings(
        policy,
        &evidence.changes,
        &evidence.reviews,
    ));
    found.extend(stale_reviews(policy, from, to));
    for finding in &mut found {
        if let Some(exception) = policy.exceptions.iter().find(|e| finding.excepted_by(e)) {
            finding.status = Status::Excepted;
            finding.exception_id = Some(exception.id.clone());
        }
    }
    found.retain(|finding| {
        filter.rule.is_none_or(|rule| finding.rule == rule)
            && filter.status.is_none_or(|status| finding.status == status)
    });
    found.sort_by(|a, b| {
        (
            a.rule, a.day, &a.org_id, &a.user_id, &a.team, &a.tool, &a.model,
        )
            .cmp(&(
                b.rule, b.day, &b.org_id, &b.user_id, &b.team, &b.tool, &b.model,
            ))
            .then_with(|| (&a.repository, &a.change_id).cmp(&(&b.repository, &b.change_id)))
    });
    found
}

/// The key a usage finding is kept under.
type UsageKey = (
    Rule,
    NaiveDate,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
);

/// Events of one usage finding, with the first and last of them.
struct Tally {
    events: u64,
    first: (i64, String),
    last: (i64, String),
}

/// `unapproved_tool`, `data_class_exceeded` and `red_domain_use` over the
/// usage grouped by day and every field a rule reads.
fn usage_findings(policy: &GovernancePolicy, usage: &[UsageGroup]) -> Vec<Finding> {
    let mut tallies: BTreeMap<UsageKey, Tally> = BTreeMap::new();
    for group in usage {
        let approval = policy.approval(&group.tool, &group.model, group.day);
        let mut broken = Vec::new();
        if approval.is_none() {
            broken.push(Rule::UnapprovedTool);
        }
        if exceeds(approval, &group.data_class) {
            broken.push(Rule::DataClassExceeded);
        }
        let domain = group
            .domain
            .as_deref()
            .unwrap_or_else(|| policy.domain_of(group.repository.as_deref()));
        if domain == "red" {
            broken.push(Rule::RedDomainUse);
        }
        for rule in broken {
            let key = (
                rule,
                group.day,
                group.org_id.clone(),
                group.user_id.clone(),
                group.team.clone(),
                group.tool.clone(),
                group.model.clone(),
                group.repository.clone(),
            );
            let first = (group.first_at, group.first_event_id.clone());
            let last = (group.last_at, group.last_event_id.clone());
            tallies
                .entry(key)
                .and_modify(|tally| {
                    tally.events += group.events;
                    tally.first = tally.first.clone().min(first.clone());
                    tally.last = tally.last.clone().max(last.clone());
                })
                .or_insert(Tally {
                    events: group.events,
                    first,
                    last,
                });
        }
    }
    tallies
        .into_iter()
        .map(
            |((rule, day, org_id, user_id, team, tool, model, repository), tally)| Finding {
                rule,
                status: Status::Open,
                exception_id: None,
                day,
                org_id: Some(org_id),
                user_id: Some(user_id),
                team,
                tool: Some(tool),
                model: Some(model),
                repository,
                change_id: None,
                events: tally.events,
                first_event_id: Some(tally.first.1),
                last_event_id: Some(tally.last.1),
            },
        )
        .collect()
}

/// Whether data of `class` is beyond what `approval` allows: `restricted`
/// always is; without an approval, nothing else is judged here (the use
/// is an `unapproved_tool` finding already).
fn exceeds(approval: Option<&ApprovedTool>, class: &str) -> bool {
    class == "restricted"
        || approval
            .is_some_and(|entry| data_class_rank(class) > data_class_rank(&entry.max_data_class))
}

/// `unreviewed_ai_change`: each AI-assisted merged pull request with
/// fewer approvals than its domain requires. An approval counts when it is
/// the reviewer's last decisive review (approved, changes requested or
/// dismissed; comments leave it) before the merge, by someone other than
/// the author; `reviewer_ids` of the change count as approvals too. A red
/// change also needs one of them from a security reviewer.
fn change_findings(
    policy: &GovernancePolicy,
    changes: &[MergedChange],
    reviews: &[Review],
) -> Vec<Finding> {
    let mut by_change: BTreeMap<(&str, &str), Vec<&Review>> = BTreeMap::new();
    for review in reviews {
        by_change
            .entry((review.repository.as_str(), review.change_id.as_str()))
            .or_default()
            .push(review);
    }
    let mut found = Vec::new();
    for change in changes {
        let domain = change
            .domain
            .as_deref()
            .unwrap_or_else(|| policy.domain_of(Some(&change.repository)));
        let mut last_decision: BTreeMap<&str, (i64, &str)> = BTreeMap::new();
        for review in by_change
            .get(&(change.repository.as_str(), change.change_id.as_str()))
            .into_iter()
            .flatten()
        {
            if review.occurred_at >= change.occurred_at
                || review.user_id == change.user_id
                || review.state == "commented"
            {
                continue;
            }
            let decision = (review.occurred_at, review.state.as_str());
            last_decision
                .entry(review.user_id.as_str())
                .and_modify(|known| *known = (*known).max(decision))
                .or_insert(decision);
        }
        let mut approvers: BTreeSet<&str> = last_decision
            .iter()
            .filter(|(_, (_, state))| *state == "approved")
            .map(|(user, _)| *user)
            .collect();
        approvers.extend(
            change
                .reviewer_ids
                .iter()
                .map(String::as_str)
                .filter(|reviewer| *reviewer != change.user_id),
        );
        let red = domain == "red";
        let required = if red {
            policy.review.red_min_approvals
        } else {
            policy.review.min_approvals
        };
        let security_approved = approvers
            .iter()
            .any(|user| policy.review.security_reviewers.iter().any(|s| s == user));
        if (approvers.len() as u64) < u64::from(required) || (red && !security_approved) {
            found.push(Finding {
                rule: Rule::UnreviewedAiChange,
                status: Status::Open,
                exception_id: None,
                day: change.day,
                org_id: Some(change.org_id.clone()),
                user_id: Some(change.user_id.clone()),
                team: change.team.clone(),
                tool: None,
                model: None,
                repository: Some(change.repository.clone()),
                change_id: Some(change.change_id.clone()),
                events: 1,
                first_event_id: Some(change.event_id.clone()),
                last_event_id: Some(change.event_id.clone()),
            });
        }
    }
    found
}

/// `stale_tool_review`: each approved entry in force during the report
/// whose `last_reviewed` (or, never reviewed, whose `from`) is more than
/// [`REVIEW_INTERVAL_DAYS`] before the report's last day.
fn stale_reviews(policy: &GovernancePolicy, from: NaiveDate, to: NaiveDate) -> Vec<Finding> {
    let Some(last_day) = to.pred_opt() else {
        return Vec::new();
    };
    let Some(due_before) = last_day.checked_sub_days(Days::new(REVIEW_INTERVAL_DAYS)) else {
        return Vec::new();
    };
    policy
        .approved_tools
        .iter()
        .filter(|entry| entry.from <= last_day && entry.until.is_none_or(|until| until >= from))
        .filter(|entry| entry.last_reviewed.unwrap_or(entry.from) < due_before)
        .map(|entry| Finding {
            rule: Rule::StaleToolReview,
            status: Status::Open,
            exception_id: None,
            day: last_day,
            org_id: None,
            user_id: None,
            team: None,
            tool: Some(entry.tool.clone()),
            model: entry.models.first().map(|glob| glob.as_str().to_string()),
            repository: None,
            change_id: None,
            events: 0,
            first_event_id: None,
            last_event_id: None,
        })
        .collect()
}
