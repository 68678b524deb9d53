//! Per-day sums of the event tables, kept between reports: what the
//! reports read instead of every event.
//!
//! `ai_usage` is summed per day, user, session, team, tool and model: on
//! 10M generated events 11 times fewer rows than the events (one per
//! session, mostly), from which every figure of the adoption and
//! token-spend reports can be summed: counts, token sums, given costs, the
//! tokens with no given cost (priced per day), whether a session had an
//! action its user started. `code_changes` is summed per day, team and
//! user, who count as developers, and per day, author and AI assistance
//! with the changes incidents name as causes apart, for the incidents
//! report's change-failure rates. Each incident's window is summed per
//! user, for the incidents report's rows (one set of sums per lookback).
//!
//! The sums are kept per day and worked out again only for the days whose
//! files changed since the last report (new commits land on today;
//! compaction and retention rewrite or remove old days), by DataFusion
//! aggregations over those days' partitions. A day's files are those of
//! its own table, and those its sums also read: an incident's window
//! reads the usage and changes of the days before it; which changes
//! failed depends on every incident.

mod kinds;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};

use aitrail_schemas::EventType;
use arrow::array::AsArray;
use arrow::compute::{concat_batches, partition, sort_to_indices, take, take_record_batch};
use arrow::datatypes::{Date32Type, SchemaRef};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use datafusion::catalog::TableProvider;
use datafusion::common::{Result, ScalarValue};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::prelude::{col, lit};

use crate::engine::{QueryError, StoreSession};
use crate::snapshot_scan::{DayFiles, SnapshotScan};
pub use kinds::Kind;
use kinds::{Reach, lookback_days};

/// Events summed by one aggregation at most (unless one day holds more):
/// ≈ 90k sums on generated data, well within a query's memory limit and
/// time.
const ROWS_PER_AGGREGATION: usize = 1_000_000;

/// The incidents reports' lookbacks whose window sums are kept at most:
/// the most recently asked for.
const KEPT_LOOKBACKS: usize = 3;

/// Bytes the kept sums of a server hold together at most unless
/// configured otherwise (`[server] report_sums_mb`).
pub const DEFAULT_KEPT_BYTES: usize = 256 << 20;

/// Every day an aggregation may be asked for, as `Date32` days.
const EVERY_DAY: (i32, i32) = (i32::MIN / 2, i32::MAX / 2);

/// The per-day sums of one kind, as of the snapshot last refreshed
/// against.
pub struct DailySums {
    kind: Kind,
    days: BTreeMap<i32, Day>,
    /// Under [`Reach::AllIncidents`], the `incidents` files the days were
    /// summed with: when they change, every day is summed again.
    incidents: BTreeMap<i32, DayFiles>,
    /// The versions of the tables read (the summed table first) when the
    /// sums were last brought up to date; none while a refresh is under
    /// way or after one was cut short.
    versions: Vec<Option<u64>>,
    /// Whether the sums outgrew the bytes they may hold: each report then
    /// works them out for itself instead.
    over_cap: bool,
}

/// One day's sums and the files they were made from.
struct Day {
    files: Vec<DayFiles>,
    sums: RecordBatch,
}

impl DailySums {
    /// No sums yet of `kind`.
    pub fn of(kind: Kind) -> Self {
        DailySums {
            kind,
            days: BTreeMap::new(),
            incidents: BTreeMap::new(),
            versions: Vec::new(),
            over_cap: false,
        }
    }

    /// Registers the sums in `session` for one report of the dates
    /// `report_from` (included) to `report_to` (excluded), for a
    /// process that makes one report, where keeping sums would cost a
    /// whole pass over the tables first. The adoption and token-spend
    /// sums as a view: worked out by each query that reads them, over the
    /// days it reads (its `date` filters reach the table's partitions).
    /// The incidents report's sums are worked out once, each part of the
    /// report reading them: the windows for the report's range (which no
    /// filter on the incidents' dates would bound, a window reading the
    /// days before it), the changes' outcomes for every day (a cause may
    /// be a change of any day).
    pub async fn register_for_one_report(
        &self,
        session: &StoreSession,
        report_from: NaiveDate,
        report_to: NaiveDate,
    ) -> Result<(), QueryError> {
        let (from, to) = EVERY_DAY;
        let table: Arc<dyn TableProvider> = match self.kind.reach {
            Reach::OwnDay => self.aggregation(session, from, to).await?.into_view(),
            Reach::Lookback(_) => {
                let (from, to) = (report_from.to_epoch_days(), report_to.to_epoch_days());
                collected(self.aggregation(session, from, to).await?).await?
            }
            Reach::AllIncidents => collected(self.aggregation(session, from, to).await?).await?,
        };
        session.context().register_table(self.kind.name, table)?;
        Ok(())
    }

