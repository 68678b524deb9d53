//! The findings of DESIGN §10, decided from the stored events and the
//! dates in the policy (never today's policy alone): one finding per rule,
//! UTC day, organization, user, team, tool, model and repository (per
//! change for `unreviewed_ai_change`), with its event count and its first
//! and last event, `excepted` when an exception in force on its day
//! matches it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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
/// not apply to its rule is `None`. Text is shared with the evidence it
/// came from (a month of findings names the same people, tools and
/// repositories over and over).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule broken.
    pub rule: Rule,
    /// Open or excepted.
    pub status: Status,
    /// The exception that covers it.
    pub exception_id: Option<Arc<str>>,
    /// The UTC day (a stale review: the report's last day).
    pub day: NaiveDate,
    /// The organization.
    pub org_id: Option<Arc<str>>,
    /// The user (the author, for a change).
    pub user_id: Option<Arc<str>>,
    /// The team.
    pub team: Option<Arc<str>>,
    /// The tool.
    pub tool: Option<Arc<str>>,
    /// The model (a stale review: the entry's first model glob).
    pub model: Option<Arc<str>>,
    /// The repository.
    pub repository: Option<Arc<str>>,
    /// The change (`unreviewed_ai_change`).
    pub change_id: Option<Arc<str>>,
    /// Events behind it.
    pub events: u64,
    /// The first of them (by time, then id).
    pub first_event_id: Option<Arc<str>>,
    /// The last of them.
    pub last_event_id: Option<Arc<str>>,
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
            finding.exception_id = Some(Arc::from(exception.id.as_str()));
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

/// Where a group's finding stands among its rule's findings: its day and
/// the text rank of its organization, person, team, tool, model and
/// repository (none first), so a year of groups sorts by numbers.
type Place = (NaiveDate, [u32; 6]);

/// Each distinct name the groups carry, by the address of its one copy,
/// ranked in text order from 1 (equal texts in separate copies share a
/// rank).
struct Ranks(foldhash::HashMap<usize, u32>);

impl Ranks {
    fn of(usage: &[UsageGroup]) -> Ranks {
        let mut names: foldhash::HashMap<usize, &Arc<str>> = foldhash::HashMap::default();
        for group in usage {
            for name in names_of(group).into_iter().flatten() {
                names.entry(address(name)).or_insert(name);
            }
        }
        let mut sorted: Vec<(usize, &Arc<str>)> = names.into_iter().collect();
        sorted.sort_unstable_by(|a, b| a.1.cmp(b.1));
        let mut ranks = foldhash::HashMap::default();
        let mut rank = 0;
        let mut previous: Option<&Arc<str>> = None;
        for (address, name) in sorted {
            if previous != Some(name) {
                rank += 1;
            }
            ranks.insert(address, rank);
            previous = Some(name);
        }
        Ranks(ranks)
    }

    fn place(&self, group: &UsageGroup) -> Place {
        let rank = |name: Option<&Arc<str>>| name.map_or(0, |name| self.0[&address(name)]);
        (group.day, names_of(group).map(rank))
    }
}

/// The names of a group in the order findings sort by.
fn names_of(group: &UsageGroup) -> [Option<&Arc<str>>; 6] {
    [
        Some(&group.org_id),
        Some(&group.user_id),
        group.team.as_ref(),
        Some(&group.tool),
        Some(&group.model),
        group.repository.as_ref(),
    ]
}

/// Where `name`'s one copy lives, which identifies it while the groups do.
fn address(name: &Arc<str>) -> usize {
    Arc::as_ptr(name).cast::<u8>() as usize
}

