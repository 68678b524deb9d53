//! A store table read as what it is: Parquet files with Hive-style
//! partition values, listed by one Delta snapshot.
//!
//! The store's tables use no Delta reader feature (reader version 1: no
//! column mapping, no deletion vectors), so the files a snapshot lists are
//! the table, row for row. DataFusion's own Parquet scan reads them at half
//! the cost of the Delta provider's scan, which parses every file's
//! statistics and rewrites every batch on each query; the snapshot's file
//! list, typed partition values and row counts are worked out once per
//! snapshot here instead.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, FieldRef, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::{DFSchema, DataFusionError, Result, ScalarValue, Statistics};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::listing::helpers::expr_applicable_for_cols;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use deltalake::table::state::DeltaTableState;
use deltalake::{DeltaTable, DeltaTableError, ObjectMeta, ObjectStore};

/// The files of one table snapshot, scanned by DataFusion's Parquet reader
/// with partition pruning on the partition columns.
#[derive(Debug)]
pub struct SnapshotScan {
    /// The table's columns in the order the Delta schema gives them.
    schema: SchemaRef,
    /// The data columns followed by the partition columns: the order the
    /// Parquet scan produces.
    scan_schema: TableSchema,
    /// For each column of `schema`, its index in `scan_schema`.
    scan_index: Vec<usize>,
    /// Where the files are, relative to the table root.
    store_url: ObjectStoreUrl,
    store: Arc<dyn ObjectStore>,
    snapshot: DeltaTableState,
    /// The snapshot's files, listed when a query first scans them: a
    /// session registers every table, and the access log gains a commit
    /// with each request, so listing eagerly would cost every query a walk
    /// over the access log's files. Shared with the scan's
    /// [`SnapshotScan::with_string_views`] form.
    listing: Arc<OnceLock<Listing>>,
}

/// `field` as a string view when it holds plain text.
fn as_view(field: &FieldRef) -> FieldRef {
    match field.data_type() {
        DataType::Utf8 => Arc::new(field.as_ref().clone().with_data_type(DataType::Utf8View)),
        _ => Arc::clone(field),
    }
}

/// The files of one day of a snapshot.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DayFiles {
    /// Their paths, sorted.
    pub paths: Vec<String>,
    /// Their rows, as the log counts them (files it gives no count for
    /// add nothing).
    pub rows: usize,
}

/// The files of a snapshot, ready to scan.
#[derive(Debug)]
struct Listing {
    files: Vec<PartitionedFile>,
    /// The partition columns, one row per file of `files`: partition
    /// filters are evaluated on it to choose the files a scan reads.
    partition_values: RecordBatch,
}

impl SnapshotScan {
    /// The scan of `table` as its current snapshot lists it.
    pub fn of(table: &DeltaTable) -> Result<Self, DeltaTableError> {
        let state = table.snapshot()?;
        let reader_version = serde_json::to_value(state.protocol())
            .ok()
            .and_then(|protocol| protocol["minReaderVersion"].as_i64());
        if reader_version != Some(1) {
            return Err(DeltaTableError::Generic(format!(
                "the table at {} needs Delta reader version {}; aitrail reads version 1 tables, \
                 as it writes them",
                table.table_url(),
                reader_version.map_or("unknown".to_string(), |v| v.to_string()),
            )));
        }
        let schema = state.snapshot().arrow_schema();
        let partition_names = state.metadata().partition_columns();
        let data_fields: Vec<FieldRef> = schema
            .fields()
            .iter()
            .filter(|field| !partition_names.contains(field.name()))
            .cloned()
            .collect();
        let partition_fields: Vec<FieldRef> = partition_names
            .iter()
            .filter_map(|name| schema.fields().find(name).map(|(_, f)| Arc::clone(f)))
            .collect();
        let scan_index = schema
            .fields()
            .iter()
            .map(|field| {
                data_fields
                    .iter()
                    .chain(&partition_fields)
                    .position(|f| f.name() == field.name())
                    .expect("every column is a data or a partition column")
            })
            .collect();
        let log_store = table.log_store();
        Ok(SnapshotScan {
            schema,
            scan_schema: TableSchema::builder(Arc::new(Schema::new(data_fields)))
                .with_table_partition_cols(partition_fields)
                .build(),
            scan_index,
            store_url: log_store.object_store_url(),
            store: log_store.object_store(None),
            snapshot: state.clone(),
            listing: Arc::default(),
        })
    }

