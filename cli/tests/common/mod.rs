//! Running the `aitrail` binary as a user does, shared by the CLI tests.
//! Each test file uses some of these helpers, none uses all.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub mod deploy;
pub mod dev;
pub mod e2e;
pub mod golden;
pub mod http;
pub mod serve;

/// Runs `aitrail` with `args`, `stdin` as its input, and collects its output.
pub fn aitrail(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aitrail"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the aitrail binary starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_vec();
    // Written from another thread: aitrail writes output while it reads.
    let writer = std::thread::spawn(move || input.write_all(&stdin));
    let output = child.wait_with_output().expect("aitrail finishes");
    writer
        .join()
        .expect("the stdin writer does not panic")
        .expect("stdin accepts the input");
    output
}

/// What `out` wrote on stderr, for assertion messages.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The events stored in every event table, as one `n`.
pub const STORED_EVENTS: &str = "SELECT (SELECT count(*) FROM ai_usage) \
    + (SELECT count(*) FROM code_changes) + (SELECT count(*) FROM incidents) \
    + (SELECT count(*) FROM code_reviews) AS n";

/// Runs `aitrail sql --format json` over `store` and parses its rows;
/// the query must succeed.
pub fn sql(store: &Path, query: &str) -> Vec<Value> {
    let out = aitrail(
        &[
            "sql",
            "--store",
            store.to_str().unwrap(),
            "--format",
            "json",
            query,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{query}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("--format json prints a JSON array")
}

/// This crate's directory, as cargo gives it to the running test: a test
/// binary reused from a build in another checkout (a shared target
/// directory) still reads this checkout's files.
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Runs the Python reader `tests/readers/<script>` (an engine no one here
/// wrote, such as DuckDB) with `args` and parses the JSON it prints.
pub fn python_reader(script: &str, args: &[&str]) -> Value {
    let path = manifest_dir().join("tests/readers").join(script);
    let out = Command::new("python3")
        .arg(path)
        .args(args)
        .output()
        .expect("python3 runs (scripts/test installs duckdb and deltalake)");
    assert!(out.status.success(), "{script}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("the reader prints JSON")
}
