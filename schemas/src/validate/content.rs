//! The `content_field` rule: metadata only, never a prompt, a response or code.

use serde_json::Value;

use super::path::FieldPath;

/// Field names that carry content (DESIGN §3), refused at any depth.
pub const CONTENT_FIELDS: [&str; 10] = [
    "prompt",
    "response",
    "completion",
    "messages",
    "content",
    "input",
    "output",
    "code",
    "diff",
    "text",
];

/// The value that replaces content and secrets in every durable copy.
pub const REDACTED: &str = "[REDACTED]";

/// Whether `name` is a content field; case does not matter, since `Prompt`
/// carries a prompt as surely as `prompt` does.
pub fn is_content_field(name: &str) -> bool {
    CONTENT_FIELDS
        .iter()
        .any(|field| field.eq_ignore_ascii_case(name))
}

/// Replaces the value of every content field in `value`, at any depth, by
/// `"[REDACTED]"`, and returns the paths of the fields it replaced.
pub fn redact_content(value: &mut Value) -> Vec<String> {
    let mut found = Vec::new();
    walk(value, &mut FieldPath::root(), &mut found);
    found
}

fn walk(value: &mut Value, path: &mut FieldPath, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                path.push_key(key);
                if is_content_field(key) {
                    found.push(path.to_string());
                    *child = Value::String(REDACTED.to_string());
                } else {
                    walk(child, path, found);
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter_mut().enumerate() {
                path.push_index(index);
                walk(child, path, found);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn redacts_content_at_any_depth_and_names_each_field() {
        let mut value = json!({
            "model": "m",
            "Prompt": "write me a sort",
            "attributes": {"output": "fn main() {}", "ticket": "JIRA-1"},
            "list": [{"diff": "+x"}]
        });
        let found = redact_content(&mut value);
        assert_eq!(found, ["Prompt", "attributes.output", "list[0].diff"]);
        assert_eq!(value["Prompt"], REDACTED);
        assert_eq!(value["attributes"]["output"], REDACTED);
        assert_eq!(value["attributes"]["ticket"], "JIRA-1");
        assert_eq!(value["list"][0]["diff"], REDACTED);
        assert_eq!(value["model"], "m");
    }

    #[test]
    fn metadata_names_that_merely_contain_a_content_word_are_not_content() {
        let mut value = json!({"input_tokens": 5, "output_tokens": 7, "code_owner": "x"});
        assert!(redact_content(&mut value).is_empty());
    }
}
