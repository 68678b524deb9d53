//! The dashboard at `GET /`: its page and files as HTTP serves them,
//! `GET /v1/whoami` that signs it in, and the page itself in a browser
//! (headless Chromium driven by `tests/readers/dashboard.py`), which must
//! draw every chart from the reports a leadership token may read.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod common;
use common::{aitrail, python_reader, stderr};

const GOLDEN: &[u8] = include_bytes!("data/golden.jsonl");
const COMPLIANCE: &str = "compliance-token-1";
const LEADERSHIP: &str = "leadership-token-1";
/// The list prices the generator's gateways charge, so that every model's
/// tokens have a cost.
const PRICES: &[(&str, f64, f64)] = &[
    ("claude-opus-4-1", 15.0, 75.0),
    ("claude-sonnet-4-5", 3.0, 15.0),
    ("claude-haiku-4-5", 1.0, 5.0),
    ("gpt-5", 1.25, 10.0),
    ("gpt-5-codex", 1.25, 10.0),
    ("gpt-5-mini", 0.25, 2.0),
    ("gpt-4.1", 2.0, 8.0),
    ("gemini-2.5-pro", 1.25, 10.0),
];
/// The charts of the page, by the id of their container.
const CHARTS: [&str; 4] = [
    "adoption-by-tool",
    "adoption-by-team",
    "spend-by-team",
    "spend-by-model",
];

/// A process stopped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A dashboard to point a browser at: its URL and a token to sign in with,
/// served until dropped.
struct Dashboard {
    _service: Running,
    url: String,
    token: String,
}

/// A dashboard over a synthetic organization of 200 people and 120 days,
/// with a leadership token (k-anonymity 5, the default).
fn leadership_dashboard(dir: &Path) -> Dashboard {
    let store = dir.join("store");
    generate(&store, 200, 120);
    let (service, port) = serve(dir, &store);
    Dashboard {
        _service: service,
        url: format!("http://127.0.0.1:{port}/"),
        token: LEADERSHIP.to_string(),
    }
}

