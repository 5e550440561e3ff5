//! The delivery log on PostgreSQL: one row per attempt to deliver an event to an endpoint.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use switchyard_domain::{EventId, TenantId, wire::DeliveryAttempt};
use tokio_postgres::{Row, types::ToSql};

use super::{PgStore, timing::timed};
use crate::{
    deliveries::{from_time, storable_error, to_time},
    error::StoreError,
};

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
        self.tenant.push(&a.tenant);
        self.attempt_id.push(&a.attempt_id);
        self.event_id.push(&a.event_id);
        self.event_type.push(&a.event_type);
        self.endpoint_id.push(&a.endpoint_id);
        self.url.push(&a.url);
        self.attempt.push(i64::from(a.attempt));
        self.outcome.push(a.outcome);
        self.response_status.push(i64::from(a.response_status));
        self.error.push(storable_error(a));
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

impl PgStore {
    /// One statement for the batch, `ON CONFLICT DO NOTHING`.
    pub(super) async fn insert_delivery_attempts(
        &self,
        attempts: &[DeliveryAttempt],
    ) -> Result<u64, StoreError> {
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
                .prepare_cached(include_str!("../sql/insert_delivery_attempts.sql"))
                .await
                .map_err(|e| StoreError::postgres("insert_delivery_attempts", e))?;
            client
                .execute(&statement, &columns.params())
                .await
                .map_err(|e| StoreError::postgres("insert_delivery_attempts", e))
        })
        .await
    }

    /// Reads from the replica when one is configured.
    pub(super) async fn list_deliveries(
        &self,
        tenant: &TenantId,
        event_id: &EventId,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        timed("list_deliveries", async {
            let client = self.reader().get().await?;
            let statement = client
                .prepare_cached(include_str!("../sql/list_deliveries.sql"))
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

    pub(super) async fn prune_delivery_attempts(
        &self,
        older_than: Duration,
        chunk: u32,
    ) -> Result<u64, StoreError> {
        self.prune_in_chunks(
            "prune_delivery_attempts",
            include_str!("../sql/prune_delivery_attempts.sql"),
            older_than,
            chunk,
        )
        .await
    }
}
