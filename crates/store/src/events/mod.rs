//! The audit event store: every event once per `(tenant, id)`, searchable by the gateway.

mod cursor;
mod list;

use std::time::Duration;

pub use cursor::Cursor;
pub use list::{EventFilter, EventPage, MAX_PAGE_SIZE, Order};
use switchyard_domain::{Event, EventId, TenantId};

use crate::{
    Store,
    error::StoreError,
    event_row::{EventColumns, event_from_row},
    timing::timed,
};

impl Store {
    /// Stores `events` with one statement and returns how many were new; events already
    /// stored (same tenant and id, in an earlier call or earlier in this batch) are skipped,
    /// so a consumer that replays a batch after a crash stores nothing twice.
    ///
    /// Batches of up to about a thousand events are the sweet spot. Rows go in sorted by
    /// `(tenant, id)`: two writers inserting overlapping batches then wait on each other's
    /// keys in the same order and cannot deadlock.
    ///
    /// Refused whole, before anything is sent, with [`StoreError::Unstorable`] when an
    /// event cannot be held by PostgreSQL (a NUL in an extension value).
    #[tracing::instrument(skip_all, fields(events = events.len()))]
    pub async fn insert_events(&self, events: &[Event]) -> Result<u64, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let mut ordered: Vec<&Event> = events.iter().collect();
        ordered.sort_unstable_by(|a, b| (a.tenant(), a.id()).cmp(&(b.tenant(), b.id())));
        let columns = EventColumns::new(ordered.into_iter())?;
        timed("insert_events", async {
            let client = self.primary.get().await?;
            let statement = client
                .prepare_cached(include_str!("../sql/insert_events.sql"))
                .await
                .map_err(|e| StoreError::postgres("insert_events", e))?;
            client
                .execute(&statement, &columns.params())
                .await
                .map_err(|e| StoreError::postgres("insert_events", e))
        })
        .await
    }

    /// The event `id` of `tenant`, if stored. Reads from the replica when one is configured.
    pub async fn get_event(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<Option<Event>, StoreError> {
        timed("get_event", async {
            let client = self.reader().get().await?;
            let statement = client
                .prepare_cached(include_str!("../sql/get_event.sql"))
                .await
                .map_err(|e| StoreError::postgres("get_event", e))?;
            let row = client
                .query_opt(&statement, &[&tenant.as_str(), &id.as_str()])
                .await
                .map_err(|e| StoreError::postgres("get_event", e))?;
            row.map(|row| event_from_row("events", &row, 0)).transpose()
        })
        .await
    }

    /// Retention: deletes events stored more than `older_than` ago, `chunk` rows per
    /// statement (each its own short transaction), and returns how many were deleted.
    ///
    /// Run it periodically from one place (a cron job, or one replica); concurrent runs are
    /// safe but only compete. Age is measured on the database's clock against `stored_at`,
    /// not the event's `time`, which is the sender's claim and may be far in the past.
    pub async fn prune_events(&self, older_than: Duration, chunk: u32) -> Result<u64, StoreError> {
        self.prune_in_chunks(
            "prune_events",
            include_str!("../sql/prune_events.sql"),
            older_than,
            chunk,
        )
        .await
    }

    /// Runs a chunked `DELETE` taking `($1 age in seconds, $2 chunk)` until a chunk comes
    /// back short.
    pub(crate) async fn prune_in_chunks(
        &self,
        operation: &'static str,
        sql: &'static str,
        older_than: Duration,
        chunk: u32,
    ) -> Result<u64, StoreError> {
        let age = older_than.as_secs_f64();
        let chunk = i64::from(chunk.max(1));
        let mut total = 0;
        loop {
            let deleted = timed(operation, async {
                let client = self.primary.get().await?;
                let statement = client
                    .prepare_cached(sql)
                    .await
                    .map_err(|e| StoreError::postgres(operation, e))?;
                client
                    .execute(&statement, &[&age, &chunk])
                    .await
                    .map_err(|e| StoreError::postgres(operation, e))
            })
            .await?;
            total += deleted;
            if deleted < chunk.unsigned_abs() {
                return Ok(total);
            }
        }
    }
}
