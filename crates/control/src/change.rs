//! The records of `<prefix>.config`: one CloudEvent per change of a source or endpoint.
//!
//! - `type`: `switchyard.config.{source,endpoint}.{upserted,deleted}`
//! - `tenant`: the entity's tenant; `subject`: its id; `source`: `/switchyard/gateway`
//! - `id`: `cfg_<uuid v7>`, unique per change
//! - data (`application/json`): `{"version": N, "spec": {...}}` when upserted,
//!   `{"version": N}` when deleted. `version` grows with every change of one entity.
//! - record key: `source/<tenant>/<id>` or `endpoint/<tenant>/<id>`, so all changes of an
//!   entity share a partition (kept in order) and compaction keeps the latest.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use switchyard_domain::{EndpointId, Event, EventId, EventType, Message, SourceId, TenantId};

use crate::{ControlError, EndpointSpec, SourceSpec};

/// The CloudEvents `source` of every change.
pub const SOURCE: &str = "/switchyard/gateway";
/// The prefix of every configuration record's type.
pub const TYPE_PREFIX: &str = "switchyard.config.";

const SOURCE_UPSERTED: &str = "switchyard.config.source.upserted";
const SOURCE_DELETED: &str = "switchyard.config.source.deleted";
const ENDPOINT_UPSERTED: &str = "switchyard.config.endpoint.upserted";
const ENDPOINT_DELETED: &str = "switchyard.config.endpoint.deleted";

/// Which kind of entity a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An inbound webhook source.
    Source,
    /// An outbound endpoint.
    Endpoint,
}

impl Kind {
    /// `source` or `endpoint`: the metric label and the first part of the record key.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Endpoint => "endpoint",
        }
    }
}

/// One change of run-time configuration; see the module documentation for its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChange {
    /// A source was created or changed.
    SourceUpserted {
        /// Grows with every change of the source.
        version: i64,
        /// The whole source as it is now.
        spec: SourceSpec,
    },
    /// A source was deleted.
    SourceDeleted {
        /// Its tenant.
        tenant: TenantId,
        /// Its id.
        id: SourceId,
        /// Grows with every change of the source.
        version: i64,
    },
    /// An endpoint was created or changed.
    EndpointUpserted {
        /// Grows with every change of the endpoint.
        version: i64,
        /// The whole endpoint as it is now.
        spec: EndpointSpec,
    },
    /// An endpoint was deleted.
    EndpointDeleted {
        /// Its tenant.
        tenant: TenantId,
        /// Its id.
        id: EndpointId,
        /// Grows with every change of the endpoint.
        version: i64,
    },
}

#[derive(Serialize, Deserialize)]
struct Data<S> {
    version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<S>,
}

