//! Where the store lives: a local directory (the default) or an object-store
//! URL such as `s3://bucket/prefix`.

use std::path::Path;

use url::Url;

/// The store root could not be understood or created.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    /// The root is neither a usable path nor a URL.
    #[error("store root `{root}`: {problem}")]
    Invalid {
        /// The root as given.
        root: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// The root under which each table is a folder named after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRoot {
    url: Url,
}

impl StoreRoot {
    /// Parses `root`: a URL with a scheme (`s3://…`, `file://…`) or a local
    /// path, which is created if missing.
    pub fn parse(root: &str) -> Result<Self, LocationError> {
        let invalid = |problem: String| LocationError::Invalid {
            root: root.to_string(),
            problem,
        };
        let url = if root.contains("://") {
            let url = Url::parse(root).map_err(|err| invalid(err.to_string()))?;
            if matches!(url.scheme(), "s3" | "s3a") {
                deltalake::aws::register_handlers(None);
            } else if url.scheme() != "file" {
                return Err(invalid(format!(
                    "the `{}` scheme is not supported; use a local path or s3://",
                    url.scheme()
                )));
            }
            url
        } else {
            let path = Path::new(root);
            std::fs::create_dir_all(path).map_err(|err| invalid(err.to_string()))?;
            let absolute = std::fs::canonicalize(path).map_err(|err| invalid(err.to_string()))?;
            Url::from_directory_path(&absolute)
                .map_err(|()| invalid("not an absolute directory".to_string()))?
        };
        Ok(StoreRoot { url })
    }

    /// The root's URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL of the table named `name`.
    pub fn table_url(&self, name: &str) -> Url {
        let mut url = self.url.clone();
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        url.join(&format!("{name}/"))
            .expect("a table name is a plain path segment")
    }

    /// The local directory of the store, when it is one.
    pub fn local_path(&self) -> Option<std::path::PathBuf> {
        (self.url.scheme() == "file")
            .then(|| self.url.to_file_path().ok())
            .flatten()
    }
}

impl std::fmt::Display for StoreRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.url.as_str())
    }
}
