//! Governance as a user runs it (DESIGN §10): `aitrail governance check`
//! on a good and a broken policy, `aitrail report violations` over a store
//! `aitrail load` built from hand-written events, and `aitrail serve`
//! answering the same findings to compliance, counts to leadership, the
//! exceptions at `/v1/exceptions`, and the policy tables to SQL.

use std::path::Path;

use serde_json::{Value, json};

mod common;
use common::http::{bearer, request};
use common::serve::Serve;
use common::{aitrail, python_reader, stderr};

const POLICY: &str = r#"
default_domain = "green"

[[domains]]
domain = "red"
repositories = ["github.com/acme/auth-*", "github.com/acme/payments-core"]

[[domains]]
domain = "yellow"
repositories = ["github.com/acme/*"]

[[approved_tools]]
tool = "claude-code"
models = ["claude-*"]
from = "2026-01-01"
max_data_class = "confidential"
last_reviewed = "2026-02-15"

[review]
min_approvals = 1
red_min_approvals = 2
security_reviewers = ["u_sec"]

[[exceptions]]
id = "EX-1"
rule = "unapproved_tool"
match = { tool = "cursor", team = ["mobile"] }
approved_by = "vp-engineering"
reason = "pilot"
compensating_controls = "weekly review"
from = "2026-03-01"
until = "2026-03-31"
"#;

fn usage(id: &str, at: &str, user: &str, team: &str, tool: &str, model: &str) -> Value {
    json!({
        "schema_version": 1, "event_id": id, "event_type": "ai_usage", "occurred_at": at,
        "org_id": "acme", "user_id": user, "team": team, "tool": tool, "model": model,
        "input_tokens": 10, "output_tokens": 5,
    })
}

