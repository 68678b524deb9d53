//! `aitrail report` from the command line: its flags checked, and on
//! generated data the reports cross-checked against DuckDB reading the
//! same Parquet files. The reports' answers on the hand-built dataset are
//! golden files (`golden/reports.slt`, run by `golden.rs`).

use std::path::Path;

use serde_json::{Value, json};

mod common;
use common::golden::{GOLDEN, PRICES, load_for_a_century};
use common::{aitrail, python_reader, stderr};

/// A store holding `events`, and a config file with the prices.
fn store_with(dir: &Path, events: &[u8]) {
    std::fs::write(
        dir.join("aitrail.toml"),
        format!(
            "[store]\nroot = \"{}\"\n{PRICES}",
            dir.join("store").display()
        ),
    )
    .unwrap();
    load_for_a_century(&dir.join("store"), events);
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
