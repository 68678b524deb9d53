//! The signing key of a command that writes to the store (DESIGN §11):
//! the file named by `AITRAIL_SIGNING_KEY_FILE`, else `[integrity]
//! signing_key_file`; with `[integrity] required = true` a writer without
//! one refuses to start.

use std::path::{Path, PathBuf};

use aitrail_store::integrity::{self, SigningKey};
use serde::Deserialize;

use crate::config::ConfigFile;
use crate::exit::UsageError;

/// The variable naming the private key file; it wins over the file's.
pub const KEY_FILE_VAR: &str = "AITRAIL_SIGNING_KEY_FILE";

/// The `[integrity]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegritySection {
    /// The Ed25519 private key (PKCS#8 PEM) every commit is signed with.
    pub signing_key_file: Option<PathBuf>,
    /// Refuse to write without a key.
    #[serde(default)]
    pub required: bool,
}

/// The key file this process would sign with, and whether one is required.
pub fn key_file(config: Option<&ConfigFile>) -> Result<(Option<PathBuf>, bool), UsageError> {
    let section: IntegritySection = match config {
        Some(config) => config.section("integrity")?,
        None => IntegritySection::default(),
    };
    let from_env = std::env::var_os(KEY_FILE_VAR)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from);
    Ok((from_env.or(section.signing_key_file), section.required))
}

/// Makes this process sign every commit it makes as `process`, when a key
/// is given; `Ok(false)` when none is and none is required.
pub fn install(config: Option<&ConfigFile>, process: &str) -> Result<bool, UsageError> {
    let (path, required) = key_file(config)?;
    let Some(path) = path else {
        if required {
            return Err(UsageError(format!(
                "[integrity] required = true, but no signing key: set {KEY_FILE_VAR} or \
                 [integrity] signing_key_file (aitrail keygen --out DIR makes one)"
            )));
        }
        return Ok(false);
    };
    install_from(&path, process)?;
    Ok(true)
}

/// Makes this process sign every commit with the private key at `path`.
pub fn install_from(path: &Path, process: &str) -> Result<(), UsageError> {
    let key = SigningKey::read(path).map_err(|err| UsageError(err.to_string()))?;
    integrity::install(key, process).map_err(|err| UsageError(err.to_string()))?;
    tracing::info!(key = %path.display(), "commits are signed");
    Ok(())
}
