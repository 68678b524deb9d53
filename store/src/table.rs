//! The Delta tables of the store: one per event type, partitioned by
//! retention tier and UTC date, created on first use.

use std::sync::Arc;

use aitrail_schemas::EventType;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};

use crate::location::StoreRoot;

/// The partition columns, outermost first (DESIGN §4).
pub const PARTITION_COLUMNS: [&str; 2] = ["tier", "date"];

/// The Arrow schema of the table holding events of `event_type`: the event's
/// own fields, then `tier` and `date`.
pub fn table_schema(event_type: EventType) -> SchemaRef {
    let mut fields: Vec<Field> = event_type
        .arrow_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("tier", DataType::Utf8, false));
    fields.push(Field::new("date", DataType::Date32, false));
    Arc::new(Schema::new(fields))
}

/// Opens the table named `name` under `root`, or `None` if it has not been
/// created yet.
pub async fn open_existing(
    root: &StoreRoot,
    name: &str,
) -> Result<Option<DeltaTable>, DeltaTableError> {
    let url = root.table_url(name);
    if let Ok(dir) = url.to_file_path()
        && !dir.exists()
    {
        return Ok(None);
    }
    let mut table = DeltaTableBuilder::from_url(url)?.build()?;
    if !table.verify_deltatable_existence().await? {
        return Ok(None);
    }
    table.load().await?;
    Ok(Some(table))
}

/// Opens the table of `event_type` under `root`, creating it if missing.
pub async fn open_or_create(
    root: &StoreRoot,
    event_type: EventType,
) -> Result<DeltaTable, DeltaTableError> {
    open_or_create_named(
        root,
        event_type.table_name(),
        &table_schema(event_type),
        &PARTITION_COLUMNS,
    )
    .await
}

/// Opens the table `name` under `root`, creating it with `schema` and
/// `partition_columns` if missing: the event tables and the store's own logs
/// (`retention_log`) are made the same way.
pub async fn open_or_create_named(
    root: &StoreRoot,
    name: &str,
    schema: &Schema,
    partition_columns: &[&str],
) -> Result<DeltaTable, DeltaTableError> {
    if let Some(table) = open_existing(root, name).await? {
        return Ok(table);
    }
    let url = root.table_url(name);
    if let Ok(dir) = url.to_file_path() {
        std::fs::create_dir_all(&dir).map_err(|err| {
            DeltaTableError::Generic(format!("cannot create {}: {err}", dir.display()))
        })?;
    }
    let schema: StructType = schema.try_into_kernel()?;
    let created = DeltaTable::try_from_url(url)
        .await?
        .create()
        .with_table_name(name)
        .with_columns(schema.fields().cloned())
        .with_partition_columns(partition_columns.iter().copied())
        .with_save_mode(SaveMode::Ignore)
        .await;
    match created {
        Ok(table) => Ok(table),
        // Another writer created it first (its version 0 won the conditional
        // put): use theirs.
        Err(err) => open_existing(root, name).await?.ok_or(err),
    }
}
