//! The generator's output is valid, deterministic and shaped like an
//! organization adopting AI.

use std::collections::{BTreeMap, HashSet};

use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::Value;

use super::*;
use crate::Validator;

fn config(seed: u64) -> GenConfig {
    GenConfig {
        users: 60,
        days: 90,
        seed,
        start: NaiveDate::from_ymd_opt(2025, 1, 6).unwrap(),
        not_after: None,
        policy: None,
    }
}

fn run(config: &GenConfig) -> Vec<u8> {
    let mut out = Vec::new();
    let count = generate(config, &mut out, |_| {}).unwrap();
    assert_eq!(count as usize, out.iter().filter(|b| **b == b'\n').count());
    out
}

#[test]
fn every_generated_event_passes_the_validator_and_ids_are_unique() {
    let out = run(&config(7));
    let validator = Validator::default();
    let now = Utc.with_ymd_and_hms(2025, 4, 7, 0, 0, 0).unwrap();
    let mut ids = HashSet::new();
    let mut types = BTreeMap::new();
    for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let event = validator
            .validate(line, now)
            .unwrap_or_else(|r| panic!("{r}: {}", String::from_utf8_lossy(line)));
        assert!(ids.insert(event.event_id().to_string()), "duplicate id");
        assert_eq!(
            serde_json::to_vec(&event).unwrap(),
            line,
            "the generator writes what serde would"
        );
        *types.entry(event.event_type().as_str()).or_insert(0) += 1;
    }
    assert!(types["ai_usage"] > 10_000, "{types:?}");
    assert!(types["code_change"] > 1_000, "{types:?}");
    assert!(types["incident"] > 0, "{types:?}");
    assert!(types["code_review"] > 100, "{types:?}");
}

#[test]
fn every_merged_pull_request_is_reviewed_by_its_reviewer_before_the_merge() {
    let out = run(&config(5));
    let events: Vec<Value> = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let pull_requests: BTreeMap<(&str, &str), &Value> = events
        .iter()
        .filter(|e| e["event_type"] == "code_change" && e["kind"] == "pull_request")
        .map(|e| {
            (
                (
                    e["event_id"].as_str().unwrap(),
                    e["change_id"].as_str().unwrap(),
                ),
                e,
            )
        })
        .collect();
    let mut reviews: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for review in events.iter().filter(|e| e["event_type"] == "code_review") {
        reviews
            .entry(review["change_id"].as_str().unwrap())
            .or_default()
            .push(review);
    }
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for change in pull_requests.values() {
        let reviewer = &change["reviewer_ids"][0];
        let theirs: Vec<&&Value> = reviews[change["change_id"].as_str().unwrap()]
            .iter()
            .filter(|r| r["user_id"] == *reviewer)
            .collect();
        assert!(!theirs.is_empty(), "{change} has no review by its reviewer");
        for review in theirs {
            assert_eq!(review["repository"], change["repository"]);
            assert!(review["occurred_at"].as_str() < change["occurred_at"].as_str());
            let state = review["state"].as_str().unwrap();
            if review["user_id"] == change["user_id"] {
                assert_eq!(state, "commented", "an author cannot approve: {review}");
            }
            *states.entry(state).or_default() += 1;
        }
    }
    assert!(
        states["approved"] > states["changes_requested"],
        "{states:?}"
    );
    assert!(states["changes_requested"] > 0, "{states:?}");
    assert!(states["commented"] > 0, "{states:?}");
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    assert_eq!(run(&config(3)), run(&config(3)));
    assert_ne!(run(&config(3)), run(&config(4)));
}

#[test]
fn adoption_grows_work_follows_weekdays_and_ai_users_assist_more() {
    let out = run(&config(11));
    let mut users_by_week: BTreeMap<i64, HashSet<String>> = BTreeMap::new();
    let (mut weekday, mut weekend) = (0u64, 0u64);
    let (mut cached, mut usage) = (0u64, 0u64);
    let mut caused = 0;
    for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let event: Value = serde_json::from_slice(line).unwrap();
        let at =
            chrono::DateTime::parse_from_rfc3339(event["occurred_at"].as_str().unwrap()).unwrap();
        match event["event_type"].as_str().unwrap() {
            "ai_usage" => {
                usage += 1;
                if event["cache_read_tokens"].as_u64().unwrap() > 0 {
                    cached += 1;
                }
                let week = (at.date_naive() - config(11).start).num_days() / 7;
                users_by_week
                    .entry(week)
                    .or_default()
                    .insert(event["user_id"].as_str().unwrap().to_string());
                if at.format("%u").to_string().parse::<u32>().unwrap() >= 6 {
                    weekend += 1;
                } else {
                    weekday += 1;
                }
            }
            "incident" if event.get("caused_by_change_id").is_some() => caused += 1,
            _ => {}
        }
    }
    let first = users_by_week.values().next().unwrap().len();
    let last = users_by_week.values().nth_back(1).unwrap().len();
    assert!(last > first, "adoption did not grow: {first} → {last}");
    assert!(
        weekday > 10 * weekend,
        "{weekday} weekday vs {weekend} weekend events"
    );
    assert!(
        cached > usage / 5 && cached < usage,
        "{cached} of {usage} use a cache"
    );
    assert!(caused > 0, "no incident names its cause");
}

#[test]
fn nothing_is_dated_after_the_generators_clock() {
    let full = run(&config(7));
    let events = |out: &[u8]| -> Vec<Value> {
        out.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    };
    let at = |event: &Value, field: &str| -> Option<chrono::DateTime<Utc>> {
        let text = event.get(field)?.as_str().unwrap();
        Some(chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc())
    };
    // The clock stops in the middle of an incident: it has started but is
    // not resolved yet.
    let open_incident = events(&full)
        .into_iter()
        .find(|e| e["event_type"] == "incident" && at(e, "resolved_at") > at(e, "occurred_at"))
        .expect("the span has a resolved incident");
    let started = at(&open_incident, "occurred_at").unwrap();
    let resolved = at(&open_incident, "resolved_at").unwrap();
    let clock = started + (resolved - started) / 2;

    let cut = run(&GenConfig {
        not_after: Some(clock),
        ..config(7)
    });
    let validator = Validator::default();
    let mut kept = HashSet::new();
    for line in cut.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        validator
            .validate(line, clock)
            .unwrap_or_else(|r| panic!("{r}: {}", String::from_utf8_lossy(line)));
        let event: Value = serde_json::from_slice(line).unwrap();
        assert!(at(&event, "occurred_at").unwrap() <= clock, "{event}");
        assert!(
            at(&event, "resolved_at").is_none_or(|r| r <= clock),
            "{event}"
        );
        if event["event_id"] == open_incident["event_id"] {
            assert_eq!(event.get("resolved_at"), None, "still open at the clock");
        }
        kept.insert(event["event_id"].as_str().unwrap().to_string());
    }
    let happened: HashSet<String> = events(&full)
        .iter()
        .filter(|e| at(e, "occurred_at").unwrap() <= clock)
        .map(|e| e["event_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kept, happened, "the clock only leaves out what is after it");
    assert!(
        events(&full).len() > happened.len(),
        "the span goes on after the clock"
    );
}
