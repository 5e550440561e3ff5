//! The seam between [`crate::Store`] and its engines: every operation a service needs, each
//! a whole unit of work, so an engine without transactions (the in-memory one) can give the
//! same guarantees as PostgreSQL by holding one lock for the unit.
//!
//! Services never see this trait; they call [`crate::Store`], which checks and clamps
//! arguments once, then hands them here. The shared test suite (`tests/suite`) runs every
//! behaviour against both engines.

use std::time::Duration;

use async_trait::async_trait;
use switchyard_domain::{Event, EventId, TenantId, wire::DeliveryAttempt};
use switchyard_runtime::Shutdown;
use tokio::sync::Notify;

use crate::{
    AppliedMigration, ConfigRow, Cursor, DeadLetter, DeadLetterCursor, DeadLetterFilter,
    DeadLetterPage, EventFilter, EventPage, NewDeadLetter, StoreError,
    config::{ConfigKind, Precondition},
    outbox::{Backlog, Claimed, EnqueueOutcome, Route},
    postgres::PgStore,
};

/// Builds the `switchyard.config.*` event of a configuration write from the version the
/// write produced, and says where it goes. Called at most once, inside the unit of work,
/// after the version checks passed; an error rolls the whole write back and is returned
/// as it is.
pub type Announce<'a> = dyn Fn(i64) -> Result<(Event, Route), StoreError> + Send + Sync + 'a;

/// One row to put in the outbox: an event, and where it goes when not to the events topic.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The event.
    pub event: &'a Event,
    /// Its route; `None` for the events topic keyed by tenant.
    pub route: Option<&'a Route>,
}

