//! The query engine: DataFusion sessions over the store's tables, one per
//! query, each with its own memory pool, over table snapshots refreshed
//! when the query starts, so that a long-running server sees every commit
//! without a restart. It knows nothing of reports: they register what
//! they read in a session of their own (the `reports` module).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aitrail_schemas::EventType;
use aitrail_store::StoreError;
use aitrail_store::StoreRoot;
use aitrail_store::access_log::{ACCESS_LOG_TABLE, access_log_schema};
use aitrail_store::retention::log::{RETENTION_LOG, retention_log_schema};
use aitrail_store::table::{Newer, newer_than, open_existing, table_schema};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::cache::cache_manager::{CacheManagerConfig, FileMetadataCache};
use datafusion::execution::context::SQLOptions;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::{DeltaTable, DeltaTableError};
use futures::StreamExt;
use tokio::sync::Mutex;

use crate::date_cast::DateCast;
use crate::limits::Limits;
use crate::prices::{MODEL_PRICES_TABLE, Prices};
use crate::run_date_trunc;
use crate::snapshot_scan::SnapshotScan;

/// Why a query was not answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The statement is not a read-only query.
    #[error("{0}")]
    Refused(String),
    /// The statement is not valid SQL, or names what does not exist.
    #[error("{0}")]
    Invalid(String),
    /// The result has more rows than the row cap allows.
    #[error(
        "the result has more than {max} rows (the server's max_rows); aggregate or add a LIMIT"
    )]
    TooManyRows {
        /// The cap.
        max: usize,
    },
    /// The query needed more memory than the per-query limit.
    #[error("the query needs more memory than the per-query limit (memory_limit_mb): {0}")]
    OutOfMemory(String),
    /// The query ran longer than the per-query timeout.
    #[error("the query did not finish within {}s (query_timeout_s)", .0.as_secs_f64())]
    Timeout(Duration),
    /// The store could not be read.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The query failed while running.
    #[error("{0}")]
    Engine(DataFusionError),
}

impl QueryError {
    /// Sorts an engine error into the user's mistake, a limit hit, or a
    /// failure of the engine or the store.
    fn from_engine(err: DataFusionError) -> Self {
        match err.find_root() {
            DataFusionError::ResourcesExhausted(message) => {
                QueryError::OutOfMemory(message.clone())
            }
            DataFusionError::SQL(..)
            | DataFusionError::Plan(_)
            | DataFusionError::SchemaError(..)
            | DataFusionError::NotImplemented(_) => QueryError::Invalid(err.to_string()),
            _ => QueryError::Engine(err),
        }
    }
}

impl From<DeltaTableError> for QueryError {
    fn from(err: DeltaTableError) -> Self {
        QueryError::Store(StoreError::Delta(err))
    }
}

impl From<DataFusionError> for QueryError {
    fn from(err: DataFusionError) -> Self {
        QueryError::from_engine(err)
    }
}

/// A query's result: its schema (known even with no rows) and its rows.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The result's columns.
    pub schema: SchemaRef,
    /// The rows, never an empty list: a result without rows is one empty
    /// batch, so every output format can show its columns.
    pub batches: Vec<RecordBatch>,
}

impl Answer {
    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Every table a session has: the event tables, the retention log and the
/// access log.
fn table_names() -> impl Iterator<Item = (&'static str, SchemaRef)> {
    EventType::ALL
        .iter()
        .map(|t| (t.table_name(), table_schema(*t)))
        .chain([
            (RETENTION_LOG, retention_log_schema()),
            (ACCESS_LOG_TABLE, access_log_schema()),
        ])
}

/// A table kept open between queries, with the provider of its last
/// snapshot.
struct OpenTable {
    table: DeltaTable,
    provider: Arc<dyn TableProvider>,
}

impl OpenTable {
    async fn new(table: DeltaTable) -> Result<Self, QueryError> {
        let provider = provider_of(&table)?;
        Ok(OpenTable { table, provider })
    }

    /// Brings the table `name` under `root` up to date when a commit newer
    /// than its snapshot exists; past a newer checkpoint the table is read
    /// afresh from it instead, so a server open for a year holds no more
    /// than a checkpoint interval of updates (see
    /// `aitrail_store::table::newer_than`).
    async fn refresh(&mut self, root: &StoreRoot, name: &str) -> Result<(), QueryError> {
        let Some(version) = self.table.version() else {
            return self.update().await;
        };
        match newer_than(&self.table, version).await? {
            Newer::Nothing => Ok(()),
            Newer::Commits => self.update().await,
            Newer::Checkpoint => {
                if let Some(table) = open_existing(root, name).await? {
                    *self = OpenTable::new(table).await?;
                }
                Ok(())
            }
        }
    }

