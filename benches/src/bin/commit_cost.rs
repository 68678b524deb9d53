//! The cost of one commit as a table's log grows (issue 32: flat from
//! version 10 to 10,000). Commits `--commits` batches of `--rows` rows,
//! one at a time as a live stream's ingest does, to a store under
//! `--store`, timing each, and prints the median and slowest commit time
//! around versions 10, 1,000 and 10,000 of the table, as JSON.
//!
//! `--table ai_usage` commits events of one day (yesterday) through the store's writer
//! with the ingest's offsets (a Delta application transaction) and its
//! continuous compaction; `--table access_log` commits the query
//! service's access records, `--rows` requests a commit. With
//! `AITRAIL_SIGNING_KEY_FILE` set, each commit is signed into the digest
//! chain as the ingest and the server sign theirs.
//!
//!     commit_cost --store /tmp/commit-cost --table ai_usage --commits 10000 --rows 100

use std::time::Instant;

use aitrail_schemas::{EventType, ValidatorConfig};
use aitrail_store::access_log::{AccessLogWriter, AccessRecord};
use aitrail_store::integrity::{self, SigningKey};
use aitrail_store::rows::Position;
use aitrail_store::sink::{BatchLimits, EventSink};
use aitrail_store::writer::StoreWriter;
use aitrail_store::{Policy, StoreRoot};
use chrono::{TimeDelta, Utc};
use deltalake::kernel::Transaction;

struct Args {
    store: String,
    table: String,
    commits: usize,
    rows: usize,
}

