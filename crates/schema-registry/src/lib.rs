//! The JSON Schemas of Switchyard's canonical event types, and validation of an event's `data`
//! against them.
//!
//! What it is for: at start-up a service calls [`SchemaRegistry::load`] on the schema directory
//! (`schemas/` at the repository root: one draft 2020-12 schema per `(type, version)`, shared
//! definitions resolved from the same directory); each schema is compiled once. Then
//! [`SchemaRegistry::validate`] checks one event's data (for inbound webhooks, the provider's
//! body as JSON) and answers [`Validation::Valid`] with the schema's URI for the CloudEvents
//! `dataschema` attribute, [`Validation::Unknown`], or [`Validation::Invalid`] with a few
//! readable violations. Validation is synchronous and does no I/O; valid data costs one fast
//! yes/no pass (violations are only collected and worded for invalid data).
//!
//! What it is not for: fetching schemas (nothing is ever retrieved from the network or by URI;
//! a `$ref` resolves to a file loaded from the directory or to nothing), reloading them while
//! running (load a new registry instead), parsing or mapping payloads (the processor does that),
//! or deciding what to do with an unknown type or invalid data (the caller's policy).
//!
//! ```
//! use serde_json::json;
//! use switchyard_domain::EventType;
//! use switchyard_schema_registry::{SchemaRegistry, Validation};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
//! let registry = SchemaRegistry::load(&dir)?;
//! let captured = EventType::parse("razorpay.payment.captured")?;
//!
//! let bad = json!({"entity": "event", "event": "payment.captured"});
//! match registry.validate(&captured, None, &bad) {
//!     Validation::Invalid { version, violations } => {
//!         assert_eq!(version, 1);
//!         assert!(violations.contains(&r#"(root): "payload" is a required property"#.to_owned()));
//!     }
//!     other => panic!("expected a violation, got {other:?}"),
//! }
//! # Ok(())
//! # }
//! ```

mod error;
mod layout;
mod loader;
mod references;
mod registry;
mod validation;

pub use error::RegistryError;
pub use registry::SchemaRegistry;
pub use validation::{MAX_VIOLATIONS, Validation};
