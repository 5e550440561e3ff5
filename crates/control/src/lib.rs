//! Run-time configuration of sources and endpoints through the `<prefix>.config` topic.
//!
//! The gateway writes each change of a source or endpoint to PostgreSQL and, in the same
//! transaction, to the outbox; the outbox-relay publishes it on `<prefix>.config`. This crate
//! holds what both ends share:
//!
//! - [`ConfigChange`]: the records of the topic, each a CloudEvent
//!   (`switchyard.config.source.upserted`, `…source.deleted`, `…endpoint.upserted`,
//!   `…endpoint.deleted`) keyed per entity (`source/<tenant>/<id>`), so Kafka compaction keeps
//!   the latest of each and a new reader rebuilds the whole configuration from the topic.
//! - [`SourceSpec`] / [`EndpointSpec`]: what a record says about an entity — the fields of a
//!   `[[sources]]` / `[[endpoints]]` entry, secrets [sealed](Sealer), and their conversion to
//!   the runtime's settings with the same validation as static configuration.
//! - [`Sealer`]: AES-256-GCM sealing of secrets under the `[secrets]` keys, with rotation.
//! - [`Follower`]: the loop every reading service runs (ingest, processor,
//!   webhook-dispatcher): its own consumer group from the start of the topic, version checks,
//!   logs and metrics, and readiness once it has caught up. A service only says how a change
//!   lands in its catalog ([`Apply`]).
//!
//! Not here: storage of the configuration (the store crate), the API that changes it (the
//! gateway), publishing (the outbox relay).

mod change;
mod follower;
mod sealing;
mod spec;

pub use change::{ConfigChange, Kind, SOURCE, TYPE_PREFIX};
pub use follower::{Apply, CaughtUp, ConfigReady, Follower, METRIC_CHANGES_APPLIED};
pub use sealing::{SealedSecret, Sealer};
pub use spec::{EndpointSpec, PreviousSecret, SourceSpec};
use switchyard_runtime::settings::InvalidEntry;

/// What went wrong reading, sealing or applying run-time configuration.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ControlError {
    /// `[secrets] keys` is empty, so sealed secrets can be neither written nor read.
    #[error("no sealing keys are configured ([secrets] keys / SWITCHYARD__SECRETS__KEYS)")]
    NoSealingKeys,
    /// A configured key is not the base64 of 32 bytes.
    #[error("secrets.keys: key {} is not the base64 of exactly 32 bytes", index + 1)]
    BadSealingKey {
        /// Its position in the list, from 0.
        index: usize,
    },
    /// The secret was sealed with a key this service does not have.
    #[error("sealed with key {key_id}, which is not among [secrets] keys")]
    UnknownSealingKey {
        /// The id in the sealed text.
        key_id: String,
    },
    /// The sealed text is malformed or does not authenticate.
    #[error("cannot unseal: {reason}")]
    Unsealable {
        /// Why.
        reason: &'static str,
    },
    /// The record is not a configuration change this version knows.
    #[error("not a configuration change: {0}")]
    NotAChange(String),
    /// The record's data does not fit its type.
    #[error("{event_type}: invalid data: {reason}")]
    BadData {
        /// The CloudEvents type.
        event_type: String,
        /// What is wrong.
        reason: String,
    },
    /// The CloudEvents attributes contradict the data (tenant or subject).
    #[error(
        "{event_type}: the event's {attribute} {attribute_value:?} differs from the data's {data_value:?}"
    )]
    Mismatch {
        /// The CloudEvents type.
        event_type: String,
        /// `tenant` or `subject`.
        attribute: &'static str,
        /// What the attribute says.
        attribute_value: String,
        /// What the data says.
        data_value: String,
    },
    /// The entity breaks a rule static configuration is held to.
    #[error("{entity}: {error}")]
    Invalid {
        /// `<kind> <tenant>/<id>`.
        entity: String,
        /// The rule.
        #[source]
        error: InvalidEntry,
    },
    /// The service could not take the entity as it is (e.g. a secret its scheme cannot use).
    #[error("{entity}: {reason}")]
    Refused {
        /// `<kind> <tenant>/<id>`.
        entity: String,
        /// Why.
        reason: String,
    },
    /// The change could not be turned into a record.
    #[error("cannot build the record: {0}")]
    Build(String),
}
