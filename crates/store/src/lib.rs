//! Switchyard's PostgreSQL adapter: connection pools, schema migrations, the audit event
//! store, the delivery log, the transactional outbox, the configuration the gateway manages
//! (sources and endpoints) and the dead letters it lists and redrives.
//!
//! Services hold one [`Store`] ([`Store::connect`], then [`Store::migrate`] at start-up) and
//! register [`Store::readiness_check`] with `/readyz`. The audit-writer batches into
//! [`Store::insert_events`] and [`Store::insert_delivery_attempts`]; the gateway reads with
//! [`Store::get_event`], [`Store::list_events`] and [`Store::list_deliveries`], writes events
//! through [`outbox::enqueue`], manages sources and endpoints with the [`config`] writes (in
//! the transaction that enqueues the matching `switchyard.config.*` event with
//! [`outbox::enqueue_routed`]) and reads them with [`Store::list_sources`],
//! [`Store::get_source`], [`Store::list_endpoints`] and [`Store::get_endpoint`], and stores
//! what it consumes from the DLQ with [`Store::insert_dead_letters`], then lists and redrives
//! it with [`Store::list_dead_letters`], [`Store::get_dead_letter`] and
//! [`Store::mark_redriven`]; the outbox relay drives [`outbox::claim_batch`],
//! [`outbox::set_aside`] and [`outbox::mark_published`]. It is not a general repository
//! layer: it holds only the tables that the event flows of DESIGN §1 and the gateway's API
//! rest on, and no business logic (a source's or endpoint's spec is opaque JSON here, its
//! secrets sealed by the gateway before they arrive).
//!
//! ```no_run
//! use switchyard_store::{Store, StoreError, outbox};
//! # async fn example(
//! #     settings: &switchyard_runtime::settings::DatabaseSettings,
//! #     event: &switchyard_domain::Event,
//! # ) -> Result<(), StoreError> {
//! let store = Store::connect(settings).await?;
//! store.migrate().await?;
//!
//! // A service's write: its own rows and the event, committed together.
//! let mut client = store.client().await?;
//! let tx = client.transaction().await.map_err(|e| StoreError::postgres("begin", e))?;
//! // ... the service's own INSERTs/UPDATEs on `tx` ...
//! outbox::enqueue(&tx, event).await?;
//! tx.commit().await.map_err(|e| StoreError::postgres("commit", e))?;
//! # Ok(())
//! # }
//! ```
//!
//! Design choices, and why:
//!
//! - **Embedded migration runner, not refinery.** Replicas starting together need a lock
//!   around whichever runner is used, and a transaction-level advisory lock only works if
//!   the runner applies everything inside the transaction that holds it. With the lock, the
//!   runner is a few dozen lines over our own pool: SQL files compiled in with
//!   `include_str!`, a `schema_migrations` table with a SHA-256 of each file's SQL checked at
//!   every start, and one less dependency whose history format operators must learn. All
//!   pending migrations apply in that one transaction (PostgreSQL's DDL is transactional),
//!   so a failure leaves the schema as it was. The cost: no `CREATE INDEX CONCURRENTLY` in a
//!   migration; a large index on a live table is built by an operator step instead.
//! - **Retention is a job, not partitioning.** A unique key on a partitioned table must
//!   include the partition column, so `UNIQUE (tenant, id)`, the key that makes the audit
//!   store idempotent, would become `(tenant, id, time)`; and `time` is the sender's claim,
//!   which a redelivered webhook without a provider timestamp does not repeat exactly. So
//!   the table stays whole and [`Store::prune_events`] deletes by `stored_at` in bounded
//!   chunks, found through a BRIN index that costs inserts almost nothing. Revisit at
//!   billions of rows, where `DELETE` plus vacuum lose to dropping partitions.
//! - **Batch inserts are one `INSERT … SELECT FROM unnest($arrays)`** rather than a
//!   `VALUES` list: one statement text for any batch size (prepared once per connection),
//!   twelve parameters rather than twelve per row, and binary-encoded arrays. `ON CONFLICT
//!   DO NOTHING` makes replays free, and rows are sorted by key so concurrent writers take
//!   their locks in one order and cannot deadlock.
//! - **Every event field round-trips exactly**, including non-UTF-8 data and the
//!   nanoseconds of `time` that `timestamptz` cannot hold (kept in `time_nanos`).
//! - **Configuration versions never go back.** Followers of the config topic apply a change
//!   only above the version they hold, so a deletion takes a version of its own and a
//!   re-created id continues above it. A per-entity high-water row (`config_versions`) holds
//!   the count across deletes and doubles as the lock that queues writers of one entity, so
//!   an `If-Match` check and the write it guards cannot interleave with another writer (a
//!   global sequence would hand out numbers outside transactions: 8 could commit before 7).
//! - **Dead letters keep their record exactly**: headers as an ordered JSON array (Kafka
//!   headers repeat and have an order), each value as text when it is UTF-8 without NUL and as
//!   base64 otherwise; stored once per DLQ position; UUIDv7 ids stamped with the
//!   dead-lettering time, so ids sort by time and serve as the keyset cursor.
//! - **Type patterns are listed per type.** PostgreSQL 15 has no skip scan, so a pattern with
//!   `*` walks the tenant's distinct types through the type index and merges one bounded scan
//!   per matching type ([`Store::list_events`]; measured in `events/list.rs`).
//! - Connections are plain TCP (`NoTls`): the database is reached over the cluster network
//!   or a sidecar. A URL asking for `sslmode=require` fails to connect rather than silently
//!   downgrading.

