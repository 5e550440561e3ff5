//! [`SchemaRegistry`]: the compiled schemas by type and version, and validation against them.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    path::Path,
    sync::Arc,
};

use jsonschema::Validator;
use serde_json::Value;
use switchyard_domain::EventType;

use crate::{RegistryError, Validation, loader, validation};

/// The JSON Schemas of canonical event types, one per `(type, version)`, compiled once.
///
/// Cheap to clone (one `Arc`), `Send + Sync`, immutable after [`load`](Self::load): share it
/// between threads as it is.
#[derive(Clone, Default)]
pub struct SchemaRegistry {
    types: Arc<HashMap<String, Versions>>,
}

/// The schemas of one type; the last entry is the latest version.
type Versions = BTreeMap<u32, Schema>;

struct Schema {
    uri: Box<str>,
    validator: Validator,
}

impl SchemaRegistry {
    /// No schemas: everything is [`Validation::Unknown`].
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// Loads every `*.json` schema under `dir`, recursively, and compiles each once.
    ///
    /// Layout (see `schemas/README.md`): `<provider>/<event type>.v<N>.json` is the schema of
    /// that type and version, with `$id` `urn:switchyard:schema:<event type>:v<N>`; files in a
    /// `_defs/` directory or named `_*.json` are shared definitions that schemas `$ref` by
    /// their `$id`; `fixtures/` directories and hidden entries are skipped. Every schema is
    /// draft 2020-12. Nothing is fetched: a `$ref` resolves inside its file or to another file
    /// loaded here.
    ///
    /// # Errors
    ///
    /// Fails naming the file (and the problem) if one is unreadable, not JSON, not a valid
    /// schema, badly named or placed, has the wrong `$schema` or `$id`, defines a `(type,
    /// version)` or `$id` already loaded, or holds a `$ref` that resolves to nothing loaded.
    pub fn load(dir: &Path) -> Result<Self, RegistryError> {
        let mut types: HashMap<String, Versions> = HashMap::new();
        for compiled in loader::load_dir(dir)? {
            // Duplicates were refused while loading, so this never replaces a schema.
            types
                .entry(compiled.event_type.to_string())
                .or_default()
                .insert(
                    compiled.version,
                    Schema {
                        uri: compiled.uri,
                        validator: compiled.validator,
                    },
                );
        }
        Ok(Self {
            types: Arc::new(types),
        })
    }

    /// Validates `data` against the schema of `event_type` at `version` (`None`: the latest
    /// registered version).
    ///
    /// Runs the validator's fast yes/no check first; violations are collected and worded only
    /// for invalid data.
    ///
    /// ```
    /// use serde_json::json;
    /// use switchyard_domain::EventType;
    /// use switchyard_schema_registry::{SchemaRegistry, Validation};
    ///
    /// let registry = SchemaRegistry::empty();
    /// let event_type = EventType::parse("razorpay.payment.captured").unwrap();
    /// assert_eq!(registry.validate(&event_type, None, &json!({})), Validation::Unknown);
    /// ```
    #[must_use]
    pub fn validate(
        &self,
        event_type: &EventType,
        version: Option<u32>,
        data: &Value,
    ) -> Validation<'_> {
        let Some(versions) = self.types.get(event_type.as_str()) else {
            return Validation::Unknown;
        };
        let found = match version {
            Some(version) => versions.get(&version).map(|schema| (version, schema)),
            None => versions
                .last_key_value()
                .map(|(version, schema)| (*version, schema)),
        };
        let Some((version, schema)) = found else {
            return Validation::Unknown;
        };
        if schema.validator.is_valid(data) {
            Validation::Valid {
                version,
                schema_uri: &schema.uri,
            }
        } else {
            Validation::Invalid {
                version,
                violations: validation::violations(&schema.validator, data),
            }
        }
    }

    /// The latest version registered for `event_type`, if any.
    #[must_use]
    pub fn latest_version(&self, event_type: &EventType) -> Option<u32> {
        self.types
            .get(event_type.as_str())
            .and_then(|versions| versions.last_key_value())
            .map(|(version, _)| *version)
    }

    /// Number of `(type, version)` schemas loaded.
    #[must_use]
    pub fn len(&self) -> usize {
        self.types.values().map(BTreeMap::len).sum()
    }

    /// Whether no schema is loaded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }
}

/// Lists the loaded `(type, versions)` pairs, not the compiled validators.
impl fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut types: Vec<(&str, Vec<u32>)> = self
            .types
            .iter()
            .map(|(name, versions)| (name.as_str(), versions.keys().copied().collect()))
            .collect();
        types.sort_unstable();
        f.debug_struct("SchemaRegistry")
            .field("types", &types)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_shareable_and_its_error_fits_anyhow() {
        fn assert_shareable<T: Send + Sync + Clone + 'static>() {}
        fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
        assert_shareable::<SchemaRegistry>();
        assert_error::<RegistryError>();
    }

    #[test]
    fn empty_registry_knows_nothing() {
        let registry = SchemaRegistry::empty();
        let event_type = EventType::parse("github.push").unwrap();
        assert!(registry.is_empty());
        assert_eq!(registry.len(), 0);
        assert_eq!(registry.latest_version(&event_type), None);
        assert_eq!(
            registry.validate(&event_type, Some(1), &Value::Null),
            Validation::Unknown
        );
        assert_eq!(format!("{registry:?}"), "SchemaRegistry { types: [] }");
    }
}
