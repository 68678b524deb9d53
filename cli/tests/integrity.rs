//! Tamper evidence (DESIGN §11): a store written with a signing key
//! verifies after load, compaction and retention; each way of editing it
//! behind aitrail's back is found by `aitrail verify` and named, and a
//! writer's restart does not repair it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use aitrail_store::integrity::SigningKey;
use aitrail_store::integrity::records::{Digest, Signed};
use serde_json::Value;

mod common;
use common::{aitrail, stderr};

/// A store loaded with a signing key, and the key pair.
struct Fixture {
    _dir: tempfile::TempDir,
    keys: PathBuf,
    store: PathBuf,
}

impl Fixture {
    fn private(&self) -> PathBuf {
        self.keys.join("signing.key")
    }

    fn public(&self) -> PathBuf {
        self.keys.join("signing.pub")
    }

    /// Runs a writing command signed with the fixture's key.
    fn signed(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aitrail"))
            .args(args)
            .env("AITRAIL_SIGNING_KEY_FILE", self.private())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the aitrail binary starts");
        let mut input = child.stdin.take().unwrap();
        let stdin = stdin.to_vec();
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut input, &stdin));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        out
    }

    fn load(&self, events: &[u8]) {
        let out = self.signed(&["load", "--store", self.store.to_str().unwrap()], events);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }

    /// `aitrail verify` over `store`: its exit code and its lines.
    fn verify(&self, store: &Path, extra: &[&str]) -> (i32, String) {
        let public = self.public();
        let mut args = vec![
            "verify",
            "--store",
            store.to_str().unwrap(),
            "--public-key",
            public.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = aitrail(&args, b"");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.code().is_some_and(|c| c < 2), "{}", stderr(&out));
        (out.status.code().unwrap(), text)
    }

    /// A copy of the store to tamper with.
    fn copy(&self, name: &str) -> PathBuf {
        let target = self._dir.path().join(name);
        copy_dir(&self.store, &target);
        target
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Two loads of generated events (September to November 2026) into a new
/// signed store.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let out = aitrail(&["keygen", "--out", keys.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let store = dir.path().join("store");
    let fixture = Fixture {
        _dir: dir,
        keys,
        store,
    };
    let events = aitrail(
        &[
            "gen",
            "--users",
            "15",
            "--days",
            "80",
            "--seed",
            "3",
            "--start",
            "2026-09-01",
        ],
        b"",
    )
    .stdout;
    let lines: Vec<&[u8]> = events.split_inclusive(|b| *b == b'\n').collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    fixture.load(&first.concat());
    fixture.load(&second.concat());
    fixture
}

