//! `aitrail verify` (DESIGN §11): checks a store against its digests and
//! names each thing that is wrong — a version without a digest, a broken
//! chain, a signature that does not hold, a log entry or data file whose
//! bytes changed, a file deleted or added, a removal that was neither a
//! compaction keeping every row nor a purge the retention log records and
//! the policy allowed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use deltalake::{DeltaTable, DeltaTableBuilder, ObjectStore, ObjectStoreError, Path};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::keys::PublicKey;
use super::log_entry::unescape;
use super::records::{
    AddedFile, DIGESTS_DIR, Declared, Digest, Signed, declared_path, digest_version, sha256_hex,
};
use crate::StoreError;
use crate::location::StoreRoot;
use crate::policy::Policy;
use crate::retention::log::{LogRow, read_log};
use crate::retention::purge::RETENTION_APP_ID;
use crate::table::{data_files, open_existing};

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The table.
    pub table: String,
    /// The version concerned, if one is.
    pub version: Option<u64>,
    /// The file concerned, if one is.
    pub file: Option<String>,
    /// What is wrong.
    pub problem: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.table)?;
        if let Some(version) = self.version {
            write!(f, " version {version}")?;
        }
        if let Some(file) = &self.file {
            write!(f, " {file}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only this table; every table when `None`.
    pub table: Option<String>,
    /// Versions from this one on (the live files are checked whatever it is).
    pub from_version: u64,
    /// The retention policy purges are judged against; without one a
    /// purge is only checked against the retention log.
    pub policy: Option<Policy>,
}

/// How far a check has come, for a progress bar.
pub trait Progress: Send + Sync {
    /// Bytes about to be hashed in a table's live files.
    fn start_table(&self, table: &str, bytes: u64);
    /// Bytes hashed.
    fn hashed(&self, bytes: u64);
}

/// Checks the tables of the store at `root` against their digests, signed
/// with the key `key` verifies.
pub async fn verify(
    root: &StoreRoot,
    key: &PublicKey,
    scope: &Scope,
    progress: &dyn Progress,
) -> Result<Vec<Finding>, StoreError> {
    let store_root = DeltaTableBuilder::from_url(root.url().clone())?
        .build_storage()?
        .object_store(None);
    let mut names: BTreeSet<String> = crate::table_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    let listed: Vec<_> = store_root
        .list(Some(&Path::from(DIGESTS_DIR)))
        .try_collect()
        .await?;
    for meta in listed {
        if let Some(table) = meta.location.parts().nth(1) {
            names.insert(table.as_ref().to_string());
        }
    }
    let purges = read_log(root).await?;
    let mut findings = Vec::new();
    for name in names {
        if scope.table.as_ref().is_some_and(|only| *only != name) {
            continue;
        }
        let table = match open_existing(root, &name).await {
            Ok(table) => table,
            Err(err) => {
                findings.push(Finding {
                    table: name.clone(),
                    version: None,
                    file: None,
                    problem: format!("the table cannot be read ({err})"),
                });
                continue;
            }
        };
        let checker = TableCheck {
            name: &name,
            digests: Arc::clone(&store_root),
            key,
            scope,
            purges: &purges,
        };
        findings.extend(checker.run(table, progress).await?);
    }
    Ok(findings)
}

struct TableCheck<'a> {
    name: &'a str,
    digests: Arc<dyn ObjectStore>,
    key: &'a PublicKey,
    scope: &'a Scope,
    purges: &'a [LogRow],
}

