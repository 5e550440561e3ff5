//! The directory layout rules: which files are event schemas, which are shared definitions,
//! which are skipped, and what an event schema's file name and `$id` must be.
//!
//! ```text
//! <root>/<provider>/<event type>.v<N>.json    event schema, e.g. razorpay/razorpay.payment.captured.v1.json
//! <root>/<provider>/_defs/<name>.json         shared definition (also any file named `_*.json`)
//! <root>/fixtures/...                         example payloads: never loaded
//! .*                                          hidden files and directories: never loaded
//! ```

use std::{
    ffi::OsStr,
    path::{Component, Path},
};

use switchyard_domain::EventType;

use crate::RegistryError;

/// Directories holding shared definitions, whatever their depth.
const DEFS_DIR: &str = "_defs";
/// Directories holding example payloads for tests, whatever their depth.
const FIXTURES_DIR: &str = "fixtures";
/// The only dialect accepted, so every schema means the same thing to every reader.
pub(crate) const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// What a `*.json` file under the root is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileRole {
    /// The schema of one `(type, version)`.
    Event {
        /// From the file name.
        event_type: EventType,
        /// From the file name.
        version: u32,
    },
    /// A shared definition that event schemas (or other definitions) `$ref` by its `$id`.
    Definition,
}

/// Whether the loader descends into the directory `name`.
pub(crate) fn is_loaded_dir(name: &OsStr) -> bool {
    !is_hidden(name) && name != FIXTURES_DIR
}

/// Whether the loader reads the file `name`.
pub(crate) fn is_loaded_file(name: &OsStr) -> bool {
    !is_hidden(name) && Path::new(name).extension() == Some(OsStr::new("json"))
}

// Hidden entries are skipped so editor swap files and the `..data` links Kubernetes puts in a
// ConfigMap volume are never read twice or as schemas.
fn is_hidden(name: &OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

/// The role of `path`, a `*.json` file under `root`.
pub(crate) fn classify(root: &Path, path: &Path) -> Result<FileRole, RegistryError> {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let dirs: Vec<&OsStr> = relative
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect();
    let file_name = path
        .file_name()
        .and_then(OsStr::to_str)
        .ok_or_else(|| bad_name(path, "the file name is not UTF-8".to_owned()))?;

    if file_name.starts_with('_') || dirs.iter().any(|d| *d == DEFS_DIR) {
        return Ok(FileRole::Definition);
    }
    let (event_type, version) =
        parse_file_name(file_name).map_err(|reason| bad_name(path, reason))?;
    let expected_dir = event_type.namespace();
    if dirs.first().copied() != Some(OsStr::new(expected_dir)) {
        return Err(RegistryError::Misplaced {
            path: path.to_path_buf(),
            event_type: event_type.to_string(),
            expected_dir: expected_dir.to_owned(),
        });
    }
    Ok(FileRole::Event {
        event_type,
        version,
    })
}

fn bad_name(path: &Path, reason: String) -> RegistryError {
    RegistryError::BadFileName {
        path: path.to_path_buf(),
        reason,
    }
}

/// `razorpay.payment.captured.v1.json` → (`razorpay.payment.captured`, 1).
pub(crate) fn parse_file_name(file_name: &str) -> Result<(EventType, u32), String> {
    const EXPECTED: &str =
        "expected <event type>.v<N>.json, e.g. razorpay.payment.captured.v1.json";
    let stem = file_name
        .strip_suffix(".json")
        .ok_or_else(|| EXPECTED.to_owned())?;
    let (event_type, version) = stem.rsplit_once('.').ok_or_else(|| EXPECTED.to_owned())?;
    let digits = version
        .strip_prefix('v')
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("{EXPECTED}; {version:?} is not a version"))?;
    if digits.starts_with('0') {
        return Err(format!(
            "versions start at v1 and have no leading zeros, found {version:?}"
        ));
    }
    let version = digits
        .parse::<u32>()
        .map_err(|_| format!("version {version:?} is too large"))?;
    let event_type = EventType::parse(event_type).map_err(|e| e.to_string())?;
    Ok((event_type, version))
}

/// The `$id` an event schema must declare; also its CloudEvents `dataschema`.
pub(crate) fn schema_uri(event_type: &EventType, version: u32) -> String {
    format!("urn:switchyard:schema:{event_type}:v{version}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_gives_type_and_version() {
        let (event_type, version) = parse_file_name("razorpay.payment.captured.v12.json").unwrap();
        assert_eq!(event_type.as_str(), "razorpay.payment.captured");
        assert_eq!(version, 12);
    }

    #[test]
    fn file_names_without_a_proper_version_are_refused() {
        for name in [
            "razorpay.payment.captured.json",
            "razorpay.payment.captured.v.json",
            "razorpay.payment.captured.v0.json",
            "razorpay.payment.captured.v01.json",
            "razorpay.payment.captured.vx.json",
            "razorpay.payment.captured.V1.json",
            "razorpay.payment.captured.v99999999999.json",
            "v1.json",
            "razorpay..captured.v1.json",
            "razorpay payment.v1.json",
        ] {
            assert!(parse_file_name(name).is_err(), "{name} was accepted");
        }
    }

    #[test]
    fn definitions_are_files_in_defs_or_named_with_underscore() {
        let root = Path::new("/s");
        for path in [
            "/s/razorpay/_defs/payment.json",
            "/s/github/_common.json",
            "/s/_defs/x/y.json",
        ] {
            assert_eq!(
                classify(root, Path::new(path)).unwrap(),
                FileRole::Definition
            );
        }
    }

    #[test]
    fn event_schema_must_live_under_its_provider_directory() {
        let root = Path::new("/s");
        let ok = classify(
            root,
            Path::new("/s/razorpay/razorpay.payment.captured.v1.json"),
        );
        assert!(matches!(ok, Ok(FileRole::Event { version: 1, .. })));
        let nested = classify(
            root,
            Path::new("/s/razorpay/payments/razorpay.payment.failed.v2.json"),
        );
        assert!(matches!(nested, Ok(FileRole::Event { version: 2, .. })));

        for misplaced in [
            "/s/github/razorpay.payment.captured.v1.json",
            "/s/razorpay.payment.captured.v1.json",
        ] {
            let err = classify(root, Path::new(misplaced)).unwrap_err();
            assert!(matches!(err, RegistryError::Misplaced { .. }), "{err}");
            assert!(err.to_string().contains(misplaced), "{err}");
        }
    }

    #[test]
    fn fixtures_and_hidden_entries_are_not_loaded() {
        assert!(!is_loaded_dir(OsStr::new("fixtures")));
        assert!(!is_loaded_dir(OsStr::new("..data")));
        assert!(is_loaded_dir(OsStr::new("razorpay")));
        assert!(is_loaded_file(OsStr::new(
            "razorpay.payment.captured.v1.json"
        )));
        assert!(!is_loaded_file(OsStr::new(
            ".razorpay.payment.captured.v1.json.swp"
        )));
        assert!(!is_loaded_file(OsStr::new("README.md")));
    }

    #[test]
    fn schema_uri_names_type_and_version() {
        let event_type = EventType::parse("github.push").unwrap();
        assert_eq!(
            schema_uri(&event_type, 3),
            "urn:switchyard:schema:github.push:v3"
        );
    }
}
