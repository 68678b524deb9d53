//! The dashboard's files, compiled into the binary so that it serves them
//! on machines without internet access, and their fingerprints: the page
//! names each file with its fingerprint (`/assets/dashboard.js?v=…`), so a
//! browser may keep a file for good and still never runs an old script
//! against a new page.

use axum::body::Bytes;
use sha2::{Digest, Sha256};

/// One file as it is served.
pub(super) struct Asset {
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: Bytes,
    /// A digest of its bytes: the `v` of its links and its `ETag`.
    pub fingerprint: String,
}

/// The page, before its links to the files below are fingerprinted.
const PAGE: &str = include_str!("web/index.html");

/// The files under `/assets/`: name, content type, bytes. `web/README.md`
/// says where the vendored ones come from.
const FILES: [(&str, &str, &[u8]); 5] = [
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_bytes!("web/dashboard.js"),
    ),
    (
        "dashboard.css",
        "text/css; charset=utf-8",
        include_bytes!("web/dashboard.css"),
    ),
    (
        "chart.umd.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("web/chart.umd.min.js"),
    ),
    (
        "chart.js-LICENSE.md",
        "text/plain; charset=utf-8",
        include_bytes!("web/chart.js-LICENSE.md"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("web/favicon.svg"),
    ),
];

/// The page and every file, fingerprinted once when the server starts.
pub(super) struct Assets {
    /// The HTML of `GET /`, its links fingerprinted.
    pub page: Asset,
    files: Vec<(&'static str, Asset)>,
}

impl Assets {
    /// Fingerprints every file and rewrites the page's links to them.
    pub fn new() -> Self {
        let files: Vec<(&'static str, Asset)> = FILES
            .iter()
            .map(|&(name, content_type, body)| {
                let asset = Asset {
                    content_type,
                    body: Bytes::from_static(body),
                    fingerprint: fingerprint(body),
                };
                (name, asset)
            })
            .collect();
        let mut page = PAGE.to_string();
        for (name, asset) in &files {
            page = page.replace(
                &format!("\"/assets/{name}\""),
                &format!("\"/assets/{name}?v={}\"", asset.fingerprint),
            );
        }
        let page = Asset {
            content_type: "text/html; charset=utf-8",
            fingerprint: fingerprint(page.as_bytes()),
            body: Bytes::from(page),
        };
        Assets { page, files }
    }

    /// The file served as `/assets/{name}`, if there is one.
    pub fn file(&self, name: &str) -> Option<&Asset> {
        self.files
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, asset)| asset)
    }
}

/// 64 bits of the SHA-256 of `bytes`, in hex: enough to tell versions of
/// a file apart.
fn fingerprint(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `/assets/…` link of the page, as written.
    fn links(page: &str) -> Vec<&str> {
        page.split("\"/assets/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect()
    }

    #[test]
    fn every_link_of_the_page_names_a_file_and_its_fingerprint() {
        let assets = Assets::new();
        let page = std::str::from_utf8(&assets.page.body).unwrap();
        let links = links(page);
        assert!(links.len() >= 4, "{links:?}");
        for link in links {
            let (name, version) = link.split_once("?v=").expect("fingerprinted");
            let file = assets
                .file(name)
                .unwrap_or_else(|| panic!("{name} is served"));
            assert_eq!(version, file.fingerprint);
        }
    }

    #[test]
    fn the_page_has_nothing_inline_for_the_policy_to_refuse() {
        let page = PAGE.to_ascii_lowercase();
        for script in page.split("<script").skip(1) {
            let tag = script.split('>').next().unwrap();
            assert!(tag.contains(" src="), "an inline script: <script{tag}>");
        }
        assert!(!page.contains("<style"), "an inline style sheet");
        assert!(!page.contains(" style="), "an inline style attribute");
        let handler = page.split(" on").skip(1).find(|rest| {
            let name_end = rest.find(|c: char| !c.is_ascii_alphabetic());
            name_end.is_some_and(|end| end > 0 && rest[end..].starts_with('='))
        });
        assert_eq!(handler, None, "an inline event handler");
        assert!(!page.contains("javascript:"));
    }
}
