use aitrail_schemas::ValidatorConfig;
use aitrail_store::policy::Policy;
use aitrail_store::retention::purge::remove_partitions;
use aitrail_store::rows::Position;
use aitrail_store::sink::{BatchLimits, EventSink};
use aitrail_store::writer::StoreWriter;
use aitrail_store::{StoreRoot, table::open_existing};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::engine::StoreTables;
use crate::limits::Limits;
use crate::output::json_rows;
use crate::prices::Prices;
use crate::reports::adoption::ADOPTION;
use crate::reports::{Report, ReportSums};

use super::*;

fn usage(id: &str, day: &str, session: &str) -> String {
    serde_json::json!({
        "schema_version": 1, "event_id": id, "event_type": "ai_usage",
        "occurred_at": format!("{day}T10:00:00Z"), "org_id": "acme",
        "user_id": "u1", "tool": "cursor", "model": "m", "session_id": session,
        "input_tokens": 10, "output_tokens": 1,
    })
    .to_string()
}

fn change(id: &str, day: &str) -> String {
    serde_json::json!({
        "schema_version": 1, "event_id": id, "event_type": "code_change",
        "occurred_at": format!("{day}T11:00:00Z"), "org_id": "acme",
        "change_id": id, "kind": "commit", "repository": "github.com/acme/web",
        "user_id": "u2", "team": "web", "ai_assisted": true,
    })
    .to_string()
}

async fn commit(root: &StoreRoot, lines: &[String]) {
    let now: DateTime<Utc> = "2026-11-24T00:00:00Z".parse().unwrap();
    let mut sink = EventSink::new(
        ValidatorConfig::default(),
        Policy::default(),
        BatchLimits::default(),
    );
    for (n, line) in lines.iter().enumerate() {
        let position = Position {
            partition: -1,
            offset: n as i64 + 1,
        };
        sink.accept(line.as_bytes(), position, now).unwrap();
    }
    let mut writer = StoreWriter::open(root, TimeDelta::hours(24)).await.unwrap();
    writer.commit(sink.take_batch(), &[]).await.unwrap();
}

/// Retention's removal of `ai_usage`'s `day` from the table (its files
/// stay until a vacuum).
async fn purge(root: &StoreRoot, day: &str) {
    let mut table = open_existing(root, "ai_usage").await.unwrap().unwrap();
    let day: NaiveDate = day.parse().unwrap();
    remove_partitions(&mut table, &[("standard".to_string(), day)], 1)
        .await
        .unwrap();
}

/// Events, sessions and unpaid tokens per day, and changes per day and
/// author, as the reports' sums give them.
async fn per_day(tables: &StoreTables, sums: &ReportSums) -> serde_json::Value {
    let report: &dyn Report = &ADOPTION;
    let params = report
        .parse_params([], "2026-11-24".parse().unwrap())
        .unwrap();
    let session = sums
        .session(tables, Limits::NONE, report, &params)
        .await
        .unwrap();
    let mut answers = Vec::new();
    for sql in [
        "SELECT CAST(date AS VARCHAR) AS day, sum(events) AS events,
                count(session_id) AS sessions, sum(input_unpaid) AS unpaid
         FROM ai_usage_daily GROUP BY date ORDER BY date",
        "SELECT CAST(date AS VARCHAR) AS day, team, user_id, changes
         FROM code_changes_daily ORDER BY date",
    ] {
        let answer = session.query(sql).await.unwrap();
        answers.push(serde_json::Value::Array(
            json_rows(&answer.batches).unwrap(),
        ));
    }
    serde_json::json!({"usage": answers[0], "changes": answers[1]})
}

