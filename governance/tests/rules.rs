//! Each rule of DESIGN §10 at its edges, on evidence written by hand: the
//! exact finding rows the policy's dates, globs, review rules and
//! exceptions give.

use aitrail_governance::evidence::{Evidence, MergedChange, Review, UsageGroup};
use aitrail_governance::{Filter, Finding, GovernancePolicy, Rule, Status, findings};
use chrono::NaiveDate;

const POLICY: &str = r#"
default_domain = "green"

[[domains]]
domain = "red"
repositories = ["github.com/acme/auth-*", "github.com/acme/payments-core"]

[[domains]]
domain = "yellow"
repositories = ["github.com/acme/*"]

[[approved_tools]]
tool = "claude-code"
models = ["claude-*"]
from = "2026-01-01"
until = "2026-06-30"
max_data_class = "confidential"
last_reviewed = "2026-05-01"

[[approved_tools]]
tool = "copilot"
from = "2026-01-01"

[review]
min_approvals = 1
red_min_approvals = 2
security_reviewers = ["u_sec"]

[[exceptions]]
id = "EX-1"
rule = "unapproved_tool"
match = { tool = "cursor", team = ["mobile"] }
approved_by = "vp-engineering"
reason = "pilot"
from = "2026-03-10"
until = "2026-03-20"
"#;

fn policy() -> GovernancePolicy {
    GovernancePolicy::parse(POLICY, "test").unwrap()
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// Microseconds of `text` (RFC 3339).
fn at(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_micros()
}

fn usage(date: &str, tool: &str, model: &str, id: &str) -> UsageGroup {
    UsageGroup {
        day: day(date),
        org_id: "acme".into(),
        user_id: "u_1".into(),
        team: Some("web".into()),
        tool: tool.into(),
        model: model.into(),
        repository: Some("github.com/other/site".into()),
        data_class: "internal".into(),
        domain: None,
        events: 1,
        first_at: at(&format!("{date}T10:00:00Z")),
        first_event_id: id.into(),
        last_at: at(&format!("{date}T10:00:00Z")),
        last_event_id: id.into(),
    }
}

fn run(evidence: &Evidence, from: &str, to: &str) -> Vec<Finding> {
    findings(&policy(), evidence, day(from), day(to), &Filter::default())
}

/// The findings of one rule, as (day, id or change, status, exception).
fn of_rule(found: &[Finding], rule: Rule) -> Vec<(String, String, &'static str, Option<String>)> {
    found
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| {
            (
                f.day.to_string(),
                f.change_id
                    .as_deref()
                    .or(f.first_event_id.as_deref())
                    .unwrap_or_default()
                    .to_string(),
                f.status.name(),
                f.exception_id.as_deref().map(str::to_string),
            )
        })
        .collect()
}

fn row(day: &str, id: &str) -> (String, String, &'static str, Option<String>) {
    (day.to_string(), id.to_string(), "open", None)
}

#[test]
fn an_approval_covers_its_first_and_last_day_and_its_model_globs_only() {
    let evidence = Evidence {
        usage: vec![
            usage("2025-12-31", "claude-code", "claude-sonnet-4-5", "before"),
            usage(
                "2026-01-01",
                "claude-code",
                "claude-sonnet-4-5",
                "first-day",
            ),
            usage("2026-06-30", "claude-code", "claude-opus-4", "last-day"),
            usage("2026-07-01", "claude-code", "claude-sonnet-4-5", "after"),
            usage("2026-03-01", "claude-code", "gpt-5", "other-model"),
            usage("2026-03-01", "copilot", "gpt-5", "any-model"),
        ],
        ..Evidence::default()
    };
    let found = run(&evidence, "2025-12-01", "2026-08-01");
    assert_eq!(
        of_rule(&found, Rule::UnapprovedTool),
        [
            row("2025-12-31", "before"),
            row("2026-03-01", "other-model"),
            row("2026-07-01", "after"),
        ]
    );
    // An approval that ended in June leaves June's use approved, whatever
    // the report's range.
    let last_day = Evidence {
        usage: vec![usage(
            "2026-06-30",
            "claude-code",
            "claude-opus-4",
            "last-day",
        )],
        ..Evidence::default()
    };
    let june = run(&last_day, "2026-06-30", "2026-07-01");
    assert!(of_rule(&june, Rule::UnapprovedTool).is_empty(), "{june:?}");
}

