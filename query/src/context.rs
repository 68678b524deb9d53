//! The DataFusion session over the store's tables, refusing anything but
//! reading them.

use std::sync::Arc;

use aitrail_schemas::EventType;
use aitrail_store::StoreRoot;
use aitrail_store::retention::log::{RETENTION_LOG, retention_log_schema};
use aitrail_store::table::{open_existing, table_schema};
use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::DeltaTableError;

/// Why a query was not answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The statement is not a read-only query, or is not valid SQL.
    #[error("{0}")]
    Refused(String),
    /// The store could not be read.
    #[error("store: {0}")]
    Store(#[from] DeltaTableError),
    /// The query failed while planning or running.
    #[error("{0}")]
    Engine(#[from] datafusion::error::DataFusionError),
}

/// A session in which the store's tables are registered under their names
/// (`ai_usage`, `code_changes`, `incidents`, `retention_log`) and nothing
/// can be written.
pub struct StoreSession {
    ctx: SessionContext,
}

impl StoreSession {
    /// Registers every table of the store at `root` (the event tables and
    /// `retention_log`); a table not yet created
    /// is registered empty, so queries over a young store still run.
    pub async fn open(root: &StoreRoot) -> Result<Self, QueryError> {
        let config = SessionConfig::new()
            .with_information_schema(true)
            .set_bool("datafusion.execution.parquet.pushdown_filters", true);
        let ctx = SessionContext::new_with_config(config);
        let tables = EventType::ALL
            .iter()
            .map(|t| (t.table_name(), table_schema(*t)))
            .chain([(RETENTION_LOG, retention_log_schema())]);
        for (name, schema) in tables {
            if let Some(table) = open_existing(root, name).await? {
                table.update_datafusion_session(&ctx.state())?;
                ctx.register_table(name, table.table_provider().await?)?;
            } else {
                let empty = MemTable::try_new(schema, vec![vec![]])?;
                ctx.register_table(name, Arc::new(empty))?;
            }
        }
        Ok(StoreSession { ctx })
    }

    /// Runs one read-only statement and collects its result. DDL, DML
    /// (`INSERT`, `COPY`), `SET` and other statements are refused before
    /// planning touches anything.
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, QueryError> {
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let frame = self
            .ctx
            .sql_with_options(sql, options)
            .await
            .map_err(|err| match err {
                datafusion::error::DataFusionError::Plan(message)
                    if message.contains("not supported") =>
                {
                    QueryError::Refused(format!("only read-only queries are allowed: {message}"))
                }
                other => QueryError::Engine(other),
            })?;
        Ok(frame.collect().await?)
    }

    /// The underlying DataFusion session.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }
}
