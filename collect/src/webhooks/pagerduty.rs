//! PagerDuty's v3 webhook (DESIGN §9): `incident.triggered`,
//! `incident.resolved` and `incident.priority_updated` become `incident`
//! events of `pagerduty:<id>`; the repositories come from the configured
//! service map. Titles and descriptions are never read.

use serde_json::{Value, json};

use super::record_id;
use crate::config::PagerDutyConfig;

/// What a PagerDuty delivery becomes.
#[derive(Debug, PartialEq)]
pub enum Delivery {
    /// An event to produce: its record id and JSON.
    Event(String, Vec<u8>),
    /// An event type aitrail does not keep.
    Ignored(String),
}

/// The incident event types kept.
const KEPT: [&str; 3] = [
    "incident.triggered",
    "incident.resolved",
    "incident.priority_updated",
];

/// Maps one v3 webhook payload.
pub fn map(payload: &Value, config: &PagerDutyConfig, org_id: &str) -> Result<Delivery, String> {
    let event = &payload["event"];
    let event_type = event["event_type"]
        .as_str()
        .ok_or("event.event_type is missing")?;
    if !KEPT.contains(&event_type) {
        return Ok(Delivery::Ignored(event_type.to_string()));
    }
    let data = &event["data"];
    let id = data["id"].as_str().ok_or("event.data.id is missing")?;
    let webhook_event = event["id"].as_str().ok_or("event.id is missing")?;
    let service = data["service"]["summary"].as_str();
    let repositories = service
        .and_then(|name| config.services.get(name))
        .cloned()
        .unwrap_or_default();
    let started = data["created_at"]
        .as_str()
        .or_else(|| event["occurred_at"].as_str());
    let record_id = record_id("pagerduty", event_type, webhook_event);
    let mut incident = json!({
        "schema_version": 1,
        "event_id": record_id,
        "event_type": "incident",
        "occurred_at": started,
        "org_id": org_id,
        "incident_id": format!("pagerduty:{id}"),
        "severity": severity(data),
        "repositories": repositories,
    });
    if let Some(service) = service {
        incident["service"] = json!(service);
    }
    if event_type == "incident.resolved" {
        incident["resolved_at"] = event["occurred_at"].clone();
    }
    Ok(Delivery::Event(
        record_id,
        serde_json::to_vec(&incident).expect("JSON serializes"),
    ))
}

/// `sev1`… from the priority `P1`…, else from the urgency.
fn severity(data: &Value) -> &'static str {
    let priority = data["priority"]["summary"].as_str().unwrap_or("");
    match priority.trim().to_ascii_uppercase().as_str() {
        "P1" => "sev1",
        "P2" => "sev2",
        "P3" => "sev3",
        "P4" | "P5" => "sev4",
        _ if data["urgency"] == "high" => "sev2",
        _ => "sev4",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_wins_over_urgency() {
        assert_eq!(
            severity(&json!({"priority": {"summary": "P1"}, "urgency": "low"})),
            "sev1"
        );
        assert_eq!(
            severity(&json!({"priority": null, "urgency": "high"})),
            "sev2"
        );
        assert_eq!(severity(&json!({"urgency": "low"})), "sev4");
    }
}
