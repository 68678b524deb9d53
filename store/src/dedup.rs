//! The `duplicate` rule: an event whose `event_id` is already stored, or
//! earlier in the same batch, with an `occurred_at` within the dedup window
//! of its own adds nothing (DESIGN §3).

use std::collections::hash_map::Entry;

use foldhash::{HashMap, HashMapExt, HashSet};

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use chrono::TimeDelta;
use datafusion::prelude::{SessionContext, col, lit};
use datafusion::scalar::ScalarValue;
use deltalake::{DeltaTable, DeltaTableError};
use futures::TryStreamExt;

use crate::rows::{TableBatch, epoch_day};

/// Marks, per row of `batch`, whether it duplicates a stored row or an
/// earlier row of the batch. Only the `date` partitions the window can reach
/// are read, and only their `event_id` and `occurred_at` columns.
pub async fn find_duplicates(
    table: &DeltaTable,
    batch: &TableBatch,
    window: TimeDelta,
) -> Result<Vec<bool>, DeltaTableError> {
    let window_micros = window.num_microseconds().unwrap_or(i64::MAX).unsigned_abs();
    let ids = batch.event_ids();
    let mut seen = SeenTimes::with_capacity(batch.origins.len());
    let stored = if table.snapshot()?.log_data().num_files() == 0 {
        HashMap::default()
    } else {
        let wanted: HashSet<&str> = (0..ids.len()).map(|row| ids.value(row)).collect();
        let stored = stored_times(table, batch, window, &wanted).await?;
        stored
            .into_iter()
            .filter_map(|(id, times)| wanted.get(id.as_str()).map(|key| (*key, times)))
            .collect()
    };
    for (id, times) in stored {
        for at in times {
            seen.record(id, at);
        }
    }
    Ok(batch
        .origins
        .iter()
        .enumerate()
        .map(|(row, origin)| {
            let id = ids.value(row);
            let duplicate = seen.has_within(id, origin.occurred_at, window_micros);
            if !duplicate {
                seen.record(id, origin.occurred_at);
            }
            duplicate
        })
        .collect())
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

/// Stored `occurred_at` values of the ids in `wanted`, from the dates the
/// batch's rows can collide with.
async fn stored_times(
    table: &DeltaTable,
    batch: &TableBatch,
    window: TimeDelta,
    wanted: &HashSet<&str>,
) -> Result<HashMap<String, Vec<i64>>, DeltaTableError> {
    let mut stored: HashMap<String, Vec<i64>> = HashMap::default();
    let reach = (window.num_days() + 1) as i32;
    let mut days: Vec<i32> = batch
        .origins
        .iter()
        .flat_map(|o| {
            let day = epoch_day(o.occurred_at);
            (day - reach)..=(day + reach)
        })
        .collect();
    days.sort_unstable();
    days.dedup();
    let dates = days
        .into_iter()
        .map(|d| lit(ScalarValue::Date32(Some(d))))
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
