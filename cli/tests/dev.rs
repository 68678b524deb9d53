//! `aitrail dev` as a new user runs it: the real binary with its embedded
//! broker, the lines it prints, an event of our own produced to the printed
//! broker with a real Kafka client, the services answering with the printed
//! tokens, and a clean stop that keeps everything stored.

use std::time::Duration;

use chrono::Utc;
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;

mod common;
use common::dev::Dev;
use common::http::{authorization, bearer, get, post_sql, request};
use common::sql;

/// The policy `aitrail dev` judges and generates by.
fn example_policy() -> String {
    common::manifest_dir()
        .join("../governance/governance.example.toml")
        .to_string_lossy()
        .into_owned()
}

/// A small organization: 60 people, 20 days, and a brisk live stream.
const SMALL: [&str; 6] = ["--users", "60", "--backfill-days", "20", "--rate", "100"];

fn count(rows: &[Value]) -> i64 {
    rows[0]["n"].as_i64().expect("a count")
}

/// Produces one event to the printed broker, as kcat or a collector would.
fn produce_own_event(kafka: &str, event_id: &str) {
    let event = serde_json::json!({
        "schema_version": 1,
        "event_id": event_id,
        "event_type": "ai_usage",
        "occurred_at": Utc::now().to_rfc3339(),
        "org_id": "acme",
        "user_id": "u-me",
        "tool": "claude-code",
        "model": "claude-sonnet-4-5",
        "input_tokens": 1200,
        "output_tokens": 300,
    })
    .to_string();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka)
        .create()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(
            producer.send(
                FutureRecord::to("ai-audit.events")
                    .key("acme/u-me")
                    .payload(&event),
                Duration::from_secs(30),
            ),
        )
        .expect("the embedded broker takes the event");
}

/// Claude Code's `api_request` log record of `session`, in OTLP/JSON.
fn claude_code_record(session: &str) -> String {
    let attribute = |key: &str, value: Value| serde_json::json!({ "key": key, "value": value });
    serde_json::json!({
        "resourceLogs": [{
            "resource": { "attributes": [
                attribute("service.name", serde_json::json!({ "stringValue": "claude-code" })),
            ]},
            "scopeLogs": [{ "logRecords": [{
                "timeUnixNano": (Utc::now().timestamp_micros() * 1000).to_string(),
                "body": { "stringValue": "claude_code.api_request" },
                "attributes": [
                    attribute("event.name", serde_json::json!({ "stringValue": "api_request" })),
                    attribute("session.id", serde_json::json!({ "stringValue": session })),
                    attribute("user.email", serde_json::json!({ "stringValue": "me@example.com" })),
                    attribute("model", serde_json::json!({ "stringValue": "claude-sonnet-4-5" })),
                    attribute("input_tokens", serde_json::json!({ "intValue": "12" })),
                    attribute("output_tokens", serde_json::json!({ "intValue": 345 })),
                    attribute("cache_read_tokens", serde_json::json!({ "intValue": 3400 })),
                    attribute("cost_usd", serde_json::json!({ "doubleValue": 0.0121 })),
                ],
            }]}],
        }]
    })
    .to_string()
}