    /// The same scan with its text columns read as string views: decoding
    /// a dictionary page into views copies no text, which makes a filter
    /// over a large table that keeps few rows (a governance policy over a
    /// year of usage) a fifth faster. A view keeps the page it points into
    /// alive, so this is for scans whose surviving rows are few, not for
    /// queries that hold many batches under a memory limit (the reason the
    /// engine reads plain strings by default).
    pub fn with_string_views(&self) -> SnapshotScan {
        let file_schema = self.scan_schema.file_schema();
        let data_fields: Vec<FieldRef> = file_schema.fields().iter().map(as_view).collect();
        let schema = self
            .schema
            .fields()
            .iter()
            .map(|field| match file_schema.field_with_name(field.name()) {
                Ok(_) => as_view(field),
                Err(_) => Arc::clone(field),
            })
            .collect::<Vec<_>>();
        SnapshotScan {
            schema: Arc::new(Schema::new(schema)),
            scan_schema: TableSchema::builder(Arc::new(Schema::new(data_fields)))
                .with_table_partition_cols(self.partition_fields().to_vec())
                .build(),
            scan_index: self.scan_index.clone(),
            store_url: self.store_url.clone(),
            store: Arc::clone(&self.store),
            snapshot: self.snapshot.clone(),
            listing: Arc::clone(&self.listing),
        }
    }

    fn partition_fields(&self) -> &[FieldRef] {
        self.scan_schema.table_partition_cols()
    }

    fn partition_names(&self) -> Vec<&str> {
        self.partition_fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect()
    }

    /// The snapshot's files, listed on first use.
    fn listing(&self) -> Result<&Listing> {
        if let Some(listing) = self.listing.get() {
            return Ok(listing);
        }
        let listing = self.list()?;
        Ok(self.listing.get_or_init(|| listing))
    }