#[test]
fn data_classes_above_the_entry_and_restricted_always_are_findings() {
    let mut confidential = usage("2026-03-02", "claude-code", "claude-x", "confidential");
    confidential.data_class = "confidential".into();
    let mut restricted = usage("2026-03-02", "claude-code", "claude-x", "restricted");
    restricted.data_class = "restricted".into();
    let mut copilot_confidential = usage("2026-03-02", "copilot", "gpt-5", "copilot-conf");
    copilot_confidential.data_class = "confidential".into();
    let mut unapproved_restricted = usage("2026-03-02", "cursor", "gpt-5", "cursor-restr");
    unapproved_restricted.data_class = "restricted".into();
    unapproved_restricted.team = Some("search".into());
    let evidence = Evidence {
        usage: vec![
            confidential,
            restricted,
            copilot_confidential,
            unapproved_restricted,
        ],
        ..Evidence::default()
    };
    let found = run(&evidence, "2026-03-01", "2026-04-01");
    let mut exceeded: Vec<_> = of_rule(&found, Rule::DataClassExceeded)
        .into_iter()
        .map(|(_, id, _, _)| id)
        .collect();
    exceeded.sort();
    // copilot's entry names no class: it allows the default, internal.
    assert_eq!(exceeded, ["copilot-conf", "cursor-restr", "restricted"]);
}

#[test]
fn groups_that_differ_only_in_class_or_domain_add_up_to_one_finding_in_any_order() {
    let group = |id: &str, hour: u32, class: &str, domain: Option<&str>, events: u64| {
        let mut group = usage("2026-03-04", "cursor", "gpt-5", id);
        group.data_class = class.into();
        group.domain = domain.map(Into::into);
        group.events = events;
        group.first_at = at(&format!("2026-03-04T{hour:02}:00:00Z"));
        group.last_at = group.first_at;
        group
    };
    let mut other_person = group("other", 9, "internal", None, 7);
    other_person.user_id = "u_0".into();
    let evidence = Evidence {
        usage: vec![
            group("noon", 12, "internal", Some("red"), 2),
            other_person,
            group("early", 8, "restricted", None, 3),
            group("late", 18, "internal", None, 4),
        ],
        ..Evidence::default()
    };
    let found = run(&evidence, "2026-03-01", "2026-04-01");
    let unapproved: Vec<_> = found
        .iter()
        .filter(|f| f.rule == Rule::UnapprovedTool)
        .map(|f| {
            (
                f.user_id.as_deref().unwrap().to_string(),
                f.events,
                f.first_event_id.as_deref().unwrap().to_string(),
                f.last_event_id.as_deref().unwrap().to_string(),
            )
        })
        .collect();
    let expected = |user: &str, events, first: &str, last: &str| {
        (
            user.to_string(),
            events,
            first.to_string(),
            last.to_string(),
        )
    };
    assert_eq!(
        unapproved,
        [
            expected("u_0", 7, "other", "other"),
            expected("u_1", 9, "early", "late")
        ]
    );
    assert_eq!(
        of_rule(&found, Rule::DataClassExceeded),
        [row("2026-03-04", "early")]
    );
    assert_eq!(
        of_rule(&found, Rule::RedDomainUse),
        [row("2026-03-04", "noon")]
    );
}

#[test]
fn a_repository_in_two_domain_globs_takes_the_first_and_an_events_own_domain_wins() {
    let mut auth = usage("2026-03-03", "copilot", "gpt-5", "auth");
    auth.repository = Some("github.com/acme/auth-service".into());
    let mut yellow = usage("2026-03-03", "copilot", "gpt-5", "yellow");
    yellow.repository = Some("github.com/acme/web".into());
    let mut own = usage("2026-03-03", "copilot", "gpt-5", "own-red");
    own.repository = Some("github.com/other/site".into());
    own.domain = Some("red".into());
    let mut own_green = usage("2026-03-03", "copilot", "gpt-5", "own-green");
    own_green.repository = Some("github.com/acme/payments-core".into());
    own_green.domain = Some("green".into());
    own_green.user_id = "u_2".into();
    let evidence = Evidence {
        usage: vec![auth, yellow, own, own_green],
        ..Evidence::default()
    };
    let found = run(&evidence, "2026-03-01", "2026-04-01");
    let red: Vec<_> = found
        .iter()
        .filter(|f| f.rule == Rule::RedDomainUse)
        .map(|f| f.repository.as_deref().unwrap().to_string())
        .collect();
    assert_eq!(
        red,
        ["github.com/acme/auth-service", "github.com/other/site"]
    );
}

