//! The retention lifecycle as a user runs it: `retention plan`/`run` over
//! three years of data with legal holds, the files left on disk, DuckDB and
//! `aitrail sql` reading what remains and `retention_log`; the `expired`
//! rejection; compaction; the scheduled daemon.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use serde_json::Value;

mod common;
use common::{aitrail, python_reader, sql, stderr};

const TABLES: [&str; 4] = ["ai_usage", "code_changes", "incidents", "code_reviews"];

/// Tiers and rules shared by every policy here: payments and confidential
/// or restricted work is `regulated`.
fn policy(regulated_days: u32, standard_days: u32, extra: &str) -> String {
    format!(
        r#"
default_tier = "standard"

[[tiers]]
name = "regulated"
keep_days = {regulated_days}

[[tiers]]
name = "standard"
keep_days = {standard_days}

[[rules]]
tier = "regulated"
team = ["payments"]

[[rules]]
tier = "regulated"
data_class = ["confidential", "restricted"]
{extra}"#
    )
}

const HOLDS: &str = r#"
[[legal_holds]]
id = "case-active"
tier = "standard"
from = "2024-03-01"
to = "2024-03-31"
until = "2027-01-01"
reason = "litigation"

[[legal_holds]]
id = "case-closed"
tier = "regulated"
from = "2023-06-01"
to = "2023-06-30"
until = "2025-06-01"
reason = "audit, closed"
"#;

/// Generates `days` of a `users`-person organization from `start` and loads
/// it under a policy that keeps everything (the data is older than today's
/// retention would accept), so that the retention policy under test can be
/// the strict one.
fn load_store(dir: &Path, users: &str, days: &str, start: &str, batch_rows: &str) -> PathBuf {
    let events = aitrail(
        &[
            "gen", "--users", users, "--days", days, "--start", start, "--seed", "7",
        ],
        b"",
    );
    assert!(events.status.success(), "{}", stderr(&events));
    let keep_all = dir.join("keep-all.toml");
    std::fs::write(&keep_all, policy(9000, 9000, "")).unwrap();
    let store = dir.join("store");
    let loaded = aitrail(
        &[
            "load",
            "--store",
            store.to_str().unwrap(),
            "--policy",
            keep_all.to_str().unwrap(),
            "--batch-rows",
            batch_rows,
        ],
        &events.stdout,
    );
    assert_eq!(loaded.status.code(), Some(0), "{}", stderr(&loaded));
    store
}

/// (table, tier, date) → rows, as `aitrail sql` counts them.
fn partition_rows(store: &Path) -> BTreeMap<(String, String, String), u64> {
    let mut rows = BTreeMap::new();
    for table in TABLES {
        let query = format!(
            "SELECT tier, CAST(date AS VARCHAR) AS date, count(*) AS n FROM {table} GROUP BY 1, 2"
        );
        for row in sql(store, &query) {
            let key = (
                table.to_string(),
                row["tier"].as_str().unwrap().to_string(),
                row["date"].as_str().unwrap().to_string(),
            );
            rows.insert(key, row["n"].as_u64().unwrap());
        }
    }
    rows
}

/// (table, tier, date) of every partition directory holding a Parquet file.
fn partitions_on_disk(store: &Path) -> BTreeSet<(String, String, String)> {
    let mut found = BTreeSet::new();
    for table in TABLES {
        let Ok(tiers) = std::fs::read_dir(store.join(table)) else {
            continue;
        };
        for tier in tiers.map(Result::unwrap) {
            let tier_name = tier.file_name().to_string_lossy().into_owned();
            let Some(tier_value) = tier_name.strip_prefix("tier=") else {
                continue;
            };
            for date in std::fs::read_dir(tier.path()).unwrap().map(Result::unwrap) {
                let date_name = date.file_name().to_string_lossy().into_owned();
                let has_parquet = std::fs::read_dir(date.path()).unwrap().any(|f| {
                    f.unwrap()
                        .path()
                        .extension()
                        .is_some_and(|e| e == "parquet")
                });
                if has_parquet {
                    found.insert((
                        table.to_string(),
                        tier_value.to_string(),
                        date_name.trim_start_matches("date=").to_string(),
                    ));
                }
            }
        }
    }
    found
}

fn retention(verb: &str, store: &Path, policy: &Path, now: &str) -> Value {
    let out = aitrail(
        &[
            "retention",
            verb,
            "--store",
            store.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--now",
            now,
            "--format",
            "json",
        ],
        b"",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "retention {verb}: {}",
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).expect("--format json prints one JSON object")
}

