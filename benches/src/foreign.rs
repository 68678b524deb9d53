//! Events as producers other than `aitrail gen` write them: the generator's
//! events, each rewritten the way one of Python's `json.dumps`, PHP's
//! `json_encode`, Go's `encoding/json` or a JavaScript collector writes it.
//!
//! The validator's fast path was shaped by the generator's output: fields in
//! declared order, no escapes, ASCII, UTC timestamps. Real producers order
//! keys their own way, escape non-ASCII text, slashes and HTML characters,
//! write offsets, and name things `risk-management` or `task-runner`, which
//! hold `sk-`. This corpus holds all of that, and stays valid: only the
//! spelling of each event changes, and values are swapped for valid ones (the
//! same instant in another offset, a team name for another team name).

use std::hash::{DefaultHasher, Hash, Hasher};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde_json::{Map, Value};

use crate::typical_events;

/// Team names as organizations spell them: non-ASCII, HTML characters, and
/// words that hold a credential's prefix (`sk-`) without being one.
const TEAMS: [&str; 10] = [
    "risk-management",
    "task-runner",
    "disk-cleanup",
    "ask-bot",
    "Zürich-Plattform",
    "日本語チーム",
    "équipe-données",
    "R&D <core>",
    "payments",
    "São Paulo / infra",
];

/// Attribute entries producers add: the same mix as [`TEAMS`].
const ATTRIBUTES: [(&str, &str); 8] = [
    ("workflow", "task-runner"),
    ("queue", "risk-sk-review"),
    ("site", "Zürich"),
    ("ide", "VS Code — Insiders"),
    ("ticket", "RISK-4411"),
    ("wiki", "https://wiki.example.com/a/b?x=1&y=2"),
    ("équipe", "données"),
    ("note", "<auto> 日本語"),
];

/// Offsets timestamps are written in, besides `Z`: where the producer runs.
const OFFSETS_MINUTES: [i32; 5] = [120, -300, 330, 0, -570];

/// Options a producer writes as `null` rather than leaving out, by event type.
const NULLABLE: [(&str, &[&str]); 3] = [
    (
        "ai_usage",
        &[
            "tool_version",
            "session_id",
            "client",
            "accepted",
            "cost_usd",
        ],
    ),
    ("code_change", &["team", "service", "reviewer_ids"]),
    ("incident", &["service", "caused_by_change_id"]),
];

/// How a producer spells JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// Python's `json.dumps` defaults: `", "` and `": "`, non-ASCII as `\uXXXX`.
    Python,
    /// PHP's `json_encode` defaults: compact, `\/`, non-ASCII as `\uXXXX`.
    Php,
    /// Go's `encoding/json`: compact, `<`, `>` and `&` as `\u003c`…, UTF-8.
    Go,
    /// JavaScript's `JSON.stringify`: compact, UTF-8, nothing escaped.
    JavaScript,
}

/// The order in which a producer writes an object's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrder {
    /// An order of each event's own, as a hash map seeded anew for each
    /// object writes them, and as `benches/e2e/foreign_events.py` does: the
    /// worst case for the reader, which then finds each key where the last
    /// event had another.
    PerEvent,
    /// An order of each producer's own, the same for all its events, as a
    /// collector that builds its objects in code writes them (a Python dict,
    /// a PHP array, a JavaScript object); Go's `encoding/json` sorts a map's
    /// keys.
    PerProducer,
}

/// `users` developers over `days` days of the generator's organization,
/// written by foreign producers as JSONL with keys in `order`, and the
/// number of events.
pub fn foreign_events(users: usize, days: u32, order: KeyOrder) -> (Vec<u8>, u64) {
    let (typical, count) = typical_events(users, days);
    let mut rng = Pcg64Mcg::seed_from_u64(27);
    let mut out = Vec::with_capacity(typical.len() * 5 / 4);
    for line in typical.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(Value::Object(event)) = serde_json::from_slice(line) else {
            panic!("the generator writes JSON objects");
        };
        let style = match rng.random_range(0..10) {
            0..=3 => Style::Python,
            4..=5 => Style::Php,
            6..=7 => Style::Go,
            _ => Style::JavaScript,
        };
        let event = Value::Object(respell(event, &mut rng));
        write_value(&mut out, &event, style, order, &mut rng);
        out.push(b'\n');
    }
    (out, count)
}