/// `aitrail gen --users N --days D | aitrail load --store DIR`.
fn generate(store: &Path, users: u32, days: u32) {
    let mut generator = Command::new(env!("CARGO_BIN_EXE_aitrail"))
        .args([
            "gen",
            "--users",
            &users.to_string(),
            "--days",
            &days.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("aitrail gen starts");
    let events = generator.stdout.take().expect("stdout is piped");
    let load = Command::new(env!("CARGO_BIN_EXE_aitrail"))
        .args(["load", "--store", store.to_str().unwrap()])
        .stdin(events)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("aitrail load runs");
    assert!(generator.wait().unwrap().success());
    assert_eq!(load.status.code(), Some(0), "{}", stderr(&load));
}

/// Starts `aitrail serve` over `store` with a compliance token (`audit`),
/// a leadership token (`board`) and [`PRICES`]; returns once it answers.
fn serve(dir: &Path, store: &Path) -> (Running, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sha256 = |token: &str| hex::encode(Sha256::digest(token.as_bytes()));
    let mut config = format!(
        "[store]\nroot = \"{}\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [[server.tokens]]\nname = \"audit\"\nrole = \"compliance\"\nsha256 = \"{}\"\n\n\
         [[server.tokens]]\nname = \"board\"\nrole = \"leadership\"\nsha256 = \"{}\"\n",
        store.display(),
        sha256(COMPLIANCE),
        sha256(LEADERSHIP),
    );
    for (model, input, output) in PRICES {
        config.push_str(&format!(
            "\n[[prices]]\nmodel = \"{model}\"\nvalid_from = \"2020-01-01\"\ninput = {input}\n\
             output = {output}\ncache_read = {}\ncache_write = {}\n",
            input * 0.1,
            input * 1.25,
        ));
    }
    let path = dir.join("aitrail.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aitrail"))
        .args(["serve", "--config", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("aitrail serve starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if request(port, "GET", "/healthz", &[]).is_ok_and(|reply| reply.status == 200) {
            return (Running(child), port);
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("aitrail serve exited: {status}");
        }
        assert!(Instant::now() < deadline, "aitrail serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A service over the hand-built dataset, for the HTTP tests.
fn golden_service(dir: &Path) -> (Running, u16) {
    let store = dir.join("store");
    let out = aitrail(&["load", "--store", store.to_str().unwrap()], GOLDEN);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serve(dir, &store)
}

/// A response: status, headers, body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    /// The header `name`, or "" when absent.
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }
}

/// One HTTP/1.1 request with `headers` (and a JSON body for POST).
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Reply> {
    request_with_body(port, method, path, headers, "")
}

fn request_with_body(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[test]
fn the_page_and_its_files_are_served_with_their_types_and_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (_service, port) = golden_service(dir.path());
    let page = request(port, "GET", "/", &[]).unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(page.header("cache-control"), "no-cache");
    let policy = page.header("content-security-policy");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    let html = page.text();
    let expected = [
        ("dashboard.js", "text/javascript; charset=utf-8"),
        ("dashboard.css", "text/css; charset=utf-8"),
        ("chart.umd.min.js", "text/javascript; charset=utf-8"),
        ("chart.js-LICENSE.md", "text/plain; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ];
    for (name, content_type) in expected {
        let link = html
            .split('"')
            .find(|part| part.starts_with(&format!("/assets/{name}?v=")))
            .unwrap_or_else(|| panic!("the page links {name}: {html}"));
        let bare = format!("/assets/{name}");
        for path in [link, bare.as_str()] {
            let file = request(port, "GET", path, &[]).unwrap();
            assert_eq!(file.status, 200, "{path}");
            assert_eq!(file.header("content-type"), content_type, "{path}");
            assert!(file.body.len() > 100, "{path}");
            assert_eq!(file.header("content-security-policy"), policy);
        }
        let pinned = request(port, "GET", link, &[]).unwrap();
        assert_eq!(
            pinned.header("cache-control"),
            "public, max-age=31536000, immutable"
        );
        let etag = pinned.header("etag").to_string();
        let unchanged = request(port, "GET", link, &[("If-None-Match", etag.as_str())]).unwrap();
        assert_eq!(unchanged.status, 304, "{link}");
        assert!(unchanged.body.is_empty());
        let unpinned = request(port, "GET", &format!("/assets/{name}?v=old"), &[]).unwrap();
        assert_eq!(unpinned.header("cache-control"), "no-cache");
    }
    let chart = request(port, "GET", "/assets/chart.umd.min.js", &[]).unwrap();
    assert!(chart.text().starts_with("/*!\n * Chart.js v4."));
    assert_eq!(
        request(port, "GET", "/assets/secrets.json", &[])
            .unwrap()
            .status,
        404
    );
    assert_eq!(request(port, "GET", "/assets/", &[]).unwrap().status, 404);
}

#[test]
fn whoami_names_each_token_and_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let (_service, port) = golden_service(dir.path());
    let whoami = |token: Option<&str>| {
        let auth = token.map(bearer);
        let headers: Vec<(&str, &str)> = auth
            .iter()
            .map(|value| ("Authorization", value.as_str()))
            .collect();
        request(port, "GET", "/v1/whoami", &headers).unwrap()
    };
    let compliance = whoami(Some(COMPLIANCE));
    assert_eq!(compliance.status, 200);
    assert_eq!(compliance.header("content-type"), "application/json");
    assert_eq!(
        compliance.json(),
        json!({"name": "audit", "role": "compliance"})
    );
    let leadership = whoami(Some(LEADERSHIP));
    assert_eq!(
        leadership.json(),
        json!({"name": "board", "role": "leadership"})
    );
    for token in [None, Some("wrong")] {
        let refused = whoami(token);
        assert_eq!(refused.status, 401, "{token:?}");
        assert_eq!(refused.json()["error"], "unauthorized");
    }
    let auth = bearer(LEADERSHIP);
    let post = request(
        port,
        "POST",
        "/v1/whoami",
        &[("Authorization", auth.as_str())],
    )
    .unwrap();
    assert_eq!(post.status, 405);
    let compliance_auth = bearer(COMPLIANCE);
    let query = json!({"sql": "SELECT token, role, endpoint, status, error, rows FROM access_log \
                               WHERE endpoint LIKE '% /v1/whoami' ORDER BY time"})
    .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    let logged = loop {
        let reply = request_with_body(
            port,
            "POST",
            "/v1/sql",
            &[("Authorization", compliance_auth.as_str())],
            &query,
        )
        .unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
        let rows = reply.json();
        if rows.as_array().unwrap().len() >= 5 {
            break rows;
        }
        assert!(Instant::now() < deadline, "still {rows}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        logged,
        json!([
            {"token": "audit", "role": "compliance", "endpoint": "GET /v1/whoami",
             "status": 200, "error": null, "rows": 1},
            {"token": "board", "role": "leadership", "endpoint": "GET /v1/whoami",
             "status": 200, "error": null, "rows": 1},
            {"token": null, "role": null, "endpoint": "GET /v1/whoami",
             "status": 401, "error": "unauthorized", "rows": null},
            {"token": null, "role": null, "endpoint": "GET /v1/whoami",
             "status": 401, "error": "unauthorized", "rows": null},
            {"token": "board", "role": "leadership", "endpoint": "POST /v1/whoami",
             "status": 405, "error": "method_not_allowed", "rows": null},
        ])
    );
}

#[test]
fn a_leadership_token_sees_every_chart_drawn_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let dashboard = leadership_dashboard(dir.path());
    let screenshot: PathBuf =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-leadership.png");
    let _ = std::fs::remove_file(&screenshot);
    let seen = python_reader(
        "dashboard.py",
        &[
            &dashboard.url,
            &dashboard.token,
            screenshot.to_str().unwrap(),
        ],
    );
    assert_eq!(seen["signed_in_as"], "board (leadership)", "{seen}");
    assert!(
        seen["wrong_token_error"].as_str().unwrap().contains("401"),
        "{seen}"
    );
    for chart in CHARTS {
        let points = seen["charts"][chart].as_u64().unwrap_or(0);
        assert!(points > 0, "{chart} drew nothing: {seen}");
    }
    assert!(seen["incident_rows"].as_u64().unwrap() > 0, "{seen}");
    assert_eq!(seen["token_kept_in_session"], true);
    assert_eq!(seen["token_forgotten_on_sign_out"], true);
    assert_eq!(seen["console_errors"], json!([]), "{seen}");
    let png = std::fs::read(&screenshot).expect("the screenshot is saved");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    assert!(png.len() > 50_000, "{} bytes: an empty page?", png.len());
    eprintln!("screenshot: {} ({seen})", screenshot.display());
}