/// An engine behind [`crate::Store`]. Arguments arrive checked: limits clamped to
/// `1..=MAX_PAGE_SIZE`, events checked storable, routes checked publishable.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The engine's name for logs and `/readyz`: `postgres` or `memory`.
    fn engine(&self) -> &'static str;

    /// The PostgreSQL engine, for tests and tools that need its pools; `None` otherwise.
    fn as_postgres(&self) -> Option<&PgStore> {
        None
    }

    /// Brings the schema up to date; returns what this call applied.
    async fn migrate(&self) -> Result<Vec<AppliedMigration>, StoreError>;

    /// `Ok` while the engine serves requests; the reason otherwise.
    async fn check_ready(&self) -> Result<(), String>;

    /// Stores events once per `(tenant, id)`; returns how many were new.
    async fn insert_events(&self, events: &[Event]) -> Result<u64, StoreError>;

    /// One stored event.
    async fn get_event(&self, tenant: &TenantId, id: &EventId)
    -> Result<Option<Event>, StoreError>;

    /// One page of a tenant's events; `limit` is already clamped.
    async fn list_events(
        &self,
        tenant: &TenantId,
        filter: &EventFilter,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<EventPage, StoreError>;

    /// Deletes events stored more than `older_than` ago, `chunk` at a time.
    async fn prune_events(&self, older_than: Duration, chunk: u32) -> Result<u64, StoreError>;

    /// Stores delivery attempts once per `(tenant, attempt_id)`; returns how many were new.
    async fn insert_delivery_attempts(
        &self,
        attempts: &[DeliveryAttempt],
    ) -> Result<u64, StoreError>;

    /// Every attempt to deliver one event, oldest first.
    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        event_id: &EventId,
    ) -> Result<Vec<DeliveryAttempt>, StoreError>;

    /// Deletes attempts stored more than `older_than` ago.
    async fn prune_delivery_attempts(
        &self,
        older_than: Duration,
        chunk: u32,
    ) -> Result<u64, StoreError>;

    /// Puts `rows` in the outbox as one atomic unit: all of them or, on error, none. A row
    /// whose `(tenant, id)` is already there is [`EnqueueOutcome::AlreadyEnqueued`] (also
    /// when it repeats an earlier row of the same call). Wakes the relays once it is
    /// committed.
    async fn enqueue(&self, rows: &[Outgoing<'_>]) -> Result<Vec<EnqueueOutcome>, StoreError>;

    /// Claims up to `limit` pending rows for one relay batch; see [`crate::outbox`].
    async fn claim_outbox(&self, limit: u32) -> Result<Box<dyn OutboxClaim>, StoreError>;

    /// Deletes published rows older than `older_than`; pending ones are never touched.
    async fn prune_published(&self, older_than: Duration, chunk: u32) -> Result<u64, StoreError>;

    /// Pending and set-aside rows, each count capped at `cap`.
    async fn outbox_backlog(&self, cap: i64) -> Result<Backlog, StoreError>;

    /// Wakes `wake` (one waiter per notification) whenever rows were committed to the
    /// outbox, until `shutdown`; once at the start too, for rows committed before.
    async fn watch_outbox(&self, wake: &Notify, shutdown: &Shutdown);

    /// Writes a source or endpoint and enqueues its change event, atomically.
    async fn write_config(
        &self,
        write: ConfigWrite<'_>,
        precondition: Precondition,
        announce: &Announce<'_>,
    ) -> Result<ConfigRow, StoreError>;

    /// Deletes a source or endpoint and enqueues its change event, atomically; `None` (and
    /// no event) when there was nothing to delete.
    async fn delete_config(
        &self,
        entity: ConfigEntity<'_>,
        announce: &Announce<'_>,
    ) -> Result<Option<i64>, StoreError>;

    /// Up to `limit` entities of a tenant in id order after `after_id`.
    async fn list_config(
        &self,
        kind: ConfigKind,
        tenant: &TenantId,
        limit: u32,
        after_id: Option<&str>,
    ) -> Result<Vec<ConfigRow>, StoreError>;

    /// One entity.
    async fn get_config(&self, entity: ConfigEntity<'_>) -> Result<Option<ConfigRow>, StoreError>;

    /// Stores dead letters once per DLQ position; returns how many were new.
    async fn insert_dead_letters(&self, letters: &[NewDeadLetter]) -> Result<u64, StoreError>;

    /// One page of a tenant's dead letters, newest first; `limit` is already clamped.
    async fn list_dead_letters(
        &self,
        tenant: &TenantId,
        filter: &DeadLetterFilter,
        limit: u32,
        cursor: Option<&DeadLetterCursor>,
    ) -> Result<DeadLetterPage, StoreError>;

    /// One dead letter.
    async fn get_dead_letter(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<DeadLetter>, StoreError>;

    /// Counts one more redrive of a dead letter; `None` when there is no such one.
    async fn mark_redriven(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<DeadLetter>, StoreError>;

    /// Deletes dead letters stored more than `older_than` ago.
    async fn prune_dead_letters(&self, older_than: Duration, chunk: u32)
    -> Result<u64, StoreError>;
}

/// Which source or endpoint.
#[derive(Debug, Clone, Copy)]
pub struct ConfigEntity<'a> {
    /// Source or endpoint.
    pub kind: ConfigKind,
    /// Its tenant.
    pub tenant: &'a TenantId,
    /// Its id.
    pub id: &'a str,
}

/// A configuration write: the entity and its new spec (checked storable).
#[derive(Debug, Clone, Copy)]
pub struct ConfigWrite<'a> {
    /// Which entity.
    pub entity: ConfigEntity<'a>,
    /// The spec to store.
    pub spec: &'a serde_json::Value,
}

/// Rows one relay holds between its claim and its commit. While it is held, no other claim
/// returns these rows or any row of their tenants. Dropped without [`OutboxClaim::commit`],
/// it gives everything back unpublished.
#[async_trait]
pub trait OutboxClaim: Send {
    /// What was claimed.
    fn claimed(&self) -> &Claimed;

    /// Marks the claimed entries published and sets the undecodable rows aside; takes
    /// effect at [`OutboxClaim::commit`].
    async fn mark(&mut self) -> Result<(), StoreError>;

    /// Makes the marks permanent and releases the tenants; returns what was claimed.
    async fn commit(self: Box<Self>) -> Result<Claimed, StoreError>;

    /// Gives the rows and tenants back unpublished (a failed publish).
    async fn release(self: Box<Self>);
}
