//! What the store's integration tests share: a policy, events, and a
//! writer on a temporary directory.

use aitrail_schemas::ValidatorConfig;
use aitrail_store::rows::{Position, TableBatch};
use aitrail_store::sink::{BatchLimits, EventSink};
use aitrail_store::writer::StoreWriter;
use aitrail_store::{Policy, StoreRoot};
use chrono::{DateTime, TimeDelta, Utc};

pub const POLICY: &str = r#"
default_tier = "standard"

[[tiers]]
name = "regulated"
keep_days = 2557

[[tiers]]
name = "standard"
keep_days = 730

[[rules]]
tier = "regulated"
team = ["payments"]
"#;

pub fn now() -> DateTime<Utc> {
    "2026-03-01T00:00:00Z".parse().unwrap()
}

pub fn usage(id: &str, occurred_at: &str, team: &str, tokens: u64) -> String {
    serde_json::json!({
        "schema_version": 1,
        "event_id": id,
        "event_type": "ai_usage",
        "occurred_at": occurred_at,
        "org_id": "acme",
        "user_id": "u-1",
        "team": team,
        "tool": "claude-code",
        "model": "claude-sonnet-4-5",
        "input_tokens": tokens,
        "output_tokens": 10,
    })
    .to_string()
}

pub fn sink() -> EventSink {
    EventSink::new(
        ValidatorConfig::default(),
        Policy::parse(POLICY, "test policy").unwrap(),
        BatchLimits::default(),
    )
}

/// Validates `lines` (line numbers from 1) into one batch.
pub fn batch(lines: &[String]) -> Vec<TableBatch> {
    let mut sink = sink();
    for (n, line) in lines.iter().enumerate() {
        let position = Position {
            partition: -1,
            offset: n as i64 + 1,
        };
        sink.accept(line.as_bytes(), position, now())
            .unwrap_or_else(|rejection| panic!("{line}: {rejection:?}"));
    }
    sink.take_batch()
}

pub async fn open(dir: &tempfile::TempDir) -> StoreWriter {
    let root = StoreRoot::parse(dir.path().to_str().unwrap()).unwrap();
    StoreWriter::open(&root, TimeDelta::hours(24))
        .await
        .unwrap()
}

pub async fn count(dir: &tempfile::TempDir, table: &str) -> i64 {
    let root = StoreRoot::parse(dir.path().to_str().unwrap()).unwrap();
    let table = deltalake::open_table(root.table_url(table)).await.unwrap();
    let ctx = datafusion::prelude::SessionContext::new();
    table.update_datafusion_session(&ctx.state()).unwrap();
    ctx.register_table("t", table.table_provider().await.unwrap())
        .unwrap();
    let batches = ctx
        .sql("SELECT count(*) FROM t")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap()
        .value(0)
}

/// Every Parquet file under `dir`, sorted.
pub fn parquet_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}