#[test]
fn usage_of_one_day_and_key_is_one_finding_with_its_first_and_last_event() {
    let mut early = usage("2026-03-04", "cursor", "gpt-5", "b-early");
    early.events = 3;
    early.last_event_id = "b-mid".into();
    early.last_at = at("2026-03-04T11:00:00Z");
    let mut late = usage("2026-03-04", "cursor", "gpt-5", "a-late");
    late.data_class = "public".into();
    late.first_at = at("2026-03-04T12:00:00Z");
    late.last_at = at("2026-03-04T12:00:00Z");
    let evidence = Evidence {
        usage: vec![late, early],
        ..Evidence::default()
    };
    let found = run(&evidence, "2026-03-01", "2026-04-01");
    assert_eq!(found.len(), 1, "{found:?}");
    let finding = &found[0];
    assert_eq!(
        (
            finding.rule,
            finding.events,
            finding.first_event_id.as_deref(),
            finding.last_event_id.as_deref()
        ),
        (Rule::UnapprovedTool, 4, Some("b-early"), Some("a-late"))
    );
}

#[test]
fn an_exception_covers_only_its_days_and_its_matching_findings() {
    let mobile = |date: &str, id: &str| {
        let mut group = usage(date, "cursor", "gpt-5", id);
        group.team = Some("mobile".into());
        group
    };
    let evidence = Evidence {
        usage: vec![
            mobile("2026-03-09", "day-before-start"),
            mobile("2026-03-10", "first-day"),
            mobile("2026-03-20", "last-day"),
            mobile("2026-03-21", "expired-day-before"),
            usage("2026-03-15", "cursor", "gpt-5", "other-team"),
        ],
        ..Evidence::default()
    };
    let found = run(&evidence, "2026-03-01", "2026-04-01");
    let excepted = |d: &str, id: &str| {
        (
            d.to_string(),
            id.to_string(),
            "excepted",
            Some("EX-1".to_string()),
        )
    };
    let mut rows = of_rule(&found, Rule::UnapprovedTool);
    rows.sort();
    assert_eq!(
        rows,
        [
            row("2026-03-09", "day-before-start"),
            excepted("2026-03-10", "first-day"),
            row("2026-03-15", "other-team"),
            excepted("2026-03-20", "last-day"),
            row("2026-03-21", "expired-day-before"),
        ]
    );
    let open_only = findings(
        &policy(),
        &evidence,
        day("2026-03-01"),
        day("2026-04-01"),
        &Filter {
            rule: None,
            status: Some(Status::Excepted),
        },
    );
    assert_eq!(open_only.len(), 2);
}

fn change(id: &str, repository: &str, merged: &str) -> MergedChange {
    MergedChange {
        event_id: format!("ev-{id}"),
        occurred_at: at(merged),
        day: day(&merged[..10]),
        org_id: "acme".into(),
        change_id: id.into(),
        repository: repository.into(),
        user_id: "u_author".into(),
        team: Some("web".into()),
        domain: None,
        reviewer_ids: Vec::new(),
    }
}

fn review(id: &str, repository: &str, user: &str, state: &str, when: &str) -> Review {
    Review {
        change_id: id.into(),
        repository: repository.into(),
        user_id: user.into(),
        state: state.into(),
        occurred_at: at(when),
    }
}

#[test]
fn approvals_count_only_by_others_before_the_merge_and_red_needs_a_security_reviewer() {
    let green = "github.com/other/site";
    let red = "github.com/acme/auth-api";
    let merged = "2026-03-05T12:00:00Z";
    let mut listed = change("listed", green, merged);
    listed.reviewer_ids = vec!["u_listed".into()];
    let mut listed_self = change("listed-self", green, merged);
    listed_self.reviewer_ids = vec!["u_author".into()];
    let evidence = Evidence {
        changes: vec![
            change("approved", green, merged),
            change("self-approved", green, merged),
            change("after-merge", green, merged),
            change("withdrawn", green, merged),
            change("commented-after", green, merged),
            listed,
            listed_self,
            change("red-two-no-security", red, merged),
            change("red-security", red, merged),
            change("red-one-security", red, merged),
        ],
        reviews: vec![
            review(
                "approved",
                green,
                "u_rev",
                "approved",
                "2026-03-05T11:00:00Z",
            ),
            review(
                "self-approved",
                green,
                "u_author",
                "approved",
                "2026-03-05T11:00:00Z",
            ),
            review(
                "after-merge",
                green,
                "u_rev",
                "approved",
                "2026-03-05T12:00:01Z",
            ),
            review(
                "withdrawn",
                green,
                "u_rev",
                "approved",
                "2026-03-05T09:00:00Z",
            ),
            review(
                "withdrawn",
                green,
                "u_rev",
                "dismissed",
                "2026-03-05T10:00:00Z",
            ),
            review(
                "commented-after",
                green,
                "u_rev",
                "approved",
                "2026-03-05T09:00:00Z",
            ),
            review(
                "commented-after",
                green,
                "u_rev",
                "commented",
                "2026-03-05T10:00:00Z",
            ),
            review(
                "red-two-no-security",
                red,
                "u_a",
                "approved",
                "2026-03-05T10:00:00Z",
            ),
            review(
                "red-two-no-security",
                red,
                "u_b",
                "approved",
                "2026-03-05T10:00:00Z",
            ),
            review(
                "red-security",
                red,
                "u_a",
                "approved",
                "2026-03-05T10:00:00Z",
            ),
            review(
                "red-security",
                red,
                "u_sec",
                "approved",
                "2026-03-05T10:00:00Z",
            ),
            review(
                "red-one-security",
                red,
                "u_sec",
                "approved",
                "2026-03-05T10:00:00Z",
            ),
            // A review of another repository's change of the same number.
            review(
                "self-approved",
                red,
                "u_rev",
                "approved",
                "2026-03-05T10:00:00Z",
            ),
        ],
        ..Evidence::default()
    };
    let found = run(&evidence, "2026-03-01", "2026-04-01");
    let mut unreviewed: Vec<_> = of_rule(&found, Rule::UnreviewedAiChange)
        .into_iter()
        .map(|(_, id, _, _)| id)
        .collect();
    unreviewed.sort();
    assert_eq!(
        unreviewed,
        [
            "after-merge",
            "listed-self",
            "red-one-security",
            "red-two-no-security",
            "self-approved",
            "withdrawn",
        ]
    );
    let finding = found
        .iter()
        .find(|f| f.change_id.as_deref() == Some("withdrawn"))
        .unwrap();
    assert_eq!(
        (
            finding.user_id.as_deref(),
            finding.repository.as_deref(),
            finding.tool.as_deref(),
            finding.events,
            finding.first_event_id.as_deref(),
        ),
        (Some("u_author"), Some(green), None, 1, Some("ev-withdrawn"))
    );
}

