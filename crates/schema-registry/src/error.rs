//! Why loading a schema directory failed, naming the file at fault.

use std::path::PathBuf;

/// Loading the schema directory failed. Every variant names the file (or directory) at fault,
/// so a bad schema stops start-up with a message an operator can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A file or directory could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A file is not JSON.
    #[error("{} is not valid JSON", path.display())]
    NotJson {
        /// The file.
        path: PathBuf,
        /// Where and why parsing stopped.
        #[source]
        source: serde_json::Error,
    },

    /// An event schema's file name is not `<event type>.v<N>.json`.
    #[error("{}: bad schema file name: {reason}", path.display())]
    BadFileName {
        /// The file.
        path: PathBuf,
        /// What is wrong with the name.
        reason: String,
    },

    /// An event schema is not in the directory named after its provider.
    #[error("{}: a schema of {event_type} belongs under {expected_dir}/", path.display())]
    Misplaced {
        /// The file.
        path: PathBuf,
        /// The event type its name declares.
        event_type: String,
        /// The top-level directory it should be in (the type's first segment).
        expected_dir: String,
    },

    /// `$schema` or `$id` is missing or not what the file's place requires.
    #[error("{}: {problem}", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong, e.g. the expected and the found `$id`.
        problem: String,
    },

    /// The file is JSON but not a valid draft 2020-12 schema.
    #[error("{} is not a valid JSON Schema: {message}", path.display())]
    InvalidSchema {
        /// The file.
        path: PathBuf,
        /// The validator's description of the problem.
        message: String,
    },

    /// A `$ref` in the file points at nothing that was loaded (no network or file retrieval is
    /// ever attempted).
    #[error("{}: unresolvable $ref: {detail}", path.display())]
    UnresolvableRef {
        /// The file holding the reference.
        path: PathBuf,
        /// The reference and why it does not resolve.
        detail: String,
    },

    /// Two files define the same `(type, version)`.
    #[error(
        "{} and {} both define {event_type} v{version}",
        first.display(),
        second.display()
    )]
    DuplicateSchema {
        /// The file seen first.
        first: PathBuf,
        /// The file seen second.
        second: PathBuf,
        /// The event type.
        event_type: String,
        /// The version.
        version: u32,
    },

    /// Two files declare the same `$id`.
    #[error("{} and {} both declare $id {id}", first.display(), second.display())]
    DuplicateId {
        /// The file seen first.
        first: PathBuf,
        /// The file seen second.
        second: PathBuf,
        /// The `$id`.
        id: String,
    },

    /// The shared definitions could not be assembled into one set of resources.
    #[error("shared definitions under {}: {message}", dir.display())]
    Definitions {
        /// The schema directory.
        dir: PathBuf,
        /// What the resolver reported.
        message: String,
    },
}
