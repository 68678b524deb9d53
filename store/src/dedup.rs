//! The `duplicate` rule: an event whose `event_id` is already stored, or
//! earlier in the same batch, with an `occurred_at` within the dedup window
//! of its own adds nothing (DESIGN §3).

use std::collections::HashMap;

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
    let window_micros = window.num_microseconds().unwrap_or(i64::MAX);
    let mut rows_by_id: HashMap<&str, Vec<usize>> = HashMap::with_capacity(batch.origins.len());
    for (row, origin) in batch.origins.iter().enumerate() {
        rows_by_id
            .entry(origin.event_id.as_str())
            .or_default()
            .push(row);
    }
    let mut kept: HashMap<&str, Vec<i64>> = HashMap::new();
    for (id, times) in stored_times(table, batch, window, &rows_by_id).await? {
        if let Some((key, _)) = rows_by_id.get_key_value(id.as_str()) {
            kept.insert(*key, times);
        }
    }
    let mut duplicate = vec![false; batch.origins.len()];
    for (id, rows) in rows_by_id {
        let seen = kept.entry(id).or_default();
        for row in rows {
            let at = batch.origins[row].occurred_at;
            if seen.iter().any(|t| t.abs_diff(at) <= window_micros as u64) {
                duplicate[row] = true;
            } else {
                seen.push(at);
            }
        }
    }
    Ok(duplicate)
}

/// Stored `occurred_at` values of the ids in `wanted`, from the dates the
/// batch's rows can collide with.
async fn stored_times(
    table: &DeltaTable,
    batch: &TableBatch,
    window: TimeDelta,
    wanted: &HashMap<&str, Vec<usize>>,
) -> Result<HashMap<String, Vec<i64>>, DeltaTableError> {
    let mut stored: HashMap<String, Vec<i64>> = HashMap::new();
    if table.snapshot()?.log_data().num_files() == 0 {
        return Ok(stored);
    }
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
            if ids.is_valid(row) && times.is_valid(row) && wanted.contains_key(ids.value(row)) {
                stored
                    .entry(ids.value(row).to_string())
                    .or_default()
                    .push(times.value(row));
            }
        }
    }
    Ok(stored)
}
