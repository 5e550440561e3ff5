use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::{EventId, EventType, TenantId, Traceparent};

/// The CloudEvents specification version every Switchyard event follows.
pub const SPEC_VERSION: &str = "1.0";

/// Attribute names an extension may not take: the CloudEvents context attributes, the two
/// extensions with their own fields here, and the JSON format's data members.
const RESERVED: &[&str] = &[
    "id",
    "source",
    "specversion",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
    "data",
    "data_base64",
    "tenant",
    "traceparent",
];

/// Why an [`Event`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// `source` must be a non-empty URI-reference.
    #[error("source must be a non-empty URI-reference without spaces or control characters")]
    InvalidSource,
    /// `subject`, when present, must not be empty (CloudEvents 1.0).
    #[error("subject, when present, must be non-empty and free of control characters")]
    InvalidSubject,
    /// `datacontenttype` / `dataschema` must be non-empty and printable.
    #[error("{0} must be non-empty and free of spaces and control characters")]
    InvalidAttribute(&'static str),
    /// Extension names are 1–20 lower-case ASCII letters or digits (CloudEvents 1.0).
    #[error("extension name {0:?} must be 1 to 20 lower-case ASCII letters or digits")]
    InvalidExtensionName(String),
    /// The name belongs to a context attribute, so it cannot be an extension.
    #[error("extension name {0:?} is reserved for a CloudEvents attribute")]
    ReservedExtensionName(String),
}

/// A canonical Switchyard event: CloudEvents 1.0 context attributes, the `tenant` and
/// `traceparent` extensions, any further extensions, and the data bytes.
///
/// Fields are private so an `Event` is always valid: build one with [`Event::builder`] or
/// decode one with [`Event::from_message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    id: EventId,
    source: String,
    event_type: EventType,
    time: DateTime<Utc>,
    subject: Option<String>,
    data_content_type: Option<String>,
    data_schema: Option<String>,
    tenant: TenantId,
    traceparent: Option<Traceparent>,
    extensions: BTreeMap<String, String>,
    data: Bytes,
}

impl Event {
    /// Starts an event with its required attributes; `time` defaults to now.
    pub fn builder(
        tenant: TenantId,
        id: EventId,
        source: impl Into<String>,
        event_type: EventType,
    ) -> EventBuilder {
        EventBuilder {
            event: Self {
                id,
                source: source.into(),
                event_type,
                time: Utc::now(),
                subject: None,
                data_content_type: None,
                data_schema: None,
                tenant,
                traceparent: None,
                extensions: BTreeMap::new(),
                data: Bytes::new(),
            },
        }
    }

    /// A builder holding this event's attributes, to derive a changed copy.
    pub fn to_builder(&self) -> EventBuilder {
        EventBuilder {
            event: self.clone(),
        }
    }

    /// CloudEvents `id`.
    #[must_use]
    pub fn id(&self) -> &EventId {
        &self.id
    }
    /// CloudEvents `source`, e.g. `/acme/razorpay`.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }
    /// CloudEvents `type`.
    #[must_use]
    pub fn event_type(&self) -> &EventType {
        &self.event_type
    }
    /// CloudEvents `time`: when the occurrence happened (the provider's timestamp if it sent one).
    #[must_use]
    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }
    /// CloudEvents `subject`: the main entity, e.g. a payment id.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }
    /// CloudEvents `datacontenttype`.
    #[must_use]
    pub fn data_content_type(&self) -> Option<&str> {
        self.data_content_type.as_deref()
    }
    /// CloudEvents `dataschema`.
    #[must_use]
    pub fn data_schema(&self) -> Option<&str> {
        self.data_schema.as_deref()
    }
    /// The `tenant` extension; also the partition key.
    #[must_use]
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    /// The `traceparent` extension (W3C Trace Context).
    #[must_use]
    pub fn traceparent(&self) -> Option<&Traceparent> {
        self.traceparent.as_ref()
    }
    /// Extensions other than `tenant` and `traceparent`.
    #[must_use]
    pub fn extensions(&self) -> &BTreeMap<String, String> {
        &self.extensions
    }
    /// The data bytes; empty when the event has no data.
    #[must_use]
    pub fn data(&self) -> &Bytes {
        &self.data
    }
}

