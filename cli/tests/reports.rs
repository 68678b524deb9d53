//! `aitrail report` on a hand-built dataset whose answers are worked out by
//! hand below, and on generated data cross-checked against DuckDB reading
//! the same Parquet files.
//!
//! The hand-built dataset (`data/golden.jsonl`), all on repository r1 unless
//! said otherwise, weeks starting Monday 2025-03-03 and 2025-03-10:
//!
//! | event | when | user/team | tool, model | what |
//! |---|---|---|---|---|
//! | u0 | 02-20 09:00 | u1/a | claude-code, m-priced | chat s0, 1+1 tokens, no repo |
//! | u1 | 03-03 10:00 | u1/a | claude-code, m-priced | chat s1, in 1000 out 500 cr 2000 cw 100 |
//! | u2 | 03-04 10:00 | u1/a | claude-code, m-priced | completion s1 not accepted, 100+50 |
//! | u3 | 03-05 09:00 | u2/a | github-copilot, m-unpriced | completion s2 accepted, 10+20 |
//! | u4 | 03-05 12:00 | u3/b | github-copilot, m-unpriced | completion s3, 40+60, cost 0.5, no repo |
//! | u5 | 03-11 08:00 | u2/a | claude-code, m-priced | agent s4, 2000+1000, repo r2 |
//! | c1 | 03-05 06:00 | u4/b | | change acme/r1#1, not AI-assisted |
//! | c2 | 03-05 07:00 | u1/a | | change acme/r1#2, AI (claude-code) |
//! | c3 | 03-11 07:00 | u2/a | | change acme/r1#3, AI (github-copilot, claude-code) |
//! | i1 | 03-05 10:00 | | | INC-1 sev2 on r1, caused by acme/r1#2 |
//! | i2 | 03-12 00:00 | | | INC-2 sev3 on r1 and r2, no cause |

use std::path::Path;

use serde_json::{Value, json};

mod common;
use common::{aitrail, python_reader, stderr};

const GOLDEN: &[u8] = include_bytes!("data/golden.jsonl");

/// Keeps everything for a century, so that the fixed dates never expire.
const POLICY: &str =
    "default_tier = \"standard\"\n[[tiers]]\nname = \"standard\"\nkeep_days = 36500\n";

/// Two prices of m-priced: from 2025-01-01, and cheaper from 2025-03-10;
/// and prices of two generated models, one of which changes.
const PRICES: &str = r#"
[[prices]]
model = "claude-sonnet-4-5"
valid_from = "2025-01-01"
input = 3.0
output = 15.0
cache_read = 0.3
cache_write = 3.75

[[prices]]
model = "claude-sonnet-4-5"
valid_from = "2025-02-15"
input = 2.5
output = 12.0
cache_read = 0.25
cache_write = 3.0

[[prices]]
model = "gpt-5"
valid_from = "2025-01-20"
input = 1.25
output = 10.0

[[prices]]
model = "m-priced"
valid_from = "2025-01-01"
input = 3.0
output = 15.0
cache_read = 0.3
cache_write = 3.75

[[prices]]
model = "m-priced"
valid_from = "2025-03-10"
input = 1.0
output = 5.0
cache_read = 0.1
cache_write = 1.0
"#;

