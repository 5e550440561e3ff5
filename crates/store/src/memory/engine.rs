//! [`Backend`] for [`MemoryStore`]: each unit of work under the one lock.

use std::time::Duration;

use async_trait::async_trait;
use switchyard_domain::{Event, EventId, TenantId, wire::DeliveryAttempt};
use switchyard_runtime::Shutdown;
use tokio::sync::Notify;

use super::{MemoryStore, cutoff, outbox::MemoryClaim};
use crate::{
    AppliedMigration, ConfigRow, Cursor, DeadLetter, DeadLetterCursor, DeadLetterFilter,
    DeadLetterPage, EventFilter, EventPage, NewDeadLetter, StoreError,
    backend::{Announce, Backend, ConfigEntity, ConfigWrite, OutboxClaim, Outgoing},
    config::{ConfigKind, Precondition},
    events::check_storable,
    outbox::{Backlog, EnqueueOutcome},
};

impl MemoryStore {
    /// Builds and checks the change event of a configuration write; nothing is written yet.
    fn announcement(
        announce: &Announce<'_>,
        version: i64,
    ) -> Result<(Event, crate::Route), StoreError> {
        let (event, route) = announce(version)?;
        check_storable(&event)?;
        route.check(&event)?;
        Ok((event, route))
    }
}

#[async_trait]
impl Backend for MemoryStore {
    fn engine(&self) -> &'static str {
        "memory"
    }

    async fn migrate(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        Ok(Vec::new())
    }

    async fn check_ready(&self) -> Result<(), String> {
        Ok(())
    }

    async fn insert_events(&self, events: &[Event]) -> Result<u64, StoreError> {
        Ok(self.lock().events.insert(events))
    }

    async fn get_event(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<Option<Event>, StoreError> {
        Ok(self.lock().events.get(tenant, id))
    }

    async fn list_events(
        &self,
        tenant: &TenantId,
        filter: &EventFilter,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<EventPage, StoreError> {
        Ok(self.lock().events.list(tenant, filter, limit, cursor))
    }

    async fn prune_events(&self, older_than: Duration, _chunk: u32) -> Result<u64, StoreError> {
        Ok(self.lock().events.prune(cutoff(older_than)))
    }

    async fn insert_delivery_attempts(
        &self,
        attempts: &[DeliveryAttempt],
    ) -> Result<u64, StoreError> {
        self.lock().deliveries.insert(attempts)
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        event_id: &EventId,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        Ok(self.lock().deliveries.list(tenant, event_id))
    }

    async fn prune_delivery_attempts(
        &self,
        older_than: Duration,
        _chunk: u32,
    ) -> Result<u64, StoreError> {
        Ok(self.lock().deliveries.prune(cutoff(older_than)))
    }

    async fn enqueue(&self, rows: &[Outgoing<'_>]) -> Result<Vec<EnqueueOutcome>, StoreError> {
        let (outcomes, inserted) = self.lock().outbox.enqueue(rows)?;
        if inserted {
            self.shared.outbox_changed();
        }
        Ok(outcomes)
    }

    async fn claim_outbox(&self, limit: u32) -> Result<Box<dyn OutboxClaim>, StoreError> {
        let (tenants, claimed) = self.lock().outbox.claim(limit);
        Ok(Box::new(MemoryClaim {
            shared: self.shared.clone(),
            tenants,
            claimed,
            marked: false,
            open: true,
        }))
    }

    async fn prune_published(&self, older_than: Duration, _chunk: u32) -> Result<u64, StoreError> {
        Ok(self.lock().outbox.prune(cutoff(older_than)))
    }

    async fn outbox_backlog(&self, cap: i64) -> Result<Backlog, StoreError> {
        Ok(self.lock().outbox.backlog(cap))
    }

    async fn watch_outbox(&self, wake: &Notify, shutdown: &Shutdown) {
        let mut changes = self.shared.outbox_changed.subscribe();
        // Rows may have been enqueued before anyone watched.
        wake.notify_one();
        loop {
            tokio::select! {
                () = shutdown.triggered() => return,
                changed = changes.changed() => {
                    // The sender lives as long as the store, and so as long as `self`.
                    if changed.is_err() {
                        return;
                    }
                    wake.notify_one();
                }
            }
        }
    }

    async fn write_config(
        &self,
        write: ConfigWrite<'_>,
        precondition: Precondition,
        announce: &Announce<'_>,
    ) -> Result<ConfigRow, StoreError> {
        let row = {
            let mut state = self.lock();
            let row = state.config.plan_write(write, precondition)?;
            let (event, route) = Self::announcement(announce, row.version)?;
            let change = Outgoing {
                event: &event,
                route: Some(&route),
            };
            state.outbox.enqueue(&[change])?;
            state.config.apply_write(write.entity.kind, row.clone());
            row
        };
        self.shared.outbox_changed();
        Ok(row)
    }

    async fn delete_config(
        &self,
        entity: ConfigEntity<'_>,
        announce: &Announce<'_>,
    ) -> Result<Option<i64>, StoreError> {
        {
            let mut state = self.lock();
            let Some(version) = state.config.plan_delete(entity) else {
                return Ok(None);
            };
            let (event, route) = Self::announcement(announce, version)?;
            let change = Outgoing {
                event: &event,
                route: Some(&route),
            };
            state.outbox.enqueue(&[change])?;
            state.config.apply_delete(entity, version);
            drop(state);
            self.shared.outbox_changed();
            Ok(Some(version))
        }
    }

    async fn list_config(
        &self,
        kind: ConfigKind,
        tenant: &TenantId,
        limit: u32,
        after_id: Option<&str>,
    ) -> Result<Vec<ConfigRow>, StoreError> {
        Ok(self.lock().config.list(kind, tenant, limit, after_id))
    }

    async fn get_config(&self, entity: ConfigEntity<'_>) -> Result<Option<ConfigRow>, StoreError> {
        Ok(self.lock().config.get(entity))
    }

    async fn insert_dead_letters(&self, letters: &[NewDeadLetter]) -> Result<u64, StoreError> {
        Ok(self.lock().dead_letters.insert(letters))
    }

    async fn list_dead_letters(
        &self,
        tenant: &TenantId,
        filter: &DeadLetterFilter,
        limit: u32,
        cursor: Option<&DeadLetterCursor>,
    ) -> Result<DeadLetterPage, StoreError> {
        Ok(self.lock().dead_letters.list(tenant, filter, limit, cursor))
    }

    async fn get_dead_letter(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<DeadLetter>, StoreError> {
        Ok(self.lock().dead_letters.get(tenant, id))
    }

    async fn mark_redriven(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<DeadLetter>, StoreError> {
        Ok(self.lock().dead_letters.mark_redriven(tenant, id))
    }

    async fn prune_dead_letters(
        &self,
        older_than: Duration,
        _chunk: u32,
    ) -> Result<u64, StoreError> {
        Ok(self.lock().dead_letters.prune(cutoff(older_than)))
    }
}