#[test]
fn an_entry_not_reviewed_for_over_92_days_before_the_reports_end_is_stale() {
    // claude-code reviewed 2026-05-01: stale from a last day of 2026-08-02
    // (93 days later); copilot, never reviewed, since its `from`.
    let stale = |to: &str| -> Vec<(String, Option<String>)> {
        run(&Evidence::default(), "2026-06-01", to)
            .into_iter()
            .filter(|f| f.rule == Rule::StaleToolReview)
            .map(|f| (f.tool.unwrap().to_string(), f.model.map(|m| m.to_string())))
            .collect()
    };
    assert_eq!(stale("2026-08-02"), [("copilot".to_string(), None)]);
    assert_eq!(
        stale("2026-08-03"),
        [
            ("claude-code".to_string(), Some("claude-*".to_string())),
            ("copilot".to_string(), None)
        ]
    );
}

#[test]
fn a_broken_policy_is_refused_naming_the_entry_and_the_reason() {
    let broken = |text: &str| {
        GovernancePolicy::parse(text, "governance.toml")
            .unwrap_err()
            .to_string()
    };
    let exception = |extra: &str| {
        format!(
            "[[exceptions]]\nid = \"EX-9\"\nrule = \"unapproved_tool\"\napproved_by = \"cto\"\n\
             reason = \"pilot\"\nfrom = \"2026-01-01\"\n{extra}"
        )
    };
    assert_eq!(
        broken(&exception("")),
        "governance.toml: exceptions[0] (EX-9): no `until`: every exception expires \
         (at most 365 days after `from`)"
    );
    assert_eq!(
        broken(&exception("until = \"2027-01-02\"")),
        "governance.toml: exceptions[0] (EX-9): until 2027-01-02 is more than 365 days \
         after from 2026-01-01 (at most 2027-01-01)"
    );
    assert!(GovernancePolicy::parse(&exception("until = \"2027-01-01\""), "x").is_ok());
    assert_eq!(
        broken(&exception("until = \"2025-12-31\"")),
        "governance.toml: exceptions[0] (EX-9): until 2025-12-31 is before from 2026-01-01"
    );
    assert!(
        broken(&exception(
            "until = \"2026-02-01\"\nmatch = { colour = \"red\" }"
        ))
        .contains("exceptions[0] (EX-9): match: unknown field `colour`"),
    );
    assert!(
        broken(&exception("until = \"2026-02-01\"").replace("unapproved_tool", "no_such"))
            .contains("exceptions[0] (EX-9): unknown rule `no_such`"),
    );
    assert!(
        broken(
            "[[approved_tools]]\ntool = \"x\"\nfrom = \"2026-01-01\"\nmax_data_class = \"secret\""
        )
        .contains("approved_tools[0] (x): unknown data class `secret`"),
    );
    assert!(
        broken("[[domains]]\ndomain = \"red\"\nrepositories = [\"github.com/[acme\"]")
            .contains("domains[0]: `github.com/[acme` is not a glob"),
    );
    assert!(broken("colour = \"red\"").contains("unknown field `colour`"));
}
