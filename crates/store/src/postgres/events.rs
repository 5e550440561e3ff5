//! The audit event store on PostgreSQL: batch inserts, lookups and retention.

use std::time::Duration;

use switchyard_domain::{Event, EventId, TenantId};

use super::{
    PgStore,
    event_row::{EventColumns, event_from_row},
    timing::timed,
};
use crate::error::StoreError;

impl PgStore {
    /// One `INSERT … SELECT FROM unnest($arrays)` for the whole batch, `ON CONFLICT DO
    /// NOTHING`. Rows go in sorted by `(tenant, id)`: two writers inserting overlapping
    /// batches then wait on each other's keys in the same order and cannot deadlock.
    pub(super) async fn insert_events(&self, events: &[Event]) -> Result<u64, StoreError> {
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

    pub(super) async fn get_event(
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

    /// Each chunk its own short transaction; age on the database's clock against
    /// `stored_at`, found through a BRIN index.
    pub(super) async fn prune_events(
        &self,
        older_than: Duration,
        chunk: u32,
    ) -> Result<u64, StoreError> {
        self.prune_in_chunks(
            "prune_events",
            include_str!("../sql/prune_events.sql"),
            older_than,
            chunk,
        )
        .await
    }
}
