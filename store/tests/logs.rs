//! The store's own logs, `access_log` and `retention_log`, stay quick to
//! read however long the store runs: their small files are merged, by
//! each writer as it goes and by the scheduled compaction, without losing
//! or repeating a row, and their Delta log is checkpointed so that opening
//! it reads a checkpoint rather than every commit.

use std::collections::BTreeMap;

use aitrail_store::access_log::{ACCESS_LOG_TABLE, AccessLogWriter, AccessRecord};
use aitrail_store::compact::{MergePolicy, compact};
use aitrail_store::retention::log::{LogRow, RETENTION_LOG, append_log, read_log};
use aitrail_store::table::{open_existing, table_files};
use aitrail_store::{Policy, StoreRoot};
use arrow::array::{Array, AsArray};
use chrono::{NaiveDate, TimeZone, Utc};

fn root_of(dir: &tempfile::TempDir) -> StoreRoot {
    StoreRoot::parse(dir.path().to_str().unwrap()).unwrap()
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// A request `n` at `hour` of `day`, its SQL text naming `n` so that every
/// record can be told apart when read back.
fn request(n: usize, day: &str, hour: u32) -> AccessRecord {
    let time = Utc.from_utc_datetime(&date(day).and_hms_opt(hour, 0, 0).unwrap());
    AccessRecord {
        time_micros: time.timestamp_micros(),
        token: Some("compliance".into()),
        role: Some("auditor".into()),
        endpoint: "POST /v1/sql".into(),
        request: format!("SELECT {n}"),
        status: 200,
        error: None,
        rows: Some(n as u64),
        duration_ms: 3,
    }
}

async fn access_log_writer(root: &StoreRoot, policy: MergePolicy) -> AccessLogWriter {
    AccessLogWriter::open(root)
        .await
        .unwrap()
        .with_merge_policy(policy)
}

/// Every request text in `access_log`, sorted: duplicates would show twice.
async fn logged_requests(root: &StoreRoot) -> Vec<String> {
    let table = open_existing(root, ACCESS_LOG_TABLE)
        .await
        .unwrap()
        .expect("access_log exists");
    let ctx = datafusion::prelude::SessionContext::new();
    table.update_datafusion_session(&ctx.state()).unwrap();
    ctx.register_table("access_log", table.table_provider().await.unwrap())
        .unwrap();
    let batches = ctx
        .sql("SELECT request FROM access_log")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut requests: Vec<String> = batches
        .iter()
        .flat_map(|batch| {
            let column =
                arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
            let column = column.as_string::<i32>();
            (0..column.len())
                .map(|i| column.value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    requests.sort();
    requests
}

/// The active files of table `name`, counted by partition.
async fn files_by_partition(root: &StoreRoot, name: &str) -> BTreeMap<String, usize> {
    let table = open_existing(root, name).await.unwrap().unwrap();
    let mut found = BTreeMap::new();
    for file in table_files(&table).unwrap() {
        let partition = format!("{:?}", file.partition_values);
        *found.entry(partition).or_default() += 1;
    }
    found
}

#[tokio::test]
async fn access_log_compaction_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_of(&dir);
    let policy = MergePolicy {
        fan_in: 3,
        ..MergePolicy::default()
    };
    let mut writer = access_log_writer(&root, policy).await;
    let mut expected = Vec::new();
    for commit in 0..40 {
        let records: Vec<AccessRecord> = (0..5)
            .map(|i| {
                let n = commit * 5 + i;
                let day = if i % 2 == 0 {
                    "2026-03-01"
                } else {
                    "2026-03-02"
                };
                request(n, day, (n % 24) as u32)
            })
            .collect();
        expected.extend(records.iter().map(|record| record.request.clone()));
        writer.append(&records).await.unwrap();
    }
    expected.sort();

    let files = files_by_partition(&root, ACCESS_LOG_TABLE).await;
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files.values().all(|&n| n < 2 * policy.fan_in),
        "40 commits a day merged as they came: {files:?}"
    );
    assert_eq!(logged_requests(&root).await, expected);

    let done = compact(&root, &Policy::default(), date("2026-03-10"))
        .await
        .unwrap();
    let access: Vec<_> = done
        .iter()
        .filter(|c| c.table == ACCESS_LOG_TABLE)
        .collect();
    assert_eq!(access.len(), 1, "{done:?}");
    assert_eq!(access[0].tier, None);
    assert_eq!(access[0].partitions, 2);
    let files = files_by_partition(&root, ACCESS_LOG_TABLE).await;
    assert!(files.values().all(|&n| n == 1), "{files:?}");
    assert_eq!(logged_requests(&root).await, expected);
}

#[tokio::test]
async fn the_access_log_of_the_current_day_is_left_to_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_of(&dir);
    let mut writer = access_log_writer(&root, MergePolicy::OFF).await;
    for n in 0..4 {
        writer
            .append(&[request(n, "2026-03-09", 10)])
            .await
            .unwrap();
    }
    let done = compact(&root, &Policy::default(), date("2026-03-09"))
        .await
        .unwrap();
    assert!(done.is_empty(), "{done:?}");
    let files = files_by_partition(&root, ACCESS_LOG_TABLE).await;
    assert_eq!(files.into_values().collect::<Vec<_>>(), [4]);
}

#[tokio::test]
async fn access_log_checkpoints_are_written_and_read_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_of(&dir);
    let mut writer = access_log_writer(&root, MergePolicy::OFF).await;
    let commits = 105;
    for n in 0..commits {
        writer.append(&[request(n, "2026-03-01", 9)]).await.unwrap();
    }
    drop(writer);
    // Delta checkpoints every 100 versions, after versions 99, 199, …
    let log = dir.path().join(ACCESS_LOG_TABLE).join("_delta_log");
    assert!(
        log.join(format!("{:020}.checkpoint.parquet", 99)).exists(),
        "no checkpoint at version 99"
    );
    let pointer = std::fs::read_to_string(log.join("_last_checkpoint")).unwrap();
    let pointer: serde_json::Value = serde_json::from_str(&pointer).unwrap();
    assert_eq!(pointer["version"], 99);

    // Delta's log cleanup deletes the commits a checkpoint covers once they
    // are old; without the checkpoint the table could not be read at all.
    for version in 0..=99 {
        std::fs::remove_file(log.join(format!("{version:020}.json"))).unwrap();
    }
    let mut writer = AccessLogWriter::open(&root).await.unwrap();
    writer
        .append(&[request(commits, "2026-03-01", 9)])
        .await
        .unwrap();
    let mut expected: Vec<String> = (0..=commits).map(|n| format!("SELECT {n}")).collect();
    expected.sort();
    assert_eq!(logged_requests(&root).await, expected);
}

