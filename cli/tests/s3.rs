//! The store on S3: `load`, `sql`, `retention`, `compact` and `verify` against a real
//! S3-compatible server on loopback (moto's, which honours conditional puts
//! as AWS S3 does), configured only through the usual `AWS_*` variables.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

/// A moto S3 server on a free loopback port, stopped when dropped.
struct S3Server {
    child: Child,
    endpoint: String,
}

impl S3Server {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs moto (scripts/test installs moto[server])");
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// Runs a Python snippet with boto3 pointed at the server; `sys.argv[1]`
    /// is the endpoint.
    fn boto3(&self, script: &str) -> String {
        let out = Command::new("python3")
            .args(["-c", script, &self.endpoint])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CLIENT: &str = "import sys, boto3\n\
s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test', \
aws_secret_access_key='test', region_name='us-east-1')\n";

fn aitrail(server: &S3Server, args: &[&str], stdin: &[u8]) -> Output {
    aitrail_with(server, &[], args, stdin)
}

/// [`aitrail`] with more environment variables.
fn aitrail_with(server: &S3Server, env: &[(&str, &Path)], args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aitrail"))
        .args(args)
        .envs(server.env())
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&stdin));
    let out = child.wait_with_output().unwrap();
    // A command that failed may not have read all its input; its status and
    // stderr say why.
    let _ = writer.join().unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "aitrail {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn sql(server: &S3Server, store: &str, query: &str) -> Vec<Value> {
    let out = aitrail(
        server,
        &["sql", "--store", store, "--format", "json", query],
        b"",
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const POLICY: &str = r#"
default_tier = "standard"

[[tiers]]
name = "regulated"
keep_days = 3000

[[tiers]]
name = "standard"
keep_days = 30

[[rules]]
tier = "regulated"
team = ["payments"]
"#;

#[test]
fn load_sql_retention_and_compact_work_on_s3() {
    let server = S3Server::start();
    server.boto3(&format!("{CLIENT}s3.create_bucket(Bucket='aitrail')"));
    let store = "s3://aitrail/audit";
    let dir = tempfile::tempdir().unwrap();
    let keep_all = dir.path().join("keep-all.toml");
    std::fs::write(
        &keep_all,
        POLICY.replace("keep_days = 30\n", "keep_days = 3000\n"),
    )
    .unwrap();
    let policy = dir.path().join("retention.toml");
    std::fs::write(&policy, POLICY).unwrap();

    let events = aitrail(
        &server,
        &[
            "gen",
            "--users",
            "24",
            "--days",
            "40",
            "--start",
            "2025-01-01",
            "--seed",
            "3",
        ],
        b"",
    );
    let loaded = aitrail(
        &server,
        &[
            "load",
            "--store",
            store,
            "--policy",
            keep_all.to_str().unwrap(),
            "--batch-rows",
            "2000",
        ],
        &events.stdout,
    );
    assert_eq!(loaded.status.code(), Some(0));
    let per_tier = "SELECT tier, count(*) AS n, CAST(min(date) AS VARCHAR) AS first \
        FROM ai_usage GROUP BY 1 ORDER BY 1";
    let before = sql(&server, store, per_tier);
    assert_eq!(before.len(), 2, "{before:?}");

    // standard keeps 30 days: on 2025-02-15 dates before 2025-01-16 expire.
    let run = aitrail(
        &server,
        &[
            "retention",
            "run",
            "--store",
            store,
            "--policy",
            policy.to_str().unwrap(),
            "--now",
            "2025-02-15",
            "--format",
            "json",
        ],
        b"",
    );
    let run: Value = serde_json::from_slice(&run.stdout).unwrap();
    let purged = run["purge"].as_array().unwrap();
    assert!(!purged.is_empty());
    assert!(
        purged
            .iter()
            .all(|p| p["tier"] == "standard" && p["date"].as_str().unwrap() < "2025-01-16")
    );
    let after = sql(&server, store, per_tier);
    assert_eq!(after[0], before[0], "regulated was touched");
    assert_eq!(after[1]["first"], "2025-01-16");
    let logged = sql(&server, store, "SELECT count(*) AS n FROM retention_log");
    assert_eq!(logged[0]["n"], purged.len());

    let keys = server.boto3(&format!(
        "{CLIENT}for page in s3.get_paginator('list_objects_v2').paginate(Bucket='aitrail'):\n    \
         for o in page.get('Contents', []): print(o['Key'])"
    ));
    for p in purged {
        let prefix = format!(
            "audit/{}/tier={}/date={}/",
            p["table"].as_str().unwrap(),
            p["tier"].as_str().unwrap(),
            p["date"].as_str().unwrap()
        );
        assert!(
            !keys.lines().any(|k| k.starts_with(&prefix)),
            "{prefix} still holds objects"
        );
    }
    assert!(
        keys.lines()
            .any(|k| k.starts_with("audit/ai_usage/tier=standard/date=2025-01-16/"))
    );

    let totals = "SELECT tier, CAST(date AS VARCHAR) AS date, count(*) AS n, \
        sum(input_tokens) AS input FROM ai_usage GROUP BY 1, 2 ORDER BY 1, 2";
    let uncompacted = sql(&server, store, totals);
    let compacted = aitrail(
        &server,
        &["compact", "--store", store, "--now", "2025-02-15"],
        b"",
    );
    let printed = String::from_utf8(compacted.stdout).unwrap();
    assert!(!printed.contains("compacted 0 partitions"), "{printed}");
    assert_eq!(sql(&server, store, totals), uncompacted);
}

/// `aitrail verify` of an S3 store: its exit code and its lines.
fn verify(server: &S3Server, store: &str, public: &Path) -> (Option<i32>, String) {
    let out = aitrail(
        server,
        &[
            "verify",
            "--store",
            store,
            "--public-key",
            public.to_str().unwrap(),
        ],
        b"",
    );
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Two signing writers racing on one S3 store: no commit lost, each
/// version's digest chained to the one before, and `aitrail verify` finds
/// the store intact — then finds a data object rewritten and a digest
/// deleted behind its back.
#[test]
fn concurrent_signed_loads_to_one_s3_store_lose_no_commit_and_verify() {
    let server = S3Server::start();
    server.boto3(&format!("{CLIENT}s3.create_bucket(Bucket='aitrail')"));
    let store = "s3://aitrail/shared";
    let keys = tempfile::tempdir().unwrap();
    let made = aitrail(
        &server,
        &["keygen", "--out", keys.path().to_str().unwrap()],
        b"",
    );
    assert_eq!(made.status.code(), Some(0));
    let private = keys.path().join("signing.key");
    let signing = [("AITRAIL_SIGNING_KEY_FILE", private.as_path())];
    let events = aitrail(
        &server,
        &["gen", "--users", "24", "--days", "20", "--seed", "5"],
        b"",
    );
    let lines: Vec<&[u8]> = events
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    // The first writer creates the tables; two writers racing to create a
    // table are not what this is about.
    let (first, rest) = lines.split_at(100);
    let first: Vec<u8> = first.iter().flat_map(|l| [*l, b"\n"].concat()).collect();
    let created = aitrail_with(&server, &signing, &["load", "--store", store], &first);
    assert_eq!(created.status.code(), Some(0));
    let half = |parity: usize| -> Vec<u8> {
        rest.iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == parity)
            .flat_map(|(_, l)| [*l, b"\n"].concat())
            .collect()
    };
    let halves = [half(0), half(1)];
    std::thread::scope(|scope| {
        let loads: Vec<_> = halves
            .iter()
            .map(|input| {
                let server = &server;
                let signing = &signing;
                scope.spawn(move || {
                    aitrail_with(
                        server,
                        signing,
                        &["load", "--store", store, "--batch-rows", "400"],
                        input,
                    )
                })
            })
            .collect();
        for load in loads {
            let out = load.join().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
    let stored = sql(&server, store, common::STORED_EVENTS);
    assert_eq!(stored[0]["n"], lines.len());

    let public = keys.path().join("signing.pub");
    let (code, text) = verify(&server, store, &public);
    assert_eq!(code, Some(0), "{text}");

    // A data file a later version added: version 1's files lose their
    // digest below, and are then named as unsigned, not as edited.
    let listed = server.boto3(&format!(
        "{CLIENT}import json\n\
         first = json.load(s3.get_object(Bucket='aitrail', \
         Key='shared/_digests/ai_usage/00000000000000000001.json')['Body'])\n\
         signed = {{f['path'] for f in first['body']['added']}}\n\
         for o in s3.list_objects_v2(Bucket='aitrail', Prefix='shared/ai_usage/tier=')\
         ['Contents']:\n    \
         if o['Key'].removeprefix('shared/ai_usage/') not in signed: print(o['Key'])"
    ));
    let data = listed
        .lines()
        .next()
        .expect("ai_usage has data files after version 1");
    server.boto3(&format!(
        "{CLIENT}key = {data:?}\n\
         body = bytearray(s3.get_object(Bucket='aitrail', Key=key)['Body'].read())\n\
         body[4] ^= 1\n\
         s3.put_object(Bucket='aitrail', Key=key, Body=bytes(body))"
    ));
    server.boto3(&format!(
        "{CLIENT}s3.delete_object(Bucket='aitrail', \
         Key='shared/_digests/ai_usage/00000000000000000001.json')"
    ));
    let (code, text) = verify(&server, store, &public);
    assert_eq!(code, Some(1), "{text}");
    let file = data.strip_prefix("shared/ai_usage/").unwrap();
    assert!(
        text.lines().any(|line| line.starts_with("ai_usage ")
            && line.contains(file)
            && line.contains("bytes differ")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|line| line.starts_with("ai_usage version 1:") && line.contains("no digest")),
        "{text}"
    );
}
