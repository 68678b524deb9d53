//! The `event_id`s already stored, per date, kept between batches so that
//! the duplicate check of a batch costs in proportion to the batch and not
//! to what its dates already hold. Without it, each batch of a live stream
//! would read back every id of the day so far.
//!
//! Each date keeps a split-block Bloom filter of its ids (the one Parquet
//! writes into files, [`Sbbf`]), about 2.6 bytes an id, so it answers
//! "certainly not stored" or "maybe stored" (wrongly about once in
//! [`1 / FALSE_POSITIVE_RATE`](FALSE_POSITIVE_RATE)); a maybe is confirmed
//! against the table (see [`super::find_duplicates`]). A date's filter is
//! sized for twice the ids it holds and built again, from its files, when
//! they outgrow it, so memory follows the data held and not the clock. It
//! must never miss a stored id: each date remembers the files it was read
//! from and the table version it was checked at, and before it is
//! consulted at another version it reads the files added since, or is read
//! afresh when one of its files went away (a compaction or a purge).

use std::ops::RangeInclusive;
use std::sync::Arc;

use arrow::array::{Array, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use deltalake::DeltaTable;
use deltalake::kernel::Version;
use foldhash::{HashMap, HashSet, HashSetExt};
use futures::TryStreamExt;
use object_store::ObjectStore;
use parquet::arrow::ProjectionMask;
use parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
use parquet::bloom_filter::Sbbf;

use crate::compact::Merged;
use crate::error::StoreError;
use crate::file_reader::DataFileReader;
use crate::table::{DataFile, PartitionKey, data_files};

/// How many ids the index of one table holds at most by default: 16M ids,
/// 40–80 MiB of filters when full. A day of a large organisation's stream,
/// and its neighbours for the 24-hour window, fit; a batch whose dates
/// hold more is checked against the table instead.
pub const DEFAULT_RECENT_IDS: usize = 16_000_000;

/// How often a filter sized for the ids it holds says "maybe" of an id it
/// does not hold: one row in 10,000 is looked up in the table for nothing.
pub const FALSE_POSITIVE_RATE: f64 = 1e-4;

/// The fewest ids a date's filter is sized for, so that a date filling up
/// from nothing is not built again after each of its first batches.
const SMALLEST_FILTER: usize = 4_096;

/// Batches after which a date no batch needed is forgotten even when
/// there is room: a backlog's dates pass by and are not needed again,
/// while a live stream's today and yesterday are needed by every batch.
const IDLE_BATCHES: u64 = 8;

/// The ids a commit of this writer added to one date.
#[derive(Debug)]
pub struct AddedIds {
    /// The date, as days since the epoch.
    pub day: i32,
    /// The data files written for it.
    pub paths: Vec<String>,
    /// The `event_id` of each row in them.
    pub ids: StringArray,
}

/// The stored ids of recently used dates of one table.
pub struct RecentIds {
    dates: HashMap<i32, DateIds>,
    limit: usize,
    clock: u64,
}

/// One date's filter, the files it was built from and how many ids they
/// hold.
struct DateIds {
    files: HashSet<String>,
    filter: Sbbf,
    capacity: usize,
    held: usize,
    checked_at: Option<Version>,
    last_used: u64,
}

impl DateIds {
    /// An empty filter sized for `capacity` ids (at least
    /// [`SMALLEST_FILTER`]).
    fn sized_for(capacity: usize) -> Self {
        let capacity = capacity.max(SMALLEST_FILTER);
        DateIds {
            files: HashSet::new(),
            filter: Sbbf::new_with_ndv_fpp(capacity as u64, FALSE_POSITIVE_RATE)
                .expect("the false-positive rate is within (0, 1)"),
            capacity,
            held: 0,
            checked_at: None,
            last_used: 0,
        }
    }

    fn insert_all(&mut self, ids: &StringArray) {
        for id in ids.iter().flatten() {
            self.filter.insert(id);
        }
        self.held += ids.len() - ids.null_count();
    }

    /// Whether the ids it holds passed what its filter was sized for, so
    /// that its false positives would exceed [`FALSE_POSITIVE_RATE`].
    fn outgrown(&self) -> bool {
        self.held > self.capacity
    }
}

impl RecentIds {
    /// An empty index that holds at most `limit` ids.
    pub fn new(limit: usize) -> Self {
        RecentIds {
            dates: HashMap::default(),
            limit,
            clock: 0,
        }
    }

    /// Brings the dates `days` (sorted, days since the epoch) up to the
    /// table's current version, reading only files not read before, and
    /// makes room for them by forgetting the dates used least recently.
    /// Returns false, and reads nothing, when they alone would hold more
    /// than the limit: the caller then checks against the table itself.
    pub async fn prepare(&mut self, table: &DeltaTable, days: &[i32]) -> Result<bool, StoreError> {
        self.clock += 1;
        let version = table.version();
        let stale: Vec<i32> = days
            .iter()
            .copied()
            .filter(|day| {
                self.dates
                    .get(day)
                    .is_none_or(|held| held.checked_at != version || held.outgrown())
            })
            .collect();
        let mut listed = files_of(table, &stale)?;
        let wanted: usize = days
            .iter()
            .map(|day| match listed.get(day) {
                Some(files) => files.iter().map(|f| f.rows).sum(),
                None => self.dates.get(day).map_or(0, |held| held.held),
            })
            .sum();
        if wanted > self.limit {
            return Ok(false);
        }
        self.make_room(days, wanted);
        let store = table.log_store().object_store(None);
        for day in stale {
            let files = listed.remove(&day).unwrap_or_default();
            self.bring_up_to_date(&store, day, files, version).await?;
        }
        for day in days {
            if let Some(held) = self.dates.get_mut(day) {
                held.last_used = self.clock;
            }
        }
        Ok(true)
    }

    /// Whether `id` may be stored on one of `days`.
    pub fn may_hold(&self, days: RangeInclusive<i32>, id: &str) -> bool {
        days.into_iter().any(|day| {
            self.dates
                .get(&day)
                .is_some_and(|held| held.filter.check(id))
        })
    }

    /// Takes note of a commit this writer made: `before` is the version it
    /// was made on, `committed` the version it became, `added` its ids per
    /// date. When no other writer committed in between, the dates current
    /// at `before` stay current without reading anything back; otherwise
    /// they are brought up to date when next needed.
    pub fn record_commit(
        &mut self,
        before: Option<Version>,
        committed: Version,
        added: Vec<AddedIds>,
    ) {
        if before.map(|v| v + 1) != Some(committed) {
            return;
        }
        for added in added {
            if let Some(held) = self
                .dates
                .get_mut(&added.day)
                .filter(|held| held.checked_at == before)
            {
                held.insert_all(&added.ids);
                held.files.extend(added.paths);
            }
        }
        for held in self.dates.values_mut() {
            if held.checked_at == before {
                held.checked_at = Some(committed);
            }
        }
    }

    /// Takes note of a merge this writer made: the merged files hold the
    /// same ids as the files they replace, so a date current at the
    /// version the merge was made on stays current without reading
    /// anything back (a date read afresh would cost every id of the day
    /// after each merge of a live stream's today).
    pub fn record_merge(&mut self, partition: &PartitionKey, merged: &Merged) {
        let day = partition.date.to_epoch_days();
        if let Some(held) = self
            .dates
            .get_mut(&day)
            .filter(|held| held.checked_at == Some(merged.before))
        {
            for path in &merged.removed {
                held.files.remove(path);
            }
            held.files.extend(merged.added.iter().cloned());
        }
        for held in self.dates.values_mut() {
            if held.checked_at == Some(merged.before) {
                held.checked_at = Some(merged.version);
            }
        }
    }

    /// Forgets the dates outside `days` that no batch needed lately, and
    /// more, least recently used first, until the `wanted` ids of `days`
    /// fit beside the other dates held.
    fn make_room(&mut self, days: &[i32], wanted: usize) {
        let mut others: Vec<(u64, i32, usize)> = self
            .dates
            .iter()
            .filter(|(day, _)| days.binary_search(day).is_err())
            .map(|(day, held)| (held.last_used, *day, held.held))
            .collect();
        others.sort_unstable();
        let mut beside: usize = others.iter().map(|(_, _, ids)| ids).sum();
        for (last_used, day, ids) in others {
            let idle = self.clock - last_used > IDLE_BATCHES;
            if !idle && beside + wanted <= self.limit {
                break;
            }
            self.dates.remove(&day);
            beside -= ids;
        }
    }

    /// Reads the files of `day` that the index has not read. Starts the
    /// date afresh, sized for twice its ids, when a file it read is no
    /// longer in the table or its ids would outgrow its filter.
    async fn bring_up_to_date(
        &mut self,
        store: &Arc<dyn ObjectStore>,
        day: i32,
        files: Vec<DataFile>,
        version: Option<Version>,
    ) -> Result<(), StoreError> {
        let rows: usize = files.iter().map(|f| f.rows).sum();
        let current: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
        let held = self
            .dates
            .entry(day)
            .or_insert_with(|| DateIds::sized_for(rows.saturating_mul(2)));
        let unread: usize = files
            .iter()
            .filter(|f| !held.files.contains(&f.path))
            .map(|f| f.rows)
            .sum();
        let gone = held
            .files
            .iter()
            .any(|path| !current.contains(path.as_str()));
        if gone || held.held + unread > held.capacity {
            let last_used = held.last_used;
            *held = DateIds::sized_for(rows.max(held.held).saturating_mul(2));
            held.last_used = last_used;
        }
        for file in files {
            if !held.files.contains(&file.path) {
                read_ids(store, &file, held).await?;
                held.files.insert(file.file.path);
            }
        }
        held.checked_at = version;
        Ok(())
    }
}

/// The active files of `table` on each of `days`.
fn files_of(table: &DeltaTable, days: &[i32]) -> Result<HashMap<i32, Vec<DataFile>>, StoreError> {
    let mut found: HashMap<i32, Vec<DataFile>> = HashMap::default();
    if days.is_empty() {
        return Ok(found);
    }
    for day in days {
        found.insert(*day, Vec::new());
    }
    for file in data_files(table)? {
        if let Some(files) = found.get_mut(&file.partition.date.to_epoch_days()) {
            files.push(file);
        }
    }
    Ok(found)
}

/// Adds every `event_id` in `file` to `into`.
async fn read_ids(
    store: &Arc<dyn ObjectStore>,
    file: &DataFile,
    into: &mut DateIds,
) -> Result<(), StoreError> {
    let builder = ParquetRecordBatchStreamBuilder::new(DataFileReader::of(store, file)).await?;
    let only_ids = ProjectionMask::columns(builder.parquet_schema(), ["event_id"]);
    let mut batches = builder.with_projection(only_ids).build()?;
    while let Some(batch) = batches.try_next().await? {
        let ids = cast(batch.column(0), &DataType::Utf8)?;
        into.insert_all(ids.as_string::<i32>());
    }
    Ok(())
}
