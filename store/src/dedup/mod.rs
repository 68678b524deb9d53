//! The `duplicate` rule: an event whose `event_id` is already stored, or
//! earlier in the same batch, with an `occurred_at` within the dedup window
//! of its own adds nothing (DESIGN §3).

mod recent;

use std::collections::hash_map::Entry;
use std::ops::RangeInclusive;

use foldhash::{HashMap, HashMapExt, HashSet};

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use chrono::TimeDelta;
use datafusion::prelude::{SessionContext, col, lit};
use datafusion::scalar::ScalarValue;
use deltalake::{DeltaTable, DeltaTableError};
use futures::TryStreamExt;

pub use recent::{AddedIds, DEFAULT_RECENT_IDS, RecentIds, id_hash};

use crate::rows::{TableBatch, epoch_day};

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
) -> Result<Vec<bool>, DeltaTableError> {
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
            .filter(|row| recent.may_hold(reach(*row), id_hash(ids.value(*row))))
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
) -> Result<HashMap<String, Vec<i64>>, DeltaTableError> {
    let mut stored: HashMap<String, Vec<i64>> = HashMap::default();
    let dates = days
        .iter()
        .map(|d| lit(ScalarValue::Date32(Some(*d))))
        .collect();
    let ctx = SessionContext::new();
    table.update_datafusion_session(&ctx.state())?;
    let provider = table.table_provider().await?;
    let frame = ctx
        .read_table(provider)?
        .filter(col("date").in_list(dates, false))?
        .select_columns(&["event_id", "occurred_at"])?;
    let mut stream = frame.execute_stream().await?;
    while let Some(chunk) = stream.try_next().await? {
        let ids = cast(chunk.column(0), &DataType::Utf8)?;
        let ids = ids.as_string::<i32>();
        let times = cast(
            chunk.column(1),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )?;
        let times = times.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        for row in 0..chunk.num_rows() {
            if ids.is_valid(row) && times.is_valid(row) && wanted.contains(ids.value(row)) {
                stored
                    .entry(ids.value(row).to_string())
                    .or_default()
                    .push(times.value(row));
            }
        }
    }
    Ok(stored)
}
