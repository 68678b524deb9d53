//! `aitrail serve` as a client sees it: the real binary on a free port, a
//! temporary store and configuration, and plain HTTP/1.1 requests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::golden::{GOLDEN, load_for_a_century};
use common::http::{Reply, bearer, request};
use common::serve::Serve;
use common::{aitrail, sql};

const COMPLIANCE: &str = "compliance-token-1";
const LEADERSHIP: &str = "leadership-token-1";

/// A running `aitrail serve` over a store under `dir`, stopped when dropped.
struct Server {
    serve: Serve,
    dir: PathBuf,
}

impl Server {
    /// Starts a server over a store holding the hand-built dataset, with
    /// `server` lines added to `[server]`.
    fn start(dir: &Path, server: &str) -> Server {
        let store = dir.join("store");
        if !store.exists() {
            load_for_a_century(&store, GOLDEN);
        }
        let tokens = [
            ("audit", "compliance", COMPLIANCE),
            ("cto", "leadership", LEADERSHIP),
        ];
        Server {
            serve: Serve::start(dir, &store, server, &tokens),
            dir: dir.to_path_buf(),
        }
    }

    fn try_request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        accept: Option<&str>,
        body: Option<&str>,
    ) -> std::io::Result<Reply> {
        let auth = token.map(bearer);
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth));
        }
        if let Some(accept) = accept {
            headers.push(("Accept", accept));
        }
        request(self.serve.address, method, path, &headers, body)
    }

    fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.try_request("GET", path, token, None, None).unwrap()
    }

    fn sql(&self, token: Option<&str>, sql: &str) -> Reply {
        let body = json!({ "sql": sql }).to_string();
        self.try_request("POST", "/v1/sql", token, None, Some(&body))
            .unwrap()
    }

    /// Polls `sql` until `done` holds for its rows.
    fn poll_sql(&self, sql: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let reply = self.sql(Some(COMPLIANCE), sql);
            assert_eq!(
                reply.status,
                200,
                "{}",
                String::from_utf8_lossy(&reply.body)
            );
            let rows = reply.json().as_array().unwrap().clone();
            if done(&rows) {
                return rows;
            }
            assert!(Instant::now() < deadline, "{sql}: still {rows:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.serve.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.serve.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "aitrail serve did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

const RANGE: &str = "from=2025-03-03&to=2025-03-17";

#[test]
fn every_endpoint_answers_each_token_as_its_role_allows() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "k_anonymity = 1");
    let reports = [
        format!("/v1/reports/adoption?{RANGE}"),
        format!("/v1/reports/token-spend?{RANGE}"),
        format!("/v1/reports/incidents?{RANGE}"),
    ];
    // (what, no token, a wrong token, leadership, compliance)
    let open = [200, 200, 200, 200];
    for path in ["/healthz", "/readyz", "/metrics"] {
        for (token, status) in [None, Some("wrong"), Some(LEADERSHIP), Some(COMPLIANCE)]
            .into_iter()
            .zip(open)
        {
            assert_eq!(server.get(path, token).status, status, "{path} {token:?}");
        }
    }
    for (token, status) in [None, Some("wrong"), Some(LEADERSHIP), Some(COMPLIANCE)]
        .into_iter()
        .zip([401, 401, 403, 200])
    {
        let reply = server.sql(token, "SELECT count(*) AS n FROM ai_usage");
        assert_eq!(reply.status, status, "/v1/sql {token:?}");
        if status != 200 {
            let body = reply.json();
            let code = if status == 401 {
                "unauthorized"
            } else {
                "forbidden"
            };
            assert_eq!(body["error"], code);
            assert!(body["detail"].as_str().unwrap().len() > 10);
        } else {
            assert_eq!(reply.json(), json!([{"n": 6}]));
        }
    }
    for path in &reports {
        for (token, status) in [None, Some("wrong"), Some(LEADERSHIP), Some(COMPLIANCE)]
            .into_iter()
            .zip([401, 401, 200, 200])
        {
            let reply = server.get(path, token);
            assert_eq!(reply.status, status, "{path} {token:?}");
            assert_eq!(reply.header("content-type"), "application/json");
        }
    }
    let unknown = server.get("/v1/reports/salaries", Some(COMPLIANCE));
    assert_eq!(unknown.status, 404);
    let wrong_method = server.get("/v1/sql", Some(COMPLIANCE));
    assert_eq!(wrong_method.status, 405);
    let metrics = String::from_utf8(server.get("/metrics", None).body).unwrap();
    assert!(
        metrics.contains("aitrail_query_requests_total{endpoint=\"/v1/sql\",status=\"401\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("aitrail_query_request_seconds_bucket"));
    let sums_bytes: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("aitrail_query_report_sums_bytes "))
        .expect("the report sums gauge")
        .parse()
        .unwrap();
    assert!(sums_bytes > 0, "the reports' sums are kept: {metrics}");
}

#[test]
fn leadership_sees_k_anonymous_aggregates_and_never_users() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "k_anonymity = 2");
    let adoption = format!("/v1/reports/adoption?{RANGE}&bucket=week");
    // Compliance sees both weeks; the second has one user, which k = 2
    // hides from leadership.
    let all = server.get(&adoption, Some(COMPLIANCE)).json();
    let weeks = |v: &Value| -> Vec<Value> {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["bucket_start"].clone())
            .collect()
    };
    assert_eq!(weeks(&all), [json!("2025-03-03"), json!("2025-03-10")]);
    let seen = server.get(&adoption, Some(LEADERSHIP)).json();
    assert_eq!(weeks(&seen), [json!("2025-03-03")]);
    assert_eq!(seen["rows"][0]["active_users"], 3);
    // Token spend by model: only m-unpriced in the first week has two users.
    let spend = format!("/v1/reports/token-spend?{RANGE}&by=model");
    let groups = |v: &Value| -> Vec<Value> {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["group"].clone())
            .collect()
    };
    assert_eq!(
        groups(&server.get(&spend, Some(COMPLIANCE)).json()).len(),
        3
    );
    assert_eq!(
        groups(&server.get(&spend, Some(LEADERSHIP)).json()),
        [json!("m-unpriced")]
    );
    // Incidents: INC-1 involves u1, u2, u3, u4; INC-2 only u2.
    let incidents = server
        .get(&format!("/v1/reports/incidents?{RANGE}"), Some(LEADERSHIP))
        .json();
    assert_eq!(incidents["rows"].as_array().unwrap().len(), 1);
    assert_eq!(incidents["rows"][0]["incident_id"], "INC-1");
    // Per user: compliance only.
    let by_user = format!("/v1/reports/adoption?{RANGE}&by=user");
    let refused = server.get(&by_user, Some(LEADERSHIP));
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json()["error"], "forbidden");
    let users = server.get(&by_user, Some(COMPLIANCE)).json();
    assert_eq!(groups(&users)[..3], [json!("u1"), json!("u2"), json!("u3")]);
}

