//! Rendering query results for people (a table) and programs (CSV, JSON).

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

/// An output format of `aitrail sql` and `aitrail report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of row objects (column → value).
    Json,
}

/// Renders `batches` in `format`.
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
                writer.write(batch)?;
            }
            drop(writer);
            Ok(out)
        }
        Format::Json => {
            let mut writer = arrow::json::ArrayWriter::new(Vec::new());
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
    }
}
