//! Dead letters: the records of `<prefix>.dlq`, stored by the gateway's consumer so tenants
//! can list them and redrive them.
//!
//! Stored once per position in the DLQ ([`NewDeadLetter::source_position`]), so a consumer
//! that replays a batch after a crash stores nothing twice. Each gets a UUIDv7 id stamped
//! with its dead-lettering time, so ids order by time and page newest first on their own.

mod list;
mod record;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use switchyard_domain::{Headers, Message, TenantId};

pub use self::list::{DeadLetterCursor, DeadLetterFilter, DeadLetterPage};
use self::record::is_dlq_header;
pub(crate) use self::record::{headers_from_json, headers_to_json};

/// A record read from the DLQ, to store with [`crate::Store::insert_dead_letters`]. Build it with
/// [`NewDeadLetter::from_record`], or field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeadLetter {
    /// Where the record sits in the DLQ, as the consumer names it (e.g. `<partition>@<offset>`):
    /// unique, it is what makes a second consumption of the record a duplicate.
    pub source_position: String,
    /// The tenant the record belongs to; `None` when it names none (no listing shows it).
    pub tenant: Option<TenantId>,
    /// `dlq-topic`: the topic the record belongs on, where a redrive sends it.
    pub topic: String,
    /// `dlq-reason`.
    pub reason: String,
    /// `dlq-attempts`.
    pub attempts: u32,
    /// `dlq-group`: who gave up on it.
    pub group: String,
    /// `dlq-origin`: where it was in its topic, in the writer's terms.
    pub origin: String,
    /// `dlq-endpoint`: the endpoint whose delivery gave up, for the dispatcher's records.
    pub endpoint: Option<String>,
    /// The record key.
    pub key: Option<Bytes>,
    /// Every header of the record, `dlq-*` ones included, in order.
    pub headers: Headers,
    /// The record value.
    pub payload: Bytes,
    /// When it was dead-lettered (or, lacking that, consumed).
    pub dead_lettered_at: DateTime<Utc>,
}

/// A stored dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its id (a UUIDv7, ordered by `dead_lettered_at`).
    pub id: String,
    /// Where it sat in the DLQ.
    pub source_position: String,
    /// Its tenant.
    pub tenant: Option<TenantId>,
    /// The topic it belongs on.
    pub topic: String,
    /// Why it was dead-lettered.
    pub reason: String,
    /// Attempts made before giving up.
    pub attempts: u32,
    /// Who gave up on it.
    pub group: String,
    /// Where it was in its topic.
    pub origin: String,
    /// The endpoint whose delivery gave up, if any.
    pub endpoint: Option<String>,
    /// The record key.
    pub key: Option<Bytes>,
    /// Every header of the DLQ record, in order.
    pub headers: Headers,
    /// The record value.
    pub payload: Bytes,
    /// When it was dead-lettered.
    pub dead_lettered_at: DateTime<Utc>,
    /// When it was stored here.
    pub stored_at: DateTime<Utc>,
    /// When it was last redriven, if ever.
    pub redriven_at: Option<DateTime<Utc>>,
    /// How many times it was redriven.
    pub redrive_count: u32,
}

impl DeadLetter {
    /// The record as it was before it was dead-lettered: key, headers without the `dlq-*`
    /// ones, payload. What a redrive publishes to [`DeadLetter::topic`].
    #[must_use]
    pub fn original_record(&self) -> Message {
        Message {
            key: self.key.clone(),
            headers: self
                .headers
                .iter()
                .filter(|header| !is_dlq_header(&header.name))
                .cloned()
                .collect(),
            payload: self.payload.clone(),
        }
    }
}

/// The id of a dead letter: a UUIDv7 whose timestamp is `at` (clamped to the Unix epoch), as
/// lowercase hyphenated text, which sorts bytewise like the UUID and so by time.
pub(crate) fn new_id(at: DateTime<Utc>) -> String {
    let seconds = u64::try_from(at.timestamp()).unwrap_or(0);
    let timestamp =
        uuid::Timestamp::from_unix(uuid::NoContext, seconds, at.timestamp_subsec_nanos());
    uuid::Uuid::new_v7(timestamp).hyphenated().to_string()
}

/// Free text from a record's headers: a NUL (which `text` cannot hold) becomes U+FFFD rather
/// than costing the whole record.
pub(crate) fn storable(text: &str) -> String {
    text.replace('\0', "\u{fffd}")
}

impl NewDeadLetter {
    /// The dead letter as stored with `id` at `stored_at`, before any redrive: what every
    /// engine keeps of it. Free text loses its NULs (PostgreSQL `text` cannot hold them), and
    /// headers go through the stored JSON form, so both engines read back the same thing.
    pub(crate) fn stored(&self, id: String, stored_at: DateTime<Utc>) -> DeadLetter {
        let headers = headers_from_json(&headers_to_json(&self.headers))
            .unwrap_or_else(|_| self.headers.clone());
        DeadLetter {
            id,
            source_position: storable(&self.source_position),
            tenant: self.tenant.clone(),
            topic: storable(&self.topic),
            reason: storable(&self.reason),
            attempts: self.attempts,
            group: storable(&self.group),
            origin: storable(&self.origin),
            endpoint: self.endpoint.as_deref().map(storable),
            key: self.key.clone(),
            headers,
            payload: self.payload.clone(),
            dead_lettered_at: crate::events::to_micros(self.dead_lettered_at),
            stored_at: crate::events::to_micros(stored_at),
            redriven_at: None,
            redrive_count: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_their_time() {
        let earlier = DateTime::from_timestamp(1_700_000_000, 5_000_000).unwrap_or_default();
        let later = DateTime::from_timestamp(1_700_000_000, 6_000_000).unwrap_or_default();
        for _ in 0..100 {
            assert!(new_id(earlier) < new_id(later));
        }
        assert_eq!(new_id(later).len(), 36);
        let before_epoch = DateTime::from_timestamp(-5, 0).unwrap_or_default();
        assert!(new_id(before_epoch) < new_id(earlier));
    }
}