    /// Brings the sums up to date with the tables `session` reads, summing
    /// again only the days whose files changed, and returns them as a
    /// table. Days are summed a million events at a time, each run kept as
    /// soon as it is done: memory stays bounded on a store of any age,
    /// and a refresh cut short (by the query timeout) is resumed by the
    /// next. `None`, with nothing kept, once the sums hold more than
    /// `cap_bytes`: they are then never kept again.
    async fn refresh(
        &mut self,
        session: &StoreSession,
        cap_bytes: usize,
    ) -> Result<Option<MemTable>, QueryError> {
        if self.over_cap {
            return Ok(None);
        }
        let (from, to) = EVERY_DAY;
        let schema: SchemaRef = Arc::new(
            self.aggregation(session, from, to)
                .await?
                .schema()
                .as_arrow()
                .clone(),
        );
        let FilesRead {
            days: files,
            versions,
            incidents,
        } = self.files_read(session).await?;
        if versions
            .iter()
            .zip(&self.versions)
            .any(|(now, kept)| now < kept)
        {
            // A report that started before the last refresh: the newer
            // sums serve it too, rather than being turned back (and days
            // retention has since purged being read again).
            return self.table(session, schema).map(Some);
        }
        // Until this refresh is done, the sums are no snapshot's: a report
        // on an older snapshot must not take them as they are.
        self.versions.clear();
        if let Some(incidents) = incidents
            && incidents != self.incidents
        {
            self.days.clear();
            self.incidents = incidents;
        }
        self.days.retain(|day, _| files.contains_key(day));
        let stale: Vec<i32> = files
            .iter()
            .filter(|(day, now)| self.days.get(day).is_none_or(|known| known.files != **now))
            .map(|(day, _)| *day)
            .collect();
        if !stale.is_empty() {
            tracing::debug!(
                sums = self.kind.name,
                days = stale.len(),
                "summing days whose files changed"
            );
        }
        let rows: BTreeMap<i32, usize> = files
            .iter()
            .map(|(day, files)| (*day, files.iter().map(|f| f.rows).sum()))
            .collect();
        for chunk in chunks(&stale, &rows) {
            let (first, last) = (chunk[0], chunk[chunk.len() - 1]);
            let days = chunk
                .iter()
                .map(|day| lit(ScalarValue::Date32(Some(*day))))
                .collect();
            let batches = self
                .aggregation(session, first, last + 1)
                .await?
                .filter(col("date").in_list(days, false))?
                .collect()
                .await?;
            let mut by_day = split_by_day(&schema, &batches)?;
            for day in chunk {
                let sums = by_day
                    .remove(day)
                    .unwrap_or_else(|| RecordBatch::new_empty(Arc::clone(&schema)));
                let files = files[day].clone();
                self.days.insert(*day, Day { files, sums });
            }
            if self.bytes() > cap_bytes {
                tracing::info!(
                    sums = self.kind.name,
                    cap_bytes,
                    "the report sums outgrew their memory; each report works them out itself"
                );
                self.days.clear();
                self.incidents.clear();
                self.over_cap = true;
                return Ok(None);
            }
        }
        self.versions = versions;
        self.table(session, schema).map(Some)
    }

    /// The bytes the kept days' sums hold.
    fn bytes(&self) -> usize {
        self.days
            .values()
            .map(|day| day.sums.get_array_memory_size())
            .sum()
    }

    /// The aggregation over the days `from` to `to` (excluded).
    async fn aggregation(
        &self,
        session: &StoreSession,
        from: i32,
        to: i32,
    ) -> Result<DataFrame, QueryError> {
        let frame = session.context().sql(self.kind.sql).await?;
        Ok(frame.with_param_values(self.kind.params(from, to))?)
    }

