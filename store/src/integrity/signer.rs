//! The writing side of DESIGN §11: before each commit an intent, after it
//! a digest chained to the version before, both signed with the key the
//! process was started with ([`install`]); on a writer's start, versions
//! a crash left without a digest are completed from their intents.
//!
//! One key per process, installed once by the command that starts it: every
//! commit path of the store (the event writer, compaction, retention, the
//! access and retention logs) signs through it without each carrying the
//! key, and a process without one signs nothing.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use deltalake::kernel::Action;
use deltalake::{DeltaTable, DeltaTableBuilder, ObjectStore, ObjectStoreError, Path};
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::keys::SigningKey;
use super::log_entry::{LogEntry, unescape};
use super::records::{
    AddedFile, Declared, Digest, Intent, Signed, Writer, declared_dir, declared_path, digest_path,
    intent_dir, sha256_hex, write_error,
};
use crate::StoreError;

/// The most versions without a digest a writer's start looks back over:
/// a store that was written unsigned before has every old version so.
const COMPLETION_REACH: usize = 1_000;

/// How old a declaration of a data file the table does not hold must be
/// before a writer's start removes the file: younger ones may be another
/// running writer's, between its files and its commit.
const UNCOMMITTED_FILE_AGE: TimeDelta = TimeDelta::hours(1);

/// How long a writer waits for the digest of the version before its own,
/// which another writer may be between its commit and its digest.
const PREVIOUS_DIGEST_WAIT: Duration = Duration::from_secs(20);

static SIGNER: OnceLock<Signer> = OnceLock::new();

/// The key this process signs with, the head of each table's chain as
/// it last saw it (by table URL: the table's name, its version, the
/// digest's SHA-256), and the size and SHA-256 of each data file it
/// declared and has not committed yet (by table and file name).
pub struct Signer {
    key: SigningKey,
    process: String,
    heads: Mutex<HashMap<String, (String, u64, String)>>,
    written: Mutex<HashMap<(String, String), (u64, String)>>,
    /// The object store of each store root, made once: every commit
    /// reads and writes its digests there.
    roots: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl Signer {
    /// The key.
    pub(super) fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The object store of the store root at `url`.
    fn root_store(&self, url: url::Url) -> Result<Arc<dyn ObjectStore>, StoreError> {
        let mut roots = self.roots.lock().expect("no panic holds the lock");
        if let Some(store) = roots.get(url.as_str()) {
            return Ok(Arc::clone(store));
        }
        let store = DeltaTableBuilder::from_url(url.clone())?
            .build_storage()?
            .object_store(None);
        roots.insert(url.to_string(), Arc::clone(&store));
        Ok(store)
    }

    /// The process named as the writer.
    pub(super) fn process(&self) -> &str {
        &self.process
    }

    /// Keeps the hash of a data file just declared, for its commit's intent.
    pub(super) fn remember_written(&self, table: &str, file_name: &str, size: u64, sha256: String) {
        self.written
            .lock()
            .expect("no panic holds the lock")
            .insert((table.to_string(), file_name.to_string()), (size, sha256));
    }

    /// The size and hash of a data file this process declared, forgotten
    /// once taken.
    fn take_written(&self, table: &str, file_name: &str) -> Option<(u64, String)> {
        self.written
            .lock()
            .expect("no panic holds the lock")
            .remove(&(table.to_string(), file_name.to_string()))
    }
}

/// The signer of this process, if it signs.
pub(super) fn active() -> Option<&'static Signer> {
    SIGNER.get()
}

/// Makes every commit of this process signed with `key`, naming `process`
/// (`ingest`, `load`, `retention`, …) as the writer; once per process.
pub fn install(key: SigningKey, process: &str) -> Result<(), StoreError> {
    SIGNER
        .set(Signer {
            key,
            process: process.to_string(),
            heads: Mutex::new(HashMap::new()),
            written: Mutex::new(HashMap::new()),
            roots: Mutex::new(HashMap::new()),
        })
        .map_err(|_| StoreError::Integrity("a signing key is already installed".into()))
}

