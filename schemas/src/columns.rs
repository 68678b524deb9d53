//! How a field's value becomes an Arrow column.
//!
//! Every field type of an event implements [`ColumnValue`]; the event macro in
//! `event.rs` walks the fields of each event type once to derive both its Arrow
//! schema and its column builders, so there is no second list of fields to
//! keep in step with the Rust types.

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, BooleanBuilder, ListBuilder, MapBuilder, MapFieldNames, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field};

/// A value that is stored as one cell of an Arrow column.
pub trait ColumnValue {
    /// The Arrow builder that collects values of this type.
    type Builder: ArrayBuilder;

    /// Whether the column admits nulls (true only for optional fields).
    const NULLABLE: bool = false;

    /// A new, empty builder with room for `capacity` rows.
    fn new_builder(capacity: usize) -> Self::Builder;

    /// Appends this value as the next row.
    fn append_to(&self, builder: &mut Self::Builder);

    /// Appends a null row; only optional fields ever call this.
    fn append_null(builder: &mut Self::Builder);

    /// The column's Arrow type, read off an empty builder so that the schema
    /// and the arrays built can never disagree.
    fn data_type() -> DataType {
        Self::new_builder(0).finish().data_type().clone()
    }

    /// The Arrow field for a column of this type named `name`.
    fn field(name: &str) -> Field {
        Field::new(name, Self::data_type(), Self::NULLABLE)
    }
}

impl<T: ColumnValue> ColumnValue for Option<T> {
    type Builder = T::Builder;
    const NULLABLE: bool = true;

    fn new_builder(capacity: usize) -> Self::Builder {
        T::new_builder(capacity)
    }

    fn append_to(&self, builder: &mut Self::Builder) {
        match self {
            Some(value) => value.append_to(builder),
            None => T::append_null(builder),
        }
    }

    fn append_null(builder: &mut Self::Builder) {
        T::append_null(builder)
    }
}

/// Builder of a `Utf8` column, shared by every string-like field type.
pub fn string_builder(capacity: usize) -> StringBuilder {
    StringBuilder::with_capacity(capacity, capacity * 16)
}

/// Builder of a timestamp column in microseconds, UTC.
pub fn timestamp_builder(capacity: usize) -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC")
}

/// Builder of a `List<Utf8>` column.
pub fn string_list_builder(capacity: usize) -> ListBuilder<StringBuilder> {
    ListBuilder::with_capacity(string_builder(capacity), capacity)
}

/// Builder of a `Map<Utf8, Utf8>` column, with the entry names the Parquet
/// specification and Delta Lake use (`key_value`, `key`, `value`).
pub fn string_map_builder(capacity: usize) -> MapBuilder<StringBuilder, StringBuilder> {
    let names = MapFieldNames {
        entry: "key_value".to_string(),
        key: "key".to_string(),
        value: "value".to_string(),
    };
    MapBuilder::with_capacity(
        Some(names),
        string_builder(capacity),
        string_builder(capacity),
        capacity,
    )
    .with_values_field(Arc::new(Field::new("value", DataType::Utf8, true)))
}

/// Implements [`ColumnValue`] for a type stored in a primitive Arrow column,
/// converting it with the given closure.
macro_rules! primitive_column {
    ($ty:ty, $builder:ty) => {
        primitive_column!($ty, $builder, |value: &$ty| *value);
    };
    ($ty:ty, $builder:ty, $convert:expr) => {
        impl $crate::columns::ColumnValue for $ty {
            type Builder = $builder;

            fn new_builder(capacity: usize) -> Self::Builder {
                <$builder>::with_capacity(capacity)
            }

            fn append_to(&self, builder: &mut Self::Builder) {
                builder.append_value($convert(self));
            }

            fn append_null(builder: &mut Self::Builder) {
                builder.append_null();
            }
        }
    };
}

pub(crate) use primitive_column;

primitive_column!(bool, BooleanBuilder);