impl ConfigChange {
    /// The kind of entity changed.
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self {
            Self::SourceUpserted { .. } | Self::SourceDeleted { .. } => Kind::Source,
            Self::EndpointUpserted { .. } | Self::EndpointDeleted { .. } => Kind::Endpoint,
        }
    }

    /// The entity's version after this change.
    #[must_use]
    pub fn version(&self) -> i64 {
        match self {
            Self::SourceUpserted { version, .. }
            | Self::SourceDeleted { version, .. }
            | Self::EndpointUpserted { version, .. }
            | Self::EndpointDeleted { version, .. } => *version,
        }
    }

    /// The entity's tenant.
    #[must_use]
    pub fn tenant(&self) -> &TenantId {
        match self {
            Self::SourceUpserted { spec, .. } => &spec.tenant,
            Self::EndpointUpserted { spec, .. } => &spec.tenant,
            Self::SourceDeleted { tenant, .. } | Self::EndpointDeleted { tenant, .. } => tenant,
        }
    }

    /// The entity's id within its tenant.
    #[must_use]
    pub fn id(&self) -> &str {
        match self {
            Self::SourceUpserted { spec, .. } => spec.id.as_str(),
            Self::SourceDeleted { id, .. } => id.as_str(),
            Self::EndpointUpserted { spec, .. } => spec.id.as_str(),
            Self::EndpointDeleted { id, .. } => id.as_str(),
        }
    }

    /// The record key: `source/<tenant>/<id>` or `endpoint/<tenant>/<id>`.
    #[must_use]
    pub fn key(&self) -> String {
        entity_key(self.kind(), self.tenant(), self.id())
    }

    /// The CloudEvents type.
    #[must_use]
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::SourceUpserted { .. } => SOURCE_UPSERTED,
            Self::SourceDeleted { .. } => SOURCE_DELETED,
            Self::EndpointUpserted { .. } => ENDPOINT_UPSERTED,
            Self::EndpointDeleted { .. } => ENDPOINT_DELETED,
        }
    }

    /// The change as a CloudEvent with a fresh id.
    pub fn to_event(&self) -> Result<Event, ControlError> {
        let data = match self {
            Self::SourceUpserted { version, spec } => serde_json::to_vec(&Data {
                version: *version,
                spec: Some(spec),
            }),
            Self::EndpointUpserted { version, spec } => serde_json::to_vec(&Data {
                version: *version,
                spec: Some(spec),
            }),
            Self::SourceDeleted { version, .. } | Self::EndpointDeleted { version, .. } => {
                serde_json::to_vec(&Data::<()> {
                    version: *version,
                    spec: None,
                })
            }
        }
        .map_err(|e| ControlError::Build(e.to_string()))?;
        let id = EventId::parse(&format!("cfg_{}", uuid::Uuid::now_v7().simple()))
            .map_err(|e| ControlError::Build(e.to_string()))?;
        let event_type =
            EventType::parse(self.event_type()).map_err(|e| ControlError::Build(e.to_string()))?;
        Event::builder(self.tenant().clone(), id, SOURCE, event_type)
            .subject(Some(self.id().to_owned()))
            .data(Some("application/json".into()), data)
            .build()
            .map_err(|e| ControlError::Build(e.to_string()))
    }

    /// The change as the record the relay publishes: the event in binary mode, keyed per
    /// entity instead of per tenant.
    pub fn to_message(&self) -> Result<Message, ControlError> {
        let mut message = self.to_event()?.to_binary();
        message.key = Some(self.key().into_bytes().into());
        Ok(message)
    }

    /// Reads a change from its record.
    pub fn from_message(message: &Message) -> Result<Self, ControlError> {
        let event =
            Event::from_message(message).map_err(|e| ControlError::NotAChange(e.to_string()))?;
        Self::from_event(&event)
    }

    /// Reads a change from its event.
    pub fn from_event(event: &Event) -> Result<Self, ControlError> {
        let event_type = event.event_type().as_str();
        let bad = |reason: String| ControlError::BadData {
            event_type: event_type.to_owned(),
            reason,
        };
        let subject = event
            .subject()
            .ok_or_else(|| bad("the subject (the entity id) is missing".into()))?;
        let tenant = event.tenant().clone();
        match event_type {
            SOURCE_UPSERTED => {
                let data: Data<SourceSpec> = parse(event, &bad)?;
                let spec = data.spec.ok_or_else(|| bad("spec is missing".into()))?;
                agree(event_type, &tenant, subject, &spec.tenant, spec.id.as_str())?;
                Ok(Self::SourceUpserted {
                    version: data.version,
                    spec,
                })
            }
            ENDPOINT_UPSERTED => {
                let data: Data<EndpointSpec> = parse(event, &bad)?;
                let spec = data.spec.ok_or_else(|| bad("spec is missing".into()))?;
                agree(event_type, &tenant, subject, &spec.tenant, spec.id.as_str())?;
                Ok(Self::EndpointUpserted {
                    version: data.version,
                    spec,
                })
            }
            SOURCE_DELETED => {
                let data: Data<Box<RawValue>> = parse(event, &bad)?;
                Ok(Self::SourceDeleted {
                    id: SourceId::parse(subject).map_err(|e| bad(e.to_string()))?,
                    tenant,
                    version: data.version,
                })
            }
            ENDPOINT_DELETED => {
                let data: Data<Box<RawValue>> = parse(event, &bad)?;
                Ok(Self::EndpointDeleted {
                    id: EndpointId::parse(subject).map_err(|e| bad(e.to_string()))?,
                    tenant,
                    version: data.version,
                })
            }
            other => Err(ControlError::NotAChange(format!("unknown type {other:?}"))),
        }
    }
}

