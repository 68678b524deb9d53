//! `aitrail load` and `aitrail sql` as a user runs them, and DuckDB reading
//! the same tables.

use serde_json::Value;

mod common;
use common::{aitrail, python_reader, sql, stderr};

/// A month of a 40-person organization, ending yesterday so nothing expires.
fn generated() -> Vec<u8> {
    let out = aitrail(
        &["gen", "--users", "40", "--days", "30", "--seed", "11"],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    out.stdout
}

/// `store` under `dir`, holding the `generated` events.
fn loaded_store(dir: &std::path::Path) -> std::path::PathBuf {
    let store = dir.join("store");
    let loaded = aitrail(&["load", "--store", store.to_str().unwrap()], &generated());
    assert_eq!(loaded.status.code(), Some(0), "{}", stderr(&loaded));
    store
}

fn lines(events: &[u8]) -> usize {
    events
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count()
}

const POLICY: &str = r#"
default_tier = "standard"

[[tiers]]
name = "regulated"
keep_days = 2557

[[tiers]]
name = "standard"
keep_days = 730

[[rules]]
tier = "regulated"
data_class = ["confidential", "restricted"]
"#;

#[test]
fn loading_twice_adds_nothing_the_second_time() {
    let events = generated();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let file = dir.path().join("events.jsonl.zst");
    std::fs::write(&file, zstd::encode_all(&events[..], 3).unwrap()).unwrap();
    let args = [
        "load",
        "--store",
        store.to_str().unwrap(),
        "--batch-rows",
        "1000",
        file.to_str().unwrap(),
    ];

    let first = aitrail(&args, b"");
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(first.stdout.is_empty());
    let total = lines(&events);
    assert!(
        stderr(&first).contains(&format!("loaded {total} events, rejected 0")),
        "{}",
        stderr(&first)
    );
    let stored = sql(&store, common::STORED_EVENTS);
    assert_eq!(stored[0]["n"], total);

    let second = aitrail(&args, b"");
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    let rejects: Vec<Value> = String::from_utf8(second.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rejects.len(), total);
    assert!(rejects.iter().all(|r| r["reason"] == "duplicate"));
    let mut lines: Vec<u64> = rejects
        .iter()
        .map(|r| r["source"]["line"].as_u64().unwrap())
        .collect();
    lines.sort_unstable();
    assert_eq!(lines, (1..=total as u64).collect::<Vec<_>>());
    assert!(
        rejects[0]["source"]["file"]
            .as_str()
            .unwrap()
            .ends_with("events.jsonl.zst")
    );
    assert!(rejects[0]["event"]["event_id"].is_string());
    assert!(stderr(&second).contains(&format!(
        "loaded 0 events, rejected {total} (duplicate: {total})"
    )));
    let again = sql(&store, common::STORED_EVENTS);
    assert_eq!(again, stored);
}

#[test]
fn rejects_go_to_the_rejects_file_and_the_good_lines_around_them_load() {
    let events = generated();
    let mut input: Vec<&[u8]> = events
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let good = input.len();
    let secret = br#"{"schema_version":1,"event_id":"s1","event_type":"ai_usage","occurred_at":"2026-01-05T10:00:00Z","org_id":"acme","user_id":"u","tool":"t","model":"m","input_tokens":1,"output_tokens":1,"attributes":{"note":"ghp_abcdefghijklmnopqrstuvwxyz0123456789"}}"#;
    input.insert(3, secret);
    input.insert(5, b"{\"schema_version\": 2}");
    let input = input.join(&b'\n');
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let rejects = dir.path().join("rejects.jsonl");
    let out = aitrail(
        &[
            "load",
            "--store",
            store.to_str().unwrap(),
            "--rejects",
            rejects.to_str().unwrap(),
        ],
        &input,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(&rejects).unwrap();
    assert!(
        !written.contains("ghp_"),
        "a secret reached the rejects file"
    );
    let records: Vec<Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["reason"], "secret_detected");
    assert_eq!(
        records[0]["source"],
        serde_json::json!({"file": "-", "line": 4})
    );
    assert_eq!(records[0]["event"]["attributes"]["note"], "[REDACTED]");
    assert!(records[0]["received_at"].is_string());
    assert_eq!(records[1]["reason"], "unsupported_schema_version");
    assert_eq!(records[1]["source"]["line"], 6);
    let total = sql(&store, common::STORED_EVENTS);
    assert_eq!(total[0]["n"], good);
}

#[test]
fn a_policy_with_an_error_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("retention.toml");
    std::fs::write(
        &policy,
        POLICY.replace("tier = \"regulated\"\ndata", "tier = \"vault\"\ndata"),
    )
    .unwrap();
    let out = aitrail(
        &[
            "load",
            "--store",
            dir.path().join("store").to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("rules[0].tier"), "{}", stderr(&out));
    assert!(stderr(&out).contains("vault"), "{}", stderr(&out));
}

#[test]
fn sql_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = loaded_store(dir.path());
    let outside = dir.path().join("outside.csv");
    std::fs::write(&outside, "a\n1\n").unwrap();
    let outside = outside.to_str().unwrap();
    let refused = [
        "CREATE TABLE t AS SELECT 1".to_string(),
        format!("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '{outside}'"),
        "INSERT INTO ai_usage SELECT * FROM ai_usage".to_string(),
        format!(
            "COPY (SELECT 1) TO '{}'",
            dir.path().join("copy.csv").display()
        ),
        "DROP TABLE ai_usage".to_string(),
        "SET datafusion.execution.batch_size = 1".to_string(),
        format!("SELECT * FROM '{outside}'"),
    ];
    for statement in &refused {
        let out = aitrail(&["sql", "--store", store.to_str().unwrap(), statement], b"");
        assert_eq!(out.status.code(), Some(2), "{statement} was not refused");
        assert!(!stderr(&out).is_empty());
    }
    assert!(!dir.path().join("copy.csv").exists());
    let still = sql(&store, "SELECT count(*) AS n FROM ai_usage");
    assert!(still[0]["n"].as_u64().unwrap() > 0);
}

