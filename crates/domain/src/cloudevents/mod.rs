//! The CloudEvents 1.0 mappings between [`Event`] and [`Message`]: the Kafka protocol
//! binding's binary mode (what Switchyard writes) and the JSON event format's structured mode
//! (what browsers and HTTP subscribers receive, and what a producer may also write to a topic).

mod binary;
mod structured;

#[cfg(test)]
mod tests;

use crate::{Event, EventError, InvalidValue, Message};

/// Header carrying the content type in the Kafka binding.
pub(crate) const CONTENT_TYPE: &str = "content-type";
/// Content type of a structured-mode CloudEvent in JSON.
pub const STRUCTURED_JSON: &str = "application/cloudevents+json";

/// Why a record or document is not a valid Switchyard event.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// A required attribute is absent.
    #[error("missing CloudEvents attribute {0:?}")]
    MissingAttribute(&'static str),
    /// A header value is not UTF-8 text.
    #[error("header {0:?} is not UTF-8")]
    NotUtf8(String),
    /// Only CloudEvents 1.0 is understood.
    #[error("unsupported CloudEvents specversion {0:?}; expected \"1.0\"")]
    UnsupportedSpecVersion(String),
    /// A content mode we do not read, e.g. batched structured mode.
    #[error("unsupported content type {0:?} for a CloudEvent")]
    UnsupportedContentType(String),
    /// An identifier attribute failed validation.
    #[error("attribute {attribute:?}: {source}")]
    InvalidValue {
        /// Attribute name.
        attribute: &'static str,
        /// What was wrong with it.
        #[source]
        source: InvalidValue,
    },
    /// `time` is not an RFC 3339 timestamp.
    #[error("attribute \"time\" is not an RFC 3339 timestamp: {0:?}")]
    InvalidTime(String),
    /// An attribute has the wrong JSON type.
    #[error("attribute {0:?} must be a JSON string")]
    NotAString(String),
    /// Both `data` and `data_base64` are present.
    #[error("an event carries either \"data\" or \"data_base64\", not both")]
    DataConflict,
    /// `data_base64` is not valid base64.
    #[error("\"data_base64\" is not valid base64")]
    InvalidBase64,
    /// The document is not a JSON object.
    #[error("not a JSON CloudEvent: {0}")]
    Json(#[from] serde_json::Error),
    /// The attributes decoded but do not form a valid event.
    #[error(transparent)]
    Event(#[from] EventError),
}

fn parse_attr<T>(attribute: &'static str, value: &str) -> Result<T, CodecError>
where
    T: std::str::FromStr<Err = InvalidValue>,
{
    value
        .parse()
        .map_err(|source| CodecError::InvalidValue { attribute, source })
}

fn parse_time(value: &str) -> Result<chrono::DateTime<chrono::Utc>, CodecError> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| CodecError::InvalidTime(value.to_owned()))
}

fn format_time(time: chrono::DateTime<chrono::Utc>) -> String {
    // AutoSi keeps exactly the precision the time has, so decoding gives back the same instant.
    time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

impl Event {
    /// Decodes a record in either content mode, as the Kafka binding says a receiver should:
    /// a `content-type` of `application/cloudevents+json` means structured mode, anything else
    /// binary mode.
    pub fn from_message(message: &Message) -> Result<Self, CodecError> {
        match message.headers.get(CONTENT_TYPE) {
            Some(ct) if ct.starts_with(b"application/cloudevents") => {
                let ct = std::str::from_utf8(ct).unwrap_or_default();
                if ct.starts_with(STRUCTURED_JSON) {
                    Self::from_structured_json(&message.payload)
                } else {
                    Err(CodecError::UnsupportedContentType(ct.to_owned()))
                }
            }
            _ => Self::from_binary(message),
        }
    }
}
