//! Reading a schema directory: walk it, check every file against the layout rules, register the
//! shared definitions as in-memory resources and compile each event schema once.

use std::{
    collections::{HashMap, hash_map::Entry},
    path::{Path, PathBuf},
};

use jsonschema::{Draft, Registry, Validator, error::ValidationErrorKind};
use serde_json::Value;
use switchyard_domain::EventType;

use crate::{
    RegistryError,
    layout::{self, DIALECT, FileRole},
    references::{self, OfflineRetriever},
};

/// One event schema, compiled.
pub(crate) struct CompiledSchema {
    pub(crate) event_type: EventType,
    pub(crate) version: u32,
    /// Its `$id`, handed out as the CloudEvents `dataschema`.
    pub(crate) uri: Box<str>,
    pub(crate) validator: Validator,
}

/// A file read and checked, not yet compiled.
struct SchemaFile {
    path: PathBuf,
    id: String,
    contents: Value,
}

/// Loads every schema under `dir`; see [`crate::layout`] for what is loaded.
pub(crate) fn load_dir(dir: &Path) -> Result<Vec<CompiledSchema>, RegistryError> {
    let mut paths = Vec::new();
    walk(dir, &mut paths)?;

    let mut files = Vec::with_capacity(paths.len());
    let mut ids: HashMap<String, PathBuf> = HashMap::new();
    let mut versions: HashMap<(EventType, u32), PathBuf> = HashMap::new();
    for path in paths {
        let (role, file) = read_schema_file(dir, path)?;
        // Checked before `$id`s: two files of one `(type, version)` also share an `$id`, and
        // this says so in the reader's terms.
        if let FileRole::Event {
            event_type,
            version,
        } = &role
            && let Some(first) = versions.insert((event_type.clone(), *version), file.path.clone())
        {
            return Err(RegistryError::DuplicateSchema {
                first,
                second: file.path,
                event_type: event_type.to_string(),
                version: *version,
            });
        }
        match ids.entry(file.id.clone()) {
            Entry::Occupied(first) => {
                return Err(RegistryError::DuplicateId {
                    first: first.get().clone(),
                    second: file.path,
                    id: file.id,
                });
            }
            Entry::Vacant(slot) => {
                slot.insert(file.path.clone());
            }
        }
        files.push((role, file));
    }
    for (_, file) in &files {
        references::check_external_refs(&file.path, &file.contents, &ids)?;
    }

    let mut definitions = Vec::new();
    let mut events = Vec::new();
    for (role, file) in files {
        match role {
            FileRole::Definition => definitions.push(file),
            FileRole::Event {
                event_type,
                version,
            } => events.push((event_type, version, file)),
        }
    }
    let registry = definitions_registry(dir, &definitions)?;
    events
        .into_iter()
        .map(|(event_type, version, file)| compile(event_type, version, file, &registry))
        .collect()
}

/// Directories nested deeper than this are refused: only a symbolic link loop gets there.
const MAX_DEPTH: usize = 16;

/// Collects the loaded `*.json` files under `dir`, in a stable (sorted) order so the first of
/// two conflicting files is always the same one. Follows symbolic links: a Kubernetes ConfigMap
/// volume presents its files as links.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), RegistryError> {
    walk_at(dir, 0, out)
}

fn walk_at(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), RegistryError> {
    let read_error = |path: &Path, source| RegistryError::Read {
        path: path.to_path_buf(),
        source,
    };
    if depth > MAX_DEPTH {
        let loop_error = std::io::Error::other(format!(
            "nested more than {MAX_DEPTH} directories deep (a symbolic link loop?)"
        ));
        return Err(read_error(dir, loop_error));
    }
    let mut entries = std::fs::read_dir(dir)
        .and_then(|entries| entries.collect::<Result<Vec<_>, _>>())
        .map_err(|e| read_error(dir, e))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let metadata = std::fs::metadata(&path).map_err(|e| read_error(&path, e))?;
        if metadata.is_dir() {
            if layout::is_loaded_dir(&name) {
                walk_at(&path, depth + 1, out)?;
            }
        } else if layout::is_loaded_file(&name) {
            out.push(path);
        }
    }
    Ok(())
}

