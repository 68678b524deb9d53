//! The fast reader of each field type, applying the same check as its serde
//! deserializer in `crate::fields` (each calls the one function that states
//! the rule), so the two readers cannot drift apart on what is valid.

use super::{FastReader, Plain, ReadFast, Unusual};
use crate::fields::{
    AttributeKey, AttributeValue, Attributes, BoundedText, EventId, List, MAX_ATTRIBUTES,
    MAX_LIST_ITEMS, Repository, SCHEMA_VERSION, SchemaVersion, Timestamp, Usd,
};
use crate::validate::secrets::{may_hold_assignment, may_name_credential};

impl<'a, const MIN: usize, const MAX: usize> ReadFast<'a> for BoundedText<'a, MIN, MAX> {
    fn read(reader: &mut FastReader<'a, '_>) -> Plain<Self> {
        let text = reader.free_text()?;
        BoundedText::<MIN, MAX>::check(&text)
            .map(|()| BoundedText(text))
            .map_err(|_| Unusual)
    }
}

impl<'a> ReadFast<'a> for EventId<'a> {
    fn read(reader: &mut FastReader<'a, '_>) -> Plain<Self> {
        let id = reader.free_text()?;
        EventId::check(&id)
            .map(|()| EventId(id))
            .map_err(|_| Unusual)
    }
}

impl<'a> ReadFast<'a> for Repository<'a> {
    fn read(reader: &mut FastReader<'a, '_>) -> Plain<Self> {
        let repository = reader.free_text()?;
        Repository::check(&repository)
            .map(|()| Repository(repository))
            .map_err(|_| Unusual)
    }
}

/// Timestamps are not screened for secrets: RFC 3339 leaves room only for
/// digits, `-`, `:`, `.`, `+`, `T`/`t`, `Z`/`z` and a space, which spell no
/// credential (`validate::secrets` tests it).
impl ReadFast<'_> for Timestamp {
    fn read(reader: &mut FastReader<'_, '_>) -> Plain<Self> {
        Timestamp::parse(&reader.string()?).map_err(|_| Unusual)
    }
}

impl ReadFast<'_> for Usd {
    /// Floats are handed to serde_json, so that both paths round alike.
    fn read(reader: &mut FastReader<'_, '_>) -> Plain<Self> {
        serde_json::from_str(reader.number_text()?).map_err(|_| Unusual)
    }
}

impl ReadFast<'_> for SchemaVersion {
    fn read(reader: &mut FastReader<'_, '_>) -> Plain<Self> {
        match reader.unsigned(1)? {
            1 => Ok(SchemaVersion(SCHEMA_VERSION)),
            _ => Err(Unusual),
        }
    }
}

impl<'a, T: ReadFast<'a>, const MIN: usize> ReadFast<'a> for List<T, MIN> {
    fn read(reader: &mut FastReader<'a, '_>) -> Plain<Self> {
        let mut items = Vec::new();
        reader.array(|reader| {
            if items.len() == MAX_LIST_ITEMS {
                return Err(Unusual);
            }
            items.push(T::read(reader)?);
            Ok(())
        })?;
        if items.len() < MIN {
            return Err(Unusual);
        }
        Ok(List(items))
    }
}

impl<'a> ReadFast<'a> for Attributes<'a> {
    fn read(reader: &mut FastReader<'a, '_>) -> Plain<Self> {
        let mut entries: Vec<(AttributeKey<'a>, AttributeValue<'a>)> = Vec::new();
        reader.object(|reader, key, has_assignment_mark| {
            let duplicate = entries.iter().any(|(k, _)| *k.as_str() == *key);
            if entries.len() == MAX_ATTRIBUTES || duplicate {
                return Err(Unusual);
            }
            AttributeKey::check(&key).map_err(|_| Unusual)?;
            // A key is free text too, and one that names a credential makes
            // its value one.
            if (has_assignment_mark && may_hold_assignment(&key)) || may_name_credential(&key) {
                return Err(Unusual);
            }
            let value = AttributeValue::read(reader)?;
            entries.push((BoundedText(key), value));
            Ok(())
        })?;
        Ok(Attributes(entries))
    }
}
