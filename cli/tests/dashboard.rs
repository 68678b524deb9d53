//! The dashboard at `GET /`: its page and files as HTTP serves them,
//! `GET /v1/whoami` that signs it in, and the page itself in a browser
//! (headless Chromium driven by `tests/readers/dashboard.py`) loaded from
//! `aitrail dev`, which must draw every chart from the reports a leadership
//! token may read.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

mod common;
use common::dev::Dev;
use common::golden::GOLDEN;
use common::http::{authorization, bearer, post_sql, request};
use common::serve::Serve;
use common::{aitrail, python_reader, stderr};

const COMPLIANCE: &str = "compliance-token-1";
const LEADERSHIP: &str = "leadership-token-1";
/// The charts of the page, by the id of their container.
const CHARTS: [&str; 4] = [
    "adoption-by-tool",
    "adoption-by-team",
    "spend-by-team",
    "spend-by-model",
];

/// Starts `aitrail serve` over `store` with a compliance token (`audit`)
/// and a leadership token (`board`); returns once it answers.
fn serve(dir: &Path, store: &Path) -> Serve {
    let tokens = [
        ("audit", "compliance", COMPLIANCE),
        ("board", "leadership", LEADERSHIP),
    ];
    Serve::start(dir, store, "", &tokens)
}

/// A service over the hand-built dataset, for the HTTP tests.
fn golden_service(dir: &Path) -> Serve {
    let store = dir.join("store");
    let out = aitrail(&["load", "--store", store.to_str().unwrap()], GOLDEN);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serve(dir, &store)
}

#[test]
fn the_page_and_its_files_are_served_with_their_types_and_policy() {
    let dir = tempfile::tempdir().unwrap();
    let service = golden_service(dir.path());
    let address = service.address;
    let page = request(address, "GET", "/", &[], None).unwrap();
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
            let file = request(address, "GET", path, &[], None).unwrap();
            assert_eq!(file.status, 200, "{path}");
            assert_eq!(file.header("content-type"), content_type, "{path}");
            assert!(file.body.len() > 100, "{path}");
            assert_eq!(file.header("content-security-policy"), policy);
        }
        let pinned = request(address, "GET", link, &[], None).unwrap();
        assert_eq!(
            pinned.header("cache-control"),
            "public, max-age=31536000, immutable"
        );
        let etag = pinned.header("etag").to_string();
        let unchanged = request(
            address,
            "GET",
            link,
            &[("If-None-Match", etag.as_str())],
            None,
        )
        .unwrap();
        assert_eq!(unchanged.status, 304, "{link}");
        assert!(unchanged.body.is_empty());
        let unpinned =
            request(address, "GET", &format!("/assets/{name}?v=old"), &[], None).unwrap();
        assert_eq!(unpinned.header("cache-control"), "no-cache");
    }
    let chart = request(address, "GET", "/assets/chart.umd.min.js", &[], None).unwrap();
    assert!(chart.text().starts_with("/*!\n * Chart.js v4."));
    assert_eq!(
        request(address, "GET", "/assets/secrets.json", &[], None)
            .unwrap()
            .status,
        404
    );
    assert_eq!(
        request(address, "GET", "/assets/", &[], None)
            .unwrap()
            .status,
        404
    );
}

#[test]
fn whoami_names_each_token_and_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let service = golden_service(dir.path());
    let address = service.address;
    let whoami = |token: Option<&str>| {
        let auth = token.map(bearer);
        request(address, "GET", "/v1/whoami", &authorization(&auth), None).unwrap()
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
        address,
        "POST",
        "/v1/whoami",
        &[("Authorization", auth.as_str())],
        None,
    )
    .unwrap();
    assert_eq!(post.status, 405);
    let query = "SELECT token, role, endpoint, status, error, rows FROM access_log \
                 WHERE endpoint LIKE '% /v1/whoami' ORDER BY time";
    let deadline = Instant::now() + Duration::from_secs(30);
    let logged = loop {
        let reply = post_sql(address, Some(COMPLIANCE), query);
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
    let dev = Dev::start(&dir.path().join("aitrail-data"), &[]);
    let screenshot: PathBuf =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-leadership.png");
    let _ = std::fs::remove_file(&screenshot);
    let seen = python_reader(
        "dashboard.py",
        &[
            &format!("http://{}/", dev.dashboard),
            &dev.leadership,
            screenshot.to_str().unwrap(),
        ],
    );
    assert_eq!(
        seen["signed_in_as"], "dev-leadership (leadership)",
        "{seen}"
    );
    assert!(
        seen["wrong_token_error"].as_str().unwrap().contains("401"),
        "{seen}"
    );
    for chart in CHARTS {
        let points = seen["charts"][chart].as_u64().unwrap_or(0);
        assert!(points > 0, "{chart} drew nothing: {seen}");
    }
    assert!(seen["incident_rows"].as_u64().unwrap() > 0, "{seen}");
    // The example policy of `aitrail dev`: findings by rule (a stale
    // review has nobody behind it, so k-anonymity never hides it) and its
    // one exception.
    assert!(seen["finding_rules"].as_u64().unwrap() > 0, "{seen}");
    assert_eq!(seen["exception_rows"], 1, "{seen}");
    assert_eq!(seen["token_kept_in_session"], true);
    assert_eq!(seen["token_forgotten_on_sign_out"], true);
    assert_eq!(seen["console_errors"], json!([]), "{seen}");
    let png = std::fs::read(&screenshot).expect("the screenshot is saved");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    assert!(png.len() > 50_000, "{} bytes: an empty page?", png.len());
    eprintln!("screenshot: {} ({seen})", screenshot.display());
}
