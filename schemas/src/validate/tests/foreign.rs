//! Events as producers other than `aitrail gen` write them (issue 27): keys
//! in any order, escapes of every kind, text beyond ASCII raw and escaped,
//! `sk-` inside words and real keys at word boundaries, offsets other than
//! `Z`. The two paths must agree on each, and valid ones must be read by the
//! fast path itself, or the issue's throughput is lost without a test failing.

use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{FixedOffset, SecondsFormat};

use super::*;

/// How a producer spells JSON: each flag is one habit of a real library.
#[derive(Debug, Clone, Copy)]
struct Style {
    /// Python's `", "` and `": "`.
    spaced: bool,
    /// Python's and PHP's default: every non-ASCII character as `\uXXXX`.
    ascii_only: bool,
    /// PHP's `\/`.
    slash: bool,
    /// Go's `\u003c`, `\u003e` and `\u0026`.
    html: bool,
    /// Java's upper-case hex digits (`\u00E9`).
    upper_hex: bool,
    /// Every character of every string and key as `\uXXXX`, which no library
    /// writes by default and any may.
    every_character: bool,
    /// The seed of each object's key order.
    order: u64,
}

fn style() -> impl Strategy<Value = Style> {
    (any::<[bool; 5]>(), prop::bool::weighted(0.1), any::<u64>()).prop_map(
        |([spaced, ascii_only, slash, html, upper_hex], every_character, order)| Style {
            spaced,
            ascii_only,
            slash,
            html,
            upper_hex,
            every_character,
            order,
        },
    )
}

/// `value` as a producer of `style` writes it.
fn written(value: &Value, style: &Style) -> String {
    let mut out = String::new();
    write_value(value, style, &mut out);
    out
}

fn write_value(value: &Value, style: &Style, out: &mut String) {
    let (comma, colon) = if style.spaced {
        (", ", ": ")
    } else {
        (",", ":")
    };
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by_key(|(key, _)| {
                let mut hasher = DefaultHasher::new();
                (style.order, key).hash(&mut hasher);
                hasher.finish()
            });
            out.push('{');
            for (index, (key, member)) in members.into_iter().enumerate() {
                if index > 0 {
                    out.push_str(comma);
                }
                write_string(key, style, out);
                out.push_str(colon);
                write_value(member, style, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(comma);
                }
                write_value(item, style, out);
            }
            out.push(']');
        }
        Value::String(text) => write_string(text, style, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(text: &str, style: &Style, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            _ if style.every_character => push_escaped(c, style, out),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '/' if style.slash => out.push_str("\\/"),
            '<' | '>' | '&' if style.html => push_escaped(c, style, out),
            c if c < ' ' || (style.ascii_only && !c.is_ascii()) => push_escaped(c, style, out),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `c` as `\uXXXX`, or as a surrogate pair of them.
fn push_escaped(c: char, style: &Style, out: &mut String) {
    for unit in c.encode_utf16(&mut [0; 2]) {
        if style.upper_hex {
            out.push_str(&format!("\\u{unit:04X}"));
        } else {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    }
}

/// Pieces of text as organizations write it, none of which looks like a
/// credential however they are put together with spaces.
const ORDINARY: [&str; 20] = [
    "risk-management",
    "task-runner",
    "disk-cleanup",
    "disk-sk-cleanup",
    "ask-bot",
    "sk-",
    "Zürich-Plattform",
    "日本語",
    "é",
    "R&D",
    "<core>",
    "a/b",
    "\"quoted\"",
    "back\\slash",
    "line\nbreak",
    "tab\there",
    "\u{1F600}",
    "\u{2028}",
    "x",
    "\u{0}",
];

/// Text as organizations write it: [`ORDINARY`] pieces joined by spaces.
fn ordinary_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(&ORDINARY[..]), 1..6)
        .prop_map(|pieces| pieces.join(" "))
}

/// Text that may hold a credential or only look like one: `sk-` keys at a
/// word boundary, after an escaped character, after a letter beyond ASCII,
/// inside a word; assignments spelled with escapes or folded letters.
fn credential_like_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "sk-ant-0123456789abcdefghijklmnop",
        "sk-proj-abcdefghijklmnopqrstuvwx",
        "disk-",
        "risk",
        "AKIAIOSFODNN7EXAMPLE",
        "é",
        "日",
        "ſ",
        "\n",
        "\"",
        "/",
        " ",
        "-",
        "x",
        "password",
        "=",
        ":",
        "hunter22",
        "4096",
        "task-runner",
    ]);
    prop::collection::vec(pieces, 0..6).prop_map(|pieces| pieces.concat())
}