fn args() -> Args {
    let mut args = Args {
        store: String::new(),
        table: "ai_usage".into(),
        commits: 10_000,
        rows: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--store" => args.store = value,
            "--table" => args.table = value,
            "--commits" => args.commits = value.parse().expect("--commits N"),
            "--rows" => args.rows = value.parse().expect("--rows N"),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(!args.store.is_empty(), "--store DIR is required");
    args
}

/// Commits to a table, one batch at a time, and tells the table's version
/// after each.
trait Committer {
    async fn commit_next(&mut self, n: usize, rows: usize) -> u64;
}

/// The ingest's path: validated events, the batch's offset recorded with
/// them, continuous compaction after the commit.
struct Ingest {
    writer: StoreWriter,
    sink: EventSink,
    offset: i64,
}

impl Committer for Ingest {
    async fn commit_next(&mut self, n: usize, rows: usize) -> u64 {
        // Yesterday's: every second of it is in the past.
        let day = (Utc::now() - TimeDelta::days(1)).format("%Y-%m-%d");
        const TEAMS: [&str; 3] = ["risk-management", "payments", "web"];
        for i in 0..rows {
            let id = n * rows + i;
            let team = TEAMS[id % TEAMS.len()];
            let event = serde_json::json!({
                "schema_version": 1,
                "event_id": format!("commit-cost-{id}"),
                "event_type": "ai_usage",
                "occurred_at": format!("{day}T{:02}:{:02}:{:02}Z", id / 3600 % 24, id / 60 % 60, id % 60),
                "org_id": "acme",
                "user_id": format!("u-{}", id % 997),
                "team": team,
                "tool": "claude-code",
                "model": "claude-sonnet-4-5",
                "input_tokens": id % 5000,
                "output_tokens": id % 700,
            });
            self.offset += 1;
            let position = Position {
                partition: 0,
                offset: self.offset,
            };
            self.sink
                .accept(event.to_string().as_bytes(), position, Utc::now())
                .expect("a valid event");
        }
        let batches = self.sink.take_batch();
        let transaction = Transaction::new("aitrail-ingest/ai-audit.events/0", self.offset);
        let transactions_of = |event_type| {
            if event_type == EventType::AiUsage {
                vec![transaction.clone()]
            } else {
                Vec::new()
            }
        };
        self.writer
            .commit_unique(&batches, transactions_of)
            .await
            .expect("commit");
        self.writer
            .table(EventType::AiUsage)
            .version()
            .expect("a committed table has a version")
    }
}

/// The query service's path: access records, one commit per flush.
struct AccessLog {
    writer: AccessLogWriter,
}

impl Committer for AccessLog {
    async fn commit_next(&mut self, n: usize, rows: usize) -> u64 {
        let now = Utc::now().timestamp_micros();
        let records: Vec<AccessRecord> = (0..rows)
            .map(|i| AccessRecord {
                time_micros: now,
                token: Some("compliance".into()),
                role: Some("auditor".into()),
                endpoint: "POST /v1/sql".into(),
                request: format!(
                    "SELECT count(*) FROM ai_usage WHERE user_id = 'u-{}'",
                    n * rows + i
                ),
                status: 200,
                error: None,
                rows: Some(1),
                duration_ms: 12,
            })
            .collect();
        self.writer.append(&records).await.expect("append");
        self.writer
            .version()
            .expect("a created table has a version")
    }
}

/// One commit's resulting table version and time in milliseconds.
type Timed = (u64, f64);

async fn run(committer: &mut impl Committer, args: &Args) -> Vec<Timed> {
    let mut timed = Vec::with_capacity(args.commits);
    let started = Instant::now();
    for n in 0..args.commits {
        let before = Instant::now();
        let version = committer.commit_next(n, args.rows).await;
        timed.push((version, before.elapsed().as_secs_f64() * 1e3));
        if (n + 1) % 1000 == 0 {
            eprintln!(
                "{} commits, version {version}, {:.0} s",
                n + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    timed
}

/// Median and slowest commit of the first 20 commits reaching `version`
/// or beyond, and the mean over the 100 versions from there (one
/// checkpoint's interval).
fn around(timed: &[Timed], version: u64) -> serde_json::Value {
    let from = timed.iter().position(|(v, _)| *v >= version);
    let Some(from) = from else {
        return serde_json::Value::Null;
    };
    let mut window: Vec<f64> = timed[from..].iter().take(20).map(|(_, ms)| *ms).collect();
    window.sort_by(f64::total_cmp);
    let interval: Vec<f64> = timed[from..]
        .iter()
        .take_while(|(v, _)| *v < version + 100)
        .map(|(_, ms)| *ms)
        .collect();
    serde_json::json!({
        "version": timed[from].0,
        "median_ms": window[window.len() / 2],
        "max_ms": window[window.len() - 1],
        "mean_ms_over_100_versions": interval.iter().sum::<f64>() / interval.len() as f64,
    })
}

#[tokio::main]
async fn main() {
    let args = args();
    if let Some(path) = std::env::var_os("AITRAIL_SIGNING_KEY_FILE") {
        let key = SigningKey::read(std::path::Path::new(&path)).expect("read the signing key");
        integrity::install(key, "commit_cost").expect("install the signing key");
    }
    std::fs::create_dir_all(&args.store).expect("create --store");
    let root = StoreRoot::parse(&args.store).expect("a store root");
    let timed = match args.table.as_str() {
        "ai_usage" => {
            let writer = StoreWriter::open(&root, TimeDelta::hours(24))
                .await
                .expect("open the store");
            let sink = EventSink::new(
                ValidatorConfig::default(),
                Policy::default(),
                BatchLimits::default(),
            );
            let mut ingest = Ingest {
                writer,
                sink,
                offset: -1,
            };
            run(&mut ingest, &args).await
        }
        "access_log" => {
            let writer = AccessLogWriter::open(&root).await.expect("open the log");
            let mut log = AccessLog { writer };
            run(&mut log, &args).await
        }
        other => panic!("--table ai_usage or access_log, not {other}"),
    };
    let report = serde_json::json!({
        "table": args.table,
        "commits": args.commits,
        "rows_a_commit": args.rows,
        "last_version": timed.last().map(|(v, _)| *v),
        "at_10": around(&timed, 10),
        "at_1000": around(&timed, 1000),
        "at_10000": around(&timed, 10_000),
    });
    println!("{report:#}");
}
