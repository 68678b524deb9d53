//! Committing to real Delta tables on the local file system: partitions,
//! application transactions, duplicates, expiry, and a failure between
//! writing data files and committing them.

mod common;

use aitrail_schemas::{EventType, RejectReason, ValidatorConfig};
use aitrail_store::Policy;
use aitrail_store::rows::Position;
use aitrail_store::sink::{BatchLimits, EventSink};
use deltalake::kernel::Transaction;

use common::{batch, count, now, open, parquet_files, sink, usage};

fn change(id: &str, occurred_at: &str) -> String {
    serde_json::json!({
        "schema_version": 1,
        "event_id": id,
        "event_type": "code_change",
        "occurred_at": occurred_at,
        "org_id": "acme",
        "change_id": format!("acme/web#{id}"),
        "kind": "pull_request",
        "repository": "github.com/acme/web",
        "user_id": "u-1",
        "ai_assisted": true,
    })
    .to_string()
}

#[tokio::test]
async fn rows_land_in_tier_and_date_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(&dir).await;
    let lines = [
        usage("a", "2026-02-10T23:30:00-02:00", "payments", 5),
        usage("b", "2026-02-10T12:00:00Z", "web", 5),
        change("c", "2026-02-12T09:00:00Z"),
    ];
    let outcome = writer.commit(batch(&lines), &[]).await.unwrap();
    assert_eq!(outcome.rows, 3);
    assert!(outcome.duplicates.is_empty());

    let files: Vec<String> = parquet_files(dir.path())
        .iter()
        .map(|p| {
            p.strip_prefix(dir.path())
                .unwrap()
                .parent()
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(
        files,
        [
            "ai_usage/tier=regulated/date=2026-02-11",
            "ai_usage/tier=standard/date=2026-02-10",
            "code_changes/tier=standard/date=2026-02-12",
        ]
    );
    assert_eq!(count(&dir, "ai_usage").await, 2);
    assert_eq!(count(&dir, "code_changes").await, 1);
    assert_eq!(count(&dir, "incidents").await, 0);
}

#[tokio::test]
async fn application_transactions_are_read_back_from_every_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(&dir).await;
    let app = "aitrail-ingest/ai-audit.events/0";
    assert_eq!(
        writer
            .transaction_version(EventType::AiUsage, app)
            .await
            .unwrap(),
        None
    );
    let first = [usage("a", "2026-02-10T12:00:00Z", "web", 1)];
    writer
        .commit(batch(&first), &[Transaction::new(app, 41)])
        .await
        .unwrap();
    let second = [change("b", "2026-02-10T12:00:00Z")];
    writer
        .commit(batch(&second), &[Transaction::new(app, 97)])
        .await
        .unwrap();

    let reopened = open(&dir).await;
    for event_type in EventType::ALL {
        assert_eq!(
            reopened
                .transaction_version(*event_type, app)
                .await
                .unwrap(),
            Some(97),
            "{event_type:?} records the batch's offsets even without rows of its own"
        );
    }
    assert_eq!(
        reopened
            .transaction_version(EventType::AiUsage, "another-app")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn files_written_but_never_committed_leave_the_table_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(&dir).await;
    writer
        .commit(
            batch(&[usage("a", "2026-02-10T12:00:00Z", "web", 1)]),
            &[Transaction::new("app", 1)],
        )
        .await
        .unwrap();
    let version_before = writer.table(EventType::AiUsage).version();

    let mut batches = batch(&[
        usage("b", "2026-02-10T13:00:00Z", "web", 1),
        usage("c", "2026-02-11T13:00:00Z", "web", 1),
    ]);
    let staged = writer.stage(&batches.remove(0)).await.unwrap();
    assert_eq!(
        parquet_files(dir.path()).len(),
        3,
        "the data files are written"
    );
    drop(staged);
    drop(writer);

    let mut writer = open(&dir).await;
    assert_eq!(writer.table(EventType::AiUsage).version(), version_before);
    assert_eq!(count(&dir, "ai_usage").await, 1);
    assert_eq!(
        writer
            .transaction_version(EventType::AiUsage, "app")
            .await
            .unwrap(),
        Some(1)
    );

    let retried = writer
        .commit(
            batch(&[
                usage("b", "2026-02-10T13:00:00Z", "web", 1),
                usage("c", "2026-02-11T13:00:00Z", "web", 1),
            ]),
            &[Transaction::new("app", 2)],
        )
        .await
        .unwrap();
    assert_eq!(retried.rows, 2);
    assert!(retried.duplicates.is_empty(), "orphaned files are not rows");
    assert_eq!(count(&dir, "ai_usage").await, 3);
}

#[tokio::test]
async fn an_event_id_stored_within_the_window_is_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(&dir).await;
    writer
        .commit(batch(&[usage("a", "2026-02-10T12:00:00Z", "web", 1)]), &[])
        .await
        .unwrap();

    let lines = [
        usage("a", "2026-02-11T11:00:00Z", "web", 2),
        usage("a", "2026-02-20T12:00:00Z", "web", 3),
        usage("n", "2026-02-20T12:00:00Z", "web", 4),
        usage("n", "2026-02-20T12:00:01Z", "web", 5),
    ];
    let outcome = writer.commit(batch(&lines), &[]).await.unwrap();
    assert_eq!(
        outcome.rows, 2,
        "an id reused outside the window is a new event"
    );
    let duplicates: Vec<(i64, &str)> = outcome
        .duplicates
        .iter()
        .map(|d| (d.position.offset, d.event_id.as_str()))
        .collect();
    assert_eq!(duplicates, [(1, "a"), (4, "n")]);
    let input: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    let rejected = &outcome.duplicates[0].event;
    for field in [
        "schema_version",
        "event_id",
        "event_type",
        "org_id",
        "user_id",
        "team",
        "tool",
        "model",
        "input_tokens",
        "output_tokens",
    ] {
        assert_eq!(
            rejected[field], input[field],
            "a duplicate's event keeps `{field}`"
        );
    }
    let instant =
        |v: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert_eq!(
        instant(&rejected["occurred_at"]),
        instant(&input["occurred_at"])
    );
    assert!(rejected.get("tier").is_none() && rejected.get("date").is_none());

    let again = writer.commit(batch(&lines), &[]).await.unwrap();
    assert_eq!(again.rows, 0);
    assert_eq!(again.duplicates.len(), 4);
    assert_eq!(count(&dir, "ai_usage").await, 3);
}

