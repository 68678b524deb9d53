//! The two signed records of DESIGN §11 and where they are kept: a
//! digest per committed table version (`_digests/<table>/<version>.json`,
//! chained to the digest before it) and an intent written before each
//! commit (`_digests/<table>/intent/<id>.json`), from which a crash
//! between the commit and its digest is completed, and a declaration of
//! each data file signed before the file is written
//! (`_digests/<table>/written/<file name>.json`), which tells a file a
//! crash left uncommitted from one slipped into the table.
//!
//! A record file is `{"body": …, "signature": …}`: the signature is
//! Ed25519 over the body's JSON exactly as [`Signed::to_bytes`] writes it,
//! which a reader re-creates from the parsed body (field order and number
//! formatting are the struct's own).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::keys::{PublicKey, SigningKey};
use crate::StoreError;

/// A file a commit added, as the digest pins it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedFile {
    /// The path relative to the table root, as the log names it.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes, in hex.
    pub sha256: String,
    /// Its rows (the log's `numRecords`), when the log gives them: what a
    /// later removal is checked against.
    pub rows: Option<u64>,
}

/// Who committed, and what the commit did beyond its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Writer {
    /// The process that committed: `ingest`, `load`, `retention`,
    /// `compact`, `serve`, `dev`, … (see [`super::install`]).
    pub process: String,
    /// The Delta operation of the commit (`WRITE`, `OPTIMIZE`, `DELETE`, …).
    pub operation: String,
    /// The application transactions the commit recorded (`appId` →
    /// version): for the ingest its offsets, for retention its run id.
    pub transactions: Vec<(String, i64)>,
}

/// The signed statement of one committed table version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// The table's name.
    pub table: String,
    /// The version committed.
    pub version: u64,
    /// The SHA-256 of the version's log entry (`_delta_log/<version>.json`).
    pub log_entry_sha256: String,
    /// The data files the version added.
    pub added: Vec<AddedFile>,
    /// The data files the version removed.
    pub removed: Vec<String>,
    /// Who committed it.
    pub writer: Writer,
    /// The SHA-256 of the previous version's digest file; `None` for
    /// version 0.
    pub previous_sha256: Option<String>,
    /// When the digest was signed (RFC 3339).
    pub signed_at: String,
}

/// The signed statement, made before a commit, of what it will hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// The table's name.
    pub table: String,
    /// The version the writer expects to commit (a writer that is rebased
    /// over another's commit lands later).
    pub expected_version: u64,
    /// The files it will add.
    pub added: Vec<AddedFile>,
    /// The files it will remove.
    pub removed: Vec<String>,
    /// The process committing.
    pub process: String,
    /// When the intent was signed (RFC 3339).
    pub signed_at: String,
}

/// The signed statement, made before a data file is written, of the
/// bytes it will hold: a file that a crash left written but never
/// committed is then known for the writer's own, not someone else's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declared {
    /// The table's name.
    pub table: String,
    /// The file's path relative to the table root, as the object store
    /// names it.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes, in hex.
    pub sha256: String,
    /// The process writing it.
    pub process: String,
    /// When the declaration was signed (RFC 3339).
    pub signed_at: String,
}

/// A body with its signature, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signed<T> {
    /// What is signed.
    pub body: T,
    /// The Ed25519 signature of the body's bytes, base64.
    pub signature: String,
}

impl<T: Serialize + DeserializeOwned> Signed<T> {
    /// `body` signed with `key`.
    pub fn sign(body: T, key: &SigningKey) -> Signed<T> {
        let signature = BASE64.encode(key.sign(&body_bytes(&body)));
        Signed { body, signature }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("records serialize");
        bytes.push(b'\n');
        bytes
    }

    /// Parses a record file; the error says what is wrong with it.
    pub fn parse(bytes: &[u8]) -> Result<Signed<T>, String> {
        serde_json::from_slice(bytes).map_err(|err| format!("not a signed record: {err}"))
    }

    /// Whether the signature is `key`'s over the body.
    pub fn verifies(&self, key: &PublicKey) -> bool {
        BASE64
            .decode(&self.signature)
            .is_ok_and(|signature| key.verifies(&body_bytes(&self.body), &signature))
    }
}

fn body_bytes<T: Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec(body).expect("records serialize")
}

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The path of a table's digest of `version`, relative to the store root.
pub fn digest_path(table: &str, version: u64) -> String {
    format!("{DIGESTS_DIR}/{table}/{version:020}.json")
}

/// The folder of a table's intents, relative to the store root.
pub fn intent_dir(table: &str) -> String {
    format!("{DIGESTS_DIR}/{table}/intent")
}

/// The folder of a table's data-file declarations, relative to the store
/// root.
pub fn declared_dir(table: &str) -> String {
    format!("{DIGESTS_DIR}/{table}/written")
}

/// The path of the declaration of the data file named `file_name` (the
/// last segment of its path: the writer's file names are unique).
pub fn declared_path(table: &str, file_name: &str) -> String {
    format!("{}/{file_name}.json", declared_dir(table))
}

/// The folder under the store root that holds every table's digests.
pub const DIGESTS_DIR: &str = "_digests";

/// The version a digest file's name gives, if it is one.
pub fn digest_version(file_name: &str) -> Option<u64> {
    let stem = file_name.strip_suffix(".json")?;
    (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
        .then(|| stem.parse().ok())
        .flatten()
}

/// A digest the store holds could not be written.
pub(crate) fn write_error(path: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Integrity(format!("{path}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest() -> Digest {
        Digest {
            table: "ai_usage".into(),
            version: 3,
            log_entry_sha256: sha256_hex(b"log"),
            added: vec![AddedFile {
                path: "tier=standard/date=2025-03-05/part-0.parquet".into(),
                size: 10,
                sha256: sha256_hex(b"file"),
                rows: Some(2),
            }],
            removed: vec![],
            writer: Writer {
                process: "ingest".into(),
                operation: "WRITE".into(),
                transactions: vec![("aitrail-ingest:ai-audit.events:0".into(), 41)],
            },
            previous_sha256: Some(sha256_hex(b"previous")),
            signed_at: "2026-12-07T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_signed_digest_verifies_after_a_round_trip_and_not_once_edited() {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = SigningKey::generate(dir.path()).unwrap();
        let key = SigningKey::read(&private).unwrap();
        let public = PublicKey::read(&public).unwrap();
        let bytes = Signed::sign(digest(), &key).to_bytes();
        let read: Signed<Digest> = Signed::parse(&bytes).unwrap();
        assert!(read.verifies(&public));
        assert_eq!(read.body, digest());

        let edited = String::from_utf8(bytes)
            .unwrap()
            .replace("\"size\": 10", "\"size\": 11");
        let edited: Signed<Digest> = Signed::parse(edited.as_bytes()).unwrap();
        assert_eq!(edited.body.added[0].size, 11, "the edit took");
        assert!(!edited.verifies(&public));
    }

    #[test]
    fn digest_file_names_carry_their_version() {
        assert_eq!(
            digest_path("ai_usage", 7),
            "_digests/ai_usage/00000000000000000007.json"
        );
        assert_eq!(digest_version("00000000000000000007.json"), Some(7));
        assert_eq!(digest_version("7.json"), None);
        assert_eq!(digest_version("00000000000000000007.json.tmp"), None);
    }
}