/// The record key of entity `id` of `tenant`.
fn entity_key(kind: Kind, tenant: &TenantId, id: &str) -> String {
    format!("{}/{tenant}/{id}", kind.as_str())
}

fn parse<T: for<'de> Deserialize<'de>>(
    event: &Event,
    bad: &impl Fn(String) -> ControlError,
) -> Result<Data<T>, ControlError> {
    serde_json::from_slice(event.data()).map_err(|e| bad(e.to_string()))
}

/// The attributes and the spec must name the same entity: consumers that only read the
/// attributes (a log, a filter) must not be told about another one than the data changes.
fn agree(
    event_type: &str,
    tenant: &TenantId,
    subject: &str,
    spec_tenant: &TenantId,
    spec_id: &str,
) -> Result<(), ControlError> {
    let mismatch = |attribute, attribute_value: &str, data_value: &str| ControlError::Mismatch {
        event_type: event_type.to_owned(),
        attribute,
        attribute_value: attribute_value.to_owned(),
        data_value: data_value.to_owned(),
    };
    if tenant != spec_tenant {
        return Err(mismatch("tenant", tenant.as_str(), spec_tenant.as_str()));
    }
    if subject != spec_id {
        return Err(mismatch("subject", subject, spec_id));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;
    use switchyard_runtime::settings::{Provider, TransformSettings};

    use super::*;
    use crate::{PreviousSecret, Sealer};

    const KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

    fn sealer() -> Sealer {
        Sealer::new(&[SecretString::from(KEY)]).unwrap_or_else(|e| panic!("{e}"))
    }

    fn source_spec(sealer: &Sealer) -> SourceSpec {
        SourceSpec {
            tenant: "acme".parse().unwrap_or_else(|e| panic!("{e}")),
            id: "rzp".parse().unwrap_or_else(|e| panic!("{e}")),
            provider: Provider::Razorpay,
            secrets: vec![
                sealer
                    .seal(&SecretString::from("s3cret"))
                    .unwrap_or_else(|e| panic!("{e}")),
            ],
            allow_ips: vec!["0.0.0.0/0".parse().unwrap_or_else(|e| panic!("{e}"))],
            rate_limit_per_sec: 10,
            max_body_bytes: 4096,
            hmac: None,
            strict: false,
            transform: TransformSettings {
                subject: "/payload/id".into(),
                ..TransformSettings::default()
            },
            paused: false,
        }
    }

    fn endpoint_spec(sealer: &Sealer) -> EndpointSpec {
        let seal = |s: &str| {
            sealer
                .seal(&SecretString::from(s))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        EndpointSpec {
            tenant: "acme".parse().unwrap_or_else(|e| panic!("{e}")),
            id: "orders".parse().unwrap_or_else(|e| panic!("{e}")),
            url: "https://orders.example/h"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
            secret: seal("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            previous_secrets: vec![PreviousSecret {
                secret: seal("whsec_b2xk"),
                expires_at: "2030-01-01T00:00:00Z"
                    .parse()
                    .unwrap_or_else(|e| panic!("{e}")),
            }],
            paused: true,
            event_types: vec!["*".parse().unwrap_or_else(|e| panic!("{e}"))],
        }
    }

    fn every_kind() -> Vec<ConfigChange> {
        let sealer = sealer();
        vec![
            ConfigChange::SourceUpserted {
                version: 3,
                spec: source_spec(&sealer),
            },
            ConfigChange::SourceDeleted {
                tenant: "acme".parse().unwrap_or_else(|e| panic!("{e}")),
                id: "rzp".parse().unwrap_or_else(|e| panic!("{e}")),
                version: 4,
            },
            ConfigChange::EndpointUpserted {
                version: 1,
                spec: endpoint_spec(&sealer),
            },
            ConfigChange::EndpointDeleted {
                tenant: "globex".parse().unwrap_or_else(|e| panic!("{e}")),
                id: "orders".parse().unwrap_or_else(|e| panic!("{e}")),
                version: 9,
            },
        ]
    }

    #[test]
    fn every_change_round_trips_through_its_event_and_its_record() {
        for change in every_kind() {
            let event = change.to_event().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(event.event_type().as_str(), change.event_type());
            assert_eq!(event.source(), SOURCE);
            assert_eq!(event.tenant(), change.tenant());
            assert_eq!(event.subject(), Some(change.id()));
            assert_eq!(event.data_content_type(), Some("application/json"));
            assert!(event.id().as_str().starts_with("cfg_"));
            assert_eq!(
                ConfigChange::from_event(&event).unwrap_or_else(|e| panic!("{e}")),
                change
            );

            let message = change.to_message().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(message.key.as_deref(), Some(change.key().as_bytes()));
            assert_eq!(
                message.headers.get_str("ce_type"),
                Some(change.event_type())
            );
            assert_eq!(
                ConfigChange::from_message(&message).unwrap_or_else(|e| panic!("{e}")),
                change
            );
        }
    }

    #[test]
    fn keys_name_the_entity_and_ids_are_unique_per_change() {
        let changes = every_kind();
        assert_eq!(changes[0].key(), "source/acme/rzp");
        assert_eq!(changes[0].key(), changes[1].key(), "one key per entity");
        assert_eq!(changes[2].key(), "endpoint/acme/orders");
        assert_eq!(changes[3].key(), "endpoint/globex/orders");
        let one = changes[0].to_event().unwrap_or_else(|e| panic!("{e}"));
        let two = changes[0].to_event().unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(one.id(), two.id());
    }

    #[test]
    fn data_is_the_documented_json() {
        let changes = every_kind();
        let data = |change: &ConfigChange| -> serde_json::Value {
            let event = change.to_event().unwrap_or_else(|e| panic!("{e}"));
            serde_json::from_slice(event.data()).unwrap_or_else(|e| panic!("{e}"))
        };
        let upserted = data(&changes[0]);
        assert_eq!(upserted["version"], 3);
        assert_eq!(upserted["spec"]["provider"], "razorpay");
        assert!(
            upserted["spec"]["secrets"][0]
                .as_str()
                .is_some_and(|s| s.starts_with("sealed:v1:"))
        );
        assert_eq!(data(&changes[1]), serde_json::json!({"version": 4}));
        let endpoint = data(&changes[2]);
        assert_eq!(
            endpoint["spec"]["previous_secrets"][0]["expires_at"],
            "2030-01-01T00:00:00Z"
        );
        assert!(!endpoint.to_string().contains("whsec_"), "{endpoint}");
    }

    #[test]
    fn records_that_contradict_themselves_or_are_unknown_are_refused() {
        let change = &every_kind()[0];
        let event = change.to_event().unwrap_or_else(|e| panic!("{e}"));
        let other_subject = event
            .to_builder()
            .subject(Some("other".into()))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            ConfigChange::from_event(&other_subject),
            Err(ControlError::Mismatch {
                attribute: "subject",
                ..
            })
        ));
        let broken = event
            .to_builder()
            .data(Some("application/json".into()), "{\"version\": \"x\"}")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            ConfigChange::from_event(&broken),
            Err(ControlError::BadData { .. })
        ));
        let unknown = Event::builder(
            "acme".parse().unwrap_or_else(|e| panic!("{e}")),
            EventId::generate(),
            SOURCE,
            EventType::parse("switchyard.config.route.upserted").unwrap_or_else(|e| panic!("{e}")),
        )
        .subject(Some("r".into()))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            ConfigChange::from_event(&unknown),
            Err(ControlError::NotAChange(_))
        ));
    }
}