/// The same event with values a foreign organization would have: other
/// team names, attributes, offsets, many-digit costs and explicit nulls.
fn respell(mut event: Map<String, Value>, rng: &mut impl Rng) -> Map<String, Value> {
    let event_type = event["event_type"].as_str().unwrap_or_default().to_string();
    if event.contains_key("team") && rng.random_bool(0.5) {
        let team = TEAMS[rng.random_range(0..TEAMS.len())];
        event.insert("team".into(), team.into());
    }
    if event_type == "ai_usage" {
        if rng.random_bool(0.3) {
            let attributes = event
                .entry("attributes")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(attributes) = attributes {
                for _ in 0..rng.random_range(1..4) {
                    let (key, value) = ATTRIBUTES[rng.random_range(0..ATTRIBUTES.len())];
                    attributes.insert(key.into(), value.into());
                }
            }
        }
        if !event.contains_key("cost_usd") && rng.random_bool(0.3) {
            let cost = rng.random_range(0.0..2.0f64);
            event.insert("cost_usd".into(), cost.into());
        }
    }
    for field in ["occurred_at", "resolved_at"] {
        if let Some(Value::String(at)) = event.get(field)
            && rng.random_bool(0.6)
        {
            let offset = OFFSETS_MINUTES[rng.random_range(0..OFFSETS_MINUTES.len())];
            let respelled = with_offset(at, offset);
            event.insert(field.into(), respelled.into());
        }
    }
    let nullable = NULLABLE
        .iter()
        .find(|(name, _)| *name == event_type)
        .map_or(&[][..], |(_, fields)| fields);
    for field in nullable {
        if !event.contains_key(*field) && rng.random_bool(0.3) {
            event.insert((*field).into(), Value::Null);
        }
    }
    event
}

/// The instant `utc` names, written in the offset of `minutes` east of UTC.
fn with_offset(utc: &str, minutes: i32) -> String {
    let at = chrono::DateTime::parse_from_rfc3339(utc).expect("the generator writes RFC 3339");
    let zone = chrono::FixedOffset::east_opt(minutes * 60).expect("offsets under a day");
    at.with_timezone(&zone)
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// Writes `value` in `style`, each object's keys in `order`.
fn write_value(
    out: &mut Vec<u8>,
    value: &Value,
    style: Style,
    order: KeyOrder,
    rng: &mut impl Rng,
) {
    let (comma, colon): (&[u8], &[u8]) = match style {
        Style::Python => (b", ", b": "),
        _ => (b",", b":"),
    };
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // Drawn in either order, so that both corpora hold the same values.
            members.shuffle(rng);
            match (order, style) {
                (KeyOrder::PerEvent, _) => {}
                (KeyOrder::PerProducer, Style::Go) => members.sort_by_key(|(key, _)| *key),
                (KeyOrder::PerProducer, _) => {
                    members.sort_by_key(|(key, _)| producer_rank(style, key))
                }
            }
            out.push(b'{');
            for (index, (key, member)) in members.into_iter().enumerate() {
                if index > 0 {
                    out.extend_from_slice(comma);
                }
                write_string(out, key, style);
                out.extend_from_slice(colon);
                write_value(out, member, style, order, rng);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.extend_from_slice(comma);
                }
                write_value(out, item, style, order, rng);
            }
            out.push(b']');
        }
        Value::String(text) => write_string(out, text, style),
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

/// Where a producer of `style` writes `key` among an object's keys: the same
/// place in every event.
fn producer_rank(style: Style, key: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    (style as u8, key).hash(&mut hasher);
    hasher.finish()
}

/// Writes `text` as a JSON string with the escapes `style` uses.
fn write_string(out: &mut Vec<u8>, text: &str, style: Style) {
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '/' if style == Style::Php => out.extend_from_slice(b"\\/"),
            '<' | '>' | '&' if style == Style::Go => push_escaped(out, c),
            c if u32::from(c) < 0x20 => push_escaped(out, c),
            c if !c.is_ascii() && matches!(style, Style::Python | Style::Php) => {
                push_escaped(out, c)
            }
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out.push(b'"');
}

/// Writes `c` as `\uXXXX`, a surrogate pair beyond the Basic Multilingual Plane.
fn push_escaped(out: &mut Vec<u8>, c: char) {
    for unit in c.encode_utf16(&mut [0; 2]) {
        out.extend_from_slice(format!("\\u{unit:04x}").as_bytes());
    }
}
