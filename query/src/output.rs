//! Rendering query results for people (a table) and programs (CSV, JSON,
//! Arrow IPC).

use std::io::Write;
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
    let mut out = Vec::new();
    write(batches, format, &mut out)?;
    Ok(out)
}

/// Writes `batches` in `format` to `out` as [`render`] renders them, one
/// batch at a time, so a large answer bound for a file or a pipe is never
/// held twice.
pub fn write(
    batches: &[RecordBatch],
    format: Format,
    mut out: impl Write,
) -> Result<(), ArrowError> {
    match format {
        Format::Table => {
            writeln!(
                out,
                "{}",
                arrow::util::pretty::pretty_format_batches(batches)?
            )?;
        }
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            for batch in batches {
                writer.write(&flat(batch)?)?;
            }
        }
        Format::Json => {
            let mut writer = WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, JsonArray>(&mut out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            drop(writer);
            out.write_all(b"\n")?;
        }
        Format::ArrowStream => {
            let Some(first) = batches.first() else {
                return Ok(());
            };
            let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut out, &first.schema())?;
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};

    fn batch(rows: usize) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("team", DataType::Utf8, true),
            Field::new("events", DataType::Int64, false),
        ]));
        let teams: StringArray = (0..rows)
            .map(|row| (row % 2 == 0).then(|| format!("team-{row}")))
            .collect();
        let events: Int64Array = (0..rows as i64).collect();
        RecordBatch::try_new(schema, vec![Arc::new(teams), Arc::new(events)]).unwrap()
    }

    #[test]
    fn an_empty_answer_is_an_empty_json_array() {
        assert_eq!(render(&[batch(0)], Format::Json).unwrap(), b"[]\n");
        assert_eq!(render(&[], Format::Json).unwrap(), b"[]\n");
    }

    #[test]
    fn rows_of_several_batches_are_one_json_array_and_one_csv() {
        let batches = [batch(2), batch(0), batch(1)];
        let json: Value = serde_json::from_slice(&render(&batches, Format::Json).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"team": "team-0", "events": 0},
                {"team": null, "events": 1},
                {"team": "team-0", "events": 0}
            ])
        );
        let csv = String::from_utf8(render(&batches, Format::Csv).unwrap()).unwrap();
        assert_eq!(csv, "team,events\nteam-0,0\n,1\nteam-0,0\n");
    }
}
