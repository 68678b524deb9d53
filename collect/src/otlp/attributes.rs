//! Reading OTLP attributes the way real exporters write them: a count may
//! be an `intValue`, a `doubleValue` or a `stringValue` holding digits
//! (Codex sends token counts as strings), so values are read by what they
//! mean, not by their wire type.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use serde_json::{Number, Value};

/// A list of attributes, searched by key.
#[derive(Debug, Clone, Copy)]
pub struct Attributes<'a>(pub &'a [KeyValue]);

impl<'a> Attributes<'a> {
    /// The value of `key`, if present and not empty.
    pub fn get(&self, key: &str) -> Option<&'a AnyValue> {
        self.0
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.as_ref())
    }

    /// The value of `key` as text: a string as is, a number or a boolean
    /// written out; `None` for arrays, maps, bytes and empty strings.
    pub fn text(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            AnyValue::StringValue(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            AnyValue::IntValue(n) => Some(n.to_string()),
            AnyValue::DoubleValue(x) => Some(x.to_string()),
            AnyValue::BoolValue(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The value of `key` as a JSON number where it is one (an integer, a
    /// finite double, or a string of either), else the value as given, so
    /// that the validator names the field and what is wrong with it.
    pub fn number(&self, key: &str) -> Option<Value> {
        Some(match self.get(key)? {
            AnyValue::IntValue(n) => Value::from(*n),
            AnyValue::DoubleValue(x) => Number::from_f64(*x)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(x.to_string())),
            AnyValue::StringValue(s) => parse_number(s.trim()),
            AnyValue::BoolValue(b) => Value::Bool(*b),
            AnyValue::ArrayValue(_) => Value::String("[array]".to_string()),
            AnyValue::KvlistValue(_) => Value::String("[map]".to_string()),
            AnyValue::BytesValue(_) => Value::String("[bytes]".to_string()),
            AnyValue::StringValueStrindex(_) => Value::String("[string table index]".to_string()),
        })
    }
}

/// `text` as an integer or a finite float where it is one, else as text.
fn parse_number(text: &str) -> Value {
    if let Ok(n) = text.parse::<i64>() {
        return Value::from(n);
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .unwrap_or_else(|| Value::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::AnyValue as Any;

    use super::*;

    fn kv(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: Some(Any { value: Some(value) }),
            ..Default::default()
        }
    }

    #[test]
    fn counts_are_read_whatever_their_wire_type() {
        let list = vec![
            kv("int", AnyValue::IntValue(12)),
            kv("string", AnyValue::StringValue(" 34 ".into())),
            kv("double", AnyValue::DoubleValue(0.25)),
            kv("words", AnyValue::StringValue("many".into())),
        ];
        let attributes = Attributes(&list);
        assert_eq!(attributes.number("int"), Some(Value::from(12)));
        assert_eq!(attributes.number("string"), Some(Value::from(34)));
        assert_eq!(attributes.number("double"), Some(Value::from(0.25)));
        assert_eq!(attributes.number("words"), Some(Value::from("many")));
        assert_eq!(attributes.number("absent"), None);
        assert_eq!(attributes.text("int").as_deref(), Some("12"));
        assert_eq!(attributes.text("string").as_deref(), Some("34"));
    }
}