/// The latest digest this process signed or read per table: (table,
/// version, SHA-256 of the digest file), for the metric that lets it be
/// witnessed elsewhere.
pub fn chain_heads() -> Vec<(String, u64, String)> {
    SIGNER.get().map_or_else(Vec::new, |signer| {
        let heads = signer.heads.lock().expect("no panic holds the lock");
        let mut heads: Vec<_> = heads.values().cloned().collect();
        heads.sort();
        heads
    })
}

/// An intent written for a commit about to be made.
pub struct Pending {
    intent: Intent,
    path: Path,
    root: Arc<dyn ObjectStore>,
}

/// Where a table's digests live: the store root's `_digests/<name>/`.
struct Digests {
    root: Arc<dyn ObjectStore>,
    table: String,
    /// The table's URL: what its chain head is kept by, so that tables
    /// of one name in two stores never share one.
    url: String,
}

impl Digests {
    fn of(signer: &Signer, table: &DeltaTable) -> Result<Digests, StoreError> {
        let url = table.table_url();
        let name = url
            .path_segments()
            .and_then(|mut segments| segments.rfind(|s| !s.is_empty()))
            .ok_or_else(|| StoreError::Integrity(format!("{url}: no table name")))?
            .to_string();
        let root_url = url
            .join("..")
            .map_err(|err| StoreError::Integrity(format!("{url}: {err}")))?;
        let root = signer.root_store(root_url)?;
        Ok(Digests {
            root,
            table: name,
            url: url.to_string(),
        })
    }