impl TableCheck<'_> {
    fn finding(&self, version: Option<u64>, file: Option<&str>, problem: String) -> Finding {
        Finding {
            table: self.name.to_string(),
            version,
            file: file.map(str::to_string),
            problem,
        }
    }

    async fn run(
        &self,
        table: Option<DeltaTable>,
        progress: &dyn Progress,
    ) -> Result<Vec<Finding>, StoreError> {
        let mut findings = Vec::new();
        let digests = self.read_digests().await?;
        let Some(table) = table else {
            if !digests.is_empty() {
                findings.push(self.finding(
                    None,
                    None,
                    format!("the table is gone, but {} digests name it", digests.len()),
                ));
            }
            return Ok(findings);
        };
        let store = table.log_store().object_store(None);
        let (entries, checkpoints) = log_files(store.as_ref()).await?;
        let last = [
            entries.keys().next_back().copied(),
            digests.keys().next_back().copied(),
            table.version(),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
        let first_entry = entries.keys().next().copied().unwrap_or(0);
        let cleaned_up_to = checkpoints
            .iter()
            .copied()
            .filter(|c| *c + 1 >= first_entry)
            .min()
            .map(|_| first_entry);

        let mut added: HashMap<String, (AddedFile, u64)> = HashMap::new();
        let mut parsed: BTreeMap<u64, Digest> = BTreeMap::new();
        for version in 0..=last {
            let report = version >= self.scope.from_version;
            let mut say = |file: Option<&str>, problem: String| {
                if report {
                    findings.push(self.finding(Some(version), file, problem));
                }
            };
            let entry = match entries.get(&version) {
                Some(path) => Some(store.get(path).await?.bytes().await?),
                None => None,
            };
            if entry.is_none() && cleaned_up_to.is_none_or(|first| version >= first) {
                say(None, "the log entry is missing (deleted)".into());
            }
            let Some(bytes) = digests.get(&version) else {
                say(None, "no digest: a commit nobody signed".into());
                continue;
            };
            let signed = match Signed::<Digest>::parse(bytes) {
                Ok(signed) => signed,
                Err(err) => {
                    say(None, format!("the digest is unreadable ({err})"));
                    continue;
                }
            };
            if !signed.verifies(self.key) {
                say(
                    None,
                    "the digest's signature does not hold (edited, or signed with another key)"
                        .into(),
                );
            }
            let digest = signed.body;
            if digest.version != version || digest.table != self.name {
                say(
                    None,
                    format!(
                        "the digest names {} version {}",
                        digest.table, digest.version
                    ),
                );
            }
            let expected_previous = match version {
                0 => None,
                _ => digests.get(&(version - 1)).map(|b| sha256_hex(b)),
            };
            if version > 0
                && expected_previous.is_some()
                && digest.previous_sha256 != expected_previous
            {
                say(
                    None,
                    "the chain is broken: the previous digest is not the one this digest signed"
                        .into(),
                );
            }
            if let Some(entry) = &entry
                && sha256_hex(entry) != digest.log_entry_sha256
            {
                say(
                    None,
                    "the log entry differs from the one its digest signed (rewritten)".into(),
                );
            }
            for file in &digest.added {
                added.insert(file.path.clone(), (file.clone(), version));
            }
            parsed.insert(version, digest);
        }
        for (version, digest) in &parsed {
            if *version >= self.scope.from_version {
                findings.extend(self.check_removals(*version, digest, &added));
            }
        }
        findings.extend(self.check_files(&table, &added, progress).await?);
        Ok(findings)
    }

    /// Every digest of the table, by version.
    async fn read_digests(&self) -> Result<BTreeMap<u64, bytes::Bytes>, StoreError> {
        let prefix = Path::from(format!("{DIGESTS_DIR}/{}", self.name));
        let listed: Vec<_> = self.digests.list(Some(&prefix)).try_collect().await?;
        let mut found = BTreeMap::new();
        for meta in listed {
            let parts: Vec<_> = meta.location.parts().collect();
            if parts.len() != 3 {
                continue;
            }
            if let Some(version) = digest_version(parts[2].as_ref()) {
                let bytes = self.digests.get(&meta.location).await?.bytes().await?;
                found.insert(version, bytes);
            }
        }
        Ok(found)
    }

    /// A removal is a compaction that kept every row, or a purge that the
    /// retention log records (and the policy, when given, allowed).
    fn check_removals(
        &self,
        version: u64,
        digest: &Digest,
        added: &HashMap<String, (AddedFile, u64)>,
    ) -> Vec<Finding> {
        if digest.removed.is_empty() {
            return Vec::new();
        }
        let finding =
            |file: Option<&str>, problem: String| self.finding(Some(version), file, problem);
        match digest.writer.operation.as_str() {
            "OPTIMIZE" => {
                let rows_in: u64 = digest
                    .removed
                    .iter()
                    .filter_map(|path| added.get(path).and_then(|(file, _)| file.rows))
                    .sum();
                let rows_out: u64 = digest.added.iter().filter_map(|file| file.rows).sum();
                if rows_in != rows_out {
                    vec![finding(
                        None,
                        format!("a compaction whose rows differ: {rows_in} in, {rows_out} out"),
                    )]
                } else {
                    Vec::new()
                }
            }
            "DELETE" => self.check_purge(version, digest),
            other => vec![finding(
                None,
                format!(
                    "{} files removed by a {other} commit, neither a compaction nor a purge",
                    digest.removed.len()
                ),
            )],
        }
    }

    fn check_purge(&self, version: u64, digest: &Digest) -> Vec<Finding> {
        let run = digest
            .writer
            .transactions
            .iter()
            .find(|(app, _)| app == RETENTION_APP_ID)
            .map(|(_, run)| *run);
        let mut findings = Vec::new();
        let mut partitions: BTreeSet<(String, NaiveDate)> = BTreeSet::new();
        for path in &digest.removed {
            match partition_of(path) {
                Some(partition) => {
                    partitions.insert(partition);
                }
                None => findings.push(self.finding(
                    Some(version),
                    Some(path),
                    "a purged file outside any tier and date partition".into(),
                )),
            }
        }
        for (tier, date) in partitions {
            let logged = run.and_then(|run| {
                self.purges.iter().find(|row| {
                    row.run_id == run
                        && row.table_name == self.name
                        && row.tier == tier
                        && row.date == date
                })
            });
            let place = format!("tier={tier}/date={date}");
            let Some(row) = logged else {
                findings.push(self.finding(
                    Some(version),
                    Some(&place),
                    "a purge the retention log does not record".into(),
                ));
                continue;
            };
            if row.as_of > row.purged_at.date_naive() {
                findings.push(self.finding(
                    Some(version),
                    Some(&place),
                    format!(
                        "purged on {} as if it were {} (a clock set ahead)",
                        row.purged_at.date_naive(),
                        row.as_of
                    ),
                ));
            }
            if let Some(policy) = &self.scope.policy {
                match policy.tier(&tier) {
                    Some(kept) if date >= kept.oldest_kept(row.as_of) => {
                        findings.push(self.finding(
                            Some(version),
                            Some(&place),
                            format!(
                                "purged too young: tier {tier} keeps {} days, as of {}",
                                kept.keep_days, row.as_of
                            ),
                        ))
                    }
                    None => findings.push(self.finding(
                        Some(version),
                        Some(&place),
                        format!("purged from tier {tier}, which the policy does not have"),
                    )),
                    Some(_) => {}
                }
                if let Some(hold) = policy.hold_on(&tier, date, row.as_of) {
                    findings.push(self.finding(
                        Some(version),
                        Some(&place),
                        format!("purged under legal hold `{}`", hold.id),
                    ));
                }
            }
        }
        findings
    }

    /// Every live file's bytes match its digest, and no file lies in the
    /// table that no digest added.
    async fn check_files(
        &self,
        table: &DeltaTable,
        added: &HashMap<String, (AddedFile, u64)>,
        progress: &dyn Progress,
    ) -> Result<Vec<Finding>, StoreError> {
        let store = table.log_store().object_store(None);
        let live = data_files(table).unwrap_or_default();
        let live_paths: Vec<(String, Path)> = if live.is_empty() {
            // The logs' tables have no tier and date partitions.
            table
                .snapshot()?
                .log_data()
                .iter()
                .map(|view| (unescape(&view.path()), view.object_store_path()))
                .collect()
        } else {
            live.iter()
                .map(|file| (unescape(&file.path), file.location.clone()))
                .collect()
        };
        let total: u64 = live_paths
            .iter()
            .filter_map(|(path, _)| added.get(path).map(|(file, _)| file.size))
            .sum();
        progress.start_table(self.name, total);
        let mut findings = Vec::new();
        let hashed: Vec<(String, HashedFile)> = futures::stream::iter(live_paths.iter().cloned())
            .map(|(path, location)| {
                let store = Arc::clone(&store);
                async move {
                    let hashed = hash_file(store, location, progress).await;
                    (path, hashed)
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
        for (path, hashed) in hashed {
            let Some((file, version)) = added.get(&path) else {
                findings.push(self.finding(
                    None,
                    Some(&path),
                    "a live file no digest added".into(),
                ));
                continue;
            };
            let version = Some(*version);
            match hashed? {
                None => findings.push(self.finding(
                    version,
                    Some(&path),
                    "the file is missing (deleted)".into(),
                )),
                Some((size, sha)) if size != file.size || sha != file.sha256 => {
                    findings.push(self.finding(
                        version,
                        Some(&path),
                        "the file's bytes differ from those its digest signed".into(),
                    ))
                }
                Some(_) => {}
            }
        }
        // A live file no digest added is named once, above.
        let reported: HashSet<String> = live_paths.iter().map(|(path, _)| path.clone()).collect();
        let listed: Vec<_> = store.list(None).try_collect().await?;
        let mut uncommitted = 0;
        for meta in listed {
            let path = meta.location.to_string();
            if path.starts_with("_delta_log/") {
                continue;
            }
            if added.contains_key(&unescape(&path))
                || added.contains_key(&path)
                || reported.contains(&unescape(&path))
            {
                continue;
            }
            let problem = match self.declared(store.as_ref(), &meta.location).await? {
                Declaration::Matches => {
                    uncommitted += 1;
                    continue;
                }
                Declaration::Differs => {
                    "an uncommitted file whose bytes differ from those declared before it was \
                     written"
                }
                Declaration::Missing => "a file in the table that no digest added",
            };
            findings.push(self.finding(None, Some(&path), problem.into()));
        }
        if uncommitted > 0 {
            tracing::info!(
                table = self.name,
                files = uncommitted,
                "uncommitted data files of an interrupted writer, declared before they were \
                 written: not part of the table (the next writer's start removes them)"
            );
        }
        Ok(findings)
    }

    /// Whether a file no digest added is one a writer declared, with these
    /// bytes, before writing it (and a crash kept from committing).
    async fn declared(
        &self,
        files: &dyn ObjectStore,
        location: &Path,
    ) -> Result<Declaration, StoreError> {
        let Some(name) = location.filename() else {
            return Ok(Declaration::Missing);
        };
        let record = Path::from(declared_path(self.name, name));
        let bytes = match self.digests.get(&record).await {
            Ok(got) => got.bytes().await?,
            Err(ObjectStoreError::NotFound { .. }) => return Ok(Declaration::Missing),
            Err(err) => return Err(err.into()),
        };
        let Ok(signed) = Signed::<Declared>::parse(&bytes) else {
            return Ok(Declaration::Missing);
        };
        if !signed.verifies(self.key)
            || signed.body.table != self.name
            || signed.body.path != location.as_ref()
        {
            return Ok(Declaration::Missing);
        }
        let bytes = files.get(location).await?.bytes().await?;
        Ok(
            if bytes.len() as u64 == signed.body.size && sha256_hex(&bytes) == signed.body.sha256 {
                Declaration::Matches
            } else {
                Declaration::Differs
            },
        )
    }
}

/// What a writer declared of a file no digest added.
enum Declaration {
    /// A declaration signed with the key, of these very bytes.
    Matches,
    /// A declaration signed with the key, of other bytes.
    Differs,
    /// None, or none that holds.
    Missing,
}

/// A file's size and SHA-256, `None` when it is not there.
type HashedFile = Result<Option<(u64, String)>, StoreError>;

/// The log entries (version → path) and checkpoint versions of a table.
async fn log_files(
    store: &dyn ObjectStore,
) -> Result<(BTreeMap<u64, Path>, BTreeSet<u64>), StoreError> {
    let listed: Vec<_> = store
        .list(Some(&Path::from("_delta_log")))
        .try_collect()
        .await?;
    let mut entries = BTreeMap::new();
    let mut checkpoints = BTreeSet::new();
    for meta in listed {
        let Some(name) = meta.location.filename() else {
            continue;
        };
        if let Some(version) = digest_version(name) {
            entries.insert(version, meta.location.clone());
        } else if let Some(stem) = name.strip_suffix(".checkpoint.parquet")
            && let Ok(version) = stem.parse()
        {
            checkpoints.insert(version);
        }
    }
    Ok((entries, checkpoints))
}

/// The size and SHA-256 of a file, `None` when it is not there.
async fn hash_file(
    store: Arc<dyn ObjectStore>,
    location: Path,
    progress: &dyn Progress,
) -> Result<Option<(u64, String)>, StoreError> {
    let got = match store.get(&location).await {
        Ok(got) => got,
        Err(ObjectStoreError::NotFound { .. }) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let mut stream = got.into_stream();
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.try_next().await? {
        hasher.update(&chunk);
        size += chunk.len() as u64;
        progress.hashed(chunk.len() as u64);
    }
    Ok(Some((size, hex::encode(hasher.finalize()))))
}

/// The tier and date of a path `tier=…/date=…/file`.
fn partition_of(path: &str) -> Option<(String, NaiveDate)> {
    let mut parts = path.split('/');
    let tier = parts.next()?.strip_prefix("tier=")?;
    let date = parts.next()?.strip_prefix("date=")?.parse().ok()?;
    Some((tier.to_string(), date))
}