/// A store holding `events`, and a config file with the prices.
fn store_with(dir: &Path, events: &[u8]) {
    let policy = dir.join("retention.toml");
    std::fs::write(&policy, POLICY).unwrap();
    std::fs::write(
        dir.join("aitrail.toml"),
        format!(
            "[store]\nroot = \"{}\"\n{PRICES}",
            dir.join("store").display()
        ),
    )
    .unwrap();
    let store = dir.join("store");
    let out = aitrail(
        &[
            "load",
            "--store",
            store.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ],
        events,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn report(dir: &Path, name: &str, args: &[&str]) -> Value {
    let config = dir.join("aitrail.toml");
    let mut all = vec![
        "report",
        name,
        "--config",
        config.to_str().unwrap(),
        "--format",
        "json",
    ];
    all.extend_from_slice(args);
    let out = aitrail(&all, b"");
    assert_eq!(out.status.code(), Some(0), "{all:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("--format json prints one JSON object")
}

/// Equal, numbers within a relative 1e-9 (sums of floats).
fn assert_close(actual: &Value, expected: &Value, at: &str) {
    match (actual, expected) {
        (Value::Number(a), Value::Number(e)) => {
            let (a, e) = (a.as_f64().unwrap(), e.as_f64().unwrap());
            assert!(
                (a - e).abs() <= 1e-9 * e.abs().max(1.0),
                "{at}: {a} is not {e}"
            );
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "{at}: {actual} is not {expected}");
            for (i, (a, e)) in a.iter().zip(e).enumerate() {
                assert_close(a, e, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(a), Value::Object(e)) => {
            let keys = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(a), keys(e), "{at}: {actual} is not {expected}");
            for (key, e) in e {
                assert_close(&a[key], e, &format!("{at}.{key}"));
            }
        }
        _ => assert_eq!(actual, expected, "{at}"),
    }
}

#[test]
fn adoption_by_week_worked_out_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), GOLDEN);
    let range = ["--from", "2025-03-03", "--to", "2025-03-17"];
    let got = report(
        dir.path(),
        "adoption",
        &[&range[..], &["--bucket", "week"]].concat(),
    );
    assert_eq!(got["report"], "adoption");
    assert_eq!(
        got["params"],
        json!({"from": "2025-03-03", "to": "2025-03-17", "bucket": "week", "by": "none"})
    );
    // Week of 03-03: users u1, u2, u3 active; u3 only had an unaccepted
    // completion, so not engaged; developers add u4 (a change, no usage);
    // u1 first used AI on 02-20, so only u2 and u3 are new; sessions s1-s3.
    // Week of 03-10: u2 alone (an agent session, and change c3).
    assert_close(
        &got["rows"],
        &json!([
            {"bucket_start": "2025-03-03", "active_users": 3, "engaged_users": 2, "developers": 4,
             "adoption_rate": 0.75, "events": 4, "sessions": 3, "new_users": 2},
            {"bucket_start": "2025-03-10", "active_users": 1, "engaged_users": 1, "developers": 1,
             "adoption_rate": 1.0, "events": 1, "sessions": 1, "new_users": 0},
        ]),
        "rows",
    );

    // By team: team a's developers are u1, u2 (usage) and u1 (change c2);
    // team b's are u3 (usage) and u4 (change c1). Team a's u1 is not new.
    let by_team = report(
        dir.path(),
        "adoption",
        &[&range[..], &["--bucket", "week", "--by", "team"]].concat(),
    );
    assert_close(
        &by_team["rows"],
        &json!([
            {"bucket_start": "2025-03-03", "group": "a", "active_users": 2, "engaged_users": 2,
             "developers": 2, "adoption_rate": 1.0, "events": 3, "sessions": 2, "new_users": 1},
            {"bucket_start": "2025-03-03", "group": "b", "active_users": 1, "engaged_users": 0,
             "developers": 2, "adoption_rate": 0.5, "events": 1, "sessions": 1, "new_users": 1},
            {"bucket_start": "2025-03-10", "group": "a", "active_users": 1, "engaged_users": 1,
             "developers": 1, "adoption_rate": 1.0, "events": 1, "sessions": 1, "new_users": 0},
        ]),
        "rows",
    );

    // One month bucket; u0 (February) is outside the range but still makes
    // u1 not new.
    let month = report(
        dir.path(),
        "adoption",
        &[
            "--from",
            "2025-03-01",
            "--to",
            "2025-04-01",
            "--bucket",
            "month",
        ],
    );
    assert_close(
        &month["rows"],
        &json!([{"bucket_start": "2025-03-01", "active_users": 3, "engaged_users": 2,
                 "developers": 4, "adoption_rate": 0.75, "events": 5, "sessions": 4,
                 "new_users": 2}]),
        "rows",
    );
}

#[test]
fn token_spend_worked_out_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), GOLDEN);
    let got = report(
        dir.path(),
        "token-spend",
        &[
            "--from",
            "2025-03-03",
            "--to",
            "2025-03-17",
            "--bucket",
            "week",
            "--by",
            "model",
        ],
    );
    // m-priced, week of 03-03, at the first price:
    //   u1: (1000×3 + 500×15 + 2000×0.3 + 100×3.75) / 1e6 = 0.011475
    //   u2: (100×3 + 50×15) / 1e6                          = 0.00105
    // m-unpriced: u4 brings its own cost (0.5); u3 has none and no price, so
    //   its 10 + 20 tokens are unpriced.
    // m-priced, week of 03-10, at the second price: (2000×1 + 1000×5) / 1e6.
    assert_close(
        &got["rows"],
        &json!([
            {"bucket_start": "2025-03-03", "group": "m-priced", "input_tokens": 1100,
             "output_tokens": 550, "cache_read_tokens": 2000, "cache_write_tokens": 100,
             "cost_usd": 0.012525, "unpriced_tokens": 0},
            {"bucket_start": "2025-03-03", "group": "m-unpriced", "input_tokens": 50,
             "output_tokens": 80, "cache_read_tokens": 0, "cache_write_tokens": 0,
             "cost_usd": 0.5, "unpriced_tokens": 30},
            {"bucket_start": "2025-03-10", "group": "m-priced", "input_tokens": 2000,
             "output_tokens": 1000, "cache_read_tokens": 0, "cache_write_tokens": 0,
             "cost_usd": 0.007, "unpriced_tokens": 0},
        ]),
        "rows",
    );
}

