//! GitHub's published webhook examples (`@octokit/webhooks-examples`, npm)
//! signed as GitHub signs them, and a PagerDuty v3 incident signed as
//! PagerDuty signs it: a merge becomes a `code_change`, an incident an
//! `incident`; `ping` is answered, other kinds acknowledged and ignored; a
//! wrong signature is `401` and stores nothing.

mod common;

use std::path::PathBuf;

use aitrail_collect::Pseudonyms;
use aitrail_collect::config::{GithubConfig, PagerDutyConfig};
use aitrail_collect::webhooks::signature::sign;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use common::{Harness, IDENTITY_KEY, TOPIC, config};
use serde_json::{Value, json};
use tower::ServiceExt;

const GITHUB_SECRET: &str = "github test secret";
const PAGERDUTY_SECRET: &str = "pagerduty test secret";

/// The examples of GitHub's webhooks, installed by scripts/test.
fn github_examples() -> Vec<Value> {
    let path = std::env::var_os("AITRAIL_WEBHOOK_EXAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(
                ".cache/aitrail-npm/node_modules/@octokit/webhooks-examples/api.github.com/index.json",
            )
        });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "{}: {err} (scripts/test installs @octokit/webhooks-examples)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn examples_of(all: &[Value], name: &str) -> Vec<Value> {
    all.iter()
        .find(|e| e["name"] == name)
        .map(|e| e["examples"].as_array().unwrap().clone())
        .unwrap_or_default()
}

async fn harness() -> Harness {
    let mut config = config();
    config.github = Some(GithubConfig {
        secret: GITHUB_SECRET.into(),
        ai_labels: vec!["ai-assisted".into()],
    });
    config.pagerduty = Some(PagerDutyConfig {
        secret: PAGERDUTY_SECRET.into(),
        services: [(
            "My Mail Service".to_string(),
            vec!["github.com/acme/mail".to_string()],
        )]
        .into_iter()
        .collect(),
    });
    Harness::start(config).await
}