    async fn read(&self, path: &str) -> Result<Option<Bytes>, StoreError> {
        match self.root.get(&Path::from(path)).await {
            Ok(got) => Ok(Some(got.bytes().await?)),
            Err(ObjectStoreError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Writes a record that must not exist yet; `false` if it does.
    async fn create(&self, path: &str, bytes: Vec<u8>) -> Result<bool, StoreError> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .root
            .put_opts(&Path::from(path), PutPayload::from(bytes), options)
            .await
        {
            Ok(_) => Ok(true),
            Err(ObjectStoreError::AlreadyExists { .. }) => Ok(false),
            Err(err) => Err(write_error(path, err)),
        }
    }
}

/// Before committing `actions` on the version `table` holds: hashes the
/// files they add and signs the intent. `None` when the process does not
/// sign.
pub async fn intend(table: &DeltaTable, actions: &[Action]) -> Result<Option<Pending>, StoreError> {
    let Some(signer) = SIGNER.get() else {
        return Ok(None);
    };
    let digests = Digests::of(signer, table)?;
    let store = table.log_store().object_store(None);
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for action in actions {
        match action {
            Action::Add(add) => {
                let path = unescape(&add.path);
                let declared = signer
                    .take_written(&digests.table, file_name(&path))
                    .filter(|(size, _)| i64::try_from(*size) == Ok(add.size));
                let (size, sha256) = match declared {
                    Some(hashed) => hashed,
                    None => {
                        let location = Path::from_url_path(&add.path)
                            .map_err(|err| StoreError::Integrity(format!("{}: {err}", add.path)))?;
                        let bytes = store.get(&location).await?.bytes().await?;
                        (bytes.len() as u64, sha256_hex(&bytes))
                    }
                };
                added.push(AddedFile {
                    path,
                    size,
                    sha256,
                    rows: add
                        .get_stats()
                        .ok()
                        .flatten()
                        .map(|stats| stats.num_records as u64),
                });
            }
            Action::Remove(remove) => removed.push(unescape(&remove.path)),
            _ => {}
        }
    }
    added.sort_by(|a, b| a.path.cmp(&b.path));
    removed.sort();
    let expected_version = table.version().map_or(0, |v| v + 1);
    let intent = Intent {
        table: digests.table.clone(),
        expected_version,
        added,
        removed,
        process: signer.process.clone(),
        signed_at: now(),
    };
    let path = format!(
        "{}/{expected_version:020}-{}.json",
        intent_dir(&digests.table),
        uuid::Uuid::new_v4()
    );
    let signed = Signed::sign(intent.clone(), &signer.key);
    digests.create(&path, signed.to_bytes()).await?;
    Ok(Some(Pending {
        intent,
        path: Path::from(path),
        root: digests.root,
    }))
}

/// Removes the intent of a commit that was not made.
pub async fn abandon(pending: Option<Pending>) {
    if let Some(pending) = pending
        && let Err(err) = pending.root.delete(&pending.path).await
    {
        tracing::warn!(%err, intent = %pending.path, "intent of an abandoned commit left behind");
    }
}

/// After a commit: signs the digest of each of `versions` (one, or the
/// versions a vacuum committed) from its log entry and `pending`'s file
/// hashes, chained to the digest before, and removes the intent.
pub async fn record(
    table: &DeltaTable,
    pending: Option<Pending>,
    versions: std::ops::RangeInclusive<u64>,
) -> Result<(), StoreError> {
    let Some(signer) = SIGNER.get() else {
        return Ok(());
    };
    let digests = Digests::of(signer, table)?;
    for version in versions {
        let added = pending
            .as_ref()
            .map_or_else(Vec::new, |p| p.intent.added.clone());
        sign_digest(signer, &digests, table, version, added, false).await?;
    }
    if let Some(pending) = pending {
        let mut done: Vec<Path> = pending
            .intent
            .added
            .iter()
            .map(|file| Path::from(declared_path(&digests.table, file_name(&file.path))))
            .collect();
        done.push(pending.path);
        remove_records(&digests, done).await;
    }
    Ok(())
}

/// Deletes records whose statement a digest now carries; one left behind
/// is only clutter, removed at a writer's start.
async fn remove_records(digests: &Digests, paths: Vec<Path>) {
    let mut deleted = digests
        .root
        .delete_stream(futures::stream::iter(paths.into_iter().map(Ok)).boxed());
    while let Some(result) = deleted.next().await {
        match result {
            Ok(_) | Err(ObjectStoreError::NotFound { .. }) => {}
            Err(err) => tracing::warn!(%err, table = %digests.table, "a signed record left behind"),
        }
    }
}

/// The last segment of a file's path: the name its declaration is kept by.
pub(super) fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Signs the digest of `version`, whose added files are `added` (with
/// their hashes), unless one exists already.
async fn sign_digest(
    signer: &Signer,
    digests: &Digests,
    table: &DeltaTable,
    version: u64,
    added: Vec<AddedFile>,
    completing: bool,
) -> Result<(), StoreError> {
    let entry_bytes = log_entry(table, version).await?;
    let entry = LogEntry::parse(&entry_bytes).map_err(|err| {
        StoreError::Integrity(format!("{} version {version}: {err}", digests.table))
    })?;
    let logged: Vec<(&str, u64)> = entry
        .added
        .iter()
        .map(|(p, s, _)| (p.as_str(), *s))
        .collect();
    let declared: Vec<(&str, u64)> = added.iter().map(|f| (f.path.as_str(), f.size)).collect();
    if logged != declared {
        return Err(StoreError::Integrity(format!(
            "{} version {version}: the log adds {} files, the intent {}",
            digests.table,
            logged.len(),
            declared.len()
        )));
    }
    let previous_sha256 = match version {
        0 => None,
        _ => previous_digest(signer, digests, table, version - 1, completing).await?,
    };
    let digest = Digest {
        table: digests.table.clone(),
        version,
        log_entry_sha256: sha256_hex(&entry_bytes),
        added,
        removed: entry.removed,
        writer: Writer {
            process: signer.process.clone(),
            operation: entry.operation,
            transactions: entry.transactions,
        },
        previous_sha256,
        signed_at: now(),
    };
    let path = digest_path(&digests.table, version);
    let bytes = Signed::sign(digest, &signer.key).to_bytes();
    let sha = if digests.create(&path, bytes.clone()).await? {
        sha256_hex(&bytes)
    } else {
        let existing = digests.read(&path).await?.unwrap_or_default();
        sha256_hex(&existing)
    };
    tracing::info!(table = %digests.table, version, digest_sha256 = %sha, "digest signed");
    signer
        .heads
        .lock()
        .expect("no panic holds the lock")
        .insert(digests.url.clone(), (digests.table.clone(), version, sha));
    Ok(())
}

/// The SHA-256 of the digest of `version`, waiting a while for a writer
/// between its commit and its digest, then completing it from its intent.
async fn previous_digest(
    signer: &Signer,
    digests: &Digests,
    table: &DeltaTable,
    version: u64,
    completing: bool,
) -> Result<Option<String>, StoreError> {
    if let Some((_, head, sha)) = signer
        .heads
        .lock()
        .expect("no panic holds the lock")
        .get(&digests.url)
        && *head == version
    {
        return Ok(Some(sha.clone()));
    }
    let path = digest_path(&digests.table, version);
    let deadline = Instant::now()
        + if completing {
            Duration::ZERO
        } else {
            PREVIOUS_DIGEST_WAIT
        };
    loop {
        if let Some(bytes) = digests.read(&path).await? {
            return Ok(Some(sha256_hex(&bytes)));
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if !completing {
        let intents = intents(signer, digests).await?;
        if Box::pin(complete_version(signer, digests, table, version, &intents)).await? {
            return Ok(digests.read(&path).await?.map(|bytes| sha256_hex(&bytes)));
        }
    }
    tracing::error!(
        table = %digests.table,
        version,
        "the version before has no digest: the chain is broken there (aitrail verify reports it)"
    );
    Ok(None)
}

/// On a writer's start: completes, from their signed intents, the digests
/// of the latest versions of `table` that have none (a crash between a
/// commit and its digest). A version without a matching intent is never
/// completed: `aitrail verify` reports it.
pub async fn complete(table: &DeltaTable) -> Result<(), StoreError> {
    let Some(signer) = SIGNER.get() else {
        return Ok(());
    };
    let Some(current) = table.version() else {
        return Ok(());
    };
    let digests = Digests::of(signer, table)?;
    complete_digests(signer, &digests, table, current).await?;
    remove_uncommitted(table, UNCOMMITTED_FILE_AGE).await
}

/// Completes the digests of the latest versions up to `current` that
/// have none, from their intents.
async fn complete_digests(
    signer: &Signer,
    digests: &Digests,
    table: &DeltaTable,
    current: u64,
) -> Result<(), StoreError> {
    let mut missing = Vec::new();
    let mut version = current;
    loop {
        let path = digest_path(&digests.table, version);
        if digests.read(&path).await?.is_some() {
            break;
        }
        missing.push(version);
        if version == 0 || missing.len() == COMPLETION_REACH {
            break;
        }
        version -= 1;
    }
    if missing.is_empty() {
        return Ok(());
    }
    let intents = intents(signer, digests).await?;
    let mut unsigned = 0;
    for version in missing.into_iter().rev() {
        if !complete_version(signer, digests, table, version, &intents).await? {
            unsigned += 1;
        }
    }
    if unsigned > 0 {
        tracing::error!(
            table = %digests.table,
            versions = unsigned,
            "log versions with neither a digest nor a matching intent: not completed \
             (aitrail verify reports them)"
        );
    }
    Ok(())
}

/// Removes the data files this key declared over `age` ago that the
/// table does not hold — a writer's files that a crash left uncommitted —
/// with their declarations, and the declarations of files the table
/// holds. A declared file whose bytes differ from its declaration, or a
/// declaration another key signed, is left for `aitrail verify` to name.
/// Declarations younger than `age` may be a running writer's and are
/// kept.
pub async fn remove_uncommitted(table: &DeltaTable, age: TimeDelta) -> Result<(), StoreError> {
    let Some(signer) = SIGNER.get() else {
        return Ok(());
    };
    let before = Utc::now() - age;
    let digests = &Digests::of(signer, table)?;
    let prefix = Path::from(declared_dir(&digests.table));
    let listed: Vec<_> = digests.root.list(Some(&prefix)).try_collect().await?;
    if listed.is_empty() {
        return Ok(());
    }
    let live: HashSet<String> = table
        .snapshot()?
        .log_data()
        .iter()
        .map(|file| file_name(&unescape(&file.path())).to_string())
        .collect();
    let public = signer.key.public_key();
    let files = table.log_store().object_store(None);
    let mut done = Vec::new();
    let mut removed = 0;
    for meta in listed {
        let Some(bytes) = digests.read(meta.location.as_ref()).await? else {
            continue;
        };
        let Ok(signed) = Signed::<Declared>::parse(&bytes) else {
            continue;
        };
        let declared = signed.body.clone();
        let signed_at = DateTime::parse_from_rfc3339(&declared.signed_at).ok();
        if !signed.verifies(&public) || signed_at.is_none_or(|at| at >= before) {
            continue;
        }
        if !live.contains(file_name(&declared.path)) {
            let location = Path::parse(&declared.path)
                .map_err(|err| StoreError::Integrity(format!("{}: {err}", declared.path)))?;
            match hash_object(files.as_ref(), &location).await? {
                Some(hashed) if hashed != (declared.size, declared.sha256.clone()) => continue,
                Some(_) => {
                    files.delete(&location).await?;
                    removed += 1;
                }
                None => {}
            }
        }
        done.push(meta.location);
    }
    remove_records(digests, done).await;
    if removed > 0 {
        tracing::warn!(
            table = %digests.table,
            files = removed,
            "data files a crash left written but uncommitted removed (declared before written)"
        );
    }
    Ok(())
}

/// The size and SHA-256 of an object, `None` when it is not there.
async fn hash_object(
    store: &dyn ObjectStore,
    location: &Path,
) -> Result<Option<(u64, String)>, StoreError> {
    match store.get(location).await {
        Ok(got) => {
            let bytes = got.bytes().await?;
            Ok(Some((bytes.len() as u64, sha256_hex(&bytes))))
        }
        Err(ObjectStoreError::NotFound { .. }) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Completes the digest of `version` from the intent among `intents` that
/// declared exactly its files (a table's creation, which adds none, needs
/// none); `false` when there is no such intent.
async fn complete_version(
    signer: &Signer,
    digests: &Digests,
    table: &DeltaTable,
    version: u64,
    intents: &[(Intent, Path)],
) -> Result<bool, StoreError> {
    let entry = LogEntry::parse(&log_entry(table, version).await?).map_err(|err| {
        StoreError::Integrity(format!("{} version {version}: {err}", digests.table))
    })?;
    let matching = intents.iter().find(|(intent, _)| {
        let declared: Vec<(&str, u64)> = intent
            .added
            .iter()
            .map(|f| (f.path.as_str(), f.size))
            .collect();
        let logged: Vec<(&str, u64)> = entry
            .added
            .iter()
            .map(|(p, s, _)| (p.as_str(), *s))
            .collect();
        declared == logged && intent.removed == entry.removed
    });
    let added = match matching {
        Some((intent, path)) => {
            sign_digest(signer, digests, table, version, intent.added.clone(), true).await?;
            let _ = digests.root.delete(path).await;
            tracing::warn!(table = %digests.table, version, "digest completed from its intent");
            return Ok(true);
        }
        None if version == 0 && entry.added.is_empty() && entry.removed.is_empty() => Vec::new(),
        None => return Ok(false),
    };
    sign_digest(signer, digests, table, version, added, true).await?;
    Ok(true)
}

/// The intents of the table whose signatures this process's key made.
async fn intents(signer: &Signer, digests: &Digests) -> Result<Vec<(Intent, Path)>, StoreError> {
    let prefix = Path::from(intent_dir(&digests.table));
    let listed: Vec<_> = digests.root.list(Some(&prefix)).try_collect().await?;
    let public = signer.key.public_key();
    let mut found = Vec::new();
    for meta in listed {
        let bytes = digests.root.get(&meta.location).await?.bytes().await?;
        if let Ok(signed) = Signed::<Intent>::parse(&bytes)
            && signed.verifies(&public)
        {
            found.push((signed.body, meta.location));
        }
    }
    Ok(found)
}

async fn log_entry(table: &DeltaTable, version: u64) -> Result<Bytes, StoreError> {
    let store = table.log_store().object_store(None);
    let path = Path::from(format!("_delta_log/{version:020}.json"));
    Ok(store.get(&path).await?.bytes().await?)
}

/// The time a record is signed at.
pub(super) fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}