fn read_schema_file(root: &Path, path: PathBuf) -> Result<(FileRole, SchemaFile), RegistryError> {
    let role = layout::classify(root, &path)?;
    let bytes = std::fs::read(&path).map_err(|source| RegistryError::Read {
        path: path.clone(),
        source,
    })?;
    let contents: Value =
        serde_json::from_slice(&bytes).map_err(|source| RegistryError::NotJson {
            path: path.clone(),
            source,
        })?;
    let header_error = |problem: String| RegistryError::BadHeader {
        path: path.clone(),
        problem,
    };

    match contents.get("$schema") {
        Some(Value::String(dialect)) if dialect == DIALECT => {}
        Some(other) => {
            return Err(header_error(format!(
                "$schema must be {DIALECT:?}, found {other}"
            )));
        }
        None => {
            return Err(header_error(format!(
                "$schema is missing; it must be {DIALECT:?}"
            )));
        }
    }
    let id = match contents.get("$id") {
        Some(Value::String(id)) => id.clone(),
        Some(other) => return Err(header_error(format!("$id must be a string, found {other}"))),
        None => return Err(header_error("$id is missing".to_owned())),
    };
    match &role {
        FileRole::Event {
            event_type,
            version,
        } => {
            let expected = layout::schema_uri(event_type, *version);
            if id != expected {
                return Err(header_error(format!(
                    "$id must be {expected:?} (from the file name), found {id:?}"
                )));
            }
        }
        // Event schemas are checked against the meta-schema when compiled; definitions are only
        // ever compiled through them, so check them here to name the file.
        FileRole::Definition => {
            jsonschema::draft202012::meta::validate(&contents).map_err(|e| {
                RegistryError::InvalidSchema {
                    path: path.clone(),
                    message: format!("{}: {e}", pointer_or_root(e.instance_path().as_str())),
                }
            })?;
        }
    }
    Ok((role, SchemaFile { path, id, contents }))
}

/// The shared definitions as in-memory resources under their `$id`s.
fn definitions_registry<'a>(
    dir: &Path,
    definitions: &'a [SchemaFile],
) -> Result<Registry<'a>, RegistryError> {
    let builder = Registry::new()
        .retriever(OfflineRetriever)
        .draft(Draft::Draft202012);
    let builder = definitions.iter().try_fold(builder, |builder, def| {
        builder
            .add(&def.id, &def.contents)
            .map_err(|e| RegistryError::BadHeader {
                path: def.path.clone(),
                problem: format!("$id {:?} is not a usable URI: {e}", def.id),
            })
    })?;
    builder.prepare().map_err(|e| RegistryError::Definitions {
        dir: dir.to_path_buf(),
        message: e.to_string(),
    })
}

fn compile(
    event_type: EventType,
    version: u32,
    file: SchemaFile,
    registry: &Registry<'_>,
) -> Result<CompiledSchema, RegistryError> {
    let validator = jsonschema::options()
        .with_draft(Draft::Draft202012)
        .with_registry(registry)
        .with_retriever(OfflineRetriever)
        // `format` stays an annotation (the 2020-12 default): providers' emails and URLs are not
        // always RFC-clean, and an event must not be rejected for that.
        .should_validate_formats(false)
        .build(&file.contents)
        .map_err(|e| match e.kind() {
            ValidationErrorKind::Referencing(cause) => RegistryError::UnresolvableRef {
                path: file.path.clone(),
                detail: cause.to_string(),
            },
            _ => RegistryError::InvalidSchema {
                path: file.path.clone(),
                message: format!("{}: {e}", pointer_or_root(e.instance_path().as_str())),
            },
        })?;
    Ok(CompiledSchema {
        event_type,
        version,
        uri: file.id.into_boxed_str(),
        validator,
    })
}

fn pointer_or_root(pointer: &str) -> &str {
    if pointer.is_empty() {
        "(root)"
    } else {
        pointer
    }
}