#[test]
fn report_parameters_are_validated_and_never_spliced() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "k_anonymity = 1");
    let attempts = [
        (
            "adoption",
            "from=2025-03-01%27%20OR%20%271%27%3D%271",
            "from",
        ),
        (
            "adoption",
            "by=tool%29%20UNION%20SELECT%20user_id%20FROM%20ai_usage--",
            "by",
        ),
        (
            "token-spend",
            "bucket=week%27%29%3B%20DROP%20TABLE%20ai_usage%3B--",
            "bucket",
        ),
        ("token-spend", "to=2025-13-01", "to"),
        (
            "incidents",
            "lookback_hours=72%3B%20SELECT%201",
            "lookback_hours",
        ),
        ("incidents", "sql=SELECT%201", "sql"),
        ("adoption", "from=2025-03-10&to=2025-03-01", "from"),
    ];
    for (report, query, param) in attempts {
        for token in [LEADERSHIP, COMPLIANCE] {
            let reply = server.get(&format!("/v1/reports/{report}?{query}"), Some(token));
            assert_eq!(reply.status, 400, "{report}?{query}");
            let body = reply.json();
            assert_eq!(body["error"], "invalid_parameter");
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("`{param}`")),
                "{body}"
            );
        }
    }
    let still = server.sql(Some(COMPLIANCE), "SELECT count(*) AS n FROM ai_usage");
    assert_eq!(still.json(), json!([{"n": 6}]));
}

