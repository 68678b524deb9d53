//! A Parquet data file of a table, read through the table's object store:
//! only the footer and the byte ranges of the columns asked for are
//! fetched, from a local directory or S3 alike.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, TryFutureExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use crate::table::TableFile;

/// One data file: where it is and how large (from the Delta log, so that
/// its footer is read without asking the store for its size).
pub(crate) struct DataFileReader {
    store: Arc<dyn ObjectStore>,
    location: Path,
    size: u64,
}

impl DataFileReader {
    /// A reader of the table's data file `file` in the table's `store`.
    pub(crate) fn of(store: &Arc<dyn ObjectStore>, file: &TableFile) -> Self {
        DataFileReader {
            store: Arc::clone(store),
            location: file.location.clone(),
            size: file.size,
        }
    }
}

fn store_error(err: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(err))
}

impl AsyncFileReader for DataFileReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes>> {
        self.store
            .get_range(&self.location, range)
            .map_err(store_error)
            .boxed()
    }

    fn get_byte_ranges(&mut self, ranges: Vec<Range<u64>>) -> BoxFuture<'_, Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.location, &ranges)
                .await
                .map_err(store_error)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}