/// The live data files of a table, as paths.
fn data_files(store: &Path, table: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![store.join(table)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.ends_with("_delta_log") {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn latest_version(store: &Path, table: &str) -> u64 {
    std::fs::read_dir(store.join(table).join("_delta_log"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".json")?.parse().ok()
        })
        .max()
        .unwrap()
}

fn log_entry(store: &Path, table: &str, version: u64) -> PathBuf {
    store
        .join(table)
        .join(format!("_delta_log/{version:020}.json"))
}

fn digest(store: &Path, table: &str, version: u64) -> PathBuf {
    store.join(format!("_digests/{table}/{version:020}.json"))
}

#[test]
fn a_signed_store_verifies_after_load_compaction_and_retention() {
    let fixture = fixture();
    let (code, text) = fixture.verify(&fixture.store, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("intact"), "{text}");
    let versions = latest_version(&fixture.store, "ai_usage");
    for version in 0..=versions {
        assert!(
            digest(&fixture.store, "ai_usage", version).exists(),
            "version {version}"
        );
    }

    let store = fixture.store.to_str().unwrap();
    let out = fixture.signed(&["compact", "--store", store], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        latest_version(&fixture.store, "ai_usage") > versions,
        "compaction committed"
    );

    let policy = fixture._dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "default_tier = \"standard\"\n[[tiers]]\nname = \"standard\"\nkeep_days = 60\n",
    )
    .unwrap();
    let policy = policy.to_str().unwrap();
    let out = fixture.signed(
        &["retention", "run", "--store", store, "--policy", policy],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let purged = common::sql(&fixture.store, "SELECT count(*) AS n FROM retention_log");
    assert!(
        purged[0]["n"].as_i64().unwrap() > 0,
        "the retention run purged something"
    );

    let (code, text) = fixture.verify(&fixture.store, &["--policy", policy, "--format", "json"]);
    assert_eq!(code, 0, "{text}");
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["intact"], true, "{report}");

    // The same purge judged against a policy that keeps longer, or holds
    // the purged days, was not allowed.
    let longer = fixture._dir.path().join("longer.toml");
    std::fs::write(
        &longer,
        "default_tier = \"standard\"\n[[tiers]]\nname = \"standard\"\nkeep_days = 365\n",
    )
    .unwrap();
    let (code, text) = fixture.verify(&fixture.store, &["--policy", longer.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("purged too young"), "{text}");
    let held = fixture._dir.path().join("held.toml");
    std::fs::write(
        &held,
        "default_tier = \"standard\"\n[[tiers]]\nname = \"standard\"\nkeep_days = 60\n\
         [[legal_holds]]\nid = \"case-9\"\ntier = \"standard\"\nfrom = \"2026-09-01\"\n\
         to = \"2026-09-10\"\nuntil = \"2030-01-01\"\nreason = \"litigation\"\n",
    )
    .unwrap();
    let (code, text) = fixture.verify(&fixture.store, &["--policy", held.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("purged under legal hold `case-9`"), "{text}");
}

/// Each tamper, applied to a copy of the clean store, and a piece of the
/// line that must name it.
#[test]
fn every_tamper_is_found_named_and_survives_a_writers_restart() {
    let fixture = fixture();
    let last = latest_version(&fixture.store, "ai_usage");
    type Tamper = Box<dyn Fn(&Path)>;
    let other_keys = fixture._dir.path().join("other-keys");
    SigningKey::generate(&other_keys).unwrap();
    let other = SigningKey::read(&other_keys.join("signing.key")).unwrap();
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "byte",
            Box::new(|store: &Path| {
                let file = &data_files(store, "ai_usage")[0];
                let mut bytes = std::fs::read(file).unwrap();
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0x01;
                std::fs::write(file, bytes).unwrap();
            }),
            "bytes differ from those its digest signed",
        ),
        (
            "deleted-file",
            Box::new(|store: &Path| {
                std::fs::remove_file(&data_files(store, "code_changes")[0]).unwrap()
            }),
            "the file is missing (deleted)",
        ),
        (
            "added-file",
            Box::new(|store: &Path| {
                let file = &data_files(store, "ai_usage")[0];
                std::fs::copy(file, file.with_file_name("part-00000-extra.zstd.parquet")).unwrap();
            }),
            "a file in the table that no digest added",
        ),
        (
            "deleted-log",
            Box::new(move |store: &Path| {
                std::fs::remove_file(log_entry(store, "ai_usage", last)).unwrap()
            }),
            "the log entry is missing (deleted)",
        ),
        (
            "rewritten-log",
            Box::new(|store: &Path| {
                let path = log_entry(store, "ai_usage", 1);
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(&path, text.replacen("\"timestamp\":", "\"timestamp\": ", 1))
                    .unwrap();
            }),
            "the log entry differs from the one its digest signed (rewritten)",
        ),
        (
            "deleted-digest",
            Box::new(|store: &Path| std::fs::remove_file(digest(store, "ai_usage", 1)).unwrap()),
            "no digest: a commit nobody signed",
        ),
        (
            "edited-digest",
            Box::new(|store: &Path| {
                let path = digest(store, "ai_usage", 2);
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(
                    &path,
                    text.replacen("\"process\": \"load\"", "\"process\": \"ingest\"", 1),
                )
                .unwrap();
            }),
            "signature does not hold",
        ),
        (
            "re-signed-digest",
            Box::new(move |store: &Path| {
                let path = digest(store, "code_changes", 1);
                let signed: Signed<Digest> = Signed::parse(&std::fs::read(&path).unwrap()).unwrap();
                let mut body = signed.body;
                body.removed
                    .push("tier=standard/date=2026-09-02/gone.parquet".into());
                std::fs::write(&path, Signed::sign(body, &other).to_bytes()).unwrap();
            }),
            "signature does not hold",
        ),
        (
            "hand-purge",
            Box::new(|store: &Path| {
                let table = store.join("ai_usage");
                let file = &data_files(store, "ai_usage")[0];
                let date = file
                    .parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap();
                let date = date.strip_prefix("date=").unwrap();
                let out = Command::new("python3")
                    .args([
                        "-c",
                        "import sys; from deltalake import DeltaTable; \
                         removed = DeltaTable(sys.argv[1]).delete(f\"date = '{sys.argv[2]}'\"); \
                         assert removed['num_removed_files'] > 0, removed",
                        table.to_str().unwrap(),
                        date,
                    ])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }),
            "no digest: a commit nobody signed",
        ),
    ];
    for (name, tamper, named) in cases {
        let store = fixture.copy(name);
        tamper(&store);
        let (code, text) = fixture.verify(&store, &[]);
        assert_eq!(code, 1, "{name}: {text}");
        assert!(
            text.contains(named),
            "{name}: expected \"{named}\" in:\n{text}"
        );

        // A writer's start completes digests only from signed intents:
        // the tamper stays found.
        let out = fixture.signed(&["load", "--store", store.to_str().unwrap()], b"");
        assert!(
            out.status.code().is_some_and(|c| c < 2),
            "{name}: {}",
            stderr(&out)
        );
        let (code, again) = fixture.verify(&store, &[]);
        assert_eq!(code, 1, "{name} after a restart: {again}");
        assert!(again.contains(named), "{name} after a restart: {again}");
    }
}

#[test]
fn keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let out = aitrail(&["keygen", "--out", keys.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(keys.join("signing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let before = std::fs::read(keys.join("signing.key")).unwrap();
    let again = aitrail(&["keygen", "--out", keys.to_str().unwrap()], b"");
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert_eq!(std::fs::read(keys.join("signing.key")).unwrap(), before);
}

#[test]
fn a_writer_required_to_sign_without_a_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("aitrail.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nroot = \"{}\"\n[kafka]\n\"bootstrap.servers\" = \"127.0.0.1:9\"\n\"group.id\" = \"g\"\n\
             [integrity]\nrequired = true\n",
            dir.path().join("store").display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aitrail"))
        .args(["ingest", "--config", config.to_str().unwrap()])
        .env_remove("AITRAIL_SIGNING_KEY_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no signing key"), "{}", stderr(&out));
}
