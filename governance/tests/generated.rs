//! `aitrail gen --policy`: an organization generated under the example
//! policy is valid, mostly follows the policy, and breaks each usage and
//! review rule at the rates the generator declares — judged by the same
//! rules the reports use.

use std::collections::BTreeSet;
use std::sync::Arc;

use aitrail_governance::evidence::{Evidence, MergedChange, Review, UsageGroup};
use aitrail_governance::{EXAMPLE_POLICY, Filter, GovernancePolicy, Rule, findings};
use aitrail_schemas::Validator;
use aitrail_schemas::generator::{
    ABOVE_ALLOWED_SESSIONS, GenConfig, RED_SESSIONS_KEPT, RESTRICTED_SESSIONS, UNAPPROVED_MERGES,
    generate, keeps_unapproved_tools,
};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::Value;

fn text(event: &Value, field: &str) -> String {
    event[field].as_str().unwrap_or_default().to_string()
}

fn optional(event: &Value, field: &str) -> Option<String> {
    event[field].as_str().map(str::to_string)
}

fn micros(event: &Value) -> i64 {
    DateTime::parse_from_rfc3339(event["occurred_at"].as_str().unwrap())
        .unwrap()
        .timestamp_micros()
}

fn day_of(at: i64) -> NaiveDate {
    DateTime::from_timestamp_micros(at).unwrap().date_naive()
}

/// The generated events as the evidence the rules read: each usage event
/// its own group (the rules add groups of one finding up).
fn evidence_of(events: &[Value]) -> Evidence {
    let mut evidence = Evidence::default();
    for event in events {
        let at = micros(event);
        match event["event_type"].as_str().unwrap() {
            "ai_usage" => evidence.usage.push(UsageGroup {
                day: day_of(at),
                org_id: text(event, "org_id").into(),
                user_id: text(event, "user_id").into(),
                team: optional(event, "team").map(Into::into),
                tool: text(event, "tool").into(),
                model: text(event, "model").into(),
                repository: optional(event, "repository").map(Into::into),
                data_class: optional(event, "data_class")
                    .unwrap_or("internal".into())
                    .into(),
                domain: optional(event, "domain").map(Into::into),
                events: 1,
                first_at: at,
                first_event_id: text(event, "event_id").into(),
                last_at: at,
                last_event_id: text(event, "event_id").into(),
            }),
            "code_change" if event["kind"] == "pull_request" && event["ai_assisted"] == true => {
                evidence.changes.push(MergedChange {
                    event_id: text(event, "event_id"),
                    occurred_at: at,
                    day: day_of(at),
                    org_id: text(event, "org_id"),
                    change_id: text(event, "change_id"),
                    repository: text(event, "repository"),
                    user_id: text(event, "user_id"),
                    team: optional(event, "team"),
                    domain: optional(event, "domain"),
                    reviewer_ids: event["reviewer_ids"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|id| id.as_str().unwrap().to_string())
                        .collect(),
                })
            }
            "code_review" => evidence.reviews.push(Review {
                change_id: text(event, "change_id"),
                repository: text(event, "repository"),
                user_id: text(event, "user_id"),
                state: text(event, "state"),
                occurred_at: at,
            }),
            _ => {}
        }
    }
    evidence
}

/// `found` within `low`..=`high` times `rate`.
fn near(what: &str, found: f64, rate: f64, low: f64, high: f64) {
    eprintln!("{what}: {found:.4} (declared {rate})");
    assert!(
        found >= rate * low && found <= rate * high,
        "{what}: {found:.4}, expected {low}–{high} × {rate}"
    );
}