#[test]
fn sql_prints_csv_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let store = loaded_store(dir.path());
    let query = "SELECT tier, count(*) AS n FROM ai_usage GROUP BY tier";
    let csv = aitrail(
        &[
            "sql",
            "--store",
            store.to_str().unwrap(),
            "--format",
            "csv",
            query,
        ],
        b"",
    );
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with("tier,n\nstandard,"), "{csv}");
    let table = aitrail(&["sql", "--store", store.to_str().unwrap(), query], b"");
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("| tier"), "{table}");
    assert!(table.contains("| standard"), "{table}");
}

/// A limit over the partition columns alone is answered from the table's
/// log by the Delta provider, which once ignored the limit there.
#[test]
fn a_limit_over_partition_columns_returns_that_many_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = loaded_store(dir.path());
    for (query, expected) in [
        ("SELECT date FROM ai_usage LIMIT 3", 3),
        ("SELECT tier, date FROM code_changes LIMIT 5", 5),
        ("SELECT date FROM ai_usage LIMIT 2 OFFSET 4", 2),
        ("SELECT date, event_id FROM ai_usage LIMIT 4", 4),
    ] {
        assert_eq!(sql(&store, query).len(), expected, "{query}");
    }
    let total = sql(&store, "SELECT count(date) AS n FROM ai_usage");
    assert!(total[0]["n"].as_i64().unwrap() > 100, "{total:?}");
}

#[test]
fn duckdb_reading_the_tables_agrees_with_aitrail_sql() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let policy = dir.path().join("retention.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let loaded = aitrail(
        &[
            "load",
            "--store",
            store.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--batch-rows",
            "2000",
        ],
        &generated(),
    );
    assert_eq!(loaded.status.code(), Some(0), "{}", stderr(&loaded));

    let duckdb = python_reader("duckdb_totals.py", &[store.to_str().unwrap()]);

    let ours = serde_json::json!({
        "ai_usage": sql(&store, "SELECT count(*) AS rows, sum(input_tokens) AS input_tokens, \
            sum(output_tokens) AS output_tokens, count(DISTINCT user_id) AS users, \
            count(*) FILTER (WHERE tier = 'regulated') AS regulated, \
            CAST(min(date) AS VARCHAR) AS first_date FROM ai_usage")[0],
        "code_changes": sql(&store, "SELECT count(*) AS rows, sum(lines_added) AS lines_added, \
            count(*) FILTER (WHERE ai_assisted) AS ai_assisted FROM code_changes")[0],
        "incidents": sql(&store, "SELECT count(*) AS rows, count(caused_by_change_id) AS caused \
            FROM incidents")[0],
    });
    assert_eq!(duckdb, ours);
    assert!(ours["ai_usage"]["regulated"].as_u64().unwrap() > 0);
    assert!(ours["incidents"]["rows"].as_u64().unwrap() > 0);
}

#[test]
fn a_file_holding_every_event_twice_loads_each_once() {
    let events = generated();
    let total = lines(&events);
    let twice = [&events[..], &events[..]].concat();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = aitrail(
        &[
            "load",
            "--store",
            store.to_str().unwrap(),
            "--batch-rows",
            "3000",
        ],
        &twice,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "loaded {total} events, rejected {total} (duplicate: {total})"
        )),
        "{}",
        stderr(&out)
    );
    let stored = sql(
        &store,
        "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM ai_usage",
    );
    assert_eq!(stored[0]["n"], stored[0]["ids"]);
}