#[test]
fn dev_runs_the_pipeline_from_backfill_to_a_clean_stop_and_resumes_its_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("aitrail-data");
    let dev = Dev::start(&data, &SMALL);
    assert!(
        dev.kafka.starts_with("127.0.0.1:"),
        "loopback broker: {}",
        dev.kafka
    );
    assert_ne!(dev.compliance, dev.leadership);

    // The backfill is stored before the lines are printed: the 20 days up
    // to now.
    let today = Utc::now().date_naive();
    let days = post_sql(
        dev.dashboard,
        Some(&dev.compliance),
        "SELECT count(DISTINCT date) AS n FROM ai_usage WHERE event_id NOT LIKE 'live-%'",
    );
    assert_eq!(days.status, 200, "{}", days.text());
    let days = count(days.json().as_array().unwrap());
    assert!(
        (14..=21).contains(&days),
        "backfill covers working days of 20: {days}"
    );
    let span = dev.poll_sql(
        "SELECT CAST(min(date) AS VARCHAR) AS first, CAST(max(date) AS VARCHAR) AS last \
         FROM ai_usage WHERE event_id NOT LIKE 'live-%'",
        |_| true,
    );
    let first: chrono::NaiveDate = span[0]["first"].as_str().unwrap().parse().unwrap();
    let last: chrono::NaiveDate = span[0]["last"].as_str().unwrap().parse().unwrap();
    assert!(first >= today - chrono::TimeDelta::days(20), "{span:?}");
    assert!(last <= today, "{span:?}");
    let future = post_sql(
        dev.dashboard,
        Some(&dev.compliance),
        "SELECT count(*) AS n FROM ai_usage WHERE occurred_at > now()",
    );
    assert_eq!(
        count(future.json().as_array().unwrap()),
        0,
        "history stops at now"
    );

    // Roles: leadership gets reports and no SQL.
    let refused = post_sql(dev.dashboard, Some(&dev.leadership), "SELECT 1");
    assert_eq!(refused.status, 403, "{}", refused.text());
    let adoption = get(
        dev.dashboard,
        "/v1/reports/adoption?bucket=week&by=none",
        Some(&dev.leadership),
    );
    assert_eq!(adoption.status, 200, "{}", adoption.text());
    let rows = adoption.json()["rows"].as_array().unwrap().clone();
    assert!(
        rows.iter().any(|r| r["active_users"].as_i64() > Some(0)),
        "{rows:?}"
    );

    // The example governance policy judges the generated history at once:
    // each of its usage rules finds something, and the policy is in SQL.
    let violations = get(
        dev.dashboard,
        "/v1/reports/violations",
        Some(&dev.compliance),
    );
    assert_eq!(violations.status, 200, "{}", violations.text());
    let findings = violations.json()["rows"].as_array().unwrap().clone();
    for rule in ["unapproved_tool", "data_class_exceeded", "red_domain_use"] {
        assert!(
            findings.iter().any(|f| f["rule"] == rule),
            "no {rule} finding among {}",
            findings.len()
        );
    }
    let tools = post_sql(
        dev.dashboard,
        Some(&dev.compliance),
        "SELECT tool FROM approved_tools ORDER BY tool",
    );
    assert_eq!(
        tools.json(),
        serde_json::json!([{"tool": "claude-code"}, {"tool": "github-copilot"}])
    );

    // Our own event, through the printed broker, reaches the store.
    let own = format!("mine-{}", Utc::now().timestamp_micros());
    produce_own_event(&dev.kafka, &own);
    dev.poll_sql(
        &format!("SELECT count(*) AS n FROM ai_usage WHERE event_id = '{own}'"),
        |rows| count(rows) == 1,
    );

    // A Claude Code usage record sent to the printed collector, as Claude
    // Code's OTLP/HTTP JSON exporter sends it, is in SQL a moment later.
    let session = format!("tour-{}", Utc::now().timestamp_micros());
    let otlp: std::net::SocketAddr = dev.otlp.strip_prefix("http://").unwrap().parse().unwrap();
    let sent = request(
        otlp,
        "POST",
        "/v1/logs",
        &[("Authorization", &bearer(&dev.collector))],
        Some(&claude_code_record(&session)),
    )
    .expect("the collector answers");
    assert_eq!(sent.status, 200, "{}", sent.text());
    let usage = dev.poll_sql(
        &format!(
            "SELECT tool, model, input_tokens, cache_read_tokens FROM ai_usage \
             WHERE session_id = '{session}'"
        ),
        |rows| rows.len() == 1,
    );
    assert_eq!(usage[0]["tool"], "claude-code");
    assert_eq!(usage[0]["input_tokens"], 12);
    assert_eq!(usage[0]["cache_read_tokens"], 3400);

    // The live stream keeps arriving, stamped with the time it is sent.
    let live = |rows: &[Value]| count(rows);
    let seen = dev.poll_sql(
        "SELECT count(*) AS n FROM ai_usage WHERE event_id LIKE 'live-%' \
         AND occurred_at > now() - INTERVAL '5 minutes'",
        |rows| live(rows) > 0,
    );
    dev.poll_sql(
        "SELECT count(*) AS n FROM ai_usage WHERE event_id LIKE 'live-%'",
        |rows| live(rows) > live(&seen),
    );

    // SIGTERM: everything stored stays, nothing is stored twice.
    let old_compliance = dev.compliance.clone();
    dev.stop("-TERM");
    let after = sql(
        &data,
        "SELECT count(*) AS n, count(DISTINCT event_id) AS ids, \
         sum(CAST(event_id LIKE 'live-%' AS INT)) AS live FROM ai_usage",
    );
    assert_eq!(after[0]["n"], after[0]["ids"], "no event stored twice");
    assert!(after[0]["live"].as_i64().unwrap() >= live(&seen));
    let own_rows = sql(
        &data,
        &format!("SELECT count(*) AS n FROM ai_usage WHERE event_id = '{own}'"),
    );
    assert_eq!(count(&own_rows), 1);

    // A second run on the same store skips the backfill, keeps what is
    // stored, and has new tokens.
    let history = "SELECT count(*) AS n FROM ai_usage WHERE event_id NOT LIKE 'live-%'";
    let stored = count(&sql(&data, history));
    let dev = Dev::start(&data, &SMALL);
    let stale = post_sql(dev.dashboard, Some(&old_compliance), "SELECT 1");
    assert_eq!(stale.status, 401, "the last run's token is not valid");
    let resumed = dev.poll_sql(history, |_| true);
    assert_eq!(count(&resumed), stored, "no second backfill");

    // Ctrl-C right after the start, a report in flight and the reports'
    // warm-up likely still reading: a clean stop all the same.
    let (address, token) = (dev.dashboard, dev.leadership.clone());
    let in_flight = std::thread::spawn(move || {
        let auth = Some(bearer(&token));
        request(
            address,
            "GET",
            "/v1/reports/incidents",
            &authorization(&auth),
            None,
        )
        .is_ok()
    });
    dev.stop("-INT");
    in_flight.join().unwrap();
}