    fn list(&self) -> Result<Listing> {
        let fields = self.partition_fields();
        let mut files = Vec::new();
        for file in self.snapshot.log_data().iter() {
            let raw = file.partition_values_map();
            let values = fields
                .iter()
                .map(|field| match raw.get(field.name()).cloned().flatten() {
                    Some(text) => ScalarValue::try_from_string(text, field.data_type()),
                    None => ScalarValue::try_from(field.data_type()),
                })
                .collect::<Result<Vec<_>>>()?;
            let meta = ObjectMeta {
                location: file.object_store_path(),
                last_modified: file
                    .modification_datetime()
                    .map_err(|err| DataFusionError::External(Box::new(err)))?,
                size: u64::try_from(file.size()).unwrap_or_default(),
                e_tag: None,
                version: None,
            };
            let mut partitioned = PartitionedFile::new_from_meta(meta);
            partitioned.partition_values = values;
            if let Some(rows) = file.num_records() {
                let mut statistics = Statistics::new_unknown(self.scan_schema.file_schema());
                statistics.num_rows = Precision::Exact(rows);
                partitioned = partitioned.with_statistics(Arc::new(statistics));
            }
            files.push(partitioned);
        }
        let partition_schema = Arc::new(Schema::new(fields.to_vec()));
        let arrays = fields
            .iter()
            .enumerate()
            .map(|(column, field)| {
                if files.is_empty() {
                    Ok(arrow::array::new_empty_array(field.data_type()))
                } else {
                    ScalarValue::iter_to_array(
                        files
                            .iter()
                            .map(|file| file.partition_values[column].clone()),
                    )
                }
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        let partition_values = RecordBatch::try_new_with_options(
            partition_schema,
            arrays,
            &arrow::array::RecordBatchOptions::new().with_row_count(Some(files.len())),
        )?;
        Ok(Listing {
            files,
            partition_values,
        })
    }

    /// The Delta version of the snapshot.
    pub fn version(&self) -> u64 {
        self.snapshot.version()
    }

    /// The snapshot's files by the value of the `date` partition column
    /// (days since the epoch): what a cache of per-day results compares to
    /// tell which days changed. Files without a date are left out.
    pub fn files_by_date(&self) -> Result<BTreeMap<i32, DayFiles>> {
        let listing = self.listing()?;
        let mut days: BTreeMap<i32, DayFiles> = BTreeMap::new();
        let Some(column) = self.partition_names().iter().position(|n| *n == "date") else {
            return Ok(days);
        };
        for file in &listing.files {
            if let ScalarValue::Date32(Some(day)) = file.partition_values[column] {
                let entry = days.entry(day).or_default();
                entry.paths.push(file.object_meta.location.to_string());
                entry.rows += file
                    .statistics
                    .as_ref()
                    .and_then(|stats| stats.num_rows.get_value().copied())
                    .unwrap_or_default();
            }
        }
        for files in days.values_mut() {
            files.paths.sort_unstable();
        }
        Ok(days)
    }

    /// The files whose partition values pass every filter in `filters`
    /// that reads only partition columns.
    fn files_passing(&self, state: &dyn Session, filters: &[Expr]) -> Result<Vec<PartitionedFile>> {
        let listing = self.listing()?;
        let names = self.partition_names();
        let partition_filters = filters
            .iter()
            .filter(|filter| expr_applicable_for_cols(&names, filter));
        let schema = DFSchema::try_from(listing.partition_values.schema())?;
        let mut keep = vec![true; listing.files.len()];
        for filter in partition_filters {
            let predicate = state.create_physical_expr(filter.clone(), &schema)?;
            let verdicts = predicate
                .evaluate(&listing.partition_values)?
                .into_array(listing.files.len())?;
            let verdicts = verdicts.as_boolean();
            for (index, kept) in keep.iter_mut().enumerate() {
                *kept &= verdicts.is_valid(index) && verdicts.value(index);
            }
        }
        Ok(listing
            .files
            .iter()
            .zip(keep)
            .filter(|(_, kept)| *kept)
            .map(|(file, _)| file.clone())
            .collect())
    }
}

#[async_trait]
impl TableProvider for SnapshotScan {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Filters on partition columns alone choose the files and are exact;
    /// others go to the Parquet scan, which prunes row groups with them.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        let names = self.partition_names();
        Ok(filters
            .iter()
            .map(|filter| {
                if expr_applicable_for_cols(&names, filter) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Inexact
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let files = self.files_passing(state, filters)?;
        if files.is_empty() {
            let schema = match projection {
                Some(columns) => Arc::new(self.schema.project(columns)?),
                None => Arc::clone(&self.schema),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        state
            .runtime_env()
            .register_object_store(self.store_url.as_ref(), Arc::clone(&self.store));
        let mut statistics = Statistics::new_unknown(self.scan_schema.table_schema());
        statistics.num_rows = files
            .iter()
            .map(|file| match &file.statistics {
                Some(stats) => stats.num_rows,
                None => Precision::Absent,
            })
            .fold(Precision::Exact(0), |sum, rows| sum.add(&rows));
        let groups = FileGroup::new(files).split_files(state.config().target_partitions());
        let projection = match projection {
            Some(columns) => columns.iter().map(|c| self.scan_index[*c]).collect(),
            None => self.scan_index.clone(),
        };
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let config = FileScanConfigBuilder::new(
            self.store_url.clone(),
            format.file_source(self.scan_schema.clone()),
        )
        .with_file_groups(groups)
        .with_statistics(statistics)
        .with_projection_indices(Some(projection))?
        .with_limit(limit)
        .build();
        format.create_physical_plan(state, config).await
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Date32Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field};
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::SessionContext;

    use super::*;

    /// A table `(a, date, b)` partitioned by `date`, whose partition column
    /// sits between two data columns: one file for each of three days
    /// (2024-10-04, 2024-10-05, 2024-10-06).
    async fn three_days(dir: &std::path::Path) -> DeltaTable {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("date", DataType::Date32, false),
            Field::new("b", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(Date32Array::from(vec![20_000, 20_001, 20_002])),
                Arc::new(StringArray::from(vec![Some("x"), Some("y"), None])),
            ],
        )
        .unwrap();
        let url = url::Url::from_directory_path(dir).unwrap();
        DeltaTable::try_from_url(url)
            .await
            .unwrap()
            .write([batch])
            .with_partition_columns(["date"])
            .await
            .unwrap()
    }

    /// `sql`'s rows over the table as `t`, and how many Parquet files its
    /// plan reads.
    async fn run(table: &DeltaTable, sql: &str) -> (Vec<RecordBatch>, usize) {
        run_on(SnapshotScan::of(table).unwrap(), sql).await
    }

    /// `sql`'s rows over `scan` as `t`, and how many Parquet files its plan
    /// reads.
    async fn run_on(scan: SnapshotScan, sql: &str) -> (Vec<RecordBatch>, usize) {
        let ctx = SessionContext::new();
        ctx.register_table("t", Arc::new(scan)).unwrap();
        let frame = ctx.sql(sql).await.unwrap();
        let plan = frame.clone().create_physical_plan().await.unwrap();
        let files = displayable(plan.as_ref())
            .indent(true)
            .to_string()
            .matches(".parquet")
            .count();
        (frame.collect().await.unwrap(), files)
    }

    fn column_a(batches: &[RecordBatch]) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|batch| {
                batch
                    .column_by_name("a")
                    .unwrap()
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_partition_filter_reads_only_the_files_it_selects() {
        let dir = tempfile::tempdir().unwrap();
        let table = three_days(dir.path()).await;
        let (rows, files) = run(
            &table,
            "SELECT a FROM t WHERE date >= DATE '2024-10-05' ORDER BY a",
        )
        .await;
        assert_eq!(column_a(&rows), [2, 3]);
        assert_eq!(files, 2);
        let (rows, files) = run(&table, "SELECT a FROM t WHERE date > DATE '2025-01-01'").await;
        assert!(column_a(&rows).is_empty());
        assert_eq!(files, 0);
    }

    #[tokio::test]
    async fn columns_come_in_the_table_order_with_their_values() {
        let dir = tempfile::tempdir().unwrap();
        let table = three_days(dir.path()).await;
        let (rows, files) = run(&table, "SELECT * FROM t ORDER BY a").await;
        assert_eq!(files, 3);
        let batch = arrow::compute::concat_batches(&rows[0].schema(), &rows).unwrap();
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, ["a", "date", "b"]);
        assert_eq!(
            batch
                .column(1)
                .as_primitive::<arrow::datatypes::Date32Type>()
                .values(),
            &[20_000, 20_001, 20_002]
        );
        let b = batch.column(2).as_string::<i32>();
        assert_eq!((b.value(0), b.value(1), b.is_null(2)), ("x", "y", true));
    }

    #[tokio::test]
    async fn string_views_read_the_same_text_and_prune_the_same_files() {
        let dir = tempfile::tempdir().unwrap();
        let table = three_days(dir.path()).await;
        let views = SnapshotScan::of(&table).unwrap().with_string_views();
        let (rows, files) = run_on(
            views,
            "SELECT a, b FROM t WHERE date >= DATE '2024-10-05' AND b = 'y'",
        )
        .await;
        let batch = arrow::compute::concat_batches(&rows[0].schema(), &rows).unwrap();
        assert_eq!(files, 2);
        assert_eq!(batch.column(1).data_type(), &DataType::Utf8View);
        assert_eq!(column_a(&rows), [2]);
        assert_eq!(batch.column(1).as_string_view().value(0), "y");
    }

    #[tokio::test]
    async fn counts_come_from_the_log_unless_a_filter_needs_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let table = three_days(dir.path()).await;
        let count = |batches: &[RecordBatch]| {
            batches[0]
                .column(0)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .value(0)
        };
        let (rows, files) = run(&table, "SELECT count(*) FROM t").await;
        assert_eq!((count(&rows), files), (3, 0));
        let (rows, files) = run(&table, "SELECT count(*) FROM t WHERE b = 'y'").await;
        assert_eq!((count(&rows), files), (1, 3));
        let (rows, _) = run(&table, "SELECT date FROM t LIMIT 2").await;
        assert_eq!(rows.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);
    }

    #[tokio::test]
    async fn a_table_needing_a_later_delta_reader_is_refused() {
        use deltalake::TableProperty;
        use deltalake::kernel::{DataType as DeltaType, StructField};
        let dir = tempfile::tempdir().unwrap();
        let url = url::Url::from_directory_path(dir.path()).unwrap();
        let table = DeltaTable::try_from_url(url)
            .await
            .unwrap()
            .create()
            .with_columns([StructField::new("a", DeltaType::LONG, false)])
            .with_configuration_property(TableProperty::ColumnMappingMode, Some("name"))
            .await
            .unwrap();
        let refused = SnapshotScan::of(&table).unwrap_err().to_string();
        assert!(
            refused.contains("needs Delta reader version 2"),
            "{refused}"
        );
    }
}
