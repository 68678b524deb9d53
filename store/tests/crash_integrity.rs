//! A signing writer that dies between writing its data files and signing
//! its digest leaves a store that `verify` still finds intact, while a file
//! or a version slipped in by someone else is still found: files written
//! but never committed were declared before they were written, and a
//! commit without a digest is completed from its signed intent.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aitrail_schemas::EventType;
use aitrail_store::StoreRoot;
use aitrail_store::integrity::records::{Digest, Intent, Signed, digest_path, intent_dir};
use aitrail_store::integrity::{self, Finding, Progress, PublicKey, Scope, SigningKey};
use chrono::TimeDelta;

use common::{batch, count, open, parquet_files, usage};

/// The key files of this test process, whose commits all sign with it.
fn keys() -> &'static (PathBuf, PathBuf) {
    static KEYS: OnceLock<(tempfile::TempDir, (PathBuf, PathBuf))> = OnceLock::new();
    let (_dir, keys) = KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = SigningKey::generate(&dir.path().join("keys")).unwrap();
        integrity::install(SigningKey::read(&private).unwrap(), "test").unwrap();
        (dir, (private, public))
    });
    keys
}

fn public_key() -> PublicKey {
    PublicKey::read(&keys().1).unwrap()
}

fn signing_key() -> SigningKey {
    SigningKey::read(&keys().0).unwrap()
}

struct Quiet;

impl Progress for Quiet {
    fn start_table(&self, _table: &str, _bytes: u64) {}
    fn hashed(&self, _bytes: u64) {}
}

async fn findings(dir: &Path) -> Vec<Finding> {
    let root = StoreRoot::parse(dir.to_str().unwrap()).unwrap();
    integrity::verify(&root, &public_key(), &Scope::default(), &Quiet)
        .await
        .unwrap()
}

fn events(prefix: &str) -> Vec<String> {
    (0..40)
        .map(|n| {
            let day = 10 + n % 3;
            usage(
                &format!("{prefix}-{n}"),
                &format!("2026-02-{day}T10:00:00Z"),
                if n % 2 == 0 { "payments" } else { "web" },
                n,
            )
        })
        .collect()
}

fn declarations(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("_digests/ai_usage/written"))
        .map(|entries| entries.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn files_a_crash_left_uncommitted_are_told_from_files_slipped_in() {
    public_key();
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(&dir).await;
    writer.commit(batch(&events("kept")), &[]).await.unwrap();
    let committed = parquet_files(&dir.path().join("ai_usage"));
    assert_eq!(
        declarations(dir.path()),
        0,
        "a commit removes its declarations"
    );

    // Killed after writing the next batch's files, before committing them.
    for table_batch in batch(&events("lost")) {
        writer.stage(&table_batch).await.unwrap();
    }
    drop(writer);
    let written = parquet_files(&dir.path().join("ai_usage"));
    let uncommitted: Vec<_> = written
        .iter()
        .filter(|file| !committed.contains(file))
        .cloned()
        .collect();
    assert_eq!(
        uncommitted.len(),
        6,
        "two tiers by three dates: {written:?}"
    );
    assert_eq!(declarations(dir.path()), uncommitted.len());
    assert_eq!(findings(dir.path()).await, Vec::new());
    assert_eq!(count(&dir, "ai_usage").await, 40, "only the committed rows");

    // A file slipped in beside them, and one uncommitted file edited.
    let slipped = uncommitted[0].with_file_name("part-00000-slipped-c000.zstd.parquet");
    std::fs::copy(&uncommitted[0], &slipped).unwrap();
    let mut edited = std::fs::read(&uncommitted[1]).unwrap();
    edited[4] ^= 1;
    std::fs::write(&uncommitted[1], edited).unwrap();
    let problems = |found: Vec<Finding>| -> Vec<(String, String)> {
        let mut problems: Vec<_> = found
            .into_iter()
            .map(|f| {
                let file = f.file.unwrap_or_default();
                let name = file.rsplit('/').next().unwrap_or_default().to_string();
                (name, f.problem)
            })
            .collect();
        problems.sort();
        problems
    };
    let file_name = |path: &Path| path.file_name().unwrap().to_str().unwrap().to_string();
    let mut expected = vec![
        (
            file_name(&uncommitted[1]),
            "an uncommitted file whose bytes differ from those declared before it was written"
                .to_string(),
        ),
        (
            file_name(&slipped),
            "a file in the table that no digest added".to_string(),
        ),
    ];
    expected.sort();
    assert_eq!(problems(findings(dir.path()).await), expected);

    // The next writer's start keeps declarations that may be a running
    // writer's; past their age, the declared files go, the rest stays.
    let writer = open(&dir).await;
    assert_eq!(declarations(dir.path()), uncommitted.len());
    integrity::remove_uncommitted(writer.table(EventType::AiUsage), TimeDelta::zero())
        .await
        .unwrap();
    let left = parquet_files(&dir.path().join("ai_usage"));
    let mut expected_left = committed.clone();
    expected_left.extend([uncommitted[1].clone(), slipped.clone()]);
    expected_left.sort();
    assert_eq!(left, expected_left);
    assert_eq!(declarations(dir.path()), 1, "the edited file's stays");
    assert_eq!(problems(findings(dir.path()).await), expected);
}

#[tokio::test]
async fn a_commit_whose_digest_a_crash_prevented_is_completed_from_its_intent() {
    let key = public_key();
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open(&dir).await;
    writer.commit(batch(&events("first")), &[]).await.unwrap();
    writer.commit(batch(&events("second")), &[]).await.unwrap();
    let version = writer.table(EventType::AiUsage).version().unwrap();
    drop(writer);

    // The store as a crash after the commit, before its digest, leaves it:
    // the signed intent, no digest.
    let digest_file = dir.path().join(digest_path("ai_usage", version));
    let digest: Signed<Digest> = Signed::parse(&std::fs::read(&digest_file).unwrap()).unwrap();
    assert!(digest.verifies(&key));
    std::fs::remove_file(&digest_file).unwrap();
    // Without its digest the version is unsigned and its files unpinned.
    let found = findings(dir.path()).await;
    let mut problems: Vec<_> = found
        .iter()
        .map(|f| (f.version, f.problem.as_str()))
        .collect();
    problems.dedup();
    assert_eq!(
        problems,
        [
            (Some(version), "no digest: a commit nobody signed"),
            (None, "a live file no digest added")
        ],
        "{found:?}"
    );
    assert_eq!(found.len(), 1 + digest.body.added.len(), "{found:?}");
    let intent = Intent {
        table: "ai_usage".into(),
        expected_version: version,
        added: digest.body.added.clone(),
        removed: digest.body.removed.clone(),
        process: "test".into(),
        signed_at: digest.body.signed_at.clone(),
    };
    let intents = dir.path().join(intent_dir("ai_usage"));
    std::fs::create_dir_all(&intents).unwrap();
    std::fs::write(
        intents.join(format!("{version:020}-crash.json")),
        Signed::sign(intent, &signing_key()).to_bytes(),
    )
    .unwrap();

    let writer = open(&dir).await;
    let completed: Signed<Digest> = Signed::parse(&std::fs::read(&digest_file).unwrap()).unwrap();
    assert!(completed.verifies(&key));
    assert_eq!(completed.body.added, digest.body.added);
    assert_eq!(completed.body.previous_sha256, digest.body.previous_sha256);
    assert_eq!(findings(dir.path()).await, Vec::new());
    assert!(
        std::fs::read_dir(&intents).unwrap().next().is_none(),
        "the intent is removed once its digest is signed"
    );
    drop(writer);
}
