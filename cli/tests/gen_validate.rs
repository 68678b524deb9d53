//! `aitrail gen` and `aitrail validate` as a user runs them.

use std::io::Write;

mod common;
use common::aitrail;

fn generated(seed: &str) -> Vec<u8> {
    let out = aitrail(
        &[
            "gen",
            "--users",
            "20",
            "--days",
            "10",
            "--seed",
            seed,
            "--start",
            "2026-01-05",
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn generated_events_all_validate() {
    let events = generated("5");
    assert!(events.iter().filter(|b| **b == b'\n').count() > 500);
    let out = aitrail(&["validate"], &events);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 rejected"));
}

#[test]
fn gen_is_deterministic_for_a_seed_and_start() {
    assert_eq!(generated("9"), generated("9"));
}

#[test]
fn rejected_lines_are_reported_redacted_with_exit_code_1() {
    let events = generated("5");
    let first = events.split(|b| *b == b'\n').next().unwrap();
    let mut bad: serde_json::Value = serde_json::from_slice(first).unwrap();
    bad["prompt"] = "please write my payroll code".into();
    let mut input = first.to_vec();
    input.push(b'\n');
    input.extend(serde_json::to_vec(&bad).unwrap());
    input.extend(b"\n\nnot json\n");

    let out = aitrail(&["validate"], &input);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("payroll"), "content leaked: {stdout}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["source"],
        serde_json::json!({"file": "-", "line": 2})
    );
    assert_eq!(lines[0]["reason"], "content_field");
    assert_eq!(lines[0]["event"]["prompt"], "[REDACTED]");
    assert_eq!(lines[1]["source"]["line"], 4);
    assert_eq!(lines[1]["reason"], "malformed_json");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("1 valid, 2 rejected"), "{stderr}");
}

#[test]
fn compressed_files_are_read_by_extension() {
    let events = generated("6");
    let dir = tempfile::tempdir().unwrap();
    let zst = dir.path().join("events.jsonl.zst");
    std::fs::write(&zst, zstd::encode_all(&events[..], 3).unwrap()).unwrap();
    let gz = dir.path().join("events.jsonl.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(&events).unwrap();
    std::fs::write(&gz, encoder.finish().unwrap()).unwrap();
    for file in [&zst, &gz] {
        let out = aitrail(&["validate", file.to_str().unwrap()], b"");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    let out = aitrail(&["validate", "/no/such/file.jsonl"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open /no/such/file.jsonl"));
    let out = aitrail(&["gen", "--users", "many"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--users"));
}
