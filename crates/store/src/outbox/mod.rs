//! The transactional outbox: a service writes its own rows and the event it publishes in one
//! unit of work, and the outbox relay publishes committed rows to `switchyard.events`, or, for
//! a row with a [`Route`], to the topic and under the key the route names.
//!
//! # Writer side
//! [`crate::Store::enqueue`] (a batch of events, one atomic unit), or the configuration
//! writes, which enqueue their change event routed in the unit that writes the entity. On
//! PostgreSQL a service with rows of its own calls [`enqueue`] or [`enqueue_routed`] inside
//! its transaction instead: if it rolls back, the event never existed; if it commits, the
//! relay will publish it (at least once). The `(tenant, event id)` pair is the idempotency
//! key, routed or not: a second enqueue of it is [`EnqueueOutcome::AlreadyEnqueued`] and
//! writes nothing, for as long as the first row is in the outbox (published rows are pruned
//! after `outbox.retain_published_secs`; a row set aside no longer counts).
//!
//! # Relay side
//! One relay iteration is one unit of work, a transaction on PostgreSQL:
//!
//! ```text
//! claim_outbox(n)        rows of the tenants this relay now owns, by seq
//! publish each, in order, and wait for the broker's acks
//! mark()                 the entries published, the rows that no longer decode set aside
//! commit()               releases the rows and the tenants
//! ```
//!
//! ```no_run
//! use switchyard_store::{Store, StoreError};
//! # async fn publish(_: &switchyard_domain::Event) -> Result<(), StoreError> { Ok(()) }
//! # async fn relay_once(store: &Store) -> Result<usize, StoreError> {
//! let mut batch = store.claim_outbox(500).await?;
//! for entry in &batch.claimed().entries {
//!     if let Err(error) = publish(&entry.event).await {
//!         // Nothing is marked: the rows stay pending and are claimed again.
//!         batch.release().await;
//!         return Err(error);
//!     }
//! }
//! // Rows that no longer decode (PostgreSQL only): report them (the relay dead-letters
//! // them); `mark` sets them aside.
//! batch.mark().await?;
//! let claimed = batch.commit().await?;
//! # Ok(claimed.len())
//! # }
//! ```
//!
//! A relay must keep a tenant's rows in the returned order and, if one publish fails, must
//! not mark any later row of that tenant (releasing the whole batch is the simple choice).
//!
//! The in-memory engine gives the same guarantees under one lock: a claim owns its tenants
//! until it commits or is released (or dropped), other claims skip them, and marks apply at
//! commit. The pitfalls the PostgreSQL design handles:
//!
//! - **Per-tenant order with several relays.** A claim takes a transaction-level
//!   advisory lock per tenant (`pg_try_advisory_xact_lock(class, hashtext(tenant))`) and
//!   returns rows only of tenants whose lock it obtained, trying tenants in the order of
//!   their oldest pending row and stopping once it has enough for a batch (so the tenants it
//!   does not need stay free for the other relay). While relay A holds tenant T,
//!   relay B claims none of T's rows, not even newer ones, so B can never publish T's row 3
//!   before A has published rows 1 and 2. Different tenants proceed in parallel (two tenants
//!   whose hashes collide merely share a lock). Within a batch the relay must keep a
//!   tenant's rows in the returned order and, if one publish fails, must not mark any later
//!   row of that tenant (rolling the transaction back is the simple choice).
//! - **An older seq committing after a newer one was published.** Sequence numbers are
//!   taken at insert, rows become visible at commit, so seq 7 may commit after seq 8 was
//!   published. Rows are selected by `published_at IS NULL`, never by "seq above the last
//!   one published", so seq 7 is picked up by the next claim instead of being skipped for
//!   good. (Such a row has no order to keep with seq 8: the two transactions were
//!   concurrent, and the commit order is the only order they have.)
//! - **A relay dying after publish, before commit.** Its transaction rolls back, the rows
//!   are still pending and another claim publishes them again: a duplicate with the same
//!   event id, which every consumer is built to absorb, never a loss.
//! - **A relay publishing what another just committed.** `FOR UPDATE` re-reads each row's
//!   newest committed version before returning it, so a row published by a relay that
//!   committed after this claim's snapshot was taken is dropped from the claim.
//! - **A row that no longer decodes** (edited by hand, written by an incompatible release).
//!   It can never be published, and because claims keep each tenant's order, leaving it
//!   pending would hold its tenant's later rows behind it for good. A claim returns it
//!   apart, in [`Claimed::undecodable`], with the reason and whatever could be read of it;
//!   [`ClaimedBatch::mark`] moves it to the `outbox_failed` table in the same
//!   transaction, so the tenant's next rows go out in that very batch. An operator finds it there (and the relay
//!   dead-letters it), repairs it and puts it back.

