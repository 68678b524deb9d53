//! The Kafka message key of an event, `org_id/user_id` (DESIGN §1): one
//! user's events stay in order on one partition. Every producer of aitrail
//! keys its messages this way, whether it holds a typed [`Event`], a parsed
//! JSON value (a reject) or a line it has not validated.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use crate::event::Event;

impl Event<'_> {
    /// The key this event is produced under: `org_id/user_id`, or
    /// `org_id/` for an event without a user (an incident).
    pub fn kafka_key(&self) -> Vec<u8> {
        let (org_id, user_id) = match self {
            Event::AiUsage(e) => (e.org_id.as_str(), e.user_id.as_str()),
            Event::CodeChange(e) => (e.org_id.as_str(), e.user_id.as_str()),
            Event::Incident(e) => (e.org_id.as_str(), ""),
            Event::CodeReview(e) => (e.org_id.as_str(), e.user_id.as_str()),
        };
        key_of(org_id, user_id)
    }
}

/// The key of a JSON line that may not be a valid event: a missing
/// `org_id` or `user_id` counts as empty; `None` when the line is not a
/// JSON object or either field is not text, which the ingest will reject
/// anyway.
pub fn kafka_key_of_json(input: &[u8]) -> Option<Vec<u8>> {
    serde_json::from_slice(input).ok().map(KeyFields::key)
}

/// [`kafka_key_of_json`] of an input already parsed.
pub fn kafka_key_of_value(value: &Value) -> Option<Vec<u8>> {
    KeyFields::deserialize(value).ok().map(KeyFields::key)
}

/// The two fields of the key, read from any JSON object.
#[derive(Deserialize)]
struct KeyFields<'a> {
    #[serde(borrow, default)]
    org_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_id: Option<Cow<'a, str>>,
}

impl KeyFields<'_> {
    fn key(self) -> Vec<u8> {
        key_of(
            self.org_id.as_deref().unwrap_or_default(),
            self.user_id.as_deref().unwrap_or_default(),
        )
    }
}

fn key_of(org_id: &str, user_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(org_id.len() + 1 + user_id.len());
    key.extend_from_slice(org_id.as_bytes());
    key.push(b'/');
    key.extend_from_slice(user_id.as_bytes());
    key
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::Validator;
    use crate::generator::{GenConfig, generate};

    #[test]
    fn the_key_is_org_and_user_or_org_alone() {
        let event = br#"{"org_id":"acme","user_id":"u1","event_type":"ai_usage"}"#;
        assert_eq!(kafka_key_of_json(event).as_deref(), Some(&b"acme/u1"[..]));
        let incident = br#"{"org_id":"acme","event_type":"incident"}"#;
        assert_eq!(kafka_key_of_json(incident).as_deref(), Some(&b"acme/"[..]));
        let escaped = br#"{"org_id":"Z\u00fcrich","user_id":"u\/1"}"#;
        assert_eq!(
            kafka_key_of_json(escaped),
            Some("Zürich/u/1".as_bytes().to_vec())
        );
        assert_eq!(kafka_key_of_json(br#"{"org_id":7}"#), None);
        assert_eq!(kafka_key_of_json(b"not json"), None);
        assert_eq!(kafka_key_of_json(b"[1]"), None);
        let parsed: Value = serde_json::from_slice(event).unwrap();
        assert_eq!(kafka_key_of_value(&parsed), kafka_key_of_json(event));
    }

    #[test]
    fn a_typed_event_has_the_key_of_its_json() {
        let config = GenConfig {
            users: 40,
            days: 30,
            seed: 3,
            start: Utc
                .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
                .unwrap()
                .date_naive(),
            not_after: None,
            policy: None,
        };
        let mut lines = Vec::new();
        generate(&config, &mut lines, |_| {}).unwrap();
        let validator = Validator::default();
        let mut types = BTreeSet::new();
        for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let event = validator.validate(line, Utc::now()).unwrap();
            assert_eq!(
                Some(event.kafka_key()),
                kafka_key_of_json(line),
                "{}",
                String::from_utf8_lossy(line)
            );
            types.insert(format!("{:?}", event.event_type()));
        }
        assert_eq!(
            types.len(),
            crate::EventType::ALL.len(),
            "every type: {types:?}"
        );
    }
}