#[test]
fn an_event_past_its_tier_retention_is_expired() {
    let mut sink = sink();
    let position = Position {
        partition: -1,
        offset: 1,
    };
    let old = usage("old", "2024-02-01T00:00:00Z", "web", 1);
    let rejection = sink.accept(old.as_bytes(), position, now()).unwrap_err();
    assert_eq!(rejection.reason, RejectReason::Expired);
    assert!(
        rejection.detail.contains("`standard`"),
        "{}",
        rejection.detail
    );
    assert_eq!(rejection.event.unwrap()["event_id"], "old");

    let regulated = usage("kept", "2024-02-01T00:00:00Z", "payments", 1);
    sink.accept(regulated.as_bytes(), position, now()).unwrap();
    let kept = usage("recent", "2024-03-02T00:00:00Z", "web", 1);
    sink.accept(kept.as_bytes(), position, now()).unwrap();
    assert_eq!(sink.pending_rows(), 2);
}

#[test]
fn a_batch_is_full_at_its_row_limit() {
    let mut sink = EventSink::new(
        ValidatorConfig::default(),
        Policy::default(),
        BatchLimits {
            max_rows: 2,
            max_bytes: usize::MAX,
        },
    );
    let position = Position {
        partition: -1,
        offset: 1,
    };
    sink.accept(
        usage("a", "2026-02-10T12:00:00Z", "web", 1).as_bytes(),
        position,
        now(),
    )
    .unwrap();
    assert!(!sink.is_full());
    sink.accept(
        usage("b", "2026-02-10T12:00:00Z", "web", 1).as_bytes(),
        position,
        now(),
    )
    .unwrap();
    assert!(sink.is_full());
    let batches = sink.take_batch();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].batch.num_rows(), 2);
    assert_eq!(sink.pending_rows(), 0);
}

#[tokio::test]
async fn files_are_zstd_except_small_vocabularies_with_dictionaries_and_statistics_where_they_pay()
{
    use deltalake::parquet::basic::Compression;
    use deltalake::parquet::file::reader::{FileReader, SerializedFileReader};

    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(&dir).await;
    let lines: Vec<String> = (0..50)
        .map(|n| {
            let line = usage(&format!("id-{n}"), "2026-02-10T12:00:00Z", "web", n);
            let mut event: serde_json::Value = serde_json::from_str(&line).unwrap();
            event["session_id"] = format!("session-{}", n / 10).into();
            event.to_string()
        })
        .collect();
    writer.commit(batch(&lines), &[]).await.unwrap();

    let files = parquet_files(dir.path());
    assert_eq!(files.len(), 1);
    let reader = SerializedFileReader::new(std::fs::File::open(&files[0]).unwrap()).unwrap();
    let row_group = reader.metadata().row_group(0);
    let column = |name: &str| {
        row_group
            .columns()
            .iter()
            .find(|c| c.column_path().string() == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    for name in [
        "event_id",
        "occurred_at",
        "session_id",
        "user_id",
        "input_tokens",
    ] {
        assert!(
            matches!(column(name).compression(), Compression::ZSTD(_)),
            "{name}: {:?}",
            column(name).compression()
        );
    }
    for name in ["org_id", "team", "tool", "model", "event_type"] {
        assert_eq!(
            column(name).compression(),
            Compression::UNCOMPRESSED,
            "{name}"
        );
    }
    for repeating in ["tool", "model", "user_id", "session_id"] {
        assert!(
            column(repeating).dictionary_page_offset().is_some(),
            "{repeating} has no dictionary"
        );
    }
    for distinct in ["event_id", "occurred_at", "input_tokens", "output_tokens"] {
        assert!(
            column(distinct).dictionary_page_offset().is_none(),
            "{distinct} has a dictionary"
        );
    }
    for pruning in ["occurred_at", "input_tokens", "output_tokens"] {
        assert!(
            column(pruning).statistics().is_some(),
            "{pruning} has no statistics"
        );
    }
    for text in [
        "event_id",
        "user_id",
        "session_id",
        "tool",
        "model",
        "org_id",
    ] {
        assert!(column(text).statistics().is_none(), "{text} has statistics");
    }
}
