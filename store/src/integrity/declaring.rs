//! The object store a signing writer opens its tables through: before a
//! data file's bytes reach the store, it signs a declaration of them
//! (path, size, SHA-256; [`Declared`]). A writer killed between writing
//! its files and committing them leaves files no digest names; their
//! declarations tell them from files someone else slipped into the table,
//! and let the next writer remove them. The hashes taken on the way are
//! what the commit's intent signs, so no file is read back to hash it.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use deltalake::{DeltaTableBuilder, ObjectStore, Path};
use futures::stream::BoxStream;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStoreExt,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, UploadPart,
};
use sha2::{Digest as _, Sha256};
use url::Url;

use super::records::{Declared, Signed, declared_path};
use super::signer::{Signer, active, file_name, now};
use crate::StoreError;

/// A builder for the table at `url`: through a [`DeclaringStore`] when
/// this process signs, plain otherwise.
pub fn table_builder(url: Url) -> Result<DeltaTableBuilder, StoreError> {
    let builder = DeltaTableBuilder::from_url(url.clone())?;
    let Some(signer) = active() else {
        return Ok(builder);
    };
    let root = DeltaTableBuilder::from_url(url.clone())?
        .build_storage()?
        .root_object_store(None);
    let table_prefix = Path::from_url_path(url.path())
        .map_err(|err| StoreError::Integrity(format!("{url}: {err}")))?;
    let parts: Vec<_> = table_prefix.parts().collect();
    let Some((name, root_parts)) = parts.split_last() else {
        return Err(StoreError::Integrity(format!("{url}: no table name")));
    };
    let declaring = DeclaringStore {
        inner: root,
        signer,
        table: name.as_ref().to_string(),
        store_root: Path::from_iter(root_parts.iter().cloned()),
        table_prefix,
    };
    Ok(builder.with_storage_backend(Arc::new(declaring), url))
}

/// A table's root object store that declares each data file before
/// writing it.
struct DeclaringStore {
    inner: Arc<dyn ObjectStore>,
    signer: &'static Signer,
    table: String,
    store_root: Path,
    table_prefix: Path,
}

impl fmt::Debug for DeclaringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeclaringStore")
            .field("inner", &self.inner)
            .field("table", &self.table)
            .finish()
    }
}

impl fmt::Display for DeclaringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Declaring({})", self.inner)
    }
}

impl DeclaringStore {
    /// The path of `location` in the table when it is a data file (not
    /// the log, whose entries the digests pin).
    fn data_file(&self, location: &Path) -> Option<String> {
        let parts: Vec<_> = location.prefix_match(&self.table_prefix)?.collect();
        let first = parts.first()?;
        let last = parts.last()?;
        (first.as_ref() != "_delta_log" && last.as_ref().ends_with(".parquet")).then(|| {
            parts
                .iter()
                .map(|part| part.as_ref())
                .collect::<Vec<_>>()
                .join("/")
        })
    }

    fn declaration(&self, path: String) -> Declaration {
        Declaration {
            root: Arc::clone(&self.inner),
            signer: self.signer,
            table: self.table.clone(),
            store_root: self.store_root.clone(),
            path,
            hasher: Sha256::new(),
            size: 0,
        }
    }
}

/// A data file's bytes as they go to the store, declared before they land.
struct Declaration {
    root: Arc<dyn ObjectStore>,
    signer: &'static Signer,
    table: String,
    store_root: Path,
    path: String,
    hasher: Sha256,
    size: u64,
}

impl Declaration {
    fn update(&mut self, payload: &PutPayload) {
        for chunk in payload.iter() {
            self.hasher.update(chunk);
            self.size += chunk.len() as u64;
        }
    }

    /// Signs the declaration and keeps the hash for the commit's intent.
    async fn sign(self) -> object_store::Result<()> {
        let sha256 = hex::encode(self.hasher.finalize());
        let file_name = file_name(&self.path);
        let location = Path::from_iter(
            self.store_root
                .parts()
                .chain(Path::from(declared_path(&self.table, file_name)).parts()),
        );
        let body = Declared {
            table: self.table.clone(),
            path: self.path.clone(),
            size: self.size,
            sha256: sha256.clone(),
            process: self.signer.process().to_string(),
            signed_at: now(),
        };
        let bytes = Signed::sign(body, self.signer.key()).to_bytes();
        self.root
            .put(&location, PutPayload::from(Bytes::from(bytes)))
            .await?;
        self.signer
            .remember_written(&self.table, file_name, self.size, sha256);
        Ok(())
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl ObjectStore for DeclaringStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if let Some(path) = self.data_file(location) {
            let mut declaration = self.declaration(path);
            declaration.update(&payload);
            declaration.sign().await?;
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let upload = self.inner.put_multipart_opts(location, opts).await?;
        Ok(match self.data_file(location) {
            Some(path) => Box::new(DeclaringUpload {
                upload,
                declaration: Some(self.declaration(path)),
            }),
            None => upload,
        })
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[std::ops::Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

/// A large data file's multipart upload: its parts are hashed in order,
/// and the declaration is signed before the upload completes (the moment
/// the file appears).
#[derive(Debug)]
struct DeclaringUpload {
    upload: Box<dyn MultipartUpload>,
    declaration: Option<Declaration>,
}

impl fmt::Debug for Declaration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Declaration")
            .field("table", &self.table)
            .field("path", &self.path)
            .field("size", &self.size)
            .finish()
    }
}

#[async_trait]
impl MultipartUpload for DeclaringUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        if let Some(declaration) = &mut self.declaration {
            declaration.update(&data);
        }
        self.upload.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        if let Some(declaration) = self.declaration.take() {
            declaration.sign().await?;
        }
        self.upload.complete().await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.upload.abort().await
    }
}