#[test]
fn sql_can_neither_write_nor_read_files() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "k_anonymity = 1");
    let outside = dir.path().join("outside.csv");
    std::fs::write(&outside, "secret\n42\n").unwrap();
    let outside = outside.to_str().unwrap();
    let parquet = std::fs::read_dir(dir.path().join("store/ai_usage/tier=standard"))
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .map(|f| f.path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let parquet = parquet.to_str().unwrap();
    let copy = dir.path().join("copy.csv");
    let copy = copy.to_str().unwrap();
    let statements = [
        format!("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '{outside}'"),
        format!("COPY (SELECT * FROM ai_usage) TO '{copy}'"),
        format!("COPY ai_usage TO '{copy}' STORED AS CSV"),
        "CREATE TABLE t AS SELECT * FROM ai_usage".to_string(),
        "CREATE VIEW v AS SELECT 1".to_string(),
        "INSERT INTO ai_usage SELECT * FROM ai_usage".to_string(),
        "DELETE FROM ai_usage".to_string(),
        "DROP TABLE ai_usage".to_string(),
        "SET datafusion.execution.memory_pool_size = '1'".to_string(),
        format!("SELECT * FROM '{outside}'"),
        format!("SELECT * FROM '{parquet}'"),
        format!("SELECT * FROM 'file://{parquet}'"),
        format!("SELECT * FROM read_parquet('{parquet}')"),
        format!("SELECT * FROM read_csv('{outside}')"),
        format!("SELECT * FROM parquet_metadata('{parquet}')"),
        "PREPARE p AS SELECT 1".to_string(),
    ];
    for statement in &statements {
        let reply = server.sql(Some(COMPLIANCE), statement);
        assert_eq!(
            reply.status,
            400,
            "{statement}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let body = reply.json();
        assert!(
            body["error"] == "read_only" || body["error"] == "invalid_query",
            "{statement}: {body}"
        );
        assert!(!String::from_utf8_lossy(&reply.body).contains("secret"));
    }
    assert!(!Path::new(copy).exists());
    let still = server.sql(Some(COMPLIANCE), "SELECT count(*) AS n FROM ai_usage");
    assert_eq!(still.json(), json!([{"n": 6}]));
}

#[test]
fn limits_are_refused_with_their_own_status() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        "k_anonymity = 1\nmax_rows = 3\nquery_timeout_s = 1\nmemory_limit_mb = 1",
    );
    let rows = server.sql(Some(COMPLIANCE), "SELECT * FROM ai_usage");
    assert_eq!(rows.status, 413);
    assert_eq!(rows.json()["error"], "row_limit");
    assert!(rows.json()["detail"].as_str().unwrap().contains("3 rows"));
    let small = server.sql(Some(COMPLIANCE), "SELECT event_id FROM ai_usage LIMIT 3");
    assert_eq!(small.status, 200);
    let slow = server.sql(
        Some(COMPLIANCE),
        "SELECT count(*) FROM generate_series(1, 100000000000)",
    );
    assert_eq!(slow.status, 504);
    assert_eq!(slow.json()["error"], "timeout");
    let big = server.sql(
        Some(COMPLIANCE),
        "SELECT count(DISTINCT value) FROM generate_series(1, 5000000)",
    );
    assert_eq!(big.status, 413, "{}", String::from_utf8_lossy(&big.body));
    assert_eq!(big.json()["error"], "memory_limit");
}

/// Regression: adoption's first uses were a window over every session,
/// whose sort counted each slice of its input batches as a whole batch, so
/// four months of 300 developers (38k sessions) tripped a 32 MiB limit
/// that the report's data fits in many times over.
#[test]
fn the_adoption_report_fits_a_small_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let generated = aitrail(
        &[
            "gen",
            "--users",
            "300",
            "--days",
            "120",
            "--seed",
            "1",
            "--start",
            "2025-01-01",
        ],
        b"",
    );
    assert!(generated.status.success());
    load_for_a_century(&dir.path().join("store"), &generated.stdout);
    let server = Server::start(dir.path(), "k_anonymity = 1\nmemory_limit_mb = 32");
    for by in ["tool", "team", "none"] {
        let reply = server.get(
            &format!("/v1/reports/adoption?from=2025-01-01&to=2025-05-01&bucket=month&by={by}"),
            Some(COMPLIANCE),
        );
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let rows = reply.json()["rows"].as_array().unwrap().clone();
        let new_users: i64 = rows
            .iter()
            .map(|row| row["new_users"].as_i64().unwrap())
            .sum();
        assert!(!rows.is_empty() && new_users > 0, "by={by}: {rows:?}");
    }
}

