//! [`Store`]: the handle services hold, the same whichever engine is behind it.

mod config;
mod dead_letters;
mod outbox;

use std::{sync::Arc, time::Duration};

use secrecy::ExposeSecret;
use switchyard_domain::{Event, EventId, TenantId, wire::DeliveryAttempt};
use switchyard_runtime::settings::DatabaseSettings;

use crate::{
    AppliedMigration, Cursor, DatabaseReady, EventFilter, EventPage, MAX_PAGE_SIZE, StoreError,
    backend::Backend, events::check_storable, memory::MemoryStore, postgres::PgStore,
};

/// The scheme of `database.url` that selects the in-memory engine: `memory://<name>`.
pub const MEMORY_SCHEME: &str = "memory://";

/// Every operation on Switchyard's tables, on PostgreSQL or in memory (see the
/// [crate documentation](crate)). Cheap to clone: clones share the engine.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.backend.engine())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store `settings.url` names.
    ///
    /// `memory://<name>`: the process's in-memory store of that name, created on first use,
    /// so services of one process that each connect share it as they would share a
    /// database; never fails for a valid name.
    ///
    /// Anything else is a PostgreSQL URL: pools of at most `pool_size` connections, every
    /// connect and every wait for a free connection bounded by `connect_timeout_secs`, and
    /// one connection opened to each server so that a wrong URL fails here, at start-up,
    /// with a message that says what to fix (a missing database is
    /// [`StoreError::DatabaseMissing`], naming it). An unreachable server is
    /// [`StoreError::Unavailable`] or [`StoreError::ConnectTimeout`]: transient, so a
    /// service may retry start-up.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let backend: Arc<dyn Backend> =
            match settings.url.expose_secret().strip_prefix(MEMORY_SCHEME) {
                Some(name) => {
                    if !settings.read_url.expose_secret().trim().is_empty() {
                        return Err(StoreError::Config {
                            key: "database.read_url",
                            reason: "must be empty with a memory:// database.url (there is \
                                     no replica to read from)"
                                .into(),
                        });
                    }
                    MemoryStore::named(name)?
                }
                None => Arc::new(PgStore::connect(settings).await?),
            };
        Ok(Self { backend })
    }

    /// A store over `backend`, for an engine of the caller's own.
    #[must_use]
    pub fn from_backend(backend: Arc<dyn Backend>) -> Self {
        Self { backend }
    }

    /// `postgres` or `memory`.
    #[must_use]
    pub fn engine(&self) -> &'static str {
        self.backend.engine()
    }

    /// The PostgreSQL engine, for tests, benchmarks and tools that run statements of their
    /// own; `None` for the in-memory store. Services never need it.
    #[must_use]
    pub fn postgres(&self) -> Option<&PgStore> {
        self.backend.as_postgres()
    }

    /// Brings the schema up to date and returns the migrations this call applied (none when
    /// it was already current, and always none in memory). See [`PgStore::migrate`].
    pub async fn migrate(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        self.backend.migrate().await
    }

    /// A `/readyz` check that passes while the store serves requests (always, in memory).
    #[must_use]
    pub fn readiness_check(&self) -> DatabaseReady {
        DatabaseReady {
            backend: self.backend.clone(),
        }
    }

    /// Stores `events` and returns how many were new; events already stored (same tenant and
    /// id, in an earlier call or earlier in this batch) are skipped and the first copy
    /// stays, so a consumer that replays a batch after a crash stores nothing twice.
    ///
    /// Refused whole, before anything is written, with [`StoreError::Unstorable`] when an
    /// event cannot be held (a NUL in an extension value).
    #[tracing::instrument(skip_all, fields(events = events.len()))]
    pub async fn insert_events(&self, events: &[Event]) -> Result<u64, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        events.iter().try_for_each(check_storable)?;
        self.backend.insert_events(events).await
    }

    /// The event `id` of `tenant`, if stored. Reads from the replica when one is configured.
    pub async fn get_event(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<Option<Event>, StoreError> {
        self.backend.get_event(tenant, id).await
    }

    /// One page of `tenant`'s events matching `filter`, at most `limit` long (between 1 and
    /// [`MAX_PAGE_SIZE`]), starting after `cursor` (the previous page's
    /// [`EventPage::next_cursor`]). Events are ordered by their time at microsecond
    /// precision, then id, so paging never skips or repeats one. Reads from the replica
    /// when one is configured.
    #[tracing::instrument(skip_all, fields(tenant = %tenant))]
    pub async fn list_events(
        &self,
        tenant: &TenantId,
        filter: &EventFilter,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<EventPage, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        self.backend
            .list_events(tenant, filter, limit, cursor)
            .await
    }

    /// Retention: deletes events stored more than `older_than` ago, `chunk` rows at a time,
    /// and returns how many were deleted. Age is measured against when the event was
    /// stored, not its `time`, which is the sender's claim.
    pub async fn prune_events(&self, older_than: Duration, chunk: u32) -> Result<u64, StoreError> {
        self.backend.prune_events(older_than, chunk.max(1)).await
    }

    /// Stores delivery attempt records and returns how many were new; a record whose
    /// `(tenant, attempt_id)` is already stored is skipped. Timestamps keep microseconds.
    /// Refused whole with [`StoreError::Unstorable`] when a record cannot be held (NUL in
    /// an identifier, timestamp out of range).
    #[tracing::instrument(skip_all, fields(attempts = attempts.len()))]
    pub async fn insert_delivery_attempts(
        &self,
        attempts: &[DeliveryAttempt],
    ) -> Result<u64, StoreError> {
        if attempts.is_empty() {
            return Ok(0);
        }
        attempts.iter().try_for_each(crate::deliveries::check)?;
        self.backend.insert_delivery_attempts(attempts).await
    }

    /// Every attempt to deliver `event_id` of `tenant`, oldest first.
    pub async fn list_deliveries(
        &self,
        tenant: &TenantId,
        event_id: &EventId,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        self.backend.list_deliveries(tenant, event_id).await
    }

    /// Retention for the delivery log, as [`Store::prune_events`] is for events.
    pub async fn prune_delivery_attempts(
        &self,
        older_than: Duration,
        chunk: u32,
    ) -> Result<u64, StoreError> {
        self.backend
            .prune_delivery_attempts(older_than, chunk.max(1))
            .await
    }
}
