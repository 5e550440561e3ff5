//! What a listing of a tenant's dead letters (newest first, keyset-paged by id) selects.

use std::{fmt, str::FromStr};

use super::DeadLetter;
use crate::error::StoreError;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

/// What [`crate::Store::list_dead_letters`] selects within one tenant. The default selects all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterFilter {
    /// Only those that belong on this topic (`dlq-topic`), e.g. `switchyard.events`.
    pub topic: Option<String>,
    /// Only those of this endpoint (`dlq-endpoint`).
    pub endpoint: Option<String>,
    /// `Some(false)`: not redriven yet; `Some(true)`: redriven at least once.
    pub redriven: Option<bool>,
}

/// One page of dead letters, newest first, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterPage {
    /// The dead letters, newest first.
    pub dead_letters: Vec<DeadLetter>,
    /// Pass back to get the next (older) page; `None` when this page is the last.
    pub next_cursor: Option<DeadLetterCursor>,
}

/// Where the next page of dead letters starts: the id of the last one of the previous page.
/// Opaque to clients (URL-safe base64 of a versioned text form), like the events cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterCursor {
    pub(crate) id: String,
}

const VERSION: &str = "d1";

impl DeadLetterCursor {
    /// The string to hand to a client.
    #[must_use]
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{VERSION}:{}", self.id))
    }

    /// Reads a string made by [`DeadLetterCursor::encode`].
    pub fn decode(encoded: &str) -> Result<Self, StoreError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| StoreError::InvalidCursor)?;
        let plain = std::str::from_utf8(&bytes).map_err(|_| StoreError::InvalidCursor)?;
        match plain.split_once(':') {
            Some((VERSION, id)) if !id.is_empty() && !id.contains('\0') => {
                Ok(Self { id: id.to_owned() })
            }
            _ => Err(StoreError::InvalidCursor),
        }
    }
}

impl fmt::Display for DeadLetterCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for DeadLetterCursor {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::decode(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_refuses_strings_it_did_not_make() {
        let cursor = DeadLetterCursor {
            id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
        };
        assert_eq!(
            cursor.to_string().parse::<DeadLetterCursor>().ok(),
            Some(cursor)
        );
        for bad in [
            "",
            "!!!",
            &URL_SAFE_NO_PAD.encode("v1:x"),
            &URL_SAFE_NO_PAD.encode("d1:"),
        ] {
            assert!(DeadLetterCursor::decode(bad).is_err(), "{bad:?}");
        }
    }
}