    /// The files each day's sums are made from, as `session` reads them.
    async fn files_read(&self, session: &StoreSession) -> Result<FilesRead, QueryError> {
        let (own, version) = files_by_date(session, self.kind.source).await?;
        let mut versions = vec![version];
        let mut files: BTreeMap<i32, Vec<DayFiles>> = own
            .into_iter()
            .map(|(day, files)| (day, vec![files]))
            .collect();
        let mut incidents = None;
        match self.kind.reach {
            Reach::OwnDay => {}
            Reach::Lookback(hours) => {
                let reach = lookback_days(hours);
                for table in [EventType::AiUsage, EventType::CodeChange] {
                    let (theirs, version) = files_by_date(session, table).await?;
                    versions.push(version);
                    for (day, read) in files.iter_mut() {
                        read.extend(
                            (day - reach..=*day)
                                .map(|before| theirs.get(&before).cloned().unwrap_or_default()),
                        );
                    }
                }
            }
            Reach::AllIncidents => {
                let (all, version) = files_by_date(session, EventType::Incident).await?;
                versions.push(version);
                incidents = Some(all);
            }
        }
        Ok(FilesRead {
            days: files,
            versions,
            incidents,
        })
    }

    /// The sums as a table of `schema`, the days spread over the session's
    /// partitions.
    fn table(&self, session: &StoreSession, schema: SchemaRef) -> Result<MemTable, QueryError> {
        let partitions = session.context().copied_config().target_partitions().max(1);
        let mut batches = vec![Vec::new(); partitions];
        for (index, day) in self.days.values().enumerate() {
            batches[index % partitions].push(day.sums.clone());
        }
        Ok(MemTable::try_new(schema, batches)?)
    }
}

/// What a refresh compares with what the sums were made from.
struct FilesRead {
    /// The files each day's sums are made from.
    days: BTreeMap<i32, Vec<DayFiles>>,
    /// The versions of the tables read, the summed table first.
    versions: Vec<Option<u64>>,
    /// Under [`Reach::AllIncidents`], every `incidents` file.
    incidents: Option<BTreeMap<i32, DayFiles>>,
}

/// The sums kept between reports: those of every kind a report asked for,
/// the incidents' windows only for the [`KEPT_LOOKBACKS`] lookbacks asked
/// for last, together within a number of bytes (the least recently used
/// kinds let go first). Each kind has a lock of its own, so reports that
/// need different sums (another lookback, another report) never wait on
/// one another's refresh; reports that need the same sums share its one
/// refresh.
pub struct KeptSums {
    /// Bytes the kept sums may hold together.
    cap_bytes: usize,
    /// The least recently used first.
    slots: std::sync::Mutex<Vec<Arc<Slot>>>,
}

/// One kind's sums.
struct Slot {
    kind: Kind,
    sums: tokio::sync::Mutex<DailySums>,
    /// What the sums held when last refreshed.
    bytes: AtomicUsize,
}

impl KeptSums {
    /// No sums yet; together they will hold at most `cap_bytes`.
    pub fn new(cap_bytes: usize) -> Self {
        KeptSums {
            cap_bytes,
            slots: std::sync::Mutex::default(),
        }
    }

