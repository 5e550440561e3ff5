//! The delivery log: one row per attempt to deliver an event to an endpoint.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use switchyard_domain::{EventId, TenantId, wire::DeliveryAttempt};
use tokio_postgres::{Row, types::ToSql};

use crate::{Store, error::StoreError, timing::timed};

fn unstorable(attempt: &DeliveryAttempt, reason: &'static str) -> StoreError {
    StoreError::Unstorable {
        tenant: attempt.tenant.clone(),
        id: attempt.attempt_id.clone(),
        reason,
    }
}

/// A protobuf timestamp as `timestamptz`, which keeps microseconds: the nanoseconds below
/// are dropped (a delivery log needs no finer clock).
fn to_time(
    attempt: &DeliveryAttempt,
    timestamp: Option<&prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    timestamp
        .map(|t| {
            u32::try_from(t.nanos)
                .ok()
                .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos))
                .ok_or_else(|| unstorable(attempt, "a timestamp is out of range"))
        })
        .transpose()
}

fn from_time(time: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    time.map(|t| prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    })
}

/// Column arrays for the `unnest` insert.
#[derive(Default)]
struct AttemptColumns<'a> {
    tenant: Vec<&'a str>,
    attempt_id: Vec<&'a str>,
    event_id: Vec<&'a str>,
    event_type: Vec<&'a str>,
    endpoint_id: Vec<&'a str>,
    url: Vec<&'a str>,
    attempt: Vec<i64>,
    outcome: Vec<i32>,
    response_status: Vec<i64>,
    error: Vec<String>,
    response_body_excerpt: Vec<&'a [u8]>,
    attempted_at: Vec<Option<DateTime<Utc>>>,
    duration_ms: Vec<i64>,
    next_attempt_at: Vec<Option<DateTime<Utc>>>,
}

impl<'a> AttemptColumns<'a> {
    fn push(&mut self, a: &'a DeliveryAttempt) -> Result<(), StoreError> {
        let identifiers = [
            &a.tenant,
            &a.attempt_id,
            &a.event_id,
            &a.event_type,
            &a.endpoint_id,
            &a.url,
        ];
        if identifiers.iter().any(|s| s.contains('\0')) {
            return Err(unstorable(a, "a text field contains a NUL character"));
        }
        self.tenant.push(&a.tenant);
        self.attempt_id.push(&a.attempt_id);
        self.event_id.push(&a.event_id);
        self.event_type.push(&a.event_type);
        self.endpoint_id.push(&a.endpoint_id);
        self.url.push(&a.url);
        self.attempt.push(i64::from(a.attempt));
        self.outcome.push(a.outcome);
        self.response_status.push(i64::from(a.response_status));
        // Free text, often quoting the endpoint's answer: a NUL in it is replaced rather
        // than costing the whole record.
        self.error.push(a.error.replace('\0', "\u{fffd}"));
        self.response_body_excerpt.push(&a.response_body_excerpt);
        self.attempted_at.push(to_time(a, a.attempted_at.as_ref())?);
        self.duration_ms.push(i64::from(a.duration_ms));
        self.next_attempt_at
            .push(to_time(a, a.next_attempt_at.as_ref())?);
        Ok(())
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 14] {
        [
            &self.tenant,
            &self.attempt_id,
            &self.event_id,
            &self.event_type,
            &self.endpoint_id,
            &self.url,
            &self.attempt,
            &self.outcome,
            &self.response_status,
            &self.error,
            &self.response_body_excerpt,
            &self.attempted_at,
            &self.duration_ms,
            &self.next_attempt_at,
        ]
    }
}

fn attempt_from_row(row: &Row) -> Result<DeliveryAttempt, StoreError> {
    let decode = |e| StoreError::postgres("decode delivery attempt", e);
    let number = |column: usize| -> Result<u32, StoreError> {
        let value: i64 = row.try_get(column).map_err(decode)?;
        u32::try_from(value).map_err(|_| StoreError::CorruptRow {
            what: "delivery_attempts".into(),
            reason: format!("column {column} holds {value}, outside uint32"),
        })
    };
    Ok(DeliveryAttempt {
        attempt_id: row.try_get(0).map_err(decode)?,
        tenant: row.try_get(1).map_err(decode)?,
        event_id: row.try_get(2).map_err(decode)?,
        event_type: row.try_get(3).map_err(decode)?,
        endpoint_id: row.try_get(4).map_err(decode)?,
        url: row.try_get(5).map_err(decode)?,
        attempt: number(6)?,
        outcome: row.try_get(7).map_err(decode)?,
        response_status: number(8)?,
        error: row.try_get(9).map_err(decode)?,
        response_body_excerpt: Bytes::from(row.try_get::<_, Vec<u8>>(10).map_err(decode)?),
        attempted_at: from_time(row.try_get(11).map_err(decode)?),
        duration_ms: number(12)?,
        next_attempt_at: from_time(row.try_get(13).map_err(decode)?),
    })
}

impl Store {
    /// Stores delivery attempt records with one statement and returns how many were new. A
    /// record whose `(tenant, attempt_id)` is already stored is skipped, so consuming
    /// `switchyard.deliveries` twice stores each attempt once.
    ///
    /// Timestamps keep microsecond precision. Refused whole with [`StoreError::Unstorable`]
    /// when a record cannot be held (NUL in an identifier, timestamp out of range).
    #[tracing::instrument(skip_all, fields(attempts = attempts.len()))]
    pub async fn insert_delivery_attempts(
        &self,
        attempts: &[DeliveryAttempt],
    ) -> Result<u64, StoreError> {
        if attempts.is_empty() {
            return Ok(0);
        }
        let mut ordered: Vec<&DeliveryAttempt> = attempts.iter().collect();
        // Same key order in every writer: overlapping batches cannot deadlock.
        ordered
            .sort_unstable_by(|a, b| (&a.tenant, &a.attempt_id).cmp(&(&b.tenant, &b.attempt_id)));
        let mut columns = AttemptColumns::default();
        for attempt in ordered {
            columns.push(attempt)?;
        }
        timed("insert_delivery_attempts", async {
            let client = self.primary.get().await?;
            let statement = client
                .prepare_cached(include_str!("sql/insert_delivery_attempts.sql"))
                .await
                .map_err(|e| StoreError::postgres("insert_delivery_attempts", e))?;
            client
                .execute(&statement, &columns.params())
                .await
                .map_err(|e| StoreError::postgres("insert_delivery_attempts", e))
        })
        .await
    }

    /// Every attempt to deliver `event_id` of `tenant`, oldest first. Reads from the replica
    /// when one is configured.
    pub async fn list_deliveries(
        &self,
        tenant: &TenantId,
        event_id: &EventId,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        timed("list_deliveries", async {
            let client = self.reader().get().await?;
            let statement = client
                .prepare_cached(include_str!("sql/list_deliveries.sql"))
                .await
                .map_err(|e| StoreError::postgres("list_deliveries", e))?;
            let rows = client
                .query(&statement, &[&tenant.as_str(), &event_id.as_str()])
                .await
                .map_err(|e| StoreError::postgres("list_deliveries", e))?;
            rows.iter().map(attempt_from_row).collect()
        })
        .await
    }

    /// Retention for the delivery log, as [`Store::prune_events`] is for events.
    pub async fn prune_delivery_attempts(
        &self,
        older_than: Duration,
        chunk: u32,
    ) -> Result<u64, StoreError> {
        self.prune_in_chunks(
            "prune_delivery_attempts",
            include_str!("sql/prune_delivery_attempts.sql"),
            older_than,
            chunk,
        )
        .await
    }
}