fn events() -> String {
    let mut restricted = usage(
        "e5",
        "2026-03-04T10:00:00Z",
        "u3",
        "payments",
        "claude-code",
        "claude-sonnet-4-5",
    );
    restricted["repository"] = json!("github.com/acme/payments-core");
    restricted["data_class"] = json!("restricted");
    let mut approved = usage(
        "e1",
        "2026-03-02T10:00:00Z",
        "u1",
        "web",
        "claude-code",
        "claude-sonnet-4-5",
    );
    approved["repository"] = json!("github.com/acme/web");
    let change = |id: &str, change: &str, repository: &str| {
        json!({
            "schema_version": 1, "event_id": id, "event_type": "code_change",
            "occurred_at": "2026-03-05T12:00:00Z", "org_id": "acme", "change_id": change,
            "kind": "pull_request", "repository": repository, "user_id": "u4",
            "team": "security", "ai_assisted": true,
        })
    };
    let review = |id: &str, change: &str, repository: &str| {
        json!({
            "schema_version": 1, "event_id": id, "event_type": "code_review",
            "occurred_at": "2026-03-05T11:00:00Z", "org_id": "acme", "change_id": change,
            "repository": repository, "user_id": "u5", "state": "approved",
        })
    };
    let lines = [
        approved,
        usage(
            "e2",
            "2026-03-02T11:00:00Z",
            "u1",
            "mobile",
            "cursor",
            "gpt-5",
        ),
        usage("e4", "2026-03-03T09:30:00Z", "u2", "web", "cursor", "gpt-5"),
        usage("e3", "2026-03-03T09:00:00Z", "u2", "web", "cursor", "gpt-5"),
        usage("e6", "2026-03-10T09:00:00Z", "u6", "web", "cursor", "gpt-5"),
        restricted,
        change("c1", "acme/auth-api#7", "github.com/acme/auth-api"),
        review("r1", "acme/auth-api#7", "github.com/acme/auth-api"),
        change("c2", "acme/web#8", "github.com/acme/web"),
        review("r2", "acme/web#8", "github.com/acme/web"),
    ];
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// The findings DESIGN §10 gives for [`events`] under [`POLICY`], by hand.
fn expected() -> Value {
    let row = |rule: &str, status: &str, exception: Value, day: &str, user: &str, team: &str| {
        json!({
            "rule": rule, "status": status, "exception_id": exception, "day": day,
            "org_id": "acme", "user_id": user, "team": team, "tool": null, "model": null,
            "repository": null, "change_id": null, "events": 1,
            "first_event_id": null, "last_event_id": null,
        })
    };
    let mut excepted = row(
        "unapproved_tool",
        "excepted",
        json!("EX-1"),
        "2026-03-02",
        "u1",
        "mobile",
    );
    excepted["tool"] = json!("cursor");
    excepted["model"] = json!("gpt-5");
    excepted["first_event_id"] = json!("e2");
    excepted["last_event_id"] = json!("e2");
    let mut open = row(
        "unapproved_tool",
        "open",
        Value::Null,
        "2026-03-03",
        "u2",
        "web",
    );
    open["tool"] = json!("cursor");
    open["model"] = json!("gpt-5");
    open["events"] = json!(2);
    open["first_event_id"] = json!("e3");
    open["last_event_id"] = json!("e4");
    let mut other = open.clone();
    other["day"] = json!("2026-03-10");
    other["user_id"] = json!("u6");
    other["events"] = json!(1);
    other["first_event_id"] = json!("e6");
    other["last_event_id"] = json!("e6");
    let restricted = |rule: &str| {
        let mut row = row(rule, "open", Value::Null, "2026-03-04", "u3", "payments");
        row["tool"] = json!("claude-code");
        row["model"] = json!("claude-sonnet-4-5");
        row["repository"] = json!("github.com/acme/payments-core");
        row["first_event_id"] = json!("e5");
        row["last_event_id"] = json!("e5");
        row
    };
    let mut unreviewed = row(
        "unreviewed_ai_change",
        "open",
        Value::Null,
        "2026-03-05",
        "u4",
        "security",
    );
    unreviewed["repository"] = json!("github.com/acme/auth-api");
    unreviewed["change_id"] = json!("acme/auth-api#7");
    unreviewed["first_event_id"] = json!("c1");
    unreviewed["last_event_id"] = json!("c1");
    json!([
        excepted,
        open,
        other,
        restricted("data_class_exceeded"),
        restricted("red_domain_use"),
        unreviewed
    ])
}

fn setup(dir: &Path) -> (String, String) {
    let store = dir.join("store");
    let events = events();
    let loaded = aitrail(
        &["load", "--store", store.to_str().unwrap()],
        events.as_bytes(),
    );
    assert_eq!(loaded.status.code(), Some(0), "{}", stderr(&loaded));
    let policy = dir.join("governance.toml");
    std::fs::write(&policy, POLICY).unwrap();
    (
        store.to_str().unwrap().to_string(),
        policy.to_str().unwrap().to_string(),
    )
}

#[test]
fn governance_check_summarizes_a_policy_and_names_a_broken_entry() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("governance.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let out = aitrail(
        &["governance", "check", "--policy", policy.to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1 approved tools"), "{text}");
    assert!(text.contains("1 exceptions"), "{text}");

    std::fs::write(
        &policy,
        POLICY.replace("until = \"2026-03-31\"", "until = \"2027-04-01\""),
    )
    .unwrap();
    let out = aitrail(
        &["governance", "check", "--policy", policy.to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("exceptions[0] (EX-1): until 2027-04-01 is more than 365 days"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn report_violations_gives_each_finding_decided_by_the_policys_dates() {
    let dir = tempfile::tempdir().unwrap();
    let (store, policy) = setup(dir.path());
    let range = [
        "--from",
        "2026-03-01",
        "--to",
        "2026-04-01",
        "--format",
        "json",
    ];
    let mut args = vec![
        "report",
        "violations",
        "--store",
        &store,
        "--policy",
        &policy,
    ];
    args.extend(range);
    let out = aitrail(&args, b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["rows"], expected());

    let mut open = args.clone();
    open.extend(["--status", "open", "--rule", "unapproved_tool"]);
    let out = aitrail(&open, b"");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["rows"], json!([expected()[1], expected()[2]]));

    let without: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| *a != "--policy" && *a != policy)
        .collect();
    let out = aitrail(&without, b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("needs a governance policy"),
        "{}",
        stderr(&out)
    );

    let mut bad = args.clone();
    bad.extend(["--rule", "speeding"]);
    let out = aitrail(&bad, b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("rule: `speeding` is not one of"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn serve_answers_findings_to_compliance_counts_to_leadership_and_the_policy_to_sql() {
    let dir = tempfile::tempdir().unwrap();
    let (store, policy) = setup(dir.path());
    let server = format!("k_anonymity = 2\n\n[governance]\npolicy = \"{policy}\"\n");
    let tokens = [
        ("audit", "compliance", "c-token"),
        ("cto", "leadership", "l-token"),
    ];
    let serve = Serve::start(dir.path(), Path::new(&store), &server, &tokens);
    // GET `path` as `token`, asking for `accept` (JSON when none).
    let fetch = |path: &str, token: &str, accept: Option<&str>| {
        let auth = bearer(token);
        let mut headers = vec![("Authorization", auth.as_str())];
        headers.extend(accept.map(|media| ("Accept", media)));
        request(serve.address, "GET", path, &headers, None).unwrap()
    };
    let get = |path: &str, token: &str| {
        let reply = fetch(path, token, None);
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    };
    let path = "/v1/reports/violations?from=2026-03-01&to=2026-04-01&bucket=month";
    assert_eq!(get(path, "c-token")["rows"], expected());
    // Leadership: per month, team and rule; only web's unapproved use has
    // k = 2 people behind it, every other group is suppressed.
    assert_eq!(
        get(path, "l-token")["rows"],
        json!([{
            "bucket_start": "2026-03-01", "team": "web", "rule": "unapproved_tool",
            "findings": 2, "open": 2, "excepted": 0, "events": 3,
        }])
    );

    // The row cap is for SQL answers, not for what a report reads on its
    // way: a server that allows one row still judges every group of events
    // and answers both roles in full.
    let capped_dir = dir.path().join("capped");
    std::fs::create_dir(&capped_dir).unwrap();
    let capped = Serve::start(
        &capped_dir,
        Path::new(&store),
        &server.replace("k_anonymity = 2\n", "k_anonymity = 2\nmax_rows = 1\n"),
        &tokens,
    );
    let capped_get = |token: &str| {
        let auth = bearer(token);
        request(
            capped.address,
            "GET",
            path,
            &[("Authorization", auth.as_str())],
            None,
        )
        .unwrap()
    };
    let leadership = capped_get("l-token");
    assert_eq!(
        leadership.status,
        200,
        "{}",
        String::from_utf8_lossy(&leadership.body)
    );
    assert_eq!(leadership.json()["rows"].as_array().unwrap().len(), 1);
    let compliance = capped_get("c-token");
    assert_eq!(
        compliance.status,
        200,
        "{}",
        String::from_utf8_lossy(&compliance.body)
    );
    assert_eq!(compliance.json()["rows"], expected());
    drop(capped);

    // The same findings as OCSF Compliance Findings for a SIEM, each valid
    // by the OCSF models from PyPI; leadership's counts are not findings.
    let ocsf = "application/x-ndjson; profile=ocsf";
    let reply = fetch(path, "c-token", Some(ocsf));
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let feed = dir.path().join("findings.ndjson");
    std::fs::write(&feed, &reply.body).unwrap();
    let checked = python_reader("ocsf_validate.py", &[feed.to_str().unwrap()]);
    assert_eq!(
        checked,
        json!({"valid": expected().as_array().unwrap().len(), "invalid": []})
    );
    let first: Value =
        serde_json::from_slice(reply.body.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(
        (
            &first["class_uid"],
            &first["status"],
            &first["compliance"]["control"],
            &first["unmapped"]["exception_id"]
        ),
        (
            &json!(2003),
            &json!("Suppressed"),
            &json!("unapproved_tool"),
            &json!("EX-1")
        )
    );
    let refused = fetch(path, "l-token", Some(ocsf));
    assert_eq!(
        refused.status,
        406,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );

    // The exceptions, as of a day: expiring within 30 days, then expired,
    // each with the findings and events it excepted.
    let exception = |to: &str| -> Value {
        let rows = get(&format!("/v1/exceptions?to={to}"), "c-token")["rows"].clone();
        assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
        let row = &rows[0];
        json!([
            row["id"],
            row["state"],
            row["days_left"],
            row["findings"],
            row["events"]
        ])
    };
    assert_eq!(
        exception("2026-03-01"),
        json!(["EX-1", "upcoming", 31, 0, 0])
    );
    assert_eq!(
        exception("2026-03-02"),
        json!(["EX-1", "expiring", 30, 0, 0])
    );
    assert_eq!(
        exception("2026-03-03"),
        json!(["EX-1", "expiring", 29, 1, 1])
    );
    assert_eq!(exception("2026-06-01"), json!(["EX-1", "expired", 0, 1, 1]));

    // The review pack: its sections as JSON, the pack itself as HTML, and
    // not for leadership.
    let review = get("/v1/reports/review?quarter=2026Q1", "c-token");
    assert_eq!(review["params"]["from"], "2026-01-01");
    assert_eq!(review["rows"].as_array().unwrap().len(), 7, "{review}");
    assert_eq!(
        review["summary"]["quarter"],
        json!({"year": 2026, "number": 1})
    );
    let html = fetch(
        "/v1/reports/review?quarter=2026Q1",
        "c-token",
        Some("text/html"),
    );
    assert_eq!(html.status, 200);
    assert!(html.text().contains("<h1>AI governance review 2026Q1</h1>"));
    let refused = fetch("/v1/reports/review?quarter=2026Q1", "l-token", None);
    assert_eq!(refused.status, 403);

    let auth = bearer("c-token");
    let body = json!({"sql": "SELECT id, rule, \"match\", CAST(until AS VARCHAR) AS until FROM exceptions"}).to_string();
    let reply = request(
        serve.address,
        "POST",
        "/v1/sql",
        &[("Authorization", &auth)],
        Some(&body),
    )
    .unwrap();
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.json(),
        json!([{"id": "EX-1", "rule": "unapproved_tool", "match": "team=mobile tool=cursor", "until": "2026-03-31"}])
    );
}

#[test]
fn the_review_pack_is_one_offline_html_file_with_every_section_drawn_and_printable() {
    let dir = tempfile::tempdir().unwrap();
    let (store, policy) = setup(dir.path());
    let out = dir.path().join("review.html");
    let written = aitrail(
        &[
            "review",
            "--quarter",
            "2026Q1",
            "--store",
            &store,
            "--policy",
            &policy,
            "--out",
            out.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(written.status.code(), Some(0), "{}", stderr(&written));
    let html = std::fs::read_to_string(&out).unwrap();
    for needs_network in ["<script", "<link", "src=", "url(", "@import"] {
        assert!(
            !html.contains(needs_network),
            "the pack uses {needs_network}"
        );
    }
    // Findings by rule and status, as the report counts them.
    assert!(
        html.contains("<td>unapproved_tool</td><td class=\"n\">2</td><td class=\"n\">1</td>"),
        "{html}"
    );
    assert!(html.contains("<td>EX-1</td>"), "{html}");

    let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let (png, pdf) = (
        target.join("review-pack.png"),
        target.join("review-pack.pdf"),
    );
    let seen = python_reader(
        "review_pack.py",
        &[
            out.to_str().unwrap(),
            png.to_str().unwrap(),
            pdf.to_str().unwrap(),
        ],
    );
    assert_eq!(
        seen["headings"],
        json!([
            "Approved tools",
            "Use by domain",
            "Findings by rule and status",
            "Exceptions",
            "Incidents and change-failure rate",
            "Adoption trend and new teams",
            "Review load"
        ])
    );
    assert_eq!(seen["loaded"], json!([]), "nothing fetched: {seen}");
    let bars = seen["bars"].as_array().unwrap();
    assert!(
        bars.len() >= 4 && bars.iter().all(|b| b.as_u64() > Some(0)),
        "{seen}"
    );
    assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&std::fs::read(&pdf).unwrap()[..5], b"%PDF-");
    eprintln!("review pack: {} and {}", png.display(), pdf.display());
}
