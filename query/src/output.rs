//! Rendering query results for people (a table) and programs (CSV, JSON,
//! Arrow IPC).

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
use arrow::json::writer::{JsonArray, WriterBuilder};
use arrow::record_batch::RecordBatch;
use serde_json::Value;

/// An output format of `aitrail sql`, `aitrail report` and the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// CSV with a header row; lists are written as `[a, b]`.
    Csv,
    /// A JSON array of row objects (column → value, nulls included).
    Json,
    /// An Arrow IPC stream, types kept exactly.
    ArrowStream,
}

impl Format {
    /// The media type of the format, as HTTP names it.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Table => "text/plain; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::ArrowStream => "application/vnd.apache.arrow.stream",
        }
    }
}

/// Renders `batches` in `format`; `batches` holds at least one (possibly
/// empty) batch, whose schema names the columns.
pub fn render(batches: &[RecordBatch], format: Format) -> Result<Vec<u8>, ArrowError> {
    match format {
        Format::Table => {
            Ok(format!("{}\n", arrow::util::pretty::pretty_format_batches(batches)?).into_bytes())
        }
        Format::Csv => {
            let mut out = Vec::new();
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            for batch in batches {
                writer.write(&flat(batch)?)?;
            }
            drop(writer);
            Ok(out)
        }
        Format::Json => {
            let mut writer = WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, JsonArray>(Vec::new());
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            let mut out = writer.into_inner();
            if out.is_empty() {
                out.extend_from_slice(b"[]");
            }
            out.push(b'\n');
            Ok(out)
        }
        Format::ArrowStream => {
            let Some(first) = batches.first() else {
                return Ok(Vec::new());
            };
            let mut writer =
                arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &first.schema())?;
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            writer.into_inner()
        }
    }
}

/// The rows of `batches` as JSON objects, for answers that embed them.
pub fn json_rows(batches: &[RecordBatch]) -> Result<Vec<Value>, ArrowError> {
    let bytes = render(batches, Format::Json)?;
    serde_json::from_slice(&bytes).map_err(|err| ArrowError::JsonError(err.to_string()))
}

/// `batch` with its list columns as text, since CSV has no lists.
fn flat(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let nested = |t: &DataType| {
        matches!(
            t,
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
        )
    };
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| nested(f.data_type()))
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if nested(field.data_type()) {
            fields.push(Field::new(field.name(), DataType::Utf8, true));
            columns.push(cast(column, &DataType::Utf8)?);
        } else {
            fields.push(field.as_ref().clone());
            columns.push(Arc::clone(column));
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}