pub mod config;
mod dead_letters;
mod deliveries;
mod error;
mod event_row;
mod events;
mod migrate;
mod opening;
pub mod outbox;
mod pool;
mod readiness;
mod timing;

pub use config::ConfigRow;
pub use dead_letters::{
    DeadLetter, DeadLetterCursor, DeadLetterFilter, DeadLetterPage, NewDeadLetter,
};
pub use deadpool_postgres::{Client, GenericClient, Pool, Transaction};
pub use error::StoreError;
pub use events::{Cursor, EventFilter, EventPage, MAX_PAGE_SIZE, Order};
pub use migrate::AppliedMigration;
pub use opening::{Opening, OpeningReady};
use pool::DbPool;
pub use readiness::DatabaseReady;
use secrecy::ExposeSecret;
use switchyard_runtime::settings::DatabaseSettings;

/// Connection pools to the primary and (optionally) a read replica, and every operation on
/// Switchyard's tables. Cheap to clone: clones share the pools.
#[derive(Clone)]
pub struct Store {
    primary: DbPool,
    replica: Option<DbPool>,
}

impl Store {
    /// Builds pools of at most `pool_size` connections, every connect and every wait for a
    /// free connection bounded by `connect_timeout_secs`, then opens one connection to each
    /// server so that a wrong URL fails here, at start-up, with a message that says what to
    /// fix (a missing database is [`StoreError::DatabaseMissing`], naming it).
    ///
    /// An unreachable server is [`StoreError::Unavailable`] or
    /// [`StoreError::ConnectTimeout`]: transient, so a service may retry start-up.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let primary = DbPool::new("database.url", &settings.url, settings)?;
        let replica = if settings.read_url.expose_secret().trim().is_empty() {
            None
        } else {
            Some(DbPool::new(
                "database.read_url",
                &settings.read_url,
                settings,
            )?)
        };
        let store = Self { primary, replica };
        for pool in store.pools() {
            drop(pool.get().await?);
        }
        Ok(store)
    }

    /// Where queries read from: the replica when configured (results may lag the primary
    /// by the replication delay), else the primary.
    fn reader(&self) -> &DbPool {
        self.replica.as_ref().unwrap_or(&self.primary)
    }

    fn pools(&self) -> impl Iterator<Item = &DbPool> {
        std::iter::once(&self.primary).chain(self.replica.as_ref())
    }

    /// A connection to the primary from the pool, for statements of the caller's own, such
    /// as a transaction around [`outbox::enqueue`] or a relay's claim.
    pub async fn client(&self) -> Result<Client, StoreError> {
        self.primary.get().await
    }

    /// The primary's pool.
    #[must_use]
    pub fn pool(&self) -> &Pool {
        &self.primary.pool
    }

    /// The pool queries read from: the replica's when `read_url` is set, else the primary's.
    #[must_use]
    pub fn read_pool(&self) -> &Pool {
        &self.reader().pool
    }

    /// A `/readyz` check named `postgres` that passes while the primary (and the replica,
    /// when configured) hands out a connection that answers a query.
    #[must_use]
    pub fn readiness_check(&self) -> DatabaseReady {
        DatabaseReady {
            pools: self.pools().cloned().collect(),
        }
    }
}
