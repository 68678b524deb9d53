//! JSON Schema (draft 2020-12) of each event type, for collectors.
//!
//! The files under `schemas/json/` are generated from the Rust types; a test
//! fails when they differ, and `AITRAIL_WRITE_SCHEMAS=1 cargo test` rewrites them.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};

use crate::event::{AiUsage, CodeChange, CodeReview, Incident};
use crate::vocab::EventType;

/// The JSON Schema of events of `event_type`.
pub fn schema_for(event_type: EventType) -> Schema {
    match event_type {
        EventType::AiUsage => generate::<AiUsage>(event_type),
        EventType::CodeChange => generate::<CodeChange>(event_type),
        EventType::Incident => generate::<Incident>(event_type),
        EventType::CodeReview => generate::<CodeReview>(event_type),
    }
}

/// The file name under `schemas/json/` of the schema of `event_type`.
pub fn file_name(event_type: EventType) -> String {
    format!("{}.schema.json", event_type.as_str())
}

fn generate<T: JsonSchema>(event_type: EventType) -> Schema {
    let mut schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert(
        "$id".to_string(),
        format!("urn:aitrail:schema:v1:{}", event_type.as_str()).into(),
    );
    schema
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn rendered(event_type: EventType) -> String {
        let mut text = serde_json::to_string_pretty(&schema_for(event_type)).unwrap();
        text.push('\n');
        text
    }

    #[test]
    fn committed_schema_files_match_the_rust_types() {
        // From cargo at run time, not build time: a test binary reused from
        // a build in another checkout must still read this checkout's files.
        let dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
            .join("json");
        for event_type in EventType::ALL {
            let path = dir.join(file_name(*event_type));
            let expected = rendered(*event_type);
            if std::env::var_os("AITRAIL_WRITE_SCHEMAS").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &expected).unwrap();
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                committed,
                expected,
                "{} is stale: run AITRAIL_WRITE_SCHEMAS=1 cargo test -p aitrail-schemas",
                path.display()
            );
        }
    }

    #[test]
    fn schemas_are_strict_and_name_the_required_fields() {
        let schema = serde_json::to_value(schema_for(EventType::AiUsage)).unwrap();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(schema["additionalProperties"], false);
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for field in [
            "schema_version",
            "event_id",
            "user_id",
            "tool",
            "model",
            "input_tokens",
        ] {
            assert!(required.contains(&field), "{field} not required");
        }
        assert!(!required.contains(&"team"));
        assert!(!required.contains(&"operation"));
    }
}
