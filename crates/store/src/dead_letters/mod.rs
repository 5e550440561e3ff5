//! Dead letters: the records of `<prefix>.dlq`, stored by the gateway's consumer so tenants
//! can list them and redrive them.
//!
//! Stored once per position in the DLQ ([`NewDeadLetter::source_position`]), so a consumer
//! that replays a batch after a crash stores nothing twice. Each gets a UUIDv7 id stamped
//! with its dead-lettering time, so ids order by time and page newest first on their own.

mod list;
mod record;

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use switchyard_domain::{Headers, Message, TenantId};
use tokio_postgres::{Row, types::ToSql};

pub use self::list::{DeadLetterCursor, DeadLetterFilter, DeadLetterPage};
use self::record::{headers_from_json, headers_to_json, is_dlq_header};
use crate::{Store, error::StoreError, timing::timed};

/// A record read from the DLQ, to store with [`Store::insert_dead_letters`]. Build it with
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
fn new_id(at: DateTime<Utc>) -> String {
    let seconds = u64::try_from(at.timestamp()).unwrap_or(0);
    let timestamp =
        uuid::Timestamp::from_unix(uuid::NoContext, seconds, at.timestamp_subsec_nanos());
    uuid::Uuid::new_v7(timestamp).hyphenated().to_string()
}

/// Free text from a record's headers: a NUL (which `text` cannot hold) becomes U+FFFD rather
/// than costing the whole record.
fn storable(text: &str) -> String {
    text.replace('\0', "\u{fffd}")
}

/// Column arrays for the `unnest` insert.
#[derive(Default)]
struct DeadLetterColumns<'a> {
    id: Vec<String>,
    source_position: Vec<String>,
    tenant: Vec<Option<&'a str>>,
    topic: Vec<String>,
    reason: Vec<String>,
    attempts: Vec<i64>,
    group: Vec<String>,
    origin: Vec<String>,
    endpoint: Vec<Option<String>>,
    key: Vec<Option<&'a [u8]>>,
    headers: Vec<serde_json::Value>,
    payload: Vec<&'a [u8]>,
    dead_lettered_at: Vec<DateTime<Utc>>,
}

impl<'a> DeadLetterColumns<'a> {
    fn push(&mut self, letter: &'a NewDeadLetter) {
        self.id.push(new_id(letter.dead_lettered_at));
        self.source_position.push(storable(&letter.source_position));
        self.tenant
            .push(letter.tenant.as_ref().map(TenantId::as_str));
        self.topic.push(storable(&letter.topic));
        self.reason.push(storable(&letter.reason));
        self.attempts.push(i64::from(letter.attempts));
        self.group.push(storable(&letter.group));
        self.origin.push(storable(&letter.origin));
        self.endpoint.push(letter.endpoint.as_deref().map(storable));
        self.key.push(letter.key.as_deref());
        self.headers.push(headers_to_json(&letter.headers));
        self.payload.push(&letter.payload);
        self.dead_lettered_at.push(letter.dead_lettered_at);
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 13] {
        [
            &self.id,
            &self.source_position,
            &self.tenant,
            &self.topic,
            &self.reason,
            &self.attempts,
            &self.group,
            &self.origin,
            &self.endpoint,
            &self.key,
            &self.headers,
            &self.payload,
            &self.dead_lettered_at,
        ]
    }
}

/// The columns every dead-letter query returns, in [`dead_letter_from_row`]'s order.
pub(crate) const DEAD_LETTER_COLUMNS: &str = "id, source_position, tenant, topic, reason, \
     attempts, consumer_group, origin, endpoint, key, headers, payload, dead_lettered_at, \
     stored_at, redriven_at, redrive_count";