/// Builds a valid [`Event`]; see [`Event::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct EventBuilder {
    event: Event,
}

fn printable(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

impl EventBuilder {
    /// Sets `time`.
    pub fn time(mut self, time: DateTime<Utc>) -> Self {
        self.event.time = time;
        self
    }
    /// Sets or clears `subject`.
    pub fn subject(mut self, subject: Option<String>) -> Self {
        self.event.subject = subject;
        self
    }
    /// Sets the data and its content type (`None` means JSON, as in CloudEvents' JSON format).
    pub fn data(mut self, content_type: Option<String>, data: impl Into<Bytes>) -> Self {
        self.event.data_content_type = content_type;
        self.event.data = data.into();
        self
    }
    /// Sets or clears `dataschema`.
    pub fn data_schema(mut self, schema: Option<String>) -> Self {
        self.event.data_schema = schema;
        self
    }
    /// Sets or clears the `traceparent` extension.
    pub fn traceparent(mut self, traceparent: Option<Traceparent>) -> Self {
        self.event.traceparent = traceparent;
        self
    }
    /// Adds an extension attribute (validated in [`EventBuilder::build`]).
    pub fn extension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.event.extensions.insert(name.into(), value.into());
        self
    }

    /// Checks the attributes and returns the event.
    pub fn build(self) -> Result<Event, EventError> {
        let event = self.event;
        if !printable(&event.source) {
            return Err(EventError::InvalidSource);
        }
        if event
            .subject
            .as_deref()
            .is_some_and(|s| s.is_empty() || s.chars().any(char::is_control))
        {
            return Err(EventError::InvalidSubject);
        }
        if event
            .data_content_type
            .as_deref()
            .is_some_and(|c| c.is_empty() || c.chars().any(char::is_control))
        {
            return Err(EventError::InvalidAttribute("datacontenttype"));
        }
        if event.data_schema.as_deref().is_some_and(|s| !printable(s)) {
            return Err(EventError::InvalidAttribute("dataschema"));
        }
        for name in event.extensions.keys() {
            if RESERVED.contains(&name.as_str()) {
                return Err(EventError::ReservedExtensionName(name.clone()));
            }
            let valid = (1..=20).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !valid {
                return Err(EventError::InvalidExtensionName(name.clone()));
            }
        }
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> EventBuilder {
        Event::builder(
            TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
            EventId::generate(),
            "/acme/razorpay",
            EventType::parse("razorpay.payment.captured").unwrap_or_else(|e| panic!("{e}")),
        )
    }

    #[test]
    fn builds_a_complete_event() {
        let event = base()
            .subject(Some("pay_29QQoUBi66xm2f".into()))
            .data(Some("application/json".into()), r#"{"amount":5000}"#)
            .extension("partitionkey", "acme")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(event.subject(), Some("pay_29QQoUBi66xm2f"));
        assert_eq!(event.data().as_ref(), br#"{"amount":5000}"#);
        assert_eq!(
            event.extensions().get("partitionkey").map(String::as_str),
            Some("acme")
        );
    }

    #[test]
    fn refuses_invalid_attributes() {
        assert_eq!(
            base().subject(Some(String::new())).build(),
            Err(EventError::InvalidSubject)
        );
        let bad_source = Event::builder(
            TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
            EventId::generate(),
            "has space",
            EventType::parse("a.b").unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!(bad_source.build(), Err(EventError::InvalidSource));
        assert!(matches!(
            base().extension("tenant", "x").build(),
            Err(EventError::ReservedExtensionName(_))
        ));
        assert!(matches!(
            base().extension("Upper", "x").build(),
            Err(EventError::InvalidExtensionName(_))
        ));
        assert!(matches!(
            base().extension("waytoolongextensionname", "x").build(),
            Err(EventError::InvalidExtensionName(_))
        ));
    }
}