#[test]
fn csv_and_arrow_are_answered_by_accept() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "k_anonymity = 1");
    let body =
        json!({"sql": "SELECT event_id, input_tokens FROM ai_usage ORDER BY event_id LIMIT 2"})
            .to_string();
    let csv = server
        .try_request(
            "POST",
            "/v1/sql",
            Some(COMPLIANCE),
            Some("text/csv"),
            Some(&body),
        )
        .unwrap();
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").starts_with("text/csv"));
    assert_eq!(
        String::from_utf8(csv.body).unwrap(),
        "event_id,input_tokens\nu0,1\nu1,1000\n"
    );
    let arrow = server
        .try_request(
            "POST",
            "/v1/sql",
            Some(COMPLIANCE),
            Some("application/vnd.apache.arrow.stream"),
            Some(&body),
        )
        .unwrap();
    assert_eq!(arrow.status, 200);
    assert_eq!(
        arrow.header("content-type"),
        "application/vnd.apache.arrow.stream"
    );
    assert_eq!(
        &arrow.body[..4],
        &[0xff, 0xff, 0xff, 0xff],
        "an IPC stream begins with a continuation marker"
    );
    let report = server
        .try_request(
            "GET",
            &format!("/v1/reports/incidents?{RANGE}"),
            Some(LEADERSHIP),
            Some("text/csv"),
            None,
        )
        .unwrap();
    let report = String::from_utf8(report.body).unwrap();
    assert!(
        report.starts_with("incident_id,severity,service,started_at,changes"),
        "{report}"
    );
    let refused = server
        .try_request(
            "POST",
            "/v1/sql",
            Some(COMPLIANCE),
            Some("image/png"),
            Some(&body),
        )
        .unwrap();
    assert_eq!(refused.status, 406);
}

/// New commits reach the reports' sums: usage on a day before an
/// incident's own, inside its window, reaches the incident's tokens; a new
/// incident naming an older change as its cause makes that change failed.
/// The server's sums and the command line's, worked out for one report,
/// then give the same answer.
#[test]
fn new_commits_are_answered_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "k_anonymity = 1");
    let adoption = format!("/v1/reports/adoption?{RANGE}");
    let incidents = format!("/v1/reports/incidents?{RANGE}");
    let before = server.get(&adoption, Some(COMPLIANCE)).json();
    assert_eq!(before["rows"][1]["active_users"], 1);
    let before = server.get(&incidents, Some(COMPLIANCE)).json();
    assert_eq!(before["rows"][1]["ai_tokens"], 3000);
    assert_eq!(before["summary"]["other"]["failed"], 0);
    let more = br#"{"schema_version":1,"event_id":"u9","event_type":"ai_usage","occurred_at":"2025-03-12T10:00:00Z","org_id":"acme","user_id":"u9","team":"b","tool":"cursor","model":"m-priced","input_tokens":5,"output_tokens":5}
{"schema_version":1,"event_id":"u10","event_type":"ai_usage","occurred_at":"2025-03-10T10:00:00Z","org_id":"acme","user_id":"u2","team":"a","tool":"cursor","model":"m-priced","input_tokens":7,"output_tokens":3,"repository":"github.example.com/acme/r1"}
{"schema_version":1,"event_id":"i3","event_type":"incident","occurred_at":"2025-03-13T00:00:00Z","org_id":"acme","incident_id":"INC-3","severity":"sev4","repositories":["github.example.com/acme/r9"],"caused_by_change_id":"acme/r1#1"}"#;
    load_for_a_century(&server.dir.join("store"), more);
    let after = server.get(&adoption, Some(COMPLIANCE)).json();
    assert_eq!(after["rows"][1]["active_users"], 2);
    assert_eq!(after["rows"][1]["new_users"], 1);
    let after = server.get(&incidents, Some(COMPLIANCE)).json();
    assert_eq!(after["rows"][1]["ai_tokens"], 3010);
    assert_eq!(after["summary"]["other"]["failed"], 1);
    let count = server.sql(Some(COMPLIANCE), "SELECT count(*) AS n FROM ai_usage");
    assert_eq!(count.json(), json!([{"n": 8}]));
    let store = server.dir.join("store");
    let out = aitrail(
        &[
            "report",
            "incidents",
            "--store",
            store.to_str().unwrap(),
            "--from",
            "2025-03-03",
            "--to",
            "2025-03-17",
            "--format",
            "json",
        ],
        b"",
    );
    let one_report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(one_report["rows"], after["rows"]);
    assert_eq!(one_report["summary"], after["summary"]);
}

