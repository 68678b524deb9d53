//! Rows waiting for the next commit, per table, with what is needed to still
//! reject any of them (as a duplicate) when the batch is checked against the
//! store.
//!
//! The input bytes are not kept: a row found to be a duplicate is rejected
//! with the event as its columns hold it, which spares a copy of every
//! input (tens of MiB per batch) for the rare row that needs one.

use std::sync::Arc;

use aitrail_schemas::columns::string_builder;
use aitrail_schemas::event::{
    AiUsageColumns, CodeChangeColumns, CodeReviewColumns, IncidentColumns,
};
use aitrail_schemas::{Event, EventType};
use arrow::array::{
    ArrayRef, AsArray, BooleanArray, Date32Builder, StringArray, StringBuilder, UInt32Array,
};
use arrow::compute::{filter_record_batch, take_record_batch};
use arrow::error::ArrowError;
use arrow::json::writer::{LineDelimited, WriterBuilder};
use arrow::record_batch::RecordBatch;
use serde_json::Value;

use crate::table::{PARTITION_COLUMNS, table_schema};

/// Microseconds in a day, to turn `occurred_at` into its `date` partition.
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The UTC date of a timestamp in microseconds, as days since the epoch.
pub fn epoch_day(micros: i64) -> i32 {
    micros.div_euclid(MICROS_PER_DAY) as i32
}

/// Where an input came from, compactly: a Kafka partition and offset, or a
/// line number of the file being loaded (partition `-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Kafka partition, or `-1` for a file.
    pub partition: i32,
    /// Kafka offset, or 1-based line number.
    pub offset: i64,
}

/// What is kept of a pending row besides its columns (its `event_id`, the
/// dedup key, is read from its column: see [`TableBatch::event_ids`]).
#[derive(Debug, Clone)]
pub struct RowOrigin {
    /// `occurred_at` in microseconds.
    pub occurred_at: i64,
    /// Where the row came from.
    pub position: Position,
}

