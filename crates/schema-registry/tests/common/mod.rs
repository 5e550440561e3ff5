//! Paths and loaders shared by the integration tests.

// Each test binary uses its own subset; helpers panic to report a failure.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::{Path, PathBuf},
    sync::LazyLock,
};

use serde_json::Value;
use switchyard_domain::EventType;
use switchyard_schema_registry::SchemaRegistry;

/// The repository's `schemas/` directory.
pub fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

/// The registry loaded from the repository's `schemas/` (loaded once per test binary; clones
/// share it).
pub fn real_registry() -> SchemaRegistry {
    static REGISTRY: LazyLock<SchemaRegistry> =
        LazyLock::new(|| SchemaRegistry::load(&schemas_dir()).expect("the shipped schemas load"));
    REGISTRY.clone()
}

/// `schemas/fixtures/<provider>/<type>.json`, parsed.
pub fn fixture(event_type: &str) -> Value {
    let provider = event_type.split('.').next().unwrap();
    let path = schemas_dir()
        .join("fixtures")
        .join(provider)
        .join(format!("{event_type}.json"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn event_type(s: &str) -> EventType {
    EventType::parse(s).unwrap()
}