/// More history than the embedded broker keeps at once (librdkafka's mock
/// cluster keeps the last 5 MiB of each partition, ≈ 150k of these events
/// over three partitions): the backfill waits for the ingest, so no day
/// loses events before they are read.
#[test]
fn a_backfill_larger_than_the_broker_keeps_is_stored_whole() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("aitrail-data");
    let dev = Dev::start(
        &data,
        &["--users", "200", "--backfill-days", "90", "--rate", "0"],
    );

    // `aitrail dev` generates under the example policy, and so does this
    // `gen`. Dates up to the day before yesterday are whole in both: later ones
    // can reach past the moment the backfill stopped at.
    let today = Utc::now().date_naive();
    let last_whole = today - chrono::TimeDelta::days(2);
    let start = (today - chrono::TimeDelta::days(90)).to_string();
    let generated = common::aitrail(
        &[
            "gen",
            "--users",
            "200",
            "--days",
            "90",
            "--seed",
            "1",
            "--start",
            &start,
            "--policy",
            &example_policy(),
        ],
        b"",
    );
    assert!(generated.status.success(), "{}", common::stderr(&generated));
    let mut expected = std::collections::BTreeMap::<String, i64>::new();
    for line in generated
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
    {
        let event: Value = serde_json::from_slice(line).unwrap();
        let at: chrono::DateTime<Utc> = event["occurred_at"].as_str().unwrap().parse().unwrap();
        if at.date_naive() <= last_whole {
            *expected.entry(at.date_naive().to_string()).or_default() += 1;
        }
    }
    let total: i64 = expected.values().sum();
    assert!(total > 160_000, "more than the broker keeps: {total}");

    let rows = dev.poll_sql(
        &format!(
            "SELECT CAST(date AS VARCHAR) AS date, count(*) AS n, count(DISTINCT event_id) AS ids \
             FROM (SELECT date, event_id FROM ai_usage UNION ALL \
                   SELECT date, event_id FROM code_changes UNION ALL \
                   SELECT date, event_id FROM incidents UNION ALL \
                   SELECT date, event_id FROM code_reviews) \
             WHERE date <= DATE '{last_whole}' GROUP BY date ORDER BY date"
        ),
        |_| true,
    );
    let stored: std::collections::BTreeMap<String, i64> = rows
        .iter()
        .map(|row| {
            assert_eq!(row["n"], row["ids"], "no event stored twice: {row}");
            (
                row["date"].as_str().unwrap().to_string(),
                count(std::slice::from_ref(row)),
            )
        })
        .collect();
    assert_eq!(stored, expected, "events per date");
    dev.stop("-TERM");
}