async fn post(
    harness: &Harness,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (StatusCode, String) {
    let config = harness.config.clone();
    let router = aitrail_collect::webhooks::router(
        harness.running().collector(),
        config.github,
        config.pagerduty,
    );
    let mut request = Request::post(path).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = router
        .oneshot(request.body(Body::from(body.to_vec())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn github(
    harness: &Harness,
    kind: &str,
    payload: &Value,
    secret: &str,
) -> (StatusCode, String) {
    let body = serde_json::to_vec(payload).unwrap();
    let headers = [
        ("x-github-event", kind.to_string()),
        (
            "x-github-delivery",
            "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_string(),
        ),
        (
            "x-hub-signature-256",
            format!("sha256={}", sign(secret, &body)),
        ),
    ];
    post(harness, "/v1/webhooks/github", &headers, &body).await
}

#[tokio::test(flavor = "multi_thread")]
async fn github_examples_merge_into_code_changes_and_the_rest_is_acknowledged() {
    let mut harness = harness().await;
    let all = github_examples();

    for ping in examples_of(&all, "ping") {
        let (status, body) = github(&harness, "ping", &ping, GITHUB_SECRET).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let pull_requests = examples_of(&all, "pull_request");
    assert!(pull_requests.len() > 10, "the examples are installed");
    for example in &pull_requests {
        let (status, body) = github(&harness, "pull_request", example, GITHUB_SECRET).await;
        assert_eq!(
            status,
            StatusCode::ACCEPTED,
            "{}: {body}",
            example["action"]
        );
    }
    assert_eq!(
        harness.records("produced"),
        0,
        "no pull_request example is a merge"
    );
    let reviews = examples_of(&all, "pull_request_review");
    for review in &reviews {
        let (status, body) = github(&harness, "pull_request_review", review, GITHUB_SECRET).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let stored = harness.read_until(TOPIC, |read| read.len() >= reviews.len());
    for (event, review) in stored.iter().map(|e| e.json()).zip(&reviews) {
        assert_eq!(event["event_type"], "code_review", "{event}");
        let state = review["review"]["state"].as_str().unwrap();
        assert_eq!(event["state"], state, "{event}");
    }
    let before_merge = stored.len();

    // The published `closed` example, merged, labelled and with a trailer.
    let mut merged = pull_requests
        .iter()
        .find(|e| e["action"] == "closed")
        .unwrap()
        .clone();
    merged["pull_request"]["merged"] = json!(true);
    merged["pull_request"]["merged_at"] = json!("2026-12-01T09:30:00Z");
    merged["pull_request"]["body"] =
        json!("Retry loop\n\nCo-authored-by: Claude <noreply@anthropic.com>");

    let (status, _) = github(&harness, "pull_request", &merged, "not the secret").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = post(
        &harness,
        "/v1/webhooks/github",
        &[("x-github-event", "pull_request".into())],
        b"{}",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no signature");
    assert_eq!(
        harness.records("produced"),
        before_merge as u64,
        "a refused delivery stores nothing"
    );

    let (status, body) = github(&harness, "pull_request", &merged, GITHUB_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = github(&harness, "pull_request", &merged, GITHUB_SECRET).await;
    assert_eq!(status, StatusCode::OK, "a redelivery");
    let events = harness.read_until(TOPIC, |read| read.len() >= before_merge + 2);
    let events = &events[before_merge..];
    assert_eq!(events.len(), 2);
    let (first, second) = (events[0].json(), events[1].json());
    assert_eq!(
        first["event_id"], second["event_id"],
        "a redelivery is a duplicate"
    );
    let pr = &merged["pull_request"];
    let repository = merged["repository"]["full_name"].as_str().unwrap();
    assert_eq!(first["event_type"], "code_change");
    assert_eq!(first["kind"], "pull_request");
    assert_eq!(
        first["change_id"],
        format!("{repository}#{}", pr["number"]).as_str()
    );
    assert_eq!(
        first["repository"],
        format!("github.com/{repository}").as_str()
    );
    let login = pr["user"]["login"].as_str().unwrap();
    assert_eq!(
        first["user_id"],
        Pseudonyms::new(IDENTITY_KEY)
            .user_id(&format!("github:{login}"))
            .as_str()
    );
    assert_eq!(first["ai_assisted"], true);
    assert_eq!(first["ai_tools"], json!(["claude-code"]));
    assert_eq!(first["lines_added"], pr["additions"]);
    assert_eq!(first["occurred_at"], "2026-12-01T09:30:00Z");
    let bytes = String::from_utf8_lossy(&events[0].bytes()).into_owned();
    assert!(
        !bytes.contains("Retry loop"),
        "the description is never kept: {bytes}"
    );
    harness.stop().await;
}

/// PagerDuty's documented v3 `incident.triggered` payload.
fn pagerduty_event(event_type: &str, id: &str) -> Value {
    json!({
        "event": {
            "id": id,
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-12-01T11:02:00.000Z",
            "agent": { "id": "PLH1HKV", "type": "user_reference" },
            "data": {
                "id": "PGR0VU2",
                "type": "incident",
                "number": 2,
                "status": "triggered",
                "incident_key": "d3640fbd41094207a1c11e58e46b1662",
                "created_at": "2026-12-01T10:41:30Z",
                "title": "CONTENT customer card numbers leaked in logs",
                "service": { "id": "PF9KMXH", "summary": "My Mail Service", "type": "service_reference" },
                "urgency": "high",
                "priority": { "id": "PSO75BM", "summary": "P1", "type": "priority_reference" },
                "escalation_policy": { "id": "PRHKH0N", "summary": "Default", "type": "escalation_policy_reference" },
            }
        }
    })
}

async fn pagerduty(harness: &Harness, payload: &Value, secret: &str) -> (StatusCode, String) {
    let body = serde_json::to_vec(payload).unwrap();
    let headers = [(
        "x-pagerduty-signature",
        format!("v1=0000,v1={}", sign(secret, &body)),
    )];
    post(harness, "/v1/webhooks/pagerduty", &headers, &body).await
}

#[tokio::test(flavor = "multi_thread")]
async fn pagerduty_incidents_are_stored_with_their_repositories() {
    let mut harness = harness().await;
    let triggered = pagerduty_event("incident.triggered", "01DEN3QHTM1TAO8HS6M2M3FXJ8");
    let (status, _) = pagerduty(&harness, &triggered, "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = pagerduty(&harness, &triggered, PAGERDUTY_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let resolved = pagerduty_event("incident.resolved", "01DEN3QHTM1TAO8HS6M2M3FXJ9");
    let (status, body) = pagerduty(&harness, &resolved, PAGERDUTY_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = pagerduty(
        &harness,
        &pagerduty_event("incident.annotated", "x1"),
        PAGERDUTY_SECRET,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let events = harness.read_until(TOPIC, |read| read.len() >= 2);
    let mut events: Vec<Value> = events.iter().map(|e| e.json()).collect();
    events.sort_by_key(|e| e["resolved_at"].is_string());
    assert_eq!(events.len(), 2);
    for event in &events {
        assert_eq!(event["incident_id"], "pagerduty:PGR0VU2");
        assert_eq!(event["severity"], "sev1");
        assert_eq!(event["repositories"], json!(["github.com/acme/mail"]));
        assert_eq!(event["service"], "My Mail Service");
        assert_eq!(event["occurred_at"], "2026-12-01T10:41:30Z");
        assert!(!event.to_string().contains("CONTENT"), "{event}");
    }
    assert_eq!(events[1]["resolved_at"], "2026-12-01T11:02:00.000Z");
    assert_ne!(events[0]["event_id"], events[1]["event_id"]);
    harness.stop().await;
}