    async fn update(&mut self) -> Result<(), QueryError> {
        self.table.update_incremental(None).await?;
        self.provider = provider_of(&self.table)?;
        Ok(())
    }
}

/// The provider queries read `table` through.
fn provider_of(table: &DeltaTable) -> Result<Arc<dyn TableProvider>, QueryError> {
    Ok(Arc::new(SnapshotScan::of(table)?))
}

/// The store's tables, kept open between queries and brought up to date
/// (incrementally: only new log entries are read) when a query starts.
pub struct StoreTables {
    root: StoreRoot,
    prices: Prices,
    open: Mutex<HashMap<&'static str, OpenTable>>,
    /// Parquet footers, shared by every query's session: reading them again
    /// for each query would cost more than many queries themselves.
    footers: Arc<FileMetadataCache>,
    /// Tables from configuration rather than the store (a crate above
    /// this one's: the governance policy's), registered in every session.
    configured: Vec<(String, RecordBatch)>,
}

impl StoreTables {
    /// The tables of the store at `root`, with `prices` as `model_prices`.
    /// Nothing is read until the first session.
    pub fn new(root: StoreRoot, prices: Prices) -> Result<Self, QueryError> {
        let footers = RuntimeEnvBuilder::new()
            .build()?
            .cache_manager
            .get_file_metadata_cache();
        Ok(StoreTables {
            root,
            prices,
            open: Mutex::new(HashMap::new()),
            footers,
            configured: Vec::new(),
        })
    }

    /// Registers `rows` as the table `name` in every session, beside the
    /// store's tables and `model_prices`.
    pub fn with_table(mut self, name: &str, rows: RecordBatch) -> Self {
        self.configured.push((name.to_string(), rows));
        self
    }

    /// A session for one query, within `limits`, over the tables as last
    /// committed. A table not yet created is empty, so queries over a young
    /// store still run.
    pub async fn session(&self, limits: Limits) -> Result<StoreSession, QueryError> {
        let caches =
            CacheManagerConfig::default().with_file_metadata_cache(Some(Arc::clone(&self.footers)));
        let mut runtime = RuntimeEnvBuilder::new().with_cache_manager(caches);
        if let Some(bytes) = limits.memory_bytes {
            runtime = runtime.with_memory_limit(bytes, 1.0);
        }
        let config = SessionConfig::new()
            .with_information_schema(true)
            // A date partition is one file and mostly one row group, so
            // batches of four times the default size halve the per-batch
            // work of every operator.
            .with_batch_size(32 * 1024)
            .set_bool("datafusion.execution.parquet.pushdown_filters", true)
            // The store writes a bloom filter only on `event_id`, for its
            // duplicate check, and its files are not sorted by the columns
            // queries filter on, so neither bloom filters nor page indexes
            // prune what compliance asks: looking for them cost a fifth of
            // a month's filter query (hundreds of files).
            .set_bool("datafusion.execution.parquet.bloom_filter_on_read", false)
            .set_bool("datafusion.execution.parquet.enable_page_index", false)
            // Plain strings: a string view keeps the whole Parquet page it
            // points into alive, and the memory pool counts that page once
            // per batch, so the per-query limit would trip on phantom bytes.
            .set_bool(
                "datafusion.execution.parquet.schema_force_view_types",
                false,
            );
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime.build_arc()?)
            .with_default_features()
            .with_optimizer_rule(Arc::new(DateCast))
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.register_udf(run_date_trunc::udf());
        let mut open = self.open.lock().await;
        for (name, schema) in table_names() {
            if !open.contains_key(name)
                && let Some(table) = open_existing(&self.root, name).await?
            {
                open.insert(name, OpenTable::new(table).await?);
            }
            let provider: Arc<dyn TableProvider> = match open.get_mut(name) {
                Some(open) => {
                    open.refresh(&self.root, name).await?;
                    Arc::clone(&open.provider)
                }
                None => Arc::new(MemTable::try_new(schema, vec![vec![]])?),
            };
            ctx.register_table(name, provider)?;
        }
        drop(open);
        ctx.register_table(MODEL_PRICES_TABLE, Arc::new(self.prices.table()?))?;
        for (name, rows) in &self.configured {
            let table = MemTable::try_new(rows.schema(), vec![vec![rows.clone()]])?;
            ctx.register_table(name.as_str(), Arc::new(table))?;
        }
        Ok(StoreSession {
            ctx,
            limits,
            started: Instant::now(),
        })
    }
}

/// A session in which the store's tables are registered under their names
/// (`ai_usage`, `code_changes`, `incidents`, `code_reviews`, `retention_log`, `access_log`,
/// `model_prices`) and nothing can be written.
pub struct StoreSession {
    ctx: SessionContext,
    limits: Limits,
    /// When the session was made: its timeout counts from then, so that
    /// all a request does in it (a report's sums, then its query) shares
    /// one budget.
    started: Instant,
}

