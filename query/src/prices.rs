//! The dated price table of `[[prices]]` (DESIGN §8), registered as the
//! `model_prices` table so that reports and compliance SQL price tokens the
//! same way. Each price holds from its `valid_from` until the next one of
//! the same model, so a price change never rewrites past months.

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use datafusion::datasource::MemTable;
use serde::Deserialize;

/// The name under which the price table is registered.
pub const MODEL_PRICES_TABLE: &str = "model_prices";

/// One `[[prices]]` entry: USD per million tokens of `model` from
/// `valid_from` on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// The model, as events name it.
    pub model: String,
    /// The first UTC date the price applies to.
    pub valid_from: NaiveDate,
    /// USD per million uncached input tokens.
    pub input: f64,
    /// USD per million output tokens.
    pub output: f64,
    /// USD per million cache-read tokens.
    #[serde(default)]
    pub cache_read: f64,
    /// USD per million cache-write tokens.
    #[serde(default)]
    pub cache_write: f64,
}

/// A price table that cannot be used; names the entry and the field.
#[derive(Debug, thiserror::Error)]
#[error("prices[{index}].{field}: {problem}")]
pub struct PriceError {
    /// The entry's position in the file.
    pub index: usize,
    /// The offending field.
    pub field: &'static str,
    /// What is wrong.
    pub problem: String,
}

/// The validated price table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prices {
    entries: Vec<ModelPrice>,
}

impl Prices {
    /// Validates `entries`: a model name, finite non-negative prices, and at
    /// most one price per model and date.
    pub fn new(entries: Vec<ModelPrice>) -> Result<Self, PriceError> {
        for (index, entry) in entries.iter().enumerate() {
            let invalid = |field, problem: &str| PriceError {
                index,
                field,
                problem: problem.to_string(),
            };
            if entry.model.is_empty() {
                return Err(invalid("model", "must not be empty"));
            }
            for (field, value) in [
                ("input", entry.input),
                ("output", entry.output),
                ("cache_read", entry.cache_read),
                ("cache_write", entry.cache_write),
            ] {
                if !value.is_finite() || value < 0.0 {
                    return Err(invalid(field, "must be a finite number ≥ 0"));
                }
            }
            if entries[..index]
                .iter()
                .any(|e| e.model == entry.model && e.valid_from == entry.valid_from)
            {
                return Err(invalid(
                    "valid_from",
                    &format!(
                        "`{}` already has a price from {}",
                        entry.model, entry.valid_from
                    ),
                ));
            }
        }
        Ok(Prices { entries })
    }

    /// The schema of `model_prices`: each price with the date it stops
    /// applying (`valid_until`, exclusive; null for the current price).
    pub fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("model", DataType::Utf8, false),
            Field::new("valid_from", DataType::Date32, false),
            Field::new("valid_until", DataType::Date32, true),
            Field::new("input", DataType::Float64, false),
            Field::new("output", DataType::Float64, false),
            Field::new("cache_read", DataType::Float64, false),
            Field::new("cache_write", DataType::Float64, false),
        ]))
    }

    /// The table registered as `model_prices`.
    pub fn table(&self) -> datafusion::error::Result<MemTable> {
        let day = |date: NaiveDate| date.to_epoch_days();
        let until: Vec<Option<i32>> = self
            .entries
            .iter()
            .map(|entry| {
                self.entries
                    .iter()
                    .filter(|e| e.model == entry.model && e.valid_from > entry.valid_from)
                    .map(|e| e.valid_from)
                    .min()
                    .map(day)
            })
            .collect();
        let column = |f: fn(&ModelPrice) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(self.entries.iter().map(f)))
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                self.entries.iter().map(|e| e.model.as_str()),
            )),
            Arc::new(Date32Array::from_iter_values(
                self.entries.iter().map(|e| day(e.valid_from)),
            )),
            Arc::new(Date32Array::from(until)),
            column(|e| e.input),
            column(|e| e.output),
            column(|e| e.cache_read),
            column(|e| e.cache_write),
        ];
        let batch = RecordBatch::try_new(Self::schema(), columns)?;
        MemTable::try_new(Self::schema(), vec![vec![batch]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(model: &str, from: &str, input: f64) -> ModelPrice {
        ModelPrice {
            model: model.to_string(),
            valid_from: from.parse().unwrap(),
            input,
            output: 1.0,
            cache_read: 0.0,
            cache_write: 0.0,
        }
    }

    #[test]
    fn mistakes_name_the_entry_and_field() {
        let err = Prices::new(vec![
            price("m", "2025-01-01", 1.0),
            price("m", "2025-02-01", -1.0),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "prices[1].input: must be a finite number ≥ 0"
        );
        let err = Prices::new(vec![
            price("m", "2025-01-01", 1.0),
            price("m", "2025-01-01", 2.0),
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with("prices[1].valid_from"), "{err}");
    }
}
