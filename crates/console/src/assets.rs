//! The console's files, embedded at compile time, and the bundle version that names them.
//!
//! Assets are served under `/console/assets/<version>/`, where the version is a hash of every
//! file: a new build gets new URLs, so browsers may cache each URL forever. `index.html` is
//! the one file that is revalidated (by its `ETag`) and names the current version.

use std::sync::LazyLock;

use sha2::{Digest as _, Sha256};

/// One embedded file.
pub struct Asset {
    /// Its name under `assets/<version>/`.
    pub name: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
    /// Its media type.
    pub content_type: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";
/// The media type of `index.html`.
pub const HTML: &str = "text/html; charset=utf-8";

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            body: include_bytes!(concat!("../assets/", $name)),
            content_type: $type,
        }
    };
}

/// Every file besides `index.html`. The `every_asset_file_is_embedded` test keeps this list
/// and the `assets/` directory in step.
pub const FILES: &[Asset] = &[
    asset!("console.css", CSS),
    asset!("icon.svg", SVG),
    asset!("main.js", JS),
    asset!("api.js", JS),
    asset!("session.js", JS),
    asset!("dom.js", JS),
    asset!("format.js", JS),
    asset!("dialogs.js", JS),
    asset!("graphql-ws.js", JS),
    asset!("live.js", JS),
    asset!("events.js", JS),
    asset!("event-detail.js", JS),
    asset!("endpoints.js", JS),
    asset!("sources.js", JS),
    asset!("dlq.js", JS),
    asset!("types.js", JS),
];

/// The page, with `%ASSETS%` where the versioned asset directory goes.
const INDEX_TEMPLATE: &str = include_str!("../assets/index.html");

/// The files as served: the version and the page that names it.
pub struct Bundle {
    /// Hex digest of every file: the asset directory's name and the page's strong `ETag`.
    pub version: String,
    /// `index.html` with its asset URLs filled in.
    pub index: Vec<u8>,
}

impl Bundle {
    fn build() -> Self {
        let mut digest = Sha256::new();
        digest.update(INDEX_TEMPLATE.as_bytes());
        for file in FILES {
            // Length-prefixed, so moving bytes from one file to the next changes the hash.
            digest.update(file.name.len().to_le_bytes());
            digest.update(file.name.as_bytes());
            digest.update(file.body.len().to_le_bytes());
            digest.update(file.body);
        }
        let version = hex::encode(&digest.finalize()[..8]);
        let index = INDEX_TEMPLATE
            .replace("%ASSETS%", &format!("assets/{version}"))
            .into_bytes();
        Self { version, index }
    }

    /// The embedded file `name`.
    pub fn file(name: &str) -> Option<&'static Asset> {
        FILES.iter().find(|file| file.name == name)
    }
}

/// The bundle, made once from the embedded bytes (which never change while running).
pub static BUNDLE: LazyLock<Bundle> = LazyLock::new(Bundle::build);

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_asset_file_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets");
        let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name != "index.html")
            .collect();
        let embedded: BTreeSet<String> = FILES.iter().map(|f| f.name.to_owned()).collect();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn the_page_names_the_versioned_assets_only() {
        let index = String::from_utf8(BUNDLE.index.clone()).unwrap();
        assert!(!index.contains("%ASSETS%"));
        assert!(index.contains(&format!("assets/{}/main.js", BUNDLE.version)));
        assert_eq!(BUNDLE.version.len(), 16);
    }

    #[test]
    fn modules_import_only_embedded_siblings() {
        for file in FILES.iter().filter(|f| f.name.ends_with(".js")) {
            let text = std::str::from_utf8(file.body).unwrap();
            let imports = text
                .lines()
                .filter(|l| l.starts_with("import ") || l.starts_with("} from "));
            for line in imports {
                let Some(from) = line.rsplit_once(" from ").map(|(_, f)| f) else {
                    continue;
                };
                let target = from
                    .trim_end_matches(';')
                    .trim_matches(|c| c == '\'' || c == '"');
                let name = target.strip_prefix("./").unwrap_or_else(|| {
                    panic!("{}: import {target:?} is not a sibling module", file.name)
                });
                assert!(
                    Bundle::file(name).is_some(),
                    "{}: imports {name}, which is not embedded",
                    file.name
                );
            }
        }
    }
}
