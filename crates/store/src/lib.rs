//! Switchyard's store: the audit event store, the delivery log, the transactional outbox, the
//! configuration the gateway manages (sources and endpoints) and the dead letters it lists and
//! redrives, on PostgreSQL in production and in memory for `switchyard dev`.
//!
//! Services hold one [`Store`] ([`Store::connect`], then [`Store::migrate`] at start-up, or
//! [`Opening`] to do both in the background) and register [`Store::readiness_check`] with
//! `/readyz`. The audit-writer batches into [`Store::insert_events`] and
//! [`Store::insert_delivery_attempts`]; the gateway reads with [`Store::get_event`],
//! [`Store::list_events`] and [`Store::list_deliveries`], publishes through the outbox with
//! [`Store::enqueue`], manages sources and endpoints with [`Store::write_source`],
//! [`Store::write_endpoint`], [`Store::delete_source`] and [`Store::delete_endpoint`] (each
//! enqueues the matching `switchyard.config.*` event in the same unit of work; see
//! [`config`]), and stores what it consumes from the DLQ with [`Store::insert_dead_letters`],
//! then lists and redrives it; the outbox relay drives [`Store::claim_outbox`] (see
//! [`outbox`]) and wakes on [`Store::watch_outbox`]. It is not a general repository layer: it
//! holds only the tables that the event flows of DESIGN §1 and the gateway's API rest on, and
//! no business logic (a source's or endpoint's spec is opaque JSON here, its secrets sealed
//! by the gateway before they arrive).
//!
//! # Engines
//!
//! Every operation is a whole unit of work behind the [`Backend`] trait, so both engines give
//! the same answers; one test suite (`tests/suite`) runs against each.
//!
//! - **PostgreSQL** for any other `database.url`: pools, migrations, SQL files. Tests and
//!   tools reach its pools through [`Store::postgres`]; a service with rows of its own to
//!   commit beside an event uses [`outbox::enqueue`] inside its own transaction.
//! - **Memory** for `database.url = "memory://<name>"`, e.g. `memory://dev`: [`Store::connect`]
//!   returns the process's store of that name, created on first use, so services running in
//!   one process share it as they would share a database, and distinct names are isolated
//!   (tests use unique names). It is ready at once ([`Opening::try_open`] succeeds), has no
//!   migrations, wakes relays on every enqueue, and forgets everything when the process ends.
//!   It is bounded for a laptop: at most [`memory::MAX_EVENTS`] events,
//!   [`memory::MAX_DELIVERY_ATTEMPTS`] delivery attempts and [`memory::MAX_DEAD_LETTERS`] dead
//!   letters (beyond each, the oldest stored is dropped, as retention would), at most
//!   [`memory::MAX_PENDING_OUTBOX`] outbox rows waiting for a relay (beyond it an enqueue is
//!   refused with the transient [`StoreError::Full`]), and published outbox rows kept for
//!   idempotency until pruned or beyond [`memory::MAX_PUBLISHED_OUTBOX`].
//!
//! ```no_run
//! use switchyard_store::{Store, StoreError};
//! # async fn example(
//! #     settings: &switchyard_runtime::settings::DatabaseSettings,
//! #     event: &switchyard_domain::Event,
//! # ) -> Result<(), StoreError> {
//! let store = Store::connect(settings).await?;
//! store.migrate().await?;
//! // One unit of work: the event is in the outbox, and the relay will publish it.
//! let outcomes = store.enqueue(&[event]).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Design choices, and why:
//!
//! - **Units of work, not transactions, at the seam.** A trait that handed out transactions
//!   would force the memory engine to implement MVCC; whole operations (a configuration write
//!   with its event, a relay's claim held until commit) are what services need, and each
//!   engine makes them atomic its own way: a transaction, or one lock.
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
//!   nanoseconds of `time` that `timestamptz` cannot hold (kept in `time_nanos`). Listings
//!   order and filter by the time at microsecond precision in both engines.
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
//!   per matching type ([`Store::list_events`]; measured in `postgres/events_list.rs`).

pub mod backend;
pub mod config;
mod dead_letters;
mod deliveries;
mod error;
mod events;
pub mod memory;
mod opening;
pub mod outbox;
pub mod postgres;
mod readiness;
mod store;

pub use backend::{Announce, Backend};
pub use config::ConfigRow;
pub use dead_letters::{
    DeadLetter, DeadLetterCursor, DeadLetterFilter, DeadLetterPage, NewDeadLetter,
};
pub use deadpool_postgres::{Client, GenericClient, Pool, Transaction};
pub use error::StoreError;
pub use events::{Cursor, EventFilter, EventPage, MAX_PAGE_SIZE, Order};
pub use opening::{Opening, OpeningReady};
pub use outbox::Route;
pub use postgres::{PgStore, migrate::AppliedMigration};
pub use readiness::DatabaseReady;
pub use store::{MEMORY_SCHEME, Store};