/// A time from before the test's clock to shortly after it, in any offset
/// and precision, as RFC 3339.
fn timestamp() -> impl Strategy<Value = String> {
    timestamp_until(now() + TimeDelta::seconds(600))
}

/// A time from a year before the test's clock to `until`, as [`timestamp`].
fn timestamp_until(until: DateTime<Utc>) -> impl Strategy<Value = String> {
    let from = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    (
        from.timestamp_micros()..until.timestamp_micros(),
        prop::sample::select(vec![0, 120, -300, -330, 345, 23 * 60 + 59, -(23 * 60 + 59)]),
        any::<bool>(),
        prop::sample::select(vec![
            SecondsFormat::Secs,
            SecondsFormat::Millis,
            SecondsFormat::Micros,
            SecondsFormat::Nanos,
        ]),
    )
        .prop_map(|(micros, minutes, use_z, format)| {
            let zone = FixedOffset::east_opt(minutes * 60).unwrap();
            DateTime::from_timestamp_micros(micros)
                .unwrap()
                .with_timezone(&zone)
                .to_rfc3339_opts(format, use_z)
        })
}

/// A valid event of each type, and the names of the fields that hold free
/// text of up to 128 characters.
fn event_and_text_fields() -> impl Strategy<Value = (Value, &'static [&'static str])> {
    prop::sample::select(vec![
        (
            ai_usage(),
            &["org_id", "user_id", "team", "tool", "model"][..],
        ),
        (code_change(), &["change_id", "user_id", "org_id"][..]),
        (
            incident(),
            &["incident_id", "caused_by_change_id", "org_id"][..],
        ),
    ])
}

/// Where a text goes in an event.
#[derive(Debug, Clone, Copy)]
enum Place {
    Field(prop::sample::Index),
    AttributeValue,
    AttributeKey,
}

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Place::Field),
        Just(Place::AttributeValue),
        Just(Place::AttributeKey),
    ]
}

/// `event` with `text` put at `place` (attributes only where the type has
/// them), its times set, and a cost with many digits where it may have one.
fn filled_in(
    (event, fields): (Value, &[&str]),
    place: Place,
    text: String,
    times: (String, String),
    cost: Option<f64>,
) -> Value {
    let mut event = event;
    let is_usage = event["event_type"] == "ai_usage";
    match place {
        Place::AttributeValue if is_usage => event["attributes"]["note"] = Value::from(text),
        Place::AttributeKey if is_usage => event["attributes"][text] = Value::from("v"),
        Place::Field(index) => event[*index.get(fields)] = Value::from(text),
        _ => event[fields[0]] = Value::from(text),
    }
    event["occurred_at"] = Value::from(times.0);
    if event["event_type"] == "incident" {
        event["resolved_at"] = Value::from(times.1);
    }
    if let (true, Some(cost)) = (is_usage, cost) {
        event["cost_usd"] = Value::from(cost);
    }
    event
}

/// Whether the fast path reads `input` and lets it pass its screens: what
/// [`Validator::validate`] does before it checks the event's relations.
fn takes_the_fast_path(input: &[u8]) -> bool {
    let validator = validator();
    let screen = validator.secrets.fixed_form();
    read_plain(input, screen).is_ok() && !screen.may_hold(input)
}

proptest! {
    #[test]
    fn foreign_events_agree(
        event in event_and_text_fields(),
        place in place(),
        text in prop_oneof![ordinary_text(), credential_like_text()],
        times in (timestamp(), timestamp()),
        cost in prop::option::of(0.0..1e4f64),
        style in style(),
    ) {
        let event = filled_in(event, place, text, times, cost);
        assert_paths_agree(written(&event, &style).as_bytes());
    }

    #[test]
    fn valid_foreign_events_take_the_fast_path(
        event in event_and_text_fields(),
        place in place(),
        text in ordinary_text(),
        cost in prop::option::of(0.0..1e4f64),
        style in style(),
        occurred in timestamp_until(now()),
    ) {
        let style = Style { every_character: false, ..style };
        let event = filled_in(event, place, text, (occurred.clone(), occurred), cost);
        let input = written(&event, &style);
        let thorough = validator().validate_thoroughly(input.as_bytes(), now());
        prop_assume!(thorough.is_ok(), "{:?}", thorough);
        prop_assert!(takes_the_fast_path(input.as_bytes()), "{}", input);
        assert_paths_agree(input.as_bytes());
    }
}