fn keys(partitions: &Value) -> Vec<(String, String, String)> {
    partitions
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["table"].as_str().unwrap().to_string(),
                p["tier"].as_str().unwrap().to_string(),
                p["date"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn three_years_two_tiers_two_holds_purge_exactly_the_expired_partitions() {
    let dir = tempfile::tempdir().unwrap();
    // 24 people make two teams: payments (regulated) and trading.
    let store = load_store(dir.path(), "24", "1100", "2023-01-01", "500000");
    let policy_file = dir.path().join("retention.toml");
    std::fs::write(&policy_file, policy(730, 365, HOLDS)).unwrap();
    let now = "2026-01-01";
    // regulated keeps 730 days: dates before 2024-01-02 (2024 is a leap
    // year) expire, the closed hold on June 2023 protects nothing. standard
    // keeps 365 days: dates before 2025-01-01 expire, except March 2024
    // under the active hold.
    let oldest_kept = |days: u64| (now.parse::<NaiveDate>().unwrap() - Days::new(days)).to_string();
    let (regulated_kept, standard_kept) = (oldest_kept(730), oldest_kept(365));
    assert_eq!(regulated_kept, "2024-01-02");
    let expired = |tier: &str, date: &str| match tier {
        "regulated" => date < regulated_kept.as_str(),
        _ => date < standard_kept.as_str() && !("2024-03-01"..="2024-03-31").contains(&date),
    };
    let held = |tier: &str, date: &str| {
        tier == "standard" && ("2024-03-01"..="2024-03-31").contains(&date)
    };

    let before = partition_rows(&store);
    assert_eq!(partitions_on_disk(&store), before.keys().cloned().collect());
    let purged: BTreeMap<_, _> = before
        .iter()
        .filter(|((_, tier, date), _)| expired(tier, date))
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    let kept: BTreeMap<_, _> = before
        .iter()
        .filter(|(k, _)| !purged.contains_key(*k))
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    for tier in ["regulated", "standard"] {
        for table in ["ai_usage", "code_changes"] {
            assert!(
                purged.keys().any(|(t, r, _)| t == table && r == tier),
                "no expired {tier} partition of {table}: the test would prove nothing"
            );
        }
    }
    assert!(
        purged
            .keys()
            .any(|(_, tier, date)| tier == "regulated" && date.starts_with("2023-06"))
    );
    assert!(kept.keys().any(|(_, tier, date)| held(tier, date)));

    let plan = retention("plan", &store, &policy_file, now);
    assert_eq!(plan["as_of"], now);
    assert_eq!(plan["run_id"], 1);
    let planned: BTreeMap<_, _> = keys(&plan["purge"])
        .into_iter()
        .zip(
            plan["purge"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["rows"].as_u64().unwrap()),
        )
        .collect();
    assert_eq!(
        planned, purged,
        "exactly the expired partitions, with their rows"
    );
    let held_partitions: Vec<_> = kept
        .keys()
        .filter(|(_, t, d)| held(t, d))
        .cloned()
        .collect();
    let mut kept_by_holds = keys(&plan["kept"]);
    kept_by_holds.sort();
    assert_eq!(kept_by_holds, held_partitions);
    assert!(
        plan["kept"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["reason"].as_str().unwrap().contains("case-active"))
    );
    assert_eq!(partition_rows(&store), before, "plan changed the store");

    let run = retention("run", &store, &policy_file, now);
    assert_eq!(
        run["purge"], plan["purge"],
        "run did something else than plan said"
    );
    assert_eq!(run["kept"], plan["kept"]);
    let planned_files: u64 = plan["purge"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["files"].as_u64().unwrap())
        .sum();
    assert!(run["files_deleted"].as_u64().unwrap() >= planned_files);

    // What is left: on disk, to aitrail sql, to DuckDB.
    assert_eq!(partitions_on_disk(&store), kept.keys().cloned().collect());
    for (table, tier, date) in purged.keys() {
        assert!(
            !store
                .join(table)
                .join(format!("tier={tier}"))
                .join(format!("date={date}"))
                .exists(),
            "{table} {tier} {date} was purged but its directory is left"
        );
    }
    assert_eq!(partition_rows(&store), kept);
    let duckdb = python_reader("duckdb_partitions.py", &[store.to_str().unwrap()]);
    for table in TABLES {
        let seen: BTreeMap<_, _> = duckdb[table]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let key = (
                    table.to_string(),
                    r[0].as_str().unwrap().to_string(),
                    r[1].as_str().unwrap().to_string(),
                );
                (key, r[2].as_u64().unwrap())
            })
            .collect();
        let expected: BTreeMap<_, _> = kept
            .iter()
            .filter(|((t, _, _), _)| t == table)
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        assert_eq!(seen, expected, "DuckDB reads {table} differently");
    }

    // retention_log: one row per purged partition, to aitrail sql and to deltalake.
    let logged = sql(
        &store,
        "SELECT table_name, tier, CAST(date AS VARCHAR) AS date, rows, files, run_id, \
         policy_sha256, CAST(as_of AS VARCHAR) AS as_of FROM retention_log \
         ORDER BY table_name, tier, date",
    );
    let logged_rows: BTreeMap<_, _> = logged
        .iter()
        .map(|r| {
            let key = (
                r["table_name"].as_str().unwrap().to_string(),
                r["tier"].as_str().unwrap().to_string(),
                r["date"].as_str().unwrap().to_string(),
            );
            (key, r["rows"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(logged.len(), purged.len());
    assert_eq!(logged_rows, purged);
    let sha = plan["policy_sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);
    let planned_files: BTreeMap<_, _> = keys(&plan["purge"])
        .into_iter()
        .zip(
            plan["purge"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| &p["files"]),
        )
        .collect();
    for row in &logged {
        assert_eq!(row["run_id"], 1);
        assert_eq!(row["policy_sha256"], sha);
        assert_eq!(row["as_of"], now);
        let key = (
            row["table_name"].as_str().unwrap().to_string(),
            row["tier"].as_str().unwrap().to_string(),
            row["date"].as_str().unwrap().to_string(),
        );
        assert_eq!(&row["files"], planned_files[&key]);
    }
    let by_deltalake: Vec<(String, String, String, u64)> = duckdb["retention_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
                r[2].as_str().unwrap().to_string(),
                r[3].as_u64().unwrap(),
            )
        })
        .collect();
    let expected_log: Vec<_> = purged
        .iter()
        .map(|((t, r, d), n)| (t.clone(), r.clone(), d.clone(), *n))
        .collect();
    assert_eq!(by_deltalake, expected_log);

    // Idempotent: nothing more to purge, nothing more logged.
    let again = retention("run", &store, &policy_file, now);
    assert_eq!(again["purge"], Value::Array(vec![]));
    assert_eq!(again["unfinished"], Value::Array(vec![]));
    assert_eq!(again["files_deleted"], 0);
    let count = sql(&store, "SELECT count(*) AS n FROM retention_log");
    assert_eq!(count[0]["n"], purged.len());
    assert_eq!(partition_rows(&store), kept);
}

#[test]
fn load_rejects_an_event_already_past_its_tier_retention() {
    let dir = tempfile::tempdir().unwrap();
    let policy_file = dir.path().join("retention.toml");
    std::fs::write(&policy_file, policy(3000, 30, "")).unwrap();
    let old = r#"{"schema_version":1,"event_id":"old-1","event_type":"ai_usage","occurred_at":"2020-01-05T10:00:00Z","org_id":"acme","user_id":"u","tool":"t","model":"m","input_tokens":1,"output_tokens":1}"#;
    let regulated = old
        .replace("old-1", "old-2")
        .replace(r#""model":"m""#, r#""model":"m","data_class":"restricted""#);
    let input = format!("{old}\n{regulated}\n");
    let out = aitrail(
        &[
            "load",
            "--store",
            dir.path().join("store").to_str().unwrap(),
            "--policy",
            policy_file.to_str().unwrap(),
        ],
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rejects: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0]["reason"], "expired");
    assert_eq!(rejects[0]["source"]["line"], 1);
    let detail = rejects[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("`standard`") && detail.contains("30 days"),
        "{detail}"
    );
}

/// The files the Delta log of `table` lists, as the `deltalake` package reads it.
fn active_files(store: &Path, table: &str) -> usize {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys; from deltalake import DeltaTable; print(len(DeltaTable(sys.argv[1]).file_uris()))",
            store.join(table).to_str().unwrap(),
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn compaction_merges_files_and_changes_no_query_result() {
    let dir = tempfile::tempdir().unwrap();
    // Small commits: each partition gets several files.
    let store = load_store(dir.path(), "30", "20", "2025-03-01", "300");
    let summary = "SELECT tier, CAST(date AS VARCHAR) AS date, count(*) AS n, \
        sum(input_tokens) AS input, sum(output_tokens) AS output, \
        count(DISTINCT event_id) AS ids FROM ai_usage GROUP BY 1, 2 ORDER BY 1, 2";
    let before = sql(&store, summary);
    let changes_before = sql(
        &store,
        "SELECT count(*) AS n, sum(lines_added) AS l FROM code_changes",
    );
    let files_before = active_files(&store, "ai_usage");
    let partitions = before.len();
    assert!(
        files_before > 2 * partitions,
        "{files_before} files for {partitions} partitions: nothing to compact"
    );

    let out = aitrail(&["compact", "--store", store.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.contains("compacted"), "{printed}");

    assert_eq!(sql(&store, summary), before);
    assert_eq!(
        sql(
            &store,
            "SELECT count(*) AS n, sum(lines_added) AS l FROM code_changes"
        ),
        changes_before
    );
    assert_eq!(active_files(&store, "ai_usage"), partitions);

    let again = aitrail(&["compact", "--store", store.to_str().unwrap()], b"");
    let printed = String::from_utf8(again.stdout).unwrap();
    assert!(printed.contains("compacted 0 partitions"), "{printed}");
}

/// Runs `aitrail <command> --config …` on a store with expired partitions
/// and a schedule firing every second, with `extra` added to the
/// configuration; checks that it purges all of them, logs the job, and
/// stops with exit code 0 on SIGTERM.
fn purges_on_its_schedule_and_stops_on_sigterm(command: &[&str], extra: &str) {
    let dir = tempfile::tempdir().unwrap();
    let store = load_store(dir.path(), "10", "10", "2024-01-01", "500000");
    let before = partition_rows(&store);
    assert!(!before.is_empty());
    let config = dir.path().join("aitrail.toml");
    let retention_section = policy(30, 30, "")
        .replace("[[tiers]]", "[[retention.tiers]]")
        .replace("[[rules]]", "[[retention.rules]]");
    std::fs::write(
        &config,
        format!(
            "[store]\nroot = \"{}\"\n{extra}\n[retention]\nschedule = \"* * * * * *\"\n{retention_section}",
            store.display()
        ),
    )
    .unwrap();
    let service = Command::new(env!("CARGO_BIN_EXE_aitrail"))
        .args(command)
        .args(["--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(120);
    let logged = loop {
        let n = sql(&store, "SELECT count(*) AS n FROM retention_log")[0]["n"]
            .as_u64()
            .unwrap();
        if n > 0 || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let stopped = Command::new("kill")
        .args(["-TERM", &service.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let out = service.wait_with_output().unwrap();
    assert_eq!(logged as usize, before.len(), "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("lifecycle job done"),
        "{}",
        stderr(&out)
    );
    assert!(partition_rows(&store).is_empty());
}

#[test]
fn the_daemon_purges_on_its_schedule_and_stops_on_sigterm() {
    purges_on_its_schedule_and_stops_on_sigterm(&["retention", "daemon"], "");
}

#[test]
fn serve_purges_on_its_schedule_and_stops_on_sigterm() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[[server.tokens]]\nname = \"audit\"\n\
         role = \"compliance\"\nsha256 = \"{}\"\n",
        "ab".repeat(32)
    );
    purges_on_its_schedule_and_stops_on_sigterm(&["serve"], &server);
}

#[test]
fn a_schedule_that_is_not_cron_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("aitrail.toml");
    let server = format!(
        "[server]\n[[server.tokens]]\nname = \"audit\"\nrole = \"compliance\"\nsha256 = \"{}\"\n",
        "ab".repeat(32)
    );
    std::fs::write(
        &config,
        format!("{server}[retention]\nschedule = \"nightly\"\n"),
    )
    .unwrap();
    for command in [&["retention", "daemon"][..], &["serve"]] {
        let mut args = command.to_vec();
        args.extend(["--config", config.to_str().unwrap()]);
        let out = aitrail(&args, b"");
        assert_eq!(out.status.code(), Some(2), "{command:?}");
        assert!(
            stderr(&out).contains("retention.schedule"),
            "{command:?}: {}",
            stderr(&out)
        );
    }
}
