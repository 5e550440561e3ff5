//! Switchyard's event model, shared by every service.
//!
//! What it holds: the canonical [`Event`] envelope (CloudEvents 1.0 plus the `tenant` and
//! `traceparent` extensions), the validated newtypes that travel with it ([`TenantId`],
//! [`EventId`], [`EventType`], [`EventTypePattern`], [`Traceparent`]), topic names derived from
//! a prefix ([`Topics`]), the broker-neutral record ([`Message`]) and the two CloudEvents
//! mappings between them: Kafka binary mode ([`Event::to_binary`]) and JSON structured mode
//! ([`Event::to_structured_json`]). [`wire`] has the protobuf records we own.
//!
//! ```
//! use switchyard_domain::{Event, EventId, EventType, EventTypePattern, TenantId};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let event = Event::builder(
//!     TenantId::parse("acme")?,
//!     EventId::derive(&[b"acme", b"razorpay", b"evt_29QQoUBi66xm2f"]),
//!     "/acme/razorpay",
//!     EventType::parse("razorpay.payment.captured")?,
//! )
//! .subject(Some("pay_29QQoUBi66xm2f".into()))
//! .data(Some("application/json".into()), r#"{"amount":50000}"#)
//! .build()?;
//!
//! // Kafka binary mode: attributes in `ce_*` headers, data as the value, tenant as the key.
//! let record = event.to_binary();
//! assert_eq!(record.headers.get_str("ce_type"), Some("razorpay.payment.captured"));
//! assert_eq!(record.key.as_deref(), Some(&b"acme"[..]));
//! assert_eq!(Event::from_message(&record)?, event);
//!
//! // Subscriptions select types with patterns; a trailing `*` takes every deeper type.
//! assert!(EventTypePattern::parse("razorpay.payment.*")?.matches(event.event_type()));
//! # Ok(())
//! # }
//! ```
//!
//! What it is not: there is no async runtime, broker, database or HTTP here. Adapters depend
//! on this crate, never the other way round, so everything in it is testable in microseconds.

mod cloudevents;
mod event;
mod event_id;
mod event_type;
mod message;
pub mod redelivery;
mod resource_id;
mod tenant;
mod topics;
mod traceparent;
pub mod wire;

pub use cloudevents::CodecError;
pub use event::{Event, EventBuilder, EventError};
pub use event_id::EventId;
pub use event_type::{EventType, EventTypePattern};
pub use message::{Header, Headers, Message};
pub use resource_id::{EndpointId, SourceId};
pub use tenant::TenantId;
pub use topics::{CONFIG_SUFFIX, TopicPrefix, Topics};
pub use traceparent::Traceparent;

/// Why a string was refused as one of the validated identifiers of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {rule}")]
pub struct InvalidValue {
    /// Which kind of value was being parsed, e.g. `tenant id`.
    pub what: &'static str,
    /// The refused input, truncated so a hostile input cannot flood a log line.
    pub value: String,
    /// The rule it broke, phrased so the sender knows what to fix.
    pub rule: &'static str,
}

impl InvalidValue {
    pub(crate) fn new(what: &'static str, value: &str, rule: &'static str) -> Self {
        const SHOWN: usize = 80;
        let value = match value.char_indices().nth(SHOWN) {
            Some((cut, _)) => format!("{}…", &value[..cut]),
            None => value.to_owned(),
        };
        Self { what, value, rule }
    }
}

/// Implements the string plumbing every validated newtype shares: `FromStr`, `TryFrom<String>`,
/// `Display`, `AsRef<str>`, and serde through the validating constructor, so a value that
/// deserialized is as valid as one that was parsed.
macro_rules! string_newtype {
    ($name:ident) => {
        impl ::std::str::FromStr for $name {
            type Err = $crate::InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::InvalidValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::validate(&s)?;
                Ok(Self(s))
            }
        }

        impl TryFrom<&str> for $name {
            type Error = $crate::InvalidValue;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl $name {
            /// Parses and validates `s`.
            pub fn parse(s: &str) -> Result<Self, $crate::InvalidValue> {
                Self::validate(s)?;
                Ok(Self(s.to_owned()))
            }

            /// The value as a string slice.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as ::serde::Deserialize>::deserialize(d)?;
                Self::try_from(s).map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_newtype;
