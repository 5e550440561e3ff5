//! Loading schema directories built in temporary directories: what loads, and load errors that
//! name the file at fault.

// Test helpers outside `#[test]` functions panic to report a failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use switchyard_schema_registry::{RegistryError, SchemaRegistry, Validation};
use tempfile::TempDir;

use common::event_type;

const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// A schema directory of its own for one test.
struct SchemaDir(TempDir);

impl SchemaDir {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn write(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn write_json(&self, relative: &str, value: &Value) -> PathBuf {
        self.write(relative, &serde_json::to_string_pretty(value).unwrap())
    }

    /// An event schema at `<provider>/<type>.v<version>.json` with the `$id` the rules require.
    fn event_schema(&self, event: &str, version: u32, body: &Value) -> PathBuf {
        let provider = event.split('.').next().unwrap();
        let mut schema = json!({
            "$schema": DIALECT,
            "$id": format!("urn:switchyard:schema:{event}:v{version}"),
        });
        schema
            .as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        self.write_json(&format!("{provider}/{event}.v{version}.json"), &schema)
    }

    fn load(&self) -> Result<SchemaRegistry, RegistryError> {
        SchemaRegistry::load(self.path())
    }

    /// Loads, expecting failure; returns the error and its message.
    fn load_err(&self) -> (RegistryError, String) {
        let err = self.load().expect_err("the directory should not load");
        let message = err.to_string();
        (err, message)
    }
}

fn names(message: &str, path: &Path) {
    let path = path.display().to_string();
    assert!(message.contains(&path), "{message:?} does not name {path}");
}

#[test]
fn latest_version_is_the_numerically_highest_and_versions_can_be_pinned() {
    let dir = SchemaDir::new();
    for version in [1, 2, 10] {
        dir.event_schema(
            "acme.thing.happened",
            version,
            &json!({"properties": {"v": {"const": version}}}),
        );
    }
    let registry = dir.load().unwrap();
    let thing = event_type("acme.thing.happened");
    assert_eq!(registry.len(), 3);
    assert_eq!(registry.latest_version(&thing), Some(10));

    assert_eq!(
        registry.validate(&thing, None, &json!({"v": 10})),
        Validation::Valid {
            version: 10,
            schema_uri: "urn:switchyard:schema:acme.thing.happened:v10"
        }
    );
    assert_eq!(
        registry.validate(&thing, Some(2), &json!({"v": 2})),
        Validation::Valid {
            version: 2,
            schema_uri: "urn:switchyard:schema:acme.thing.happened:v2"
        }
    );
    assert_eq!(
        registry.validate(&thing, None, &json!({"v": 2})),
        Validation::Invalid {
            version: 10,
            violations: vec!["/v: 10 was expected".to_owned()]
        }
    );
    assert_eq!(
        registry.validate(&thing, Some(3), &json!({})),
        Validation::Unknown
    );
}

#[test]
fn shared_definitions_resolve_by_id_and_other_files_are_skipped() {
    let dir = SchemaDir::new();
    dir.write_json(
        "acme/_defs/money.json",
        &json!({
            "$schema": DIALECT,
            "$id": "urn:switchyard:def:acme:money",
            "type": "object",
            "required": ["amount"],
            "properties": {"amount": {"$ref": "urn:switchyard:def:acme:common#/$defs/amount"}}
        }),
    );
    dir.write_json(
        "acme/_common.json",
        &json!({"$schema": DIALECT, "$id": "urn:switchyard:def:acme:common", "$defs": {"amount": {"type": "integer"}}}),
    );
    dir.event_schema(
        "acme.paid",
        1,
        &json!({"properties": {"money": {"$ref": "urn:switchyard:def:acme:money"}}}),
    );
    // Never loaded: fixtures, hidden entries, non-JSON files.
    dir.write("fixtures/acme/acme.paid.json", "{ not json");
    dir.write(".hidden/acme.paid.v9.json", "{ not json");
    dir.write("acme/.acme.paid.v1.json.swp", "{ not json");
    dir.write("README.md", "# schemas");

    let registry = dir.load().unwrap();
    assert_eq!(
        registry.len(),
        1,
        "definitions are not event schemas: {registry:?}"
    );
    let paid = event_type("acme.paid");
    assert!(
        registry
            .validate(&paid, None, &json!({"money": {"amount": 5}}))
            .is_valid()
    );
    assert_eq!(
        registry.validate(&paid, None, &json!({"money": {"amount": "5"}})),
        Validation::Invalid {
            version: 1,
            violations: vec![r#"/money/amount: "5" is not of type "integer""#.to_owned()]
        }
    );
}

#[test]
fn empty_directory_loads_an_empty_registry() {
    let registry = SchemaDir::new().load().unwrap();
    assert!(registry.is_empty());
}

#[test]
fn missing_directory_is_named() {
    let dir = SchemaDir::new();
    let missing = dir.path().join("nope");
    let err = SchemaRegistry::load(&missing).unwrap_err();
    assert!(matches!(err, RegistryError::Read { .. }), "{err:?}");
    names(&err.to_string(), &missing);
}

#[test]
fn bad_json_names_the_file() {
    let dir = SchemaDir::new();
    let path = dir.write("acme/acme.paid.v1.json", r#"{"$schema": "#);
    let (err, message) = dir.load_err();
    assert!(matches!(err, RegistryError::NotJson { .. }), "{err:?}");
    names(&message, &path);
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(cause.contains("line 1"), "{cause}");
}

#[test]
fn bad_file_names_are_named_with_the_rule() {
    for name in [
        "acme/acme.paid.json",
        "acme/acme.paid.v0.json",
        "acme/acme paid.v1.json",
        "acme/acme.paid.v1.2.json",
    ] {
        let dir = SchemaDir::new();
        let path = dir.write(name, "{}");
        let (err, message) = dir.load_err();
        assert!(
            matches!(err, RegistryError::BadFileName { .. }),
            "{name}: {err:?}"
        );
        names(&message, &path);
    }
}

#[test]
fn schema_outside_its_provider_directory_is_named() {
    let dir = SchemaDir::new();
    let path = dir.write("github/acme.paid.v1.json", "{}");
    let (err, message) = dir.load_err();
    assert!(matches!(err, RegistryError::Misplaced { .. }), "{err:?}");
    names(&message, &path);
    assert!(message.contains("under acme/"), "{message}");
}

#[test]
fn duplicate_type_and_version_names_both_files() {
    let dir = SchemaDir::new();
    let first = dir.event_schema("acme.paid", 1, &json!({}));
    let second = dir.write_json(
        "acme/more/acme.paid.v1.json",
        &json!({"$schema": DIALECT, "$id": "urn:switchyard:schema:acme.paid:v1"}),
    );
    let (err, message) = dir.load_err();
    assert!(
        matches!(err, RegistryError::DuplicateSchema { version: 1, .. }),
        "{err:?}"
    );
    names(&message, &first);
    names(&message, &second);
}

#[test]
fn duplicate_definition_id_names_both_files() {
    let dir = SchemaDir::new();
    let def = json!({"$schema": DIALECT, "$id": "urn:switchyard:def:acme:money"});
    let first = dir.write_json("acme/_defs/a.json", &def);
    let second = dir.write_json("acme/_defs/b.json", &def);
    let (err, message) = dir.load_err();
    assert!(matches!(err, RegistryError::DuplicateId { .. }), "{err:?}");
    names(&message, &first);
    names(&message, &second);
}

#[test]
fn dangling_ref_names_the_file_holding_it() {
    // In an event schema.
    let dir = SchemaDir::new();
    let path = dir.event_schema(
        "acme.paid",
        1,
        &json!({"$ref": "urn:switchyard:def:acme:nope"}),
    );
    let (err, message) = dir.load_err();
    assert!(
        matches!(err, RegistryError::UnresolvableRef { .. }),
        "{err:?}"
    );
    names(&message, &path);
    assert!(
        message.contains("urn:switchyard:def:acme:nope"),
        "{message}"
    );

    // In a shared definition an event schema uses: the definition is named, not the user.
    let dir = SchemaDir::new();
    dir.event_schema(
        "acme.paid",
        1,
        &json!({"$ref": "urn:switchyard:def:acme:money"}),
    );
    let def = dir.write_json(
        "acme/_defs/money.json",
        &json!({"$schema": DIALECT, "$id": "urn:switchyard:def:acme:money", "$ref": "https://example.com/money.json"}),
    );
    let (err, message) = dir.load_err();
    assert!(
        matches!(err, RegistryError::UnresolvableRef { .. }),
        "{err:?}"
    );
    names(&message, &def);
}

#[test]
fn ref_to_a_missing_part_of_a_loaded_definition_is_unresolvable() {
    let dir = SchemaDir::new();
    dir.write_json(
        "acme/_defs/money.json",
        &json!({"$schema": DIALECT, "$id": "urn:switchyard:def:acme:money"}),
    );
    let path = dir.event_schema(
        "acme.paid",
        1,
        &json!({"$ref": "urn:switchyard:def:acme:money#/$defs/missing"}),
    );
    let (err, message) = dir.load_err();
    assert!(
        matches!(err, RegistryError::UnresolvableRef { .. }),
        "{err:?}"
    );
    names(&message, &path);
}

#[test]
fn relative_ref_is_refused_with_the_way_to_fix_it() {
    let dir = SchemaDir::new();
    let path = dir.event_schema("acme.paid", 1, &json!({"$ref": "_defs/money.json"}));
    let (err, message) = dir.load_err();
    assert!(
        matches!(err, RegistryError::UnresolvableRef { .. }),
        "{err:?}"
    );
    names(&message, &path);
    assert!(message.contains("full $id"), "{message}");
}

#[test]
fn invalid_schema_names_the_file() {
    let dir = SchemaDir::new();
    let path = dir.event_schema("acme.paid", 1, &json!({"type": 12}));
    let (err, message) = dir.load_err();
    assert!(
        matches!(err, RegistryError::InvalidSchema { .. }),
        "{err:?}"
    );
    names(&message, &path);

    let dir = SchemaDir::new();
    let def = dir.write_json(
        "acme/_defs/money.json",
        &json!({"$schema": DIALECT, "$id": "urn:switchyard:def:acme:money", "minimum": "zero"}),
    );
    let (err, message) = dir.load_err();
    assert!(
        matches!(err, RegistryError::InvalidSchema { .. }),
        "{err:?}"
    );
    names(&message, &def);
    assert!(message.contains("/minimum"), "{message}");
}

#[test]
fn wrong_or_missing_header_names_the_file() {
    let cases = [
        json!({"$id": "urn:switchyard:schema:acme.paid:v1"}),
        json!({"$schema": "http://json-schema.org/draft-07/schema#", "$id": "urn:switchyard:schema:acme.paid:v1"}),
        json!({"$schema": DIALECT}),
        json!({"$schema": DIALECT, "$id": "urn:switchyard:schema:acme.paid:v2"}),
    ];
    for schema in cases {
        let dir = SchemaDir::new();
        let path = dir.write_json("acme/acme.paid.v1.json", &schema);
        let (err, message) = dir.load_err();
        assert!(
            matches!(err, RegistryError::BadHeader { .. }),
            "{schema}: {err:?}"
        );
        names(&message, &path);
    }
}

#[cfg(unix)]
#[test]
fn symlinked_files_load_like_a_kubernetes_config_map() {
    let dir = SchemaDir::new();
    let real = dir.event_schema("acme.paid", 1, &json!({}));
    let linked = dir.path().join("..data");
    std::fs::create_dir(&linked).unwrap();
    std::fs::rename(&real, linked.join("acme.paid.v1.json")).unwrap();
    std::os::unix::fs::symlink(linked.join("acme.paid.v1.json"), &real).unwrap();

    let registry = dir.load().unwrap();
    assert_eq!(
        registry.len(),
        1,
        "the hidden ..data directory is not loaded a second time"
    );
}

#[cfg(unix)]
#[test]
fn symbolic_link_loop_is_refused_not_followed_forever() {
    let dir = SchemaDir::new();
    std::fs::create_dir(dir.path().join("acme")).unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("acme/loop")).unwrap();
    let (err, message) = dir.load_err();
    assert!(matches!(err, RegistryError::Read { .. }), "{err:?}");
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(cause.contains("symbolic link loop"), "{message}: {cause}");
}