mod route;

use chrono::{DateTime, Utc};
use switchyard_domain::{Event, Message};

pub use self::route::Route;
pub use crate::postgres::outbox::{
    claim_batch, enqueue, enqueue_routed, mark_published, set_aside,
};
use crate::{backend::OutboxClaim, error::StoreError};

/// The channel PostgreSQL notifies on commit of an enqueue, with the tenant id as payload.
/// [`crate::Store::watch_outbox`] `LISTEN`s on it.
pub const NOTIFY_CHANNEL: &str = "switchyard_outbox";

/// What an enqueue did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueOutcome {
    /// A new row; the relay will publish it.
    Inserted,
    /// This tenant already enqueued an event with this id (a retried request with the same
    /// `Idempotency-Key`): nothing was written and nothing will be published again.
    AlreadyEnqueued,
}

/// An outbox row claimed by a relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Position in the outbox: rows are claimed in this order.
    pub seq: i64,
    /// When it was enqueued (for enqueue-to-publish latency).
    pub created_at: DateTime<Utc>,
    /// The event to publish.
    pub event: Event,
    /// Where to publish it: `None` for the events topic keyed by tenant.
    pub route: Option<Route>,
}

/// What a claim returned: the rows to publish and the rows to set aside.
#[derive(Debug, Default)]
pub struct Claimed {
    /// Rows that decoded, in seq order: publish them in this order.
    pub entries: Vec<OutboxEntry>,
    /// Rows that no longer decode into an event (only on PostgreSQL, where a row can be
    /// edited by hand): [`ClaimedBatch::mark`] sets them aside; left pending, they are
    /// claimed again, and hold their tenant, every time.
    pub undecodable: Vec<UndecodableRow>,
}

impl Claimed {
    /// How many rows were claimed, decodable or not.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len() + self.undecodable.len()
    }

    /// Whether nothing was claimed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.undecodable.is_empty()
    }
}

/// A claimed outbox row that cannot be turned back into an event.
#[derive(Debug)]
pub struct UndecodableRow {
    /// Position in the outbox.
    pub seq: i64,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// Why it does not decode: a [`StoreError::CorruptRow`] naming the row and the column
    /// or rule it breaks.
    pub error: StoreError,
    /// The row's route, when it had one and it could be read: where it was meant to go.
    pub route: Option<Route>,
    /// What could be read of it, laid out as [`Event::to_binary`] lays out an event (key =
    /// the route's key, else the tenant; attributes in `ce_*` headers, data as the value) but
    /// without
    /// `ce_specversion`, since it is not a valid event: something to dead-letter for an
    /// operator to look at.
    pub record: Message,
}

/// The outbox's backlog, for gauges ([`crate::Store::outbox_backlog`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Pending rows, counted up to the cap.
    pub pending: i64,
    /// When the oldest pending row was enqueued; `None` when nothing is pending.
    pub oldest: Option<DateTime<Utc>>,
    /// Rows set aside because they no longer decode, counted up to the cap.
    pub failed: i64,
}

/// The rows one relay claimed ([`crate::Store::claim_outbox`]): held, with their tenants,
/// until [`ClaimedBatch::commit`] or [`ClaimedBatch::release`]. Dropped without either, it
/// gives everything back unpublished (on PostgreSQL by closing its connection, whose
/// transaction the server then rolls back).
pub struct ClaimedBatch {
    inner: Box<dyn OutboxClaim>,
}

impl std::fmt::Debug for ClaimedBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedBatch")
            .field("claimed", self.inner.claimed())
            .finish()
    }
}

impl ClaimedBatch {
    pub(crate) fn new(inner: Box<dyn OutboxClaim>) -> Self {
        Self { inner }
    }

    /// The rows: [`Claimed::entries`] to publish in order, [`Claimed::undecodable`] to
    /// dead-letter.
    #[must_use]
    pub fn claimed(&self) -> &Claimed {
        self.inner.claimed()
    }

    /// Marks every entry published and sets every undecodable row aside (to the
    /// `outbox_failed` table), effective at [`ClaimedBatch::commit`]. Call it only once
    /// the broker acknowledged every entry.
    pub async fn mark(&mut self) -> Result<(), StoreError> {
        self.inner.mark().await
    }

    /// Makes the marks permanent and releases the rows and tenants; returns the rows. An
    /// error leaves everything pending, to be claimed again.
    pub async fn commit(self) -> Result<Claimed, StoreError> {
        self.inner.commit().await
    }

    /// Gives the rows and tenants back unpublished, at once (a failed publish).
    pub async fn release(self) {
        self.inner.release().await;
    }
}