/// A server whose snapshot of a table predates the commit files another
/// writer's log cleanup removed (commit files older than the log retention
/// go once a newer checkpoint covers them) still answers every commit.
#[test]
fn commits_behind_a_cleaned_up_log_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "k_anonymity = 1");
    let count = "SELECT count(*) AS n FROM ai_usage";
    assert_eq!(
        server.sql(Some(COMPLIANCE), count).json(),
        json!([{"n": 6}])
    );
    let store = server.dir.join("store");
    for user in ["u8", "u9"] {
        let event = format!(
            r#"{{"schema_version":1,"event_id":"{user}","event_type":"ai_usage","occurred_at":"2025-03-12T10:00:00Z","org_id":"acme","user_id":"{user}","tool":"cursor","model":"m","input_tokens":5,"output_tokens":5}}"#
        );
        load_for_a_century(&store, event.as_bytes());
    }
    let removed = checkpoint_and_clean_log(&store.join("ai_usage"));
    assert!(
        removed >= 2,
        "the commits after the server's snapshot are gone"
    );
    assert_eq!(
        server.sql(Some(COMPLIANCE), count).json(),
        json!([{"n": 8}])
    );
}

/// Checkpoints the table at `path` and deletes every commit file before
/// the checkpoint, as log cleanup does with expired ones; returns how many
/// it deleted.
fn checkpoint_and_clean_log(path: &Path) -> usize {
    let version = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let url = deltalake::ensure_table_uri(path.to_str().unwrap()).unwrap();
        let table = deltalake::open_table(url).await.unwrap();
        deltalake::checkpoints::create_checkpoint(&table, None)
            .await
            .unwrap();
        table.version().unwrap()
    });
    let mut removed = 0;
    for entry in std::fs::read_dir(path.join("_delta_log")).unwrap() {
        let file = entry.unwrap().path();
        let name = file.file_name().unwrap().to_str().unwrap();
        let commit = name
            .strip_suffix(".json")
            .and_then(|v| v.parse::<u64>().ok());
        if commit.is_some_and(|commit| commit < version) {
            std::fs::remove_file(&file).unwrap();
            removed += 1;
        }
    }
    removed
}

#[test]
fn every_request_is_logged_refused_ones_too() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "k_anonymity = 1");
    assert_eq!(server.sql(None, "SELECT 'marker-1'").status, 401);
    assert_eq!(server.sql(Some("nope"), "SELECT 'marker-2'").status, 401);
    assert_eq!(
        server.sql(Some(LEADERSHIP), "SELECT 'marker-3'").status,
        403
    );
    assert_eq!(
        server.sql(Some(COMPLIANCE), "SELECT 'marker-4'").status,
        200
    );
    assert_eq!(
        server
            .get(
                "/v1/reports/adoption?by=user&from=2025-03-03&to=2025-03-17",
                Some(LEADERSHIP)
            )
            .status,
        403
    );
    let logged = server.poll_sql(
        "SELECT token, role, endpoint, request, status, error, rows FROM access_log \
         WHERE request LIKE '%marker-%' OR request LIKE '%\"by\":\"user\"%' ORDER BY time",
        |rows| rows.len() >= 5,
    );
    assert_eq!(
        logged[..5],
        [
            json!({"token": null, "role": null, "endpoint": "POST /v1/sql",
                   "request": "SELECT 'marker-1'", "status": 401, "error": "unauthorized", "rows": null}),
            json!({"token": null, "role": null, "endpoint": "POST /v1/sql",
                   "request": "SELECT 'marker-2'", "status": 401, "error": "unauthorized", "rows": null}),
            json!({"token": "cto", "role": "leadership", "endpoint": "POST /v1/sql",
                   "request": "SELECT 'marker-3'", "status": 403, "error": "forbidden", "rows": null}),
            json!({"token": "audit", "role": "compliance", "endpoint": "POST /v1/sql",
                   "request": "SELECT 'marker-4'", "status": 200, "error": null, "rows": 1}),
            json!({"token": "cto", "role": "leadership", "endpoint": "GET /v1/reports/adoption",
                   "request": "{\"bucket\":\"week\",\"by\":\"user\",\"from\":\"2025-03-03\",\"to\":\"2025-03-17\"}",
                   "status": 403, "error": "forbidden", "rows": null}),
        ]
    );
}

#[test]
fn sigterm_commits_the_access_log_before_exit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "k_anonymity = 1");
    assert_eq!(
        server.sql(Some(COMPLIANCE), "SELECT 'last words'").status,
        200
    );
    let store = server.dir.join("store");
    assert!(server.terminate().success());
    let rows = Value::from(sql(
        &store,
        "SELECT token, status FROM access_log WHERE request = 'SELECT ''last words'''",
    ));
    assert_eq!(rows, json!([{"token": "audit", "status": 200}]));
}