fn purged(run_id: i64) -> LogRow {
    LogRow {
        run_id,
        purged_at: Utc::now(),
        as_of: date("2026-03-01"),
        table_name: "ai_usage".into(),
        tier: "standard".into(),
        date: date("2024-01-01") + chrono::Days::new(run_id as u64),
        files: 1,
        rows: run_id,
        bytes: 100,
        policy_sha256: "0".repeat(64),
    }
}

#[tokio::test]
async fn retention_log_compaction_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_of(&dir);
    let runs = 25;
    for run in 1..=runs {
        append_log(&root, &[purged(run)]).await.unwrap();
    }
    let files: usize = files_by_partition(&root, RETENTION_LOG)
        .await
        .into_values()
        .sum();
    assert!(
        files < 10,
        "{runs} runs' rows merged as they came: {files} files"
    );
    let runs_logged = |rows: Vec<LogRow>| rows.iter().map(|row| row.run_id).collect::<Vec<_>>();
    let expected: Vec<i64> = (1..=runs).collect();
    assert_eq!(runs_logged(read_log(&root).await.unwrap()), expected);

    let done = compact(&root, &Policy::default(), date("2026-03-10"))
        .await
        .unwrap();
    assert!(done.iter().any(|c| c.table == RETENTION_LOG), "{done:?}");
    let files: Vec<usize> = files_by_partition(&root, RETENTION_LOG)
        .await
        .into_values()
        .collect();
    assert_eq!(files, [1]);
    assert_eq!(runs_logged(read_log(&root).await.unwrap()), expected);
}
