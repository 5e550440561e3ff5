//! The opaque keyset cursor of [`crate::Store::list_events`].

use std::{fmt, str::FromStr};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use switchyard_domain::EventId;

use crate::error::StoreError;

/// Where the next page starts: the `(time, id)` of the last event of the previous page.
///
/// Opaque to clients (URL-safe base64 of a versioned text form), so its layout can change
/// without breaking anyone who only passes it back. Keyset rather than offset: a page costs
/// the same however deep it is, and events arriving meanwhile neither repeat nor vanish rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The stored `time` column (microsecond precision), not the event's nanosecond time.
    pub(crate) time: DateTime<Utc>,
    pub(crate) id: EventId,
}

const VERSION: &str = "v1";

impl Cursor {
    /// The string to hand to a client.
    #[must_use]
    pub fn encode(&self) -> String {
        let plain = format!("{VERSION}:{}:{}", self.time.timestamp_micros(), self.id);
        URL_SAFE_NO_PAD.encode(plain)
    }

    /// Reads a string made by [`Cursor::encode`].
    pub fn decode(encoded: &str) -> Result<Self, StoreError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| StoreError::InvalidCursor)?;
        let plain = std::str::from_utf8(&bytes).map_err(|_| StoreError::InvalidCursor)?;
        let mut parts = plain.splitn(3, ':');
        let (Some(VERSION), Some(micros), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(StoreError::InvalidCursor);
        };
        let micros: i64 = micros.parse().map_err(|_| StoreError::InvalidCursor)?;
        Ok(Self {
            time: DateTime::from_timestamp_micros(micros).ok_or(StoreError::InvalidCursor)?,
            id: EventId::parse(id).map_err(|_| StoreError::InvalidCursor)?,
        })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for Cursor {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::decode(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_ids_with_colons() {
        let cursor = Cursor {
            time: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap_or_default(),
            id: EventId::parse("evt:with:colons").unwrap_or_else(|e| panic!("{e}")),
        };
        let encoded = cursor.encode();
        assert!(!encoded.contains(':'));
        assert_eq!(encoded.parse::<Cursor>().ok(), Some(cursor));
    }

    #[test]
    fn refuses_strings_it_did_not_make() {
        for bad in ["", "!!!", "djE6eDp5", &URL_SAFE_NO_PAD.encode("v2:1:evt_1")] {
            assert!(
                matches!(Cursor::decode(bad), Err(StoreError::InvalidCursor)),
                "{bad:?}"
            );
        }
    }
}