    /// Brings the sums of `kinds` up to date with the tables `session`
    /// reads and registers them in it, for a report of the days `from`
    /// (included) to `to` (excluded). Sums that outgrow the cap on their
    /// own are worked out for this report alone.
    pub async fn register(
        &self,
        session: &StoreSession,
        kinds: &[Kind],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(), QueryError> {
        for wanted in kinds {
            let slot = self.slot(*wanted);
            let mut sums = slot.sums.lock().await;
            let refreshed = sums.refresh(session, self.cap_bytes).await;
            slot.bytes.store(sums.bytes(), Ordering::Relaxed);
            drop(sums);
            match refreshed? {
                Some(table) => {
                    session
                        .context()
                        .register_table(wanted.name, Arc::new(table))?;
                }
                None => {
                    DailySums::of(*wanted)
                        .register_for_one_report(session, from, to)
                        .await?
                }
            }
            self.let_go_beyond_cap(&slot);
        }
        Ok(())
    }

    /// The bytes the kept sums hold, as last counted.
    pub fn bytes(&self) -> usize {
        self.locked_slots()
            .iter()
            .map(|slot| slot.bytes.load(Ordering::Relaxed))
            .sum()
    }

    /// The slot of `kind`, made the most recently used; the windows of
    /// lookbacks asked for before the last [`KEPT_LOOKBACKS`] are let go.
    fn slot(&self, kind: Kind) -> Arc<Slot> {
        let mut slots = self.locked_slots();
        let slot = match slots.iter().position(|slot| slot.kind == kind) {
            Some(index) => slots.remove(index),
            None => Arc::new(Slot {
                kind,
                sums: tokio::sync::Mutex::new(DailySums::of(kind)),
                bytes: AtomicUsize::new(0),
            }),
        };
        slots.push(Arc::clone(&slot));
        let is_window = |slot: &Arc<Slot>| matches!(slot.kind.reach, Reach::Lookback(_));
        while slots.iter().filter(|slot| is_window(slot)).count() > KEPT_LOOKBACKS {
            let oldest = slots.iter().position(is_window).expect("counted");
            slots.remove(oldest);
        }
        slot
    }

    /// Lets the least recently used sums other than `current` go until the
    /// rest fit the cap (a report still reading them keeps them until it
    /// is done). Slots holding nothing stay: letting go of a kind known to
    /// outgrow the cap would only have the next report sum it up to the
    /// cap again.
    fn let_go_beyond_cap(&self, current: &Arc<Slot>) {
        let mut slots = self.locked_slots();
        let mut total: usize = slots
            .iter()
            .map(|slot| slot.bytes.load(Ordering::Relaxed))
            .sum();
        let mut index = 0;
        while total > self.cap_bytes && index < slots.len() {
            let bytes = slots[index].bytes.load(Ordering::Relaxed);
            if bytes == 0 || Arc::ptr_eq(&slots[index], current) {
                index += 1;
                continue;
            }
            slots.remove(index);
            total -= bytes;
        }
    }

    fn locked_slots(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The rows of `frame`, worked out once, as a table.
async fn collected(frame: DataFrame) -> Result<Arc<dyn TableProvider>, QueryError> {
    let schema = Arc::new(frame.schema().as_arrow().clone());
    Ok(Arc::new(MemTable::try_new(
        schema,
        vec![frame.collect().await?],
    )?))
}

/// `table`'s files by day and its version as `session` reads it (none for
/// a table not yet created).
async fn files_by_date(
    session: &StoreSession,
    table: EventType,
) -> Result<(BTreeMap<i32, DayFiles>, Option<u64>), QueryError> {
    let provider = session.context().table_provider(table.table_name()).await?;
    Ok(match provider.downcast_ref::<SnapshotScan>() {
        Some(scan) => (scan.files_by_date()?, Some(scan.version())),
        None => (BTreeMap::new(), None),
    })
}

/// `days` in runs of consecutive entries of at most
/// [`ROWS_PER_AGGREGATION`] events by `rows` (a bigger day is a run of its
/// own).
fn chunks<'a>(days: &'a [i32], rows: &BTreeMap<i32, usize>) -> Vec<&'a [i32]> {
    let mut chunks = Vec::new();
    let (mut start, mut sum) = (0, 0);
    for (index, day) in days.iter().enumerate() {
        let day_rows = rows[day];
        if index > start && sum + day_rows > ROWS_PER_AGGREGATION {
            chunks.push(&days[start..index]);
            (start, sum) = (index, 0);
        }
        sum += day_rows;
    }
    if start < days.len() {
        chunks.push(&days[start..]);
    }
    chunks
}

/// The rows of `batches` by their `date`, each day in arrays of its own:
/// a slice of a larger batch would keep all of it alive, and DataFusion
/// counts a slice's memory as the whole of the arrays it is cut from.
fn split_by_day(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<BTreeMap<i32, RecordBatch>> {
    let sums = concat_batches(schema, batches)?;
    let mut days = BTreeMap::new();
    if sums.num_rows() == 0 {
        return Ok(days);
    }
    let date = sums
        .column_by_name("date")
        .expect("the sums are grouped by date");
    let order = sort_to_indices(date, None, None)?;
    let dates = take(date, &order, None)?;
    for range in partition(std::slice::from_ref(&dates))?.ranges() {
        let day = dates.as_primitive::<Date32Type>().value(range.start);
        let rows = order.slice(range.start, range.len());
        days.insert(day, take_record_batch(&sums, &rows)?);
    }
    Ok(days)
}
