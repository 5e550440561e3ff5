//! One raw webhook in, one canonical event out (or the reason it cannot be one): decode →
//! content type → parse → map (provider) → transform (source) → validate (registry) → build.
//! Pure apart from the clock, so it is tested without a broker.

use std::{collections::HashMap, str::FromStr as _, sync::Arc, time::SystemTime};

use arc_swap::ArcSwap;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use prost::Message as _;
use serde_json::Value;
use switchyard_bus::Delivery;
use switchyard_control::{Apply, ConfigChange, ControlError, Kind, Sealer};
use switchyard_domain::{
    Event, EventId, EventType, SourceId, TenantId, Traceparent, wire::RawWebhook,
};
use switchyard_runtime::settings::{Provider, SourceSettings, TransformSettings};
use switchyard_schema_registry::{SchemaRegistry, Validation};

use crate::{
    providers::{self, MapError, RawHeaders},
    transform::Transform,
};

/// What the processor knows of a configured source beyond what the raw record says.
#[derive(Debug, Clone, Default)]
struct Rules {
    strict: bool,
    transform: Transform,
}

/// Why a raw record does not become an event. Each is dead-lettered with its message.
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    /// The record is not a `RawWebhook`.
    #[error("not a raw webhook record: {0}")]
    NotRawWebhook(String),
    /// A field of the record is not valid (tenant, provider).
    #[error("raw webhook has an invalid {field}: {reason}")]
    InvalidRecord {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The provider sends JSON, but this body was declared as something else.
    #[error("content type {0:?} is not JSON; this provider's deliveries must be application/json")]
    WrongContentType(String),
    /// The body does not parse as JSON.
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    /// The payload lacks what its provider always sends.
    #[error(transparent)]
    Unmappable(#[from] MapError),
    /// The type read from the payload is not a valid event type.
    #[error("event type {0:?} is not valid: it must be dot-separated lower-case segments")]
    InvalidType(String),
    /// The data breaks the type's schema.
    #[error("data does not match the schema of {event_type} v{version}: {violations}")]
    SchemaViolation {
        /// The type.
        event_type: String,
        /// The schema version.
        version: u32,
        /// What is wrong, by JSON Pointer.
        violations: String,
    },
    /// No schema is registered for the type and the source is strict.
    #[error("no schema is registered for {0} and the source is strict")]
    UnknownType(String),
    /// The event could not be assembled (an attribute out of range).
    #[error("event could not be built: {0}")]
    Build(String),
}

impl Rejected {
    /// Metric label.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotRawWebhook(_) | Self::InvalidRecord { .. } => "bad_record",
            Self::WrongContentType(_) => "wrong_content_type",
            Self::NotJson(_) => "not_json",
            Self::Unmappable(_) => "unmappable",
            Self::InvalidType(_) => "invalid_type",
            Self::SchemaViolation { .. } => "schema_violation",
            Self::UnknownType(_) => "unknown_type",
            Self::Build(_) => "build",
        }
    }
}

/// An event and when its webhook was received.
pub struct Processed {
    /// The canonical event.
    pub event: Event,
    /// When ingest received the webhook.
    pub received_at: SystemTime,
}

/// Tenant → source → rules, keyed by plain strings so a lookup borrows the record's.
type RulesTable = HashMap<String, HashMap<String, Arc<Rules>>>;

/// The per-source rules (strict, transform) of every source, replaceable while records
/// flow: a lookup takes a snapshot without locking, a change swaps in a new table, and a
/// record already in hand finishes under the rules it started with.
#[derive(Clone, Default)]
pub struct SourceRules {
    table: Arc<ArcSwap<RulesTable>>,
}

impl SourceRules {
    /// Sets the rules of `tenant`/`id`.
    pub fn set(
        &self,
        tenant: &TenantId,
        id: &SourceId,
        strict: bool,
        transform: &TransformSettings,
    ) {
        let rules = Arc::new(Rules {
            strict,
            transform: Transform::new(transform),
        });
        self.table.rcu(|table| {
            let mut table = RulesTable::clone(table);
            table
                .entry(tenant.to_string())
                .or_default()
                .insert(id.to_string(), rules.clone());
            table
        });
    }

    /// Forgets `tenant`/`id`: its later records get the provider's defaults.
    pub fn remove(&self, tenant: &TenantId, id: &SourceId) {
        self.table.rcu(|table| {
            let mut table = RulesTable::clone(table);
            if let Some(sources) = table.get_mut(tenant.as_str()) {
                sources.remove(id.as_str());
                if sources.is_empty() {
                    table.remove(tenant.as_str());
                }
            }
            table
        });
    }
}

/// Takes the source changes of the config topic into the rules. The processor needs no
/// secret of a source, so it applies changes even without `[secrets]` keys.
pub struct FollowRules(pub SourceRules);

impl Apply for FollowRules {
    fn kind(&self) -> Kind {
        Kind::Source
    }

    fn apply(
        &self,
        change: &ConfigChange,
        _sealer: &Sealer,
        _now: DateTime<Utc>,
    ) -> Result<(), ControlError> {
        match change {
            ConfigChange::SourceUpserted { spec, .. } => {
                spec.check_rules()?;
                self.0
                    .set(&spec.tenant, &spec.id, spec.strict, &spec.transform);
            }
            ConfigChange::SourceDeleted { tenant, id, .. } => self.0.remove(tenant, id),
            ConfigChange::EndpointUpserted { .. } | ConfigChange::EndpointDeleted { .. } => {}
        }
        Ok(())
    }
}