#[test]
fn ordinary_words_with_a_prefix_stay_on_the_fast_path() {
    for team in [
        "risk-management",
        "task-runner-for-the-nightly-builds",
        "disk-sk-cleanup",
        "risk-management-sk-tools",
        "ask-bot",
        "Zürich-Plattform",
    ] {
        let mut event = ai_usage();
        event["team"] = Value::from(team);
        let input = serde_json::to_vec(&event).unwrap();
        assert!(takes_the_fast_path(&input), "{team}");
        assert!(validator().validate(&input, now()).is_ok(), "{team}");
    }
}

#[test]
fn real_keys_are_found_at_a_boundary_however_it_is_written() {
    let key = "sk-ant-0123456789abcdefghijklmnop";
    for written in [
        key.to_string(),
        format!("risk {key}"),
        format!("disk-{key}"),
        format!("\\n{key}"),
        format!("\\u00e9\\u2013{key}"),
        "\\u0073k-ant-0123456789abcdefghijklmnop".to_string(),
        format!("\\/{key}"),
    ] {
        let line = ai_usage()
            .to_string()
            .replace("\"payments\"", &format!("\"{written}\""));
        let rejection = validator().validate(line.as_bytes(), now()).unwrap_err();
        assert_eq!(rejection.reason, RejectReason::SecretDetected, "{written}");
        assert_eq!(rejection.event.unwrap()["team"], REDACTED, "{written}");
        assert_paths_agree(line.as_bytes());
    }
    // After a letter beyond ASCII the key is part of a word: no boundary.
    for written in [format!("é{key}"), format!("\\u00e9{key}")] {
        let line = ai_usage()
            .to_string()
            .replace("\"payments\"", &format!("\"{written}\""));
        assert!(
            validator().validate(line.as_bytes(), now()).is_ok(),
            "{written}"
        );
        assert_paths_agree(line.as_bytes());
    }
}

#[test]
fn offsets_are_read_on_the_fast_path_as_the_same_instant() {
    let instant = "2026-03-02T09:15:30.123456Z";
    let mut events = Vec::new();
    for at in [
        instant,
        "2026-03-02T11:15:30.123456+02:00",
        "2026-03-02T04:15:30.123456-05:00",
        "2026-03-02T03:45:30.123456-05:30",
        "2026-03-02T09:15:30.123456+00:00",
    ] {
        let mut event = ai_usage();
        event["occurred_at"] = Value::from(at);
        let input = serde_json::to_vec(&event).unwrap();
        assert!(takes_the_fast_path(&input), "{at}");
        let Ok(Event::AiUsage(usage)) = validator().validate(&input, now()) else {
            panic!("{at} refused");
        };
        events.push(usage.occurred_at);
    }
    assert!(events.iter().all(|at| *at == events[0]), "{events:?}");
}

#[test]
fn costs_read_back_bit_for_bit() {
    // The second is one that serde_json's default float parser reads one
    // unit in the last place too low.
    for cost in [
        "0.1234567890123456",
        "0.0009066961608177029",
        "23545.837600536266",
    ] {
        let line = ai_usage().to_string().replace(
            "\"input_tokens\":1200",
            &format!("\"cost_usd\":{cost},\"input_tokens\":1200"),
        );
        let expected = cost.parse::<f64>().unwrap().to_bits();
        for event in [
            validator().validate(line.as_bytes(), now()),
            validator().validate_thoroughly(line.as_bytes(), now()),
        ] {
            let Ok(Event::AiUsage(usage)) = event else {
                panic!("{cost} refused: {event:?}");
            };
            assert_eq!(
                usage.cost_usd.map(|c| c.0.to_bits()),
                Some(expected),
                "{cost}"
            );
        }
        assert!(takes_the_fast_path(line.as_bytes()), "{cost}");
    }
}