enum EventColumns {
    AiUsage(Box<AiUsageColumns<'static>>),
    CodeChange(Box<CodeChangeColumns<'static>>),
    Incident(Box<IncidentColumns<'static>>),
    CodeReview(Box<CodeReviewColumns<'static>>),
}

struct TableRows {
    event_type: EventType,
    columns: EventColumns,
    tiers: StringBuilder,
    dates: Date32Builder,
    origins: Vec<RowOrigin>,
}

impl TableRows {
    fn new(event_type: EventType) -> Self {
        let capacity = match event_type {
            EventType::Incident => 16,
            EventType::AiUsage | EventType::CodeChange | EventType::CodeReview => 1024,
        };
        TableRows::with_capacity(event_type, capacity)
    }

    /// Empty rows with room for `capacity` of them, so that a batch as
    /// large as the last one is appended without the builders growing
    /// (and copying what they hold) on the way.
    fn with_capacity(event_type: EventType, capacity: usize) -> Self {
        let columns = match event_type {
            EventType::AiUsage => {
                EventColumns::AiUsage(Box::new(AiUsageColumns::with_capacity(capacity)))
            }
            EventType::CodeChange => {
                EventColumns::CodeChange(Box::new(CodeChangeColumns::with_capacity(capacity)))
            }
            EventType::Incident => {
                EventColumns::Incident(Box::new(IncidentColumns::with_capacity(capacity)))
            }
            EventType::CodeReview => {
                EventColumns::CodeReview(Box::new(CodeReviewColumns::with_capacity(capacity)))
            }
        };
        TableRows {
            event_type,
            columns,
            tiers: string_builder(capacity),
            dates: Date32Builder::with_capacity(capacity),
            origins: Vec::with_capacity(capacity),
        }
    }

    /// The rows as one record batch, leaving in their place empty rows
    /// with room for as many.
    fn take(&mut self) -> Option<TableBatch> {
        if self.origins.is_empty() {
            return None;
        }
        let next = TableRows::with_capacity(self.event_type, self.origins.len());
        let TableRows {
            event_type,
            mut columns,
            mut tiers,
            mut dates,
            origins,
        } = std::mem::replace(self, next);
        let mut arrays: Vec<ArrayRef> = match &mut columns {
            EventColumns::AiUsage(c) => c.finish(),
            EventColumns::CodeChange(c) => c.finish(),
            EventColumns::Incident(c) => c.finish(),
            EventColumns::CodeReview(c) => c.finish(),
        };
        arrays.push(Arc::new(tiers.finish()));
        arrays.push(Arc::new(dates.finish()));
        let batch = RecordBatch::try_new(table_schema(event_type), arrays)
            .expect("the column builders are derived from the table schema");
        Some(TableBatch {
            event_type,
            batch,
            origins,
        })
    }
}

/// Validated rows of every table, collected until the batch is flushed.
pub struct PendingRows {
    tables: [TableRows; 4],
    rows: usize,
    bytes: usize,
}

impl Default for PendingRows {
    fn default() -> Self {
        PendingRows {
            tables: [
                TableRows::new(EventType::AiUsage),
                TableRows::new(EventType::CodeChange),
                TableRows::new(EventType::Incident),
                TableRows::new(EventType::CodeReview),
            ],
            rows: 0,
            bytes: 0,
        }
    }
}

impl PendingRows {
    /// Appends a valid event of tier `tier`, read from `input_bytes` bytes
    /// of input.
    pub fn push(&mut self, event: &Event<'_>, input_bytes: usize, tier: &str, position: Position) {
        let table = &mut self.tables[table_index(event.event_type())];
        match (&mut table.columns, event) {
            (EventColumns::AiUsage(c), Event::AiUsage(e)) => c.append(e),
            (EventColumns::CodeChange(c), Event::CodeChange(e)) => c.append(e),
            (EventColumns::Incident(c), Event::Incident(e)) => c.append(e),
            (EventColumns::CodeReview(c), Event::CodeReview(e)) => c.append(e),
            _ => unreachable!("each table's rows hold events of its own type"),
        }
        let occurred_at = event.occurred_at().micros();
        table.tiers.append_value(tier);
        table.dates.append_value(epoch_day(occurred_at));
        table.origins.push(RowOrigin {
            occurred_at,
            position,
        });
        self.rows += 1;
        self.bytes += input_bytes;
    }

    /// Rows pending.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Input bytes pending, for the byte limit of a batch.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The pending rows as one record batch per table that has any; leaves
    /// this empty.
    pub fn take(&mut self) -> Vec<TableBatch> {
        self.rows = 0;
        self.bytes = 0;
        self.tables.iter_mut().filter_map(TableRows::take).collect()
    }
}

fn table_index(event_type: EventType) -> usize {
    match event_type {
        EventType::AiUsage => 0,
        EventType::CodeChange => 1,
        EventType::Incident => 2,
        EventType::CodeReview => 3,
    }
}

/// The `event_id` column of rows in a table's schema.
pub fn event_id_column(batch: &RecordBatch) -> &StringArray {
    batch
        .column_by_name("event_id")
        .and_then(|ids| ids.as_string_opt::<i32>())
        .expect("every table has a Utf8 `event_id` column")
}

/// The rows of one table in one flush.
#[derive(Clone)]
pub struct TableBatch {
    /// The table they belong to.
    pub event_type: EventType,
    /// The rows, in the table's schema.
    pub batch: RecordBatch,
    /// Per row, in order: id, time and position.
    pub origins: Vec<RowOrigin>,
}

impl TableBatch {
    /// The `event_id` of each row, in order: the dedup key.
    pub fn event_ids(&self) -> &StringArray {
        event_id_column(&self.batch)
    }

    /// The events of `rows` (indices) as JSON objects, as their columns
    /// hold them: the fields as validated, timestamps in UTC, defaults
    /// filled in, absent optional fields left out.
    pub fn events_as_json(&self, rows: &[usize]) -> Result<Vec<Value>, ArrowError> {
        let indices = UInt32Array::from_iter_values(rows.iter().map(|row| *row as u32));
        let taken = take_record_batch(&self.batch, &indices)?;
        let event_columns: Vec<usize> = (0..taken.num_columns())
            .filter(|i| !PARTITION_COLUMNS.contains(&taken.schema().field(*i).name().as_str()))
            .collect();
        let events = taken.project(&event_columns)?;
        let mut writer = WriterBuilder::new()
            .with_explicit_nulls(false)
            .build::<_, LineDelimited>(Vec::new());
        writer.write(&events)?;
        writer.finish()?;
        writer
            .into_inner()
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| {
                serde_json::from_slice(line).map_err(|err| ArrowError::JsonError(err.to_string()))
            })
            .collect()
    }

    /// Keeps only the rows whose `keep` is true.
    pub fn retain(&mut self, keep: &[bool]) {
        if keep.iter().all(|k| *k) {
            return;
        }
        let mask = BooleanArray::from(keep.to_vec());
        self.batch =
            filter_record_batch(&self.batch, &mask).expect("the mask has one entry per row");
        let mut flags = keep.iter();
        self.origins
            .retain(|_| *flags.next().expect("the mask has one entry per row"));
    }
}