/// Events of one usage finding, with the first and last of them (time,
/// then id).
struct Tally<'a> {
    events: u64,
    first: (i64, &'a Arc<str>),
    last: (i64, &'a Arc<str>),
}

impl<'a> Tally<'a> {
    fn of(group: &'a UsageGroup) -> Tally<'a> {
        Tally {
            events: group.events,
            first: (group.first_at, &group.first_event_id),
            last: (group.last_at, &group.last_event_id),
        }
    }

    fn add(&mut self, group: &'a UsageGroup) {
        self.events += group.events;
        self.first = self.first.min((group.first_at, &group.first_event_id));
        self.last = self.last.max((group.last_at, &group.last_event_id));
    }

    /// The finding of `rule` for the groups of `key` this tallied.
    fn finding(&self, rule: Rule, key: &UsageGroup) -> Finding {
        Finding {
            rule,
            status: Status::Open,
            exception_id: None,
            day: key.day,
            org_id: Some(Arc::clone(&key.org_id)),
            user_id: Some(Arc::clone(&key.user_id)),
            team: key.team.clone(),
            tool: Some(Arc::clone(&key.tool)),
            model: Some(Arc::clone(&key.model)),
            repository: key.repository.clone(),
            change_id: None,
            events: self.events,
            first_event_id: Some(Arc::clone(self.first.1)),
            last_event_id: Some(Arc::clone(self.last.1)),
        }
    }
}

/// The usage rules, in the order of [`Rule`].
const USAGE_RULES: [Rule; 3] = [
    Rule::UnapprovedTool,
    Rule::DataClassExceeded,
    Rule::RedDomainUse,
];

/// `unapproved_tool`, `data_class_exceeded` and `red_domain_use` over the
/// usage grouped by day and every field a rule reads; groups that differ
/// only in data class or domain add up to one finding. The groups are put
/// in finding order first, so each finding is complete when the next
/// place starts and each rule's findings come out in order.
fn usage_findings(policy: &GovernancePolicy, usage: &[UsageGroup]) -> Vec<Finding> {
    let ranks = Ranks::of(usage);
    let mut groups: Vec<(Place, &UsageGroup)> = usage
        .iter()
        .map(|group| (ranks.place(group), group))
        .collect();
    groups.sort_unstable_by_key(|(place, _)| *place);
    let mut found: [Vec<Finding>; 3] = Default::default();
    let mut current: Option<(Place, &UsageGroup)> = None;
    let mut tallies: [Option<Tally>; 3] = Default::default();
    for (place, group) in groups {
        if current.is_some_and(|(current, _)| current != place) {
            flush(&mut tallies, current.map(|(_, key)| key), &mut found);
        }
        current = Some((place, group));
        let approval = policy.approval(&group.tool, &group.model, group.day);
        let domain = group
            .domain
            .as_deref()
            .unwrap_or_else(|| policy.domain_of(group.repository.as_deref()));
        let broken = [
            approval.is_none(),
            exceeds(approval, &group.data_class),
            domain == "red",
        ];
        for (tally, broken) in tallies.iter_mut().zip(broken) {
            if broken {
                match tally {
                    Some(tally) => tally.add(group),
                    None => *tally = Some(Tally::of(group)),
                }
            }
        }
    }
    flush(&mut tallies, current.map(|(_, key)| key), &mut found);
    found.into_iter().flatten().collect()
}

/// Ends the findings of `key` tallied so far, one per rule broken.
fn flush(
    tallies: &mut [Option<Tally>; 3],
    key: Option<&UsageGroup>,
    found: &mut [Vec<Finding>; 3],
) {
    let Some(key) = key else { return };
    for ((tally, rule), found) in tallies.iter_mut().zip(USAGE_RULES).zip(found.iter_mut()) {
        if let Some(tally) = tally.take() {
            found.push(tally.finding(rule, key));
        }
    }
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
    let mut by_change: foldhash::HashMap<(&str, &str), Vec<&Review>> = foldhash::HashMap::default();
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
            let event_id: Arc<str> = Arc::from(change.event_id.as_str());
            found.push(Finding {
                rule: Rule::UnreviewedAiChange,
                status: Status::Open,
                exception_id: None,
                day: change.day,
                org_id: Some(Arc::from(change.org_id.as_str())),
                user_id: Some(Arc::from(change.user_id.as_str())),
                team: change.team.as_deref().map(Arc::from),
                tool: None,
                model: None,
                repository: Some(Arc::from(change.repository.as_str())),
                change_id: Some(Arc::from(change.change_id.as_str())),
                events: 1,
                first_event_id: Some(Arc::clone(&event_id)),
                last_event_id: Some(event_id),
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
            tool: Some(Arc::from(entry.tool.as_str())),
            model: entry.models.first().map(|glob| Arc::from(glob.as_str())),
            repository: None,
            change_id: None,
            events: 0,
            first_event_id: None,
            last_event_id: None,
        })
        .collect()
}