#[test]
fn incidents_worked_out_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), GOLDEN);
    let got = report(
        dir.path(),
        "incidents",
        &["--from", "2025-03-01", "--to", "2025-03-15"],
    );
    assert_eq!(
        got["params"],
        json!({"from": "2025-03-01", "to": "2025-03-15", "lookback_hours": 72})
    );
    // INC-1 (03-05 10:00, r1): the 72 h before it hold c1 and c2 (c2 is its
    // cause, AI-assisted), and usage u1 (3600 tokens), u2 (150), u3 (30).
    // INC-2 (03-12 00:00, r1 and r2): c3, and u5 on r2 (3000 tokens).
    assert_close(
        &got["rows"],
        &json!([
            {"incident_id": "INC-1", "severity": "sev2", "service": "svc",
             "started_at": "2025-03-05T10:00:00Z", "changes": 2, "ai_assisted_changes": 1,
             "ai_share": 0.5, "ai_tools": ["claude-code"], "ai_tokens": 3780,
             "cause_ai_assisted": true},
            {"incident_id": "INC-2", "severity": "sev3", "service": null,
             "started_at": "2025-03-12T00:00:00Z", "changes": 1, "ai_assisted_changes": 1,
             "ai_share": 1.0, "ai_tools": ["claude-code", "github-copilot"], "ai_tokens": 3000,
             "cause_ai_assisted": null},
        ]),
        "rows",
    );
    // Changes in the range: c2 and c3 AI-assisted, c2 failed; c1 not.
    assert_close(
        &got["summary"],
        &json!({"ai_assisted": {"changes": 2, "failed": 1, "rate": 0.5},
                "other": {"changes": 1, "failed": 0, "rate": 0.0}}),
        "summary",
    );
    // A 24 h lookback leaves INC-1 with c1 and c2 (same day) but drops u1.
    let short = report(
        dir.path(),
        "incidents",
        &[
            "--from",
            "2025-03-01",
            "--to",
            "2025-03-15",
            "--lookback-hours",
            "24",
        ],
    );
    assert_eq!(short["rows"][0]["changes"], 2);
    assert_eq!(short["rows"][0]["ai_tokens"], 180);
}

#[test]
fn bad_report_flags_are_refused_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), GOLDEN);
    let config = dir.path().join("aitrail.toml");
    for (args, flag) in [
        (&["adoption", "--from", "2025-02-30"][..], "--from"),
        (
            &["adoption", "--by", "user_id; DROP TABLE ai_usage"][..],
            "--by",
        ),
        (&["token-spend", "--bucket", "year"][..], "--bucket"),
        (&["incidents", "--by", "tool"][..], "--by"),
        (
            &["incidents", "--lookback-hours", "1e9"][..],
            "--lookback-hours",
        ),
    ] {
        let mut all = vec!["report"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--config", config.to_str().unwrap()]);
        let out = aitrail(&all, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(flag), "{args:?}: {}", stderr(&out));
    }
}

/// Generated data: a quarter of a 60-person organization.
fn generated() -> Vec<u8> {
    let out = aitrail(
        &[
            "gen",
            "--users",
            "60",
            "--days",
            "90",
            "--seed",
            "5",
            "--start",
            "2025-01-01",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    out.stdout
}

#[test]
fn duckdb_computes_the_same_reports() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), &generated());
    let store = dir.path().join("store");
    let duckdb = python_reader(
        "duckdb_reports.py",
        &[
            store.to_str().unwrap(),
            dir.path().join("aitrail.toml").to_str().unwrap(),
            "2025-01-06",
            "2025-03-31",
        ],
    );
    let range = ["--from", "2025-01-06", "--to", "2025-03-31"];
    let ours = json!({
        "adoption": report(dir.path(), "adoption",
            &[&range[..], &["--bucket", "week", "--by", "tool"]].concat())["rows"],
        "adoption_team": report(dir.path(), "adoption",
            &[&range[..], &["--bucket", "month", "--by", "team"]].concat())["rows"],
        "token_spend": report(dir.path(), "token-spend",
            &[&range[..], &["--bucket", "month", "--by", "model"]].concat())["rows"],
        "incidents": report(dir.path(), "incidents", &range)["rows"],
        "summary": report(dir.path(), "incidents", &range)["summary"],
    });
    for key in ["adoption", "adoption_team", "token_spend", "incidents"] {
        assert!(!ours[key].as_array().unwrap().is_empty(), "{key} is empty");
    }
    assert_close(&ours, &duckdb, "report");
}
