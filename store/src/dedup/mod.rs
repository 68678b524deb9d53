//! The `duplicate` rule: an event whose `event_id` is already stored, or
//! earlier in the same batch, with an `occurred_at` within the dedup window
//! of its own adds nothing (DESIGN §3).
//!
//! Two filters keep the check from reading what a batch cannot collide
//! with: the writer's in-memory index of recent dates ([`RecentIds`])
//! rules out nearly every row, and the Parquet Bloom filter on `event_id`
//! in each row group of the table (written by the store's writer) rules
//! out nearly every row group when the few remaining rows are looked up.

mod recent;

use std::collections::hash_map::Entry;
use std::ops::RangeInclusive;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt, HashSet};

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use chrono::TimeDelta;
use deltalake::DeltaTable;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use parquet::arrow::ProjectionMask;
use parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;

pub use recent::{AddedIds, DEFAULT_RECENT_IDS, RecentIds};

use crate::error::StoreError;
use crate::file_reader::DataFileReader;
use crate::rows::{TableBatch, epoch_day};
use crate::table::{DataFile, data_files};

/// Marks, per row of `batch`, whether it duplicates a stored row or an
/// earlier row of the batch. `recent` rules out most rows without reading
/// the table; only the rows it may hold are looked up in the table, in the
/// `date` partitions the window can reach, and only their `event_id` and
/// `occurred_at` columns.
pub async fn find_duplicates(
    table: &DeltaTable,
    recent: &mut RecentIds,
    batch: &TableBatch,
    window: TimeDelta,
) -> Result<Vec<bool>, StoreError> {
    let window_micros = window.num_microseconds().unwrap_or(i64::MAX).unsigned_abs();
    let reach = |row: usize| days_within(batch.origins[row].occurred_at, window_micros);
    let ids = batch.event_ids();
    let rows = 0..batch.origins.len();
    let mut seen = SeenTimes::with_capacity(batch.origins.len());
    let maybe_stored: Vec<usize> = if recent
        .prepare(table, &days_of(rows.clone().map(reach)))
        .await?
    {
        rows.clone()
            .filter(|row| recent.may_hold(reach(*row), ids.value(*row)))
            .collect()
    } else {
        rows.clone().collect()
    };
    if !maybe_stored.is_empty() {
        let wanted: HashSet<&str> = maybe_stored.iter().map(|row| ids.value(*row)).collect();
        let days = days_of(maybe_stored.iter().map(|row| reach(*row)));
        let stored = stored_times(table, &days, &wanted).await?;
        for (id, times) in stored {
            if let Some(id) = wanted.get(id.as_str()) {
                for at in times {
                    seen.record(id, at);
                }
            }
        }
    }
    Ok(rows
        .map(|row| {
            let id = ids.value(row);
            let at = batch.origins[row].occurred_at;
            let duplicate = seen.has_within(id, at, window_micros);
            if !duplicate {
                seen.record(id, at);
            }
            duplicate
        })
        .collect())
}

/// The dates (days since the epoch) an event at `at` can collide on.
fn days_within(at: i64, window_micros: u64) -> RangeInclusive<i32> {
    let window = i64::try_from(window_micros).unwrap_or(i64::MAX);
    epoch_day(at.saturating_sub(window))..=epoch_day(at.saturating_add(window))
}

/// The distinct days of `ranges`, sorted.
fn days_of(ranges: impl Iterator<Item = RangeInclusive<i32>>) -> Vec<i32> {
    let mut days = Vec::new();
    let mut last = None;
    for range in ranges {
        if last.as_ref() != Some(&range) {
            days.extend(range.clone());
            last = Some(range);
        }
    }
    days.sort_unstable();
    days.dedup();
    days
}

/// The `occurred_at` values seen per id. Nearly every id is seen once, so
/// the first time is kept inline and only the rare later ones in a list.
struct SeenTimes<'a> {
    first: HashMap<&'a str, i64>,
    more: HashMap<&'a str, Vec<i64>>,
}

