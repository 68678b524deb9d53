//! Findings as OCSF 1.3 Compliance Findings (class_uid 2003), one JSON
//! object per line, for a SIEM: `Accept: application/x-ndjson;
//! profile=ocsf` on `/v1/reports/violations`.

use chrono::{NaiveDate, NaiveTime};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The media type of the feed.
pub const OCSF_NDJSON: &str = "application/x-ndjson; profile=ocsf";

/// The OCSF schema version the events follow.
const OCSF_VERSION: &str = "1.3.0";

/// Each finding row (the compliance form of the violations report) as one
/// line of OCSF; the reason when the rows are not findings (leadership's
/// counts).
pub fn lines(rows: &[Value]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for row in rows {
        let event = compliance_finding(row)?;
        serde_json::to_writer(&mut out, &event).map_err(|err| err.to_string())?;
        out.push(b'\n');
    }
    Ok(out)
}

/// Severity (OCSF `severity_id`, name) of a rule's findings.
fn severity(rule: &str) -> (u8, &'static str) {
    match rule {
        "data_class_exceeded" => (4, "High"),
        "stale_tool_review" => (2, "Low"),
        _ => (3, "Medium"),
    }
}

fn title(row: &Value) -> String {
    let text = |key: &str| row[key].as_str().unwrap_or("").to_string();
    match text("rule").as_str() {
        "unapproved_tool" => format!("Unapproved AI tool {} ({})", text("tool"), text("model")),
        "data_class_exceeded" => format!(
            "Data class above what {} ({}) is approved for",
            text("tool"),
            text("model")
        ),
        "red_domain_use" => format!("AI use in a red domain: {}", text("repository")),
        "unreviewed_ai_change" => format!(
            "AI-assisted change {} merged without the required approvals",
            text("change_id")
        ),
        "stale_tool_review" => format!("Approval of {} not reviewed for a quarter", text("tool")),
        other => other.to_string(),
    }
}

fn compliance_finding(row: &Value) -> Result<Value, String> {
    let rule = row["rule"]
        .as_str()
        .ok_or("the OCSF form is of finding rows (compliance tokens)")?;
    let day: NaiveDate = row["day"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .ok_or("a finding row without its day")?;
    let time = day.and_time(NaiveTime::MIN).and_utc().timestamp_millis();
    let excepted = row["status"] == "excepted";
    let (severity_id, severity_name) = severity(rule);
    let identity: Vec<String> = [
        "rule",
        "day",
        "org_id",
        "user_id",
        "team",
        "tool",
        "model",
        "repository",
        "change_id",
    ]
    .iter()
    .map(|key| row[*key].as_str().unwrap_or("").to_string())
    .collect();
    let uid = hex::encode(&Sha256::digest(identity.join("\u{1f}").as_bytes())[..16]);
    let mut unmapped = Map::new();
    for key in [
        "org_id",
        "user_id",
        "team",
        "tool",
        "model",
        "repository",
        "change_id",
        "events",
        "first_event_id",
        "last_event_id",
        "exception_id",
    ] {
        if !row[key].is_null() {
            unmapped.insert(key.to_string(), row[key].clone());
        }
    }
    Ok(json!({
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2003,
        "class_name": "Compliance Finding",
        "type_uid": 200301,
        "type_name": "Compliance Finding: Create",
        "time": time,
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": if excepted { 3 } else { 1 },
        "status": if excepted { "Suppressed" } else { "New" },
        "message": title(row),
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "aitrail", "vendor_name": "aitrail", "version": env!("CARGO_PKG_VERSION")},
            "log_name": "violations",
        },
        "finding_info": {
            "uid": uid,
            "title": title(row),
            "types": [rule],
            "desc": format!("aitrail governance rule {rule} (DESIGN §10)"),
        },
        "compliance": {
            "control": rule,
            "standards": ["aitrail AI coding governance policy"],
            "status_id": if excepted { 99 } else { 3 },
            "status": if excepted { "Excepted" } else { "Fail" },
        },
        "unmapped": unmapped,
    }))
}
