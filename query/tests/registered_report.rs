//! A report from outside the query crate, registered as the binary
//! registers one, is served by name like the built-in ones: behind the
//! same authentication, role check, access log and metrics.

use std::sync::Arc;

use aitrail_query::http::config::{ServerConfig, TokenConfig};
use aitrail_query::http::{App, router};
use aitrail_query::reports::daily_sums::Kind;
use aitrail_query::reports::{PlanOutput, Report, ReportParams, Reports};
use aitrail_query::{Prices, QueryError, Role, StoreSession};
use aitrail_store::StoreRoot;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

/// Counts the usage events of the range; leadership may not have it.
struct UsageCount;

impl Report for UsageCount {
    fn name(&self) -> &'static str {
        "usage-count"
    }

    fn about(&self) -> &'static str {
        "Usage events in the range"
    }

    fn parameters(&self) -> &'static [&'static str] {
        &["from", "to"]
    }

    fn allows(&self, role: Role, _: &ReportParams) -> Result<(), String> {
        match role {
            Role::Compliance => Ok(()),
            Role::Leadership => Err("usage-count is for compliance".to_string()),
        }
    }

    fn sums(&self, _: &ReportParams) -> Vec<Kind> {
        vec![Kind::AI_USAGE]
    }

    fn plan<'a>(
        &'a self,
        session: &'a StoreSession,
        _: &'a ReportParams,
        _: i64,
    ) -> BoxFuture<'a, Result<PlanOutput, QueryError>> {
        async move {
            let rows = session
                .query(
                    "SELECT CAST(coalesce(sum(events), 0) AS BIGINT) AS events FROM ai_usage_daily",
                )
                .await?;
            Ok((rows, Some(json!({"counted": "events"}))))
        }
        .boxed()
    }
}

fn token(name: &str, role: Role, secret: &str) -> TokenConfig {
    TokenConfig {
        name: name.to_string(),
        role,
        sha256: hex::encode(Sha256::digest(secret.as_bytes())),
    }
}

async fn get(router: &axum::Router, path: &str, secret: &str) -> (StatusCode, Value) {
    let request = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {secret}"))
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_registered_report_is_served_by_name_within_its_roles() {
    let dir = tempfile::tempdir().unwrap();
    let root = StoreRoot::parse(dir.path().to_str().unwrap()).unwrap();
    let config = ServerConfig {
        tokens: vec![
            token("audit", Role::Compliance, "c-secret"),
            token("cto", Role::Leadership, "l-secret"),
        ],
        ..ServerConfig::default()
    };
    let mut reports = Reports::builtin();
    reports.register(Arc::new(UsageCount));
    let (app, background) = App::start(config, root, Prices::default(), reports, Vec::new())
        .await
        .unwrap();
    let router = router(Arc::clone(&app));

    let (status, body) = get(&router, "/v1/reports/usage-count", "c-secret").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["report"], "usage-count");
    assert_eq!(body["rows"], json!([{"events": 0}]));
    assert_eq!(body["summary"], json!({"counted": "events"}));
    assert_eq!(body["params"].as_object().unwrap().len(), 2, "{body}");

    let (status, body) = get(&router, "/v1/reports/usage-count", "l-secret").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["detail"], "usage-count is for compliance");
    let (status, body) = get(&router, "/v1/reports/usage-count?by=team", "c-secret").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_parameter");
    let (status, _) = get(&router, "/v1/reports/usage-count", "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = get(&router, "/v1/reports/nothing-here", "c-secret").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("GET /v1/reports/usage-count"),
        "{body}"
    );

    let metrics = aitrail_ops::Observed::metrics(app.as_ref());
    for line in [
        "aitrail_query_requests_total{endpoint=\"/v1/reports/usage-count\",status=\"200\"} 1",
        "aitrail_query_requests_total{endpoint=\"/v1/reports/usage-count\",status=\"403\"} 1",
        "aitrail_query_requests_total{endpoint=\"other\",status=\"404\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }
    drop(router);
    drop(app);
    background.finish().await;
}
