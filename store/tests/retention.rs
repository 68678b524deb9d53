//! Retention on a real local store through the library: a run interrupted
//! between logging and purging is finished by the next run, exactly once,
//! and legal holds decide by their `until` date.

use aitrail_schemas::ValidatorConfig;
use aitrail_store::retention::log::{LogRow, append_log, read_log};
use aitrail_store::retention::purge::remove_partitions;
use aitrail_store::retention::{plan, run};
use aitrail_store::rows::Position;
use aitrail_store::sink::{BatchLimits, EventSink};
use aitrail_store::writer::StoreWriter;
use aitrail_store::{Policy, StoreRoot};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

const POLICY: &str = r#"
default_tier = "standard"

[[tiers]]
name = "standard"
keep_days = 10

[[legal_holds]]
id = "case-1"
tier = "standard"
from = "2026-01-03"
to = "2026-01-03"
until = "2026-03-01"
reason = "litigation"
"#;

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// A store with one ai_usage event on each of 2026-01-01 … 2026-01-05.
async fn store(dir: &tempfile::TempDir) -> StoreRoot {
    let root = StoreRoot::parse(dir.path().to_str().unwrap()).unwrap();
    let keep_all = Policy::parse(
        &POLICY.replace("keep_days = 10", "keep_days = 5000"),
        "keep all",
    )
    .unwrap();
    let mut sink = EventSink::new(ValidatorConfig::default(), keep_all, BatchLimits::default());
    let received: DateTime<Utc> = "2026-01-10T00:00:00Z".parse().unwrap();
    for day in 1..=5 {
        let event = serde_json::json!({
            "schema_version": 1, "event_id": format!("e{day}"), "event_type": "ai_usage",
            "occurred_at": format!("2026-01-0{day}T12:00:00Z"), "org_id": "acme",
            "user_id": "u-1", "tool": "claude-code", "model": "m",
            "input_tokens": 1, "output_tokens": 1,
        });
        let position = Position {
            partition: -1,
            offset: day,
        };
        sink.accept(event.to_string().as_bytes(), position, received)
            .unwrap();
    }
    let mut writer = StoreWriter::open(&root, TimeDelta::hours(24))
        .await
        .unwrap();
    writer.commit(sink.take_batch(), &[]).await.unwrap();
    root
}

fn dates(partitions: impl IntoIterator<Item = NaiveDate>) -> Vec<String> {
    partitions.into_iter().map(|d| d.to_string()).collect()
}

#[tokio::test]
async fn an_interrupted_run_is_finished_by_the_next_and_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = store(&dir).await;
    let policy = Policy::parse(POLICY, "retention.toml").unwrap();
    // On 2026-01-14 dates before 2026-01-04 are expired; 01-03 is held.
    let as_of = date("2026-01-14");

    // A run that logged 2026-01-01 as run 1 and stopped before purging it.
    append_log(
        &root,
        &[LogRow {
            run_id: 1,
            purged_at: Utc::now(),
            as_of,
            table_name: "ai_usage".into(),
            tier: "standard".into(),
            date: date("2026-01-01"),
            files: 1,
            rows: 1,
            bytes: 1,
            policy_sha256: policy.sha256().into(),
        }],
    )
    .await
    .unwrap();

    let planned = plan(&root, &policy, as_of).await.unwrap();
    assert_eq!(
        dates(planned.unfinished.iter().map(|r| r.date)),
        ["2026-01-01"]
    );
    assert_eq!(dates(planned.purge.iter().map(|p| p.date)), ["2026-01-02"]);
    assert_eq!(
        dates(planned.kept.iter().map(|k| k.partition.date)),
        ["2026-01-03"]
    );
    assert_eq!(planned.run_id, 2);

    let report = run(&root, &policy, as_of).await.unwrap();
    assert_eq!(report.plan.purge, planned.purge);
    let log = read_log(&root).await.unwrap();
    let logged: Vec<(i64, String)> = log.iter().map(|r| (r.run_id, r.date.to_string())).collect();
    assert_eq!(
        logged,
        [(1, "2026-01-01".to_string()), (2, "2026-01-02".to_string())]
    );
    for day in ["2026-01-01", "2026-01-02"] {
        let dir = dir
            .path()
            .join(format!("ai_usage/tier=standard/date={day}"));
        assert!(!dir.exists(), "{} is left", dir.display());
    }
    assert!(
        dir.path()
            .join("ai_usage/tier=standard/date=2026-01-03")
            .exists()
    );

    let again = plan(&root, &policy, as_of).await.unwrap();
    assert!(again.unfinished.is_empty() && again.purge.is_empty());

    // Once the hold's `until` has passed, the held partition goes too.
    let later = run(&root, &policy, date("2026-03-01")).await.unwrap();
    assert_eq!(
        dates(later.plan.purge.iter().map(|p| p.date)),
        ["2026-01-03", "2026-01-04", "2026-01-05"]
    );
    assert_eq!(read_log(&root).await.unwrap().len(), 5);
}

#[tokio::test]
async fn files_a_run_removed_but_did_not_vacuum_are_deleted_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let root = store(&dir).await;
    let policy = Policy::parse(POLICY, "retention.toml").unwrap();
    let as_of = date("2026-01-14");
    let first = vec![("standard".to_string(), date("2026-01-01"))];

    // A run that logged and removed 2026-01-01, then stopped before its vacuum.
    let mut table = deltalake::open_table(root.table_url("ai_usage"))
        .await
        .unwrap();
    remove_partitions(&mut table, &first, 1).await.unwrap();
    let partition = dir.path().join("ai_usage/tier=standard/date=2026-01-01");
    assert!(partition.exists());

    let report = run(&root, &policy, as_of).await.unwrap();
    assert!(report.plan.unfinished.is_empty());
    assert_eq!(
        dates(report.plan.purge.iter().map(|p| p.date)),
        ["2026-01-02"]
    );
    assert_eq!(report.files_deleted, 2);
    assert!(!partition.exists(), "{} is left", partition.display());

    let again = run(&root, &policy, as_of).await.unwrap();
    assert_eq!(again.files_deleted, 0);
}