impl<'a> SeenTimes<'a> {
    fn with_capacity(capacity: usize) -> Self {
        SeenTimes {
            first: HashMap::with_capacity(capacity),
            more: HashMap::default(),
        }
    }

    fn record(&mut self, id: &'a str, at: i64) {
        match self.first.entry(id) {
            Entry::Vacant(slot) => {
                slot.insert(at);
            }
            Entry::Occupied(_) => self.more.entry(id).or_default().push(at),
        }
    }

    fn has_within(&self, id: &str, at: i64, window_micros: u64) -> bool {
        let close = |t: &i64| t.abs_diff(at) <= window_micros;
        self.first.get(id).is_some_and(close)
            || self
                .more
                .get(id)
                .is_some_and(|times| times.iter().any(close))
    }
}

/// Stored `occurred_at` values of the ids in `wanted`, from the dates
/// `days`.
async fn stored_times(
    table: &DeltaTable,
    days: &[i32],
    wanted: &HashSet<&str>,
) -> Result<HashMap<String, Vec<i64>>, StoreError> {
    let store = table.log_store().object_store(None);
    let files: Vec<DataFile> = data_files(table)?
        .into_iter()
        .filter(|file| {
            days.binary_search(&file.partition.date.to_epoch_days())
                .is_ok()
        })
        .collect();
    let reads: Vec<_> = files
        .iter()
        .map(|file| read_times(&store, file, wanted))
        .collect();
    let mut found = futures::stream::iter(reads).buffer_unordered(FILES_READ_AT_ONCE);
    let mut stored: HashMap<String, Vec<i64>> = HashMap::default();
    while let Some(times) = found.try_next().await? {
        for (id, at) in times {
            stored.entry(id).or_default().push(at);
        }
    }
    Ok(stored)
}

/// Data files whose footers and filters are read at once: on an object
/// store each is a round trip, and a day may hold a few hundred files.
const FILES_READ_AT_ONCE: usize = 8;

/// The `occurred_at` values of the ids in `wanted` that `file` holds,
/// reading only the row groups whose `event_id` Bloom filter may hold one
/// of them (every row group of a file written without one).
async fn read_times(
    store: &Arc<dyn ObjectStore>,
    file: &DataFile,
    wanted: &HashSet<&str>,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut stored = Vec::new();
    let mut builder = ParquetRecordBatchStreamBuilder::new(DataFileReader::of(store, file)).await?;
    let schema = builder.parquet_schema();
    let id_column = (0..schema.num_columns())
        .find(|i| schema.column(*i).name() == "event_id")
        .ok_or_else(|| StoreError::MissingColumn {
            file: file.path.clone(),
            column: "event_id".to_string(),
        })?;
    let mut row_groups = Vec::new();
    for row_group in 0..builder.metadata().num_row_groups() {
        let may_hold = match builder
            .get_row_group_column_bloom_filter(row_group, id_column)
            .await?
        {
            Some(filter) => wanted.iter().any(|id| filter.check(*id)),
            None => true,
        };
        if may_hold {
            row_groups.push(row_group);
        }
    }
    if row_groups.is_empty() {
        return Ok(stored);
    }
    let columns = ProjectionMask::columns(builder.parquet_schema(), ["event_id", "occurred_at"]);
    let mut chunks = builder
        .with_row_groups(row_groups)
        .with_projection(columns)
        .build()?;
    while let Some(chunk) = chunks.try_next().await? {
        let column = |name: &str| {
            chunk
                .column_by_name(name)
                .ok_or_else(|| StoreError::MissingColumn {
                    file: file.path.clone(),
                    column: name.to_string(),
                })
        };
        let ids = cast(column("event_id")?, &DataType::Utf8)?;
        let ids = ids.as_string::<i32>();
        let times = cast(
            column("occurred_at")?,
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )?;
        let times = times.as_primitive::<TimestampMicrosecondType>();
        for row in 0..chunk.num_rows() {
            if ids.is_valid(row) && times.is_valid(row) && wanted.contains(ids.value(row)) {
                stored.push((ids.value(row).to_string(), times.value(row)));
            }
        }
    }
    Ok(stored)
}