/// Turns raw webhooks into canonical events.
pub struct Pipeline {
    sources: SourceRules,
    registry: SchemaRegistry,
    validate: bool,
}

impl Pipeline {
    /// A pipeline for `sources`, validating against `registry` when `validate` is set.
    #[must_use]
    pub fn new(sources: &[SourceSettings], registry: SchemaRegistry, validate: bool) -> Self {
        let rules = SourceRules::default();
        for source in sources {
            rules.set(&source.tenant, &source.id, source.strict, &source.transform);
        }
        Self {
            sources: rules,
            registry,
            validate,
        }
    }

    /// The live rules of the sources, shared with whoever changes them.
    #[must_use]
    pub fn rules(&self) -> SourceRules {
        self.sources.clone()
    }

    /// The event for one raw record. The same record always gives the same event id.
    pub fn process(&self, delivery: &Delivery) -> Result<Processed, Rejected> {
        let raw = RawWebhook::decode(delivery.message.payload.clone())
            .map_err(|e| Rejected::NotRawWebhook(e.to_string()))?;
        let tenant = TenantId::parse(&raw.tenant).map_err(|e| Rejected::InvalidRecord {
            field: "tenant",
            reason: e.to_string(),
        })?;
        let provider =
            Provider::from_str(&raw.provider).map_err(|reason| Rejected::InvalidRecord {
                field: "provider",
                reason,
            })?;
        let default_rules = Rules::default();
        let table = self.sources.table.load();
        let rules = table
            .get(&raw.tenant)
            .and_then(|sources| sources.get(&raw.source))
            .map_or(&default_rules, Arc::as_ref);
        let headers = RawHeaders(&raw.headers);
        let content_type = raw
            .headers
            .iter()
            .find(|h| h.name == "content-type")
            .map(|h| String::from_utf8_lossy(&h.value).into_owned());
        if let Some(declared) = &content_type
            && !is_json(declared)
            && provider != Provider::Hmac
        {
            return Err(Rejected::WrongContentType(declared.clone()));
        }
        let received_at = raw
            .received_at
            .as_ref()
            .map_or(SystemTime::UNIX_EPOCH, |t| {
                SystemTime::UNIX_EPOCH
                    + std::time::Duration::new(
                        u64::try_from(t.seconds).unwrap_or(0),
                        u32::try_from(t.nanos).unwrap_or(0),
                    )
            });
        let id = EventId::parse(&raw.event_id).unwrap_or_else(|_| {
            // Records from before ingest named the id: derive it from the record's place,
            // which is just as stable across redeliveries.
            EventId::derive(&[
                delivery.topic.as_bytes(),
                &delivery.partition.to_be_bytes(),
                delivery.position.to_string().as_bytes(),
            ])
        });

        let opaque =
            provider == Provider::Hmac && content_type.as_deref().is_some_and(|c| !is_json(c));
        let mut data: Value = if opaque {
            Value::Null
        } else {
            serde_json::from_slice(&raw.body).map_err(|e| Rejected::NotJson(e.to_string()))?
        };
        let mut mapped = providers::map(provider, &raw.source, &headers, &data)?;
        rules.transform.apply(&raw.source, &mut data, &mut mapped);
        let event_type = EventType::parse(&mapped.event_type)
            .map_err(|_| Rejected::InvalidType(mapped.event_type.clone()))?;

        let mut data_schema = None;
        if self.validate && !opaque {
            match self.registry.validate(&event_type, None, &data) {
                Validation::Valid { schema_uri, .. } => data_schema = Some(schema_uri.to_string()),
                Validation::Unknown if rules.strict => {
                    return Err(Rejected::UnknownType(event_type.to_string()));
                }
                Validation::Unknown => {}
                Validation::Invalid {
                    version,
                    violations,
                } => {
                    return Err(Rejected::SchemaViolation {
                        event_type: event_type.to_string(),
                        version,
                        violations: violations.join("; "),
                    });
                }
            }
        }
        let body = if opaque || !rules.transform.changes_data() {
            // We never reparse what we verified: the data is the exact body.
            raw.body
        } else {
            Bytes::from(serde_json::to_vec(&data).map_err(|e| Rejected::Build(e.to_string()))?)
        };
        let time = mapped
            .time
            .unwrap_or_else(|| DateTime::<Utc>::from(received_at));
        let event = Event::builder(
            tenant,
            id,
            format!("/{}/{}", raw.tenant, raw.source),
            event_type,
        )
        .time(time)
        .subject(mapped.subject)
        .data(
            Some(content_type.unwrap_or_else(|| "application/json".into())),
            body,
        )
        .data_schema(data_schema)
        .traceparent(Traceparent::parse(&raw.traceparent).ok())
        .build()
        .map_err(|e| Rejected::Build(e.to_string()))?;
        Ok(Processed { event, received_at })
    }
}

/// `application/json`, `application/*+json`, with or without parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_content_types_are_recognised_with_parameters() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/cloudevents+json"));
        assert!(!is_json("application/x-www-form-urlencoded"));
        assert!(!is_json("text/plain"));
    }
}