#[test]
fn an_organization_generated_under_the_example_policy_breaks_it_at_the_declared_rates() {
    let policy = Arc::new(GovernancePolicy::parse(EXAMPLE_POLICY, "example").unwrap());
    let start = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    let config = GenConfig {
        users: 150,
        days: 120,
        seed: 5,
        start,
        not_after: None,
        policy: Some(policy.clone()),
    };
    let mut out = Vec::new();
    generate(&config, &mut out, |_| {}).unwrap();
    let validator = Validator::default();
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let events: Vec<Value> = out
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            validator
                .validate(line, now)
                .unwrap_or_else(|r| panic!("{r}: {}", String::from_utf8_lossy(line)));
            serde_json::from_slice(line).unwrap()
        })
        .collect();

    let org = config.organization();
    let shadow_teams: BTreeSet<&str> = org
        .teams
        .iter()
        .enumerate()
        .filter(|(index, _)| keeps_unapproved_tools(*index))
        .map(|(_, team)| team.name.as_str())
        .collect();
    assert!(!shadow_teams.is_empty() && shadow_teams.len() < org.teams.len());
    let red_teams: BTreeSet<&str> = ["payments", "identity"].into();

    let evidence = evidence_of(&events);
    let end = start + chrono::Days::new(u64::from(config.days));
    let found = findings(&policy, &evidence, start, end, &Filter::default());
    let events_of = |rule: Rule| -> Vec<_> { found.iter().filter(|f| f.rule == rule).collect() };

    // Unapproved tools: only in the teams that keep theirs, and there.
    let unapproved = events_of(Rule::UnapprovedTool);
    assert!(!unapproved.is_empty());
    for finding in &unapproved {
        let team = finding.team.as_deref().unwrap();
        assert!(
            shadow_teams.contains(team),
            "{team} used {:?}",
            finding.tool
        );
    }

    // Data above what an approval allows: at the declared share of the
    // other teams' use (events stand in for sessions).
    let usage_outside = |teams: &BTreeSet<&str>| {
        evidence
            .usage
            .iter()
            .filter(|group| !teams.contains(group.team.as_deref().unwrap()))
            .count() as f64
    };
    let exceeded: u64 = events_of(Rule::DataClassExceeded)
        .iter()
        .filter(|f| !shadow_teams.contains(f.team.as_deref().unwrap()))
        .map(|f| f.events)
        .sum();
    near(
        "data above the approval, share of events",
        exceeded as f64 / usage_outside(&shadow_teams),
        RESTRICTED_SESSIONS + ABOVE_ALLOWED_SESSIONS,
        0.25,
        1.6,
    );

    // Red repositories: rare use, only by the teams that own them.
    let red: Vec<_> = events_of(Rule::RedDomainUse);
    let red_events: u64 = red.iter().map(|f| f.events).sum();
    for finding in &red {
        assert!(red_teams.contains(finding.team.as_deref().unwrap()));
    }
    let red_team_events = evidence
        .usage
        .iter()
        .filter(|group| red_teams.contains(group.team.as_deref().unwrap()))
        .count() as f64;
    near(
        "red use, share of the red teams' events",
        red_events as f64 / red_team_events,
        RED_SESSIONS_KEPT * 0.9,
        0.4,
        2.0,
    );

    // Pull requests: the declared share merged without approval; the red
    // ones approved by a security reviewer otherwise.
    let unreviewed = events_of(Rule::UnreviewedAiChange);
    near(
        "AI-assisted pull requests merged unapproved",
        unreviewed.len() as f64 / evidence.changes.len() as f64,
        UNAPPROVED_MERGES,
        0.5,
        2.0,
    );
    let red_changes: Vec<_> = evidence
        .changes
        .iter()
        .filter(|change| change.domain.as_deref() == Some("red"))
        .collect();
    assert!(!red_changes.is_empty());
    let security: BTreeSet<&str> = policy
        .review
        .security_reviewers
        .iter()
        .map(String::as_str)
        .collect();
    let secured = red_changes
        .iter()
        .filter(|change| {
            change
                .reviewer_ids
                .iter()
                .any(|id| security.contains(id.as_str()))
        })
        .count();
    assert!(
        secured as f64 >= red_changes.len() as f64 * 0.85,
        "{secured} of {} red changes approved by security",
        red_changes.len()
    );
}