#[tokio::test]
async fn only_the_days_whose_files_changed_are_summed_again() {
    let dir = tempfile::tempdir().unwrap();
    let root = StoreRoot::parse(dir.path().to_str().unwrap()).unwrap();
    let tables = StoreTables::new(root.clone(), Prices::default()).unwrap();
    let sums = ReportSums::default();
    assert_eq!(
        per_day(&tables, &sums).await,
        serde_json::json!({"usage": [], "changes": []})
    );

    commit(
        &root,
        &[
            usage("a", "2026-11-20", "s1"),
            usage("b", "2026-11-20", "s1"),
            usage("c", "2026-11-10", "s2"),
            change("x", "2026-11-20"),
        ],
    )
    .await;
    assert_eq!(
        per_day(&tables, &sums).await,
        serde_json::json!({
            "usage": [
                {"day": "2026-11-10", "events": 1, "sessions": 1, "unpaid": 10},
                {"day": "2026-11-20", "events": 2, "sessions": 1, "unpaid": 20},
            ],
            "changes": [{"day": "2026-11-20", "team": "web", "user_id": "u2", "changes": 1}],
        })
    );

    // The 10th's file is gone from storage: summing that day again
    // would fail, so the next answer shows it was kept, not re-read.
    for entry in
        std::fs::read_dir(dir.path().join("ai_usage/tier=standard/date=2026-11-10")).unwrap()
    {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    commit(
        &root,
        &[usage("d", "2026-11-20", "s3"), change("y", "2026-11-20")],
    )
    .await;
    assert_eq!(
        per_day(&tables, &sums).await,
        serde_json::json!({
            "usage": [
                {"day": "2026-11-10", "events": 1, "sessions": 1, "unpaid": 10},
                {"day": "2026-11-20", "events": 3, "sessions": 2, "unpaid": 30},
            ],
            "changes": [{"day": "2026-11-20", "team": "web", "user_id": "u2", "changes": 2}],
        })
    );

    purge(&root, "2026-11-10").await;
    assert_eq!(
        per_day(&tables, &sums).await,
        serde_json::json!({
            "usage": [{"day": "2026-11-20", "events": 3, "sessions": 2, "unpaid": 30}],
            "changes": [{"day": "2026-11-20", "team": "web", "user_id": "u2", "changes": 2}],
        })
    );
}

#[tokio::test]
async fn a_report_on_an_older_snapshot_reads_the_newer_sums() {
    let dir = tempfile::tempdir().unwrap();
    let root = StoreRoot::parse(dir.path().to_str().unwrap()).unwrap();
    commit(
        &root,
        &[
            usage("a", "2026-11-10", "s1"),
            usage("b", "2026-11-20", "s2"),
        ],
    )
    .await;
    let tables = StoreTables::new(root.clone(), Prices::default()).unwrap();
    let older = tables.session(Limits::NONE).await.unwrap();

    // Retention purges the 10th and vacuums its files away.
    purge(&root, "2026-11-10").await;
    std::fs::remove_dir_all(dir.path().join("ai_usage/tier=standard/date=2026-11-10")).unwrap();
    let newer = tables.session(Limits::NONE).await.unwrap();

    let mut sums = DailySums::of(Kind::AI_USAGE);
    sums.refresh(&newer, DEFAULT_KEPT_BYTES).await.unwrap();
    let table = sums
        .refresh(&older, DEFAULT_KEPT_BYTES)
        .await
        .unwrap()
        .expect("within the cap");
    older
        .context()
        .register_table("sums", Arc::new(table))
        .unwrap();
    let days = older
        .query("SELECT CAST(date AS VARCHAR) AS day, sum(events) AS events FROM sums GROUP BY date")
        .await
        .unwrap();
    assert_eq!(
        serde_json::Value::Array(json_rows(&days.batches).unwrap()),
        serde_json::json!([{"day": "2026-11-20", "events": 1}])
    );
}

#[test]
fn days_are_summed_in_runs_of_at_most_a_million_events() {
    let rows: BTreeMap<i32, usize> = [600_000, 300_000, 200_000, 2_000_000, 10, 20]
        .into_iter()
        .enumerate()
        .map(|(day, rows)| (day as i32, rows))
        .collect();
    let days: Vec<i32> = rows.keys().copied().collect();
    assert_eq!(
        chunks(&days, &rows),
        vec![&[0, 1][..], &[2][..], &[3][..], &[4, 5][..]]
    );
    assert!(chunks(&[], &rows).is_empty());
}

fn incident(id: &str, day: &str) -> String {
    serde_json::json!({
        "schema_version": 1, "event_id": id, "event_type": "incident",
        "occurred_at": format!("{day}T12:00:00Z"), "org_id": "acme",
        "incident_id": id, "severity": "sev2",
        "repositories": ["github.com/acme/web"],
        "caused_by_change_id": "x",
    })
    .to_string()
}

/// A store with usage, changes and incidents over three weeks.
async fn three_weeks() -> (tempfile::TempDir, StoreTables) {
    let dir = tempfile::tempdir().unwrap();
    let root = StoreRoot::parse(dir.path().to_str().unwrap()).unwrap();
    let mut lines = Vec::new();
    for day in 1..=21 {
        let date = format!("2026-11-{day:02}");
        lines.push(usage(&format!("u{day}"), &date, &format!("s{day}")));
        lines.push(change(&format!("c{day}"), &date));
        if day % 3 == 0 {
            lines.push(incident(&format!("i{day}"), &date));
        }
    }
    commit(&root, &lines).await;
    let tables = StoreTables::new(root, Prices::default()).unwrap();
    (dir, tables)
}

/// What the incidents report with `lookback_hours` registers: its window
/// sums, the changes' outcomes, the usage.
fn incident_kinds(lookback_hours: u32) -> Vec<Kind> {
    vec![
        Kind::incident_windows(lookback_hours),
        Kind::CHANGE_OUTCOMES,
        Kind::AI_USAGE,
    ]
}

/// Every row of each of `kinds`' sums as registered by `kept` for the
/// three weeks, sorted.
async fn sums_read(tables: &StoreTables, kept: &KeptSums, kinds: Vec<Kind>) -> Vec<String> {
    let session = tables.session(Limits::NONE).await.unwrap();
    let (from, to) = ("2026-11-01".parse().unwrap(), "2026-11-22".parse().unwrap());
    kept.register(&session, &kinds, from, to).await.unwrap();
    let mut rows = Vec::new();
    for kind in &kinds {
        let sql = format!(
            "SELECT * FROM {} WHERE date >= DATE '2026-11-01'",
            kind.name
        );
        let answer = session.query(&sql).await.unwrap();
        rows.extend(
            json_rows(&answer.batches)
                .unwrap()
                .into_iter()
                .map(|row| format!("{}: {row}", kind.name)),
        );
    }
    rows.sort();
    rows
}

const LOOKBACKS: [u32; 4] = [24, 48, 96, 168];

#[tokio::test]
async fn kept_sums_stay_within_their_cap_under_concurrent_lookbacks() {
    let (_dir, tables) = three_weeks().await;
    let uncapped = KeptSums::new(usize::MAX);
    let mut expected = Vec::new();
    for hours in LOOKBACKS {
        expected.push(sums_read(&tables, &uncapped, incident_kinds(hours)).await);
    }
    let largest = uncapped
        .locked_slots()
        .iter()
        .map(|slot| slot.bytes.load(Ordering::Relaxed))
        .max()
        .unwrap();
    let cap = largest + largest / 2;
    assert!(uncapped.bytes() > cap, "the kinds together outgrow the cap");
    let capped = KeptSums::new(cap);
    for _ in 0..2 {
        let answers = futures::future::join_all(
            LOOKBACKS.map(|hours| sums_read(&tables, &capped, incident_kinds(hours))),
        )
        .await;
        assert_eq!(answers, expected);
        assert!(capped.bytes() <= cap, "{} > {cap}", capped.bytes());
        assert!(capped.bytes() > 0, "sums within the cap are kept");
    }
}

#[tokio::test]
async fn sums_beyond_the_cap_are_worked_out_by_each_report() {
    let (_dir, tables) = three_weeks().await;
    let uncapped = KeptSums::new(usize::MAX);
    let tiny = KeptSums::new(1);
    for hours in LOOKBACKS {
        let kinds = incident_kinds(hours);
        let expected = sums_read(&tables, &uncapped, kinds.clone()).await;
        assert!(!expected.is_empty());
        assert_eq!(sums_read(&tables, &tiny, kinds.clone()).await, expected);
        assert_eq!(sums_read(&tables, &tiny, kinds.clone()).await, expected);
        assert_eq!(tiny.bytes(), 0);
    }
}

#[tokio::test]
async fn a_kind_outgrowing_the_cap_is_not_summed_again_when_others_are_let_go() {
    let (_dir, tables) = three_weeks().await;
    let uncapped = KeptSums::new(usize::MAX);
    sums_read(&tables, &uncapped, incident_kinds(24)).await;
    let expected = sums_read(&tables, &uncapped, vec![Kind::AI_USAGE]).await;
    let bytes_of = |kind: Kind| {
        let slots = uncapped.locked_slots();
        let slot = slots.iter().find(|slot| slot.kind == kind).unwrap();
        slot.bytes.load(Ordering::Relaxed)
    };
    let window = bytes_of(Kind::incident_windows(24));
    let outcomes = bytes_of(Kind::CHANGE_OUTCOMES);
    // Usage alone outgrows the cap; an incidents report's other sums fit
    // it one at a time but not together, so some are let go each time.
    let cap = window.max(outcomes) + window.min(outcomes) / 2;
    assert!(bytes_of(Kind::AI_USAGE) > cap && window + outcomes > cap);
    let kept = KeptSums::new(cap);
    let usage_slot = |kept: &KeptSums| {
        let slots = kept.locked_slots();
        let slot = slots.iter().find(|slot| slot.kind == Kind::AI_USAGE);
        Arc::clone(slot.expect("the usage slot is kept"))
    };
    sums_read(&tables, &kept, incident_kinds(24)).await;
    let first = usage_slot(&kept);
    assert!(first.sums.lock().await.over_cap);
    for hours in [48, 96, 168] {
        let rows = sums_read(&tables, &kept, incident_kinds(hours)).await;
        assert!(rows.iter().any(|row| row.starts_with("ai_usage_daily")));
        assert!(Arc::ptr_eq(&usage_slot(&kept), &first));
        assert!(kept.bytes() <= cap);
    }
    assert_eq!(
        sums_read(&tables, &kept, vec![Kind::AI_USAGE]).await,
        expected
    );
}

#[tokio::test]
async fn a_refresh_of_one_lookback_never_waits_for_another() {
    let (_dir, tables) = three_weeks().await;
    let kept = KeptSums::new(usize::MAX);
    let busy = kept.slot(Kind::incident_windows(24));
    let _refreshing = busy.sums.lock().await;
    let other = sums_read(&tables, &kept, vec![Kind::incident_windows(48)]);
    let answer = tokio::time::timeout(std::time::Duration::from_secs(30), other).await;
    assert!(answer.is_ok_and(|rows| !rows.is_empty()));
    let same = sums_read(&tables, &kept, vec![Kind::incident_windows(24)]);
    let waited = tokio::time::timeout(std::time::Duration::from_millis(300), same).await;
    assert!(waited.is_err(), "the same sums wait for their one refresh");
}