impl StoreSession {
    /// A session over the store at `root` without limits, for the command
    /// line.
    pub async fn open(root: &StoreRoot, prices: Prices) -> Result<Self, QueryError> {
        StoreTables::new(root.clone(), prices)?
            .session(Limits::NONE)
            .await
    }

    /// Runs one read-only statement. DDL, DML (`INSERT`, `COPY`), `SET` and
    /// other statements are refused before planning touches anything; paths
    /// are not tables (URL tables stay off), and no table function reads
    /// files.
    pub async fn query(&self, sql: &str) -> Result<Answer, QueryError> {
        self.within_time(async {
            let frame = self.plan(sql).await?;
            self.collect(frame).await
        })
        .await
    }

    /// Runs one read-only statement whose `$name` placeholders take
    /// `params`: values are bound into the plan, never spliced into the
    /// text.
    pub async fn query_with_params(
        &self,
        sql: &str,
        params: Vec<(&str, ScalarValue)>,
    ) -> Result<Answer, QueryError> {
        self.within_time(async {
            let frame = self.plan(sql).await?.with_param_values(params)?;
            self.collect(frame).await
        })
        .await
    }

    /// Runs one read-only statement with `params` for a report's own
    /// use, handing each batch to `each` as it arrives: what a report
    /// reads on the way to its answer (a year's findings evidence, say) is
    /// not capped at the rows an answer may have and is never held whole;
    /// the timeout and the memory limit still hold.
    pub async fn query_within_report(
        &self,
        sql: &str,
        params: Vec<(&str, ScalarValue)>,
        mut each: impl FnMut(RecordBatch) -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        self.within_time(async {
            let frame = self.plan(sql).await?.with_param_values(params)?;
            let mut stream = frame.execute_stream().await?;
            while let Some(batch) = stream.next().await {
                each(batch?)?;
            }
            Ok(())
        })
        .await
    }

    /// Plans every later join with its smaller side built once and shared
    /// by all partitions, instead of repartitioning both sides by the join
    /// key. For the reports, whose joins each have a small side (incidents,
    /// buckets, prices) and a large one (months of usage), this saves
    /// hashing and moving every row of the large side: a fifth of the
    /// incidents report on 10M events.
    pub fn broadcast_joins(&self) {
        self.ctx
            .state_ref()
            .write()
            .config_mut()
            .options_mut()
            .optimizer
            .repartition_joins = false;
    }

    /// The table `name` with its text columns read as string views (see
    /// [`SnapshotScan::with_string_views`]): for a report's filter over a
    /// large table that keeps few of its rows. A table not yet created is
    /// read as registered.
    pub async fn table_with_string_views(&self, name: &str) -> Result<DataFrame, QueryError> {
        let provider = self.ctx.table_provider(name).await?;
        match provider.downcast_ref::<SnapshotScan>() {
            Some(scan) => Ok(self.ctx.read_table(Arc::new(scan.with_string_views()))?),
            None => Ok(self.ctx.table(name).await?),
        }
    }

    /// The underlying DataFusion session.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    async fn plan(&self, sql: &str) -> Result<DataFrame, QueryError> {
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        self.ctx
            .sql_with_options(sql, options)
            .await
            .map_err(|err| match err {
                DataFusionError::Plan(message) if message.contains("not supported") => {
                    QueryError::Refused(format!("only read-only queries are allowed: {message}"))
                }
                other => QueryError::from_engine(other),
            })
    }

    /// Runs `work` within what is left of the session's timeout, so that
    /// all a request does in the session shares one budget.
    pub async fn within_time<T>(
        &self,
        work: impl Future<Output = Result<T, QueryError>>,
    ) -> Result<T, QueryError> {
        match self.limits.timeout {
            Some(limit) => tokio::time::timeout(limit.saturating_sub(self.started.elapsed()), work)
                .await
                .map_err(|_| QueryError::Timeout(limit))?,
            None => work.await,
        }
    }

    /// Collects the rows of `frame`, stopping as soon as the row cap is
    /// passed rather than after the whole result is built.
    async fn collect(&self, frame: DataFrame) -> Result<Answer, QueryError> {
        let mut stream = frame.execute_stream().await?;
        let mut batches = Vec::new();
        let mut rows = 0;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows();
            if let Some(max) = self.limits.max_rows
                && rows > max
            {
                return Err(QueryError::TooManyRows { max });
            }
            if batch.num_rows() > 0 {
                batches.push(batch);
            }
        }
        let schema = match batches.first() {
            Some(batch) => batch.schema(),
            None => stream.schema(),
        };
        if batches.is_empty() {
            batches.push(RecordBatch::new_empty(schema.clone()));
        }
        Ok(Answer { schema, batches })
    }
}
