//! A table provider that honours `LIMIT` on every scan. The Delta provider
//! answers a scan that reads no data column (`SELECT date FROM incidents
//! LIMIT 3`) from the log's per-file row counts alone, and that metadata
//! scan ignores the limit it is given: every row of every file came back.
//! Such a scan is planned again with one data column added, which the
//! Parquet reader limits, and the added column is projected away.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, Statistics};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;

/// The name of the Delta provider's metadata-only scan.
const METADATA_SCAN: &str = "DeltaScanMetaExec";

/// Wraps a store table's provider so that a scan with a limit returns at
/// most that many rows.
#[derive(Debug)]
pub struct LimitedScan {
    inner: Arc<dyn TableProvider>,
}

impl LimitedScan {
    /// `inner`, with limits honoured.
    pub fn new(inner: Arc<dyn TableProvider>) -> Self {
        LimitedScan { inner }
    }
}

#[async_trait]
impl TableProvider for LimitedScan {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self.inner.scan(state, projection, filters, limit).await?;
        let (Some(_), Some(projection)) = (limit, projection) else {
            return Ok(plan);
        };
        if plan.name() != METADATA_SCAN {
            return Ok(plan);
        }
        let columns = self.inner.schema().fields().len();
        for data_column in (0..columns).filter(|i| !projection.contains(i)) {
            let mut widened = projection.clone();
            widened.push(data_column);
            let scan = self
                .inner
                .scan(state, Some(&widened), filters, limit)
                .await?;
            if scan.name() != METADATA_SCAN {
                return Ok(Arc::new(first_columns(projection.len(), scan)?));
            }
        }
        Ok(plan)
    }
}

/// `plan` with only its first `count` columns.
fn first_columns(count: usize, plan: Arc<dyn ExecutionPlan>) -> Result<ProjectionExec> {
    let schema = plan.schema();
    let columns = (0..count).map(|position| {
        let name = schema.field(position).name().clone();
        let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(&name, position));
        (column, name)
    });
    ProjectionExec::try_new(columns, plan)
}