fn dead_letter_from_row(row: &Row) -> Result<DeadLetter, StoreError> {
    let decode = |e| StoreError::postgres("decode dead letter", e);
    let id: String = row.try_get(0).map_err(decode)?;
    let corrupt = |reason: String| StoreError::CorruptRow {
        what: format!("dead_letters {id}"),
        reason,
    };
    let tenant = row
        .try_get::<_, Option<&str>>(2)
        .map_err(decode)?
        .map(TenantId::parse)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    let attempts: i64 = row.try_get(5).map_err(decode)?;
    let redrive_count: i32 = row.try_get(15).map_err(decode)?;
    let headers: serde_json::Value = row.try_get(10).map_err(decode)?;
    Ok(DeadLetter {
        source_position: row.try_get(1).map_err(decode)?,
        tenant,
        topic: row.try_get(3).map_err(decode)?,
        reason: row.try_get(4).map_err(decode)?,
        attempts: u32::try_from(attempts)
            .map_err(|_| corrupt(format!("attempts holds {attempts}")))?,
        group: row.try_get(6).map_err(decode)?,
        origin: row.try_get(7).map_err(decode)?,
        endpoint: row.try_get(8).map_err(decode)?,
        key: row
            .try_get::<_, Option<Vec<u8>>>(9)
            .map_err(decode)?
            .map(Bytes::from),
        headers: headers_from_json(&headers).map_err(corrupt)?,
        payload: Bytes::from(row.try_get::<_, Vec<u8>>(11).map_err(decode)?),
        dead_lettered_at: row.try_get(12).map_err(decode)?,
        stored_at: row.try_get(13).map_err(decode)?,
        redriven_at: row.try_get(14).map_err(decode)?,
        redrive_count: u32::try_from(redrive_count)
            .map_err(|_| corrupt(format!("redrive_count holds {redrive_count}")))?,
        id,
    })
}

impl Store {
    /// Stores dead letters with one statement and returns how many were new; one whose
    /// `source_position` is already stored is skipped (a replayed batch stores nothing
    /// twice). Rows go in sorted by `source_position`, so overlapping batches of two writers
    /// take their locks in one order and cannot deadlock.
    #[tracing::instrument(skip_all, fields(dead_letters = letters.len()))]
    pub async fn insert_dead_letters(&self, letters: &[NewDeadLetter]) -> Result<u64, StoreError> {
        if letters.is_empty() {
            return Ok(0);
        }
        let mut ordered: Vec<&NewDeadLetter> = letters.iter().collect();
        ordered.sort_unstable_by(|a, b| a.source_position.cmp(&b.source_position));
        let mut columns = DeadLetterColumns::default();
        for letter in ordered {
            columns.push(letter);
        }
        timed("insert_dead_letters", async {
            let client = self.primary.get().await?;
            let statement = client
                .prepare_cached(include_str!("../sql/insert_dead_letters.sql"))
                .await
                .map_err(|e| StoreError::postgres("insert_dead_letters", e))?;
            client
                .execute(&statement, &columns.params())
                .await
                .map_err(|e| StoreError::postgres("insert_dead_letters", e))
        })
        .await
    }

    /// Dead letter `id` of `tenant`, if stored. Reads from the replica when one is configured.
    pub async fn get_dead_letter(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<DeadLetter>, StoreError> {
        timed("get_dead_letter", async {
            let client = self.reader().get().await?;
            let statement = client
                .prepare_cached(include_str!("../sql/get_dead_letter.sql"))
                .await
                .map_err(|e| StoreError::postgres("get_dead_letter", e))?;
            let row = client
                .query_opt(&statement, &[&tenant.as_str(), &id])
                .await
                .map_err(|e| StoreError::postgres("get_dead_letter", e))?;
            row.as_ref().map(dead_letter_from_row).transpose()
        })
        .await
    }

    /// Records that dead letter `id` of `tenant` was redriven (call it once the broker
    /// acknowledged the republished record): sets `redriven_at` to now and counts one more
    /// redrive. Returns the updated dead letter, or `None` when there is no such one.
    pub async fn mark_redriven(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<DeadLetter>, StoreError> {
        timed("mark_redriven", async {
            let client = self.primary.get().await?;
            let statement = client
                .prepare_cached(include_str!("../sql/mark_redriven.sql"))
                .await
                .map_err(|e| StoreError::postgres("mark_redriven", e))?;
            let row = client
                .query_opt(&statement, &[&tenant.as_str(), &id])
                .await
                .map_err(|e| StoreError::postgres("mark_redriven", e))?;
            row.as_ref().map(dead_letter_from_row).transpose()
        })
        .await
    }

    /// Retention for dead letters, as [`Store::prune_events`] is for events (by the time
    /// they were stored here).
    pub async fn prune_dead_letters(
        &self,
        older_than: Duration,
        chunk: u32,
    ) -> Result<u64, StoreError> {
        self.prune_in_chunks(
            "prune_dead_letters",
            include_str!("../sql/prune_dead_letters.sql"),
            older_than,
            chunk,
        )
        .await
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
