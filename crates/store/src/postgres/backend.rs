//! [`Backend`] for [`PgStore`]: each operation is the engine's own method of the same name.

use std::time::Duration;

use async_trait::async_trait;
use switchyard_domain::{Event, EventId, TenantId, wire::DeliveryAttempt};
use switchyard_runtime::Shutdown;
use tokio::sync::Notify;

use super::PgStore;
use crate::{
    AppliedMigration, ConfigRow, Cursor, DeadLetter, DeadLetterCursor, DeadLetterFilter,
    DeadLetterPage, EventFilter, EventPage, NewDeadLetter, StoreError,
    backend::{Announce, Backend, ConfigEntity, ConfigWrite, OutboxClaim, Outgoing},
    config::{ConfigKind, Precondition},
    outbox::{Backlog, EnqueueOutcome},
};

#[async_trait]
impl Backend for PgStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    fn as_postgres(&self) -> Option<&PgStore> {
        Some(self)
    }

    async fn migrate(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        PgStore::migrate(self).await
    }

    async fn check_ready(&self) -> Result<(), String> {
        PgStore::check_ready(self).await
    }

    async fn insert_events(&self, events: &[Event]) -> Result<u64, StoreError> {
        PgStore::insert_events(self, events).await
    }

    async fn get_event(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<Option<Event>, StoreError> {
        PgStore::get_event(self, tenant, id).await
    }

    async fn list_events(
        &self,
        tenant: &TenantId,
        filter: &EventFilter,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<EventPage, StoreError> {
        PgStore::list_events(self, tenant, filter, limit, cursor).await
    }

    async fn prune_events(&self, older_than: Duration, chunk: u32) -> Result<u64, StoreError> {
        PgStore::prune_events(self, older_than, chunk).await
    }

    async fn insert_delivery_attempts(
        &self,
        attempts: &[DeliveryAttempt],
    ) -> Result<u64, StoreError> {
        PgStore::insert_delivery_attempts(self, attempts).await
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        event_id: &EventId,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        PgStore::list_deliveries(self, tenant, event_id).await
    }

    async fn prune_delivery_attempts(
        &self,
        older_than: Duration,
        chunk: u32,
    ) -> Result<u64, StoreError> {
        PgStore::prune_delivery_attempts(self, older_than, chunk).await
    }

    async fn enqueue(&self, rows: &[Outgoing<'_>]) -> Result<Vec<EnqueueOutcome>, StoreError> {
        PgStore::enqueue(self, rows).await
    }

    async fn claim_outbox(&self, limit: u32) -> Result<Box<dyn OutboxClaim>, StoreError> {
        PgStore::claim_outbox(self, limit).await
    }

    async fn prune_published(&self, older_than: Duration, chunk: u32) -> Result<u64, StoreError> {
        PgStore::prune_published(self, older_than, chunk).await
    }

    async fn outbox_backlog(&self, cap: i64) -> Result<Backlog, StoreError> {
        PgStore::outbox_backlog(self, cap).await
    }

    async fn watch_outbox(&self, wake: &Notify, shutdown: &Shutdown) {
        super::listen(self.primary.config.clone(), wake, shutdown).await;
    }

    async fn write_config(
        &self,
        write: ConfigWrite<'_>,
        precondition: Precondition,
        announce: &Announce<'_>,
    ) -> Result<ConfigRow, StoreError> {
        PgStore::write_config(self, write, precondition, announce).await
    }

    async fn delete_config(
        &self,
        entity: ConfigEntity<'_>,
        announce: &Announce<'_>,
    ) -> Result<Option<i64>, StoreError> {
        PgStore::delete_config(self, entity, announce).await
    }

    async fn list_config(
        &self,
        kind: ConfigKind,
        tenant: &TenantId,
        limit: u32,
        after_id: Option<&str>,
    ) -> Result<Vec<ConfigRow>, StoreError> {
        PgStore::list_config(self, kind, tenant, limit, after_id).await
    }

    async fn get_config(&self, entity: ConfigEntity<'_>) -> Result<Option<ConfigRow>, StoreError> {
        PgStore::get_config(self, entity).await
    }

    async fn insert_dead_letters(&self, letters: &[NewDeadLetter]) -> Result<u64, StoreError> {
        PgStore::insert_dead_letters(self, letters).await
    }

    async fn list_dead_letters(
        &self,
        tenant: &TenantId,
        filter: &DeadLetterFilter,
        limit: u32,
        cursor: Option<&DeadLetterCursor>,
    ) -> Result<DeadLetterPage, StoreError> {
        PgStore::list_dead_letters(self, tenant, filter, limit, cursor).await
    }

    async fn get_dead_letter(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<DeadLetter>, StoreError> {
        PgStore::get_dead_letter(self, tenant, id).await
    }

    async fn mark_redriven(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<DeadLetter>, StoreError> {
        PgStore::mark_redriven(self, tenant, id).await
    }

    async fn prune_dead_letters(
        &self,
        older_than: Duration,
        chunk: u32,
    ) -> Result<u64, StoreError> {
        PgStore::prune_dead_letters(self, older_than, chunk).await
    }
}
