//! GitHub's webhook (DESIGN §9): a merged pull request becomes a
//! `code_change`; `ping` is answered; every other kind is acknowledged and
//! ignored. The body of a pull request is read for AI trailers and never
//! kept.

use serde_json::{Value, json};

use super::record_id;
use crate::config::GithubConfig;
use crate::identity::Pseudonyms;

/// What a GitHub delivery becomes.
#[derive(Debug, PartialEq)]
pub enum Delivery {
    /// `ping`: the hook works.
    Ping,
    /// An event to produce: its record id and JSON.
    Event(String, Vec<u8>),
    /// A kind or action aitrail does not keep.
    Ignored(String),
}

/// Trailer words naming AI tools, and the tool each names.
const AI_TOOLS: [(&str, &str); 7] = [
    ("claude", "claude-code"),
    ("copilot", "github-copilot"),
    ("codex", "codex"),
    ("gemini", "gemini-cli"),
    ("cursor", "cursor"),
    ("aider", "aider"),
    ("devin", "devin"),
];

/// Maps the delivery of `kind` (the `X-GitHub-Event` header) with `payload`.
pub fn map(
    kind: &str,
    payload: &Value,
    config: &GithubConfig,
    pseudonyms: &Pseudonyms,
    org_id: &str,
) -> Result<Delivery, String> {
    match kind {
        "ping" => Ok(Delivery::Ping),
        "pull_request" => pull_request(payload, config, pseudonyms, org_id),
        "pull_request_review" => review(payload, pseudonyms, org_id),
        other => Ok(Delivery::Ignored(other.to_string())),
    }
}

fn pull_request(
    payload: &Value,
    config: &GithubConfig,
    pseudonyms: &Pseudonyms,
    org_id: &str,
) -> Result<Delivery, String> {
    let pr = &payload["pull_request"];
    let merged = pr["merged"].as_bool().unwrap_or(false);
    if payload["action"] != "closed" || !merged {
        let action = payload["action"].as_str().unwrap_or("?");
        return Ok(Delivery::Ignored(format!(
            "pull_request {action} (not a merge)"
        )));
    }
    let text = |value: &Value, what: &str| {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{what} is missing"))
    };
    let full_name = text(&payload["repository"]["full_name"], "repository.full_name")?;
    let number = pr["number"]
        .as_u64()
        .ok_or("pull_request.number is missing")?;
    let host = payload["repository"]["html_url"]
        .as_str()
        .and_then(|url| url.split('/').nth(2))
        .unwrap_or("github.com");
    let login = text(&pr["user"]["login"], "pull_request.user.login")?;
    let labels: Vec<&str> = pr["labels"]
        .as_array()
        .map(|labels| labels.iter().filter_map(|l| l["name"].as_str()).collect())
        .unwrap_or_default();
    let labelled = labels.iter().any(|label| {
        config
            .ai_labels
            .iter()
            .any(|ai| ai.eq_ignore_ascii_case(label))
    });
    let tools = trailer_tools(pr["body"].as_str().unwrap_or(""));
    let change_id = format!("{full_name}#{number}");
    let record_id = record_id(
        "github",
        "pull_request.merged",
        &format!("{host}/{change_id}"),
    );
    let mut event = json!({
        "schema_version": 1,
        "event_id": record_id,
        "event_type": "code_change",
        "occurred_at": pr["merged_at"],
        "org_id": org_id,
        "change_id": change_id,
        "kind": "pull_request",
        "repository": format!("{host}/{full_name}"),
        "user_id": pseudonyms.user_id(&format!("github:{login}")),
        "ai_assisted": labelled || !tools.is_empty(),
    });
    if !tools.is_empty() {
        event["ai_tools"] = json!(tools);
    }
    for (field, key) in [("lines_added", "additions"), ("lines_removed", "deletions")] {
        if let Some(n) = pr[key].as_u64() {
            event[field] = json!(n);
        }
    }
    Ok(Delivery::Event(
        record_id,
        serde_json::to_vec(&event).expect("JSON serializes"),
    ))
}

/// A submitted or dismissed review: a `code_review` of the reviewer.
fn review(payload: &Value, pseudonyms: &Pseudonyms, org_id: &str) -> Result<Delivery, String> {
    let action = payload["action"].as_str().unwrap_or("?");
    if action != "submitted" && action != "dismissed" {
        return Ok(Delivery::Ignored(format!("pull_request_review {action}")));
    }
    let review = &payload["review"];
    let text = |value: &Value, what: &str| {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{what} is missing"))
    };
    let full_name = text(&payload["repository"]["full_name"], "repository.full_name")?;
    let number = payload["pull_request"]["number"]
        .as_u64()
        .ok_or("pull_request.number is missing")?;
    let host = payload["repository"]["html_url"]
        .as_str()
        .and_then(|url| url.split('/').nth(2))
        .unwrap_or("github.com");
    let login = text(&review["user"]["login"], "review.user.login")?;
    let id = review["id"].as_u64().ok_or("review.id is missing")?;
    let state = match text(&review["state"], "review.state")?
        .to_ascii_lowercase()
        .as_str()
    {
        "approved" => "approved",
        "changes_requested" => "changes_requested",
        "dismissed" => "dismissed",
        _ => "commented",
    };
    let record_id = record_id(
        "github",
        &format!("pull_request_review.{action}"),
        &format!("{host}/{full_name}/{id}"),
    );
    let event = json!({
        "schema_version": 1,
        "event_id": record_id,
        "event_type": "code_review",
        "occurred_at": review["submitted_at"],
        "org_id": org_id,
        "change_id": format!("{full_name}#{number}"),
        "repository": format!("{host}/{full_name}"),
        "user_id": pseudonyms.user_id(&format!("github:{login}")),
        "state": state,
    });
    Ok(Delivery::Event(
        record_id,
        serde_json::to_vec(&event).expect("JSON serializes"),
    ))
}

/// The AI tools named by `Assisted-by:` or `Co-authored-by:` trailers of
/// a pull request's description.
fn trailer_tools(body: &str) -> Vec<&'static str> {
    let mut tools = Vec::new();
    for line in body.lines() {
        let line = line.trim().to_ascii_lowercase();
        let Some(named) = ["assisted-by:", "co-authored-by:"]
            .iter()
            .find_map(|trailer| line.strip_prefix(trailer))
        else {
            continue;
        };
        for (word, tool) in AI_TOOLS {
            if named.contains(word) && !tools.contains(&tool) {
                tools.push(tool);
            }
        }
    }
    tools
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_name_the_tools() {
        let body = "Fix the retry loop\n\nCo-authored-by: Claude <noreply@anthropic.com>\nAssisted-by: GitHub Copilot\nCo-authored-by: Mona <mona@example.com>";
        assert_eq!(trailer_tools(body), vec!["claude-code", "github-copilot"]);
        assert!(trailer_tools("mentions claude in prose only").is_empty());
    }
}
