//! The transactional outbox: a service writes its own rows and the event it publishes in one
//! transaction, and the outbox relay publishes committed rows to `switchyard.events`, or, for
//! a row with a [`Route`], to the topic and under the key the route names.
//!
//! # Writer side
//! [`enqueue`] (or [`enqueue_routed`]) inside the service's transaction. If the transaction
//! rolls back, the event never existed; if it commits, the relay will publish it (at least
//! once). The `NOTIFY` on [`NOTIFY_CHANNEL`] is part of the same transaction, so it fires on
//! commit only. The `(tenant, event id)` pair is the idempotency key, routed or not: a second
//! enqueue of it is [`EnqueueOutcome::AlreadyEnqueued`] and writes nothing, for as long as
//! the first row is in the outbox (published rows are pruned after
//! `outbox.retain_published_secs`; a row set aside no longer counts).
//!
//! # Relay side
//! One relay iteration is one transaction:
//!
//! ```text
//! BEGIN
//!   claim_batch(tx, n)          rows of the tenants this relay now owns, by seq
//!   publish each, in order, and wait for the broker's acks
//!   set_aside(tx, rows)         the claimed rows that no longer decode (see below)
//!   mark_published(tx, seqs)    only the rows whose publish was acknowledged
//! COMMIT                        releases the rows and the tenants
//! ```
//!
//! ```no_run
//! use switchyard_store::{Store, StoreError, outbox};
//! # async fn publish(_: &switchyard_domain::Event) -> Result<(), StoreError> { Ok(()) }
//! # async fn relay_once(store: &Store) -> Result<usize, StoreError> {
//! let mut client = store.client().await?;
//! let tx = client.transaction().await.map_err(|e| StoreError::postgres("begin", e))?;
//! let claimed = outbox::claim_batch(&tx, 500).await?;
//! for entry in &claimed.entries {
//!     // An error returns early: `tx` is dropped, rolls back, and the rows stay pending.
//!     publish(&entry.event).await?;
//! }
//! // Rows that no longer decode: report them (the relay dead-letters them), then:
//! outbox::set_aside(&tx, &claimed.undecodable).await?;
//! let seqs: Vec<i64> = claimed.entries.iter().map(|entry| entry.seq).collect();
//! outbox::mark_published(&tx, &seqs).await?;
//! tx.commit().await.map_err(|e| StoreError::postgres("commit", e))?;
//! # Ok(claimed.len())
//! # }
//! ```
//!
//! The pitfalls this design handles:
//!
//! - **Per-tenant order with several relays.** [`claim_batch`] takes a transaction-level
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
//!   pending would hold its tenant's later rows behind it for good. [`claim_batch`] returns
//!   it apart, in [`Claimed::undecodable`], with the reason and whatever could be read of it;
//!   [`set_aside`] moves it to the `outbox_failed` table in the same transaction, so the
//!   tenant's next rows go out in that very batch. An operator finds it there (and the relay
//!   dead-letters it), repairs it and puts it back.

mod route;

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use switchyard_domain::{Event, Message};
use tokio_postgres::Row;

pub use self::route::Route;
use crate::{
    Store,
    error::StoreError,
    event_row::{EVENT_COLUMN_COUNT, EventParams, event_from_row, raw_record},
    timing::timed,
};

/// The channel [`enqueue`] notifies on commit, with the tenant id as payload. A relay
/// `LISTEN`s on it to wake early, and still polls, because a notification is lost while no
/// relay is connected.
pub const NOTIFY_CHANNEL: &str = "switchyard_outbox";

/// Advisory lock class of the per-tenant relay locks ("SYOB"); the second key is the
/// tenant's `hashtext`.
const TENANT_LOCK_CLASS: i32 = 0x5359_4f42;

/// What [`enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueOutcome {
    /// A new row; it will be published after the transaction commits.
    Inserted,
    /// This tenant already enqueued an event with this id (a retried request with the same
    /// `Idempotency-Key`): nothing was written and nothing will be published again.
    AlreadyEnqueued,
}

/// An outbox row claimed by a relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Position in the outbox; pass it to [`mark_published`].
    pub seq: i64,
    /// When it was enqueued (for enqueue-to-publish latency).
    pub created_at: DateTime<Utc>,
    /// The event to publish.
    pub event: Event,
    /// Where to publish it: `None` for the events topic keyed by tenant.
    pub route: Option<Route>,
}

/// What [`claim_batch`] claimed: the rows to publish and the rows to set aside.
#[derive(Debug, Default)]
pub struct Claimed {
    /// Rows that decoded, in seq order: publish them in this order.
    pub entries: Vec<OutboxEntry>,
    /// Rows that no longer decode into an event: pass them to [`set_aside`] before
    /// committing, or they are claimed again, and hold their tenant, every time.
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

/// Adds `event` to the outbox as part of `client`'s transaction, and notifies
/// [`NOTIFY_CHANNEL`] when that transaction commits.
///
/// Call it with the [`Transaction`] that writes the service's own rows so both commit or
/// neither does. When another transaction is enqueuing the same `(tenant, id)` and has not
/// finished, this waits for it, then reports [`EnqueueOutcome::AlreadyEnqueued`] if it
/// committed.
#[tracing::instrument(skip_all, fields(tenant = %event.tenant(), event_id = %event.id()))]
pub async fn enqueue(
    client: &impl GenericClient,
    event: &Event,
) -> Result<EnqueueOutcome, StoreError> {
    insert(client, event, None).await
}

/// Like [`enqueue`], but the relay publishes the event to the topic of `route` with the
/// route's key in place of the tenant; headers and value are the event's as on the events
/// topic. The event id shares its tenant's idempotency space with every other outbox row.
///
/// Refused with [`StoreError::Unstorable`], before anything is sent, when the route could
/// never be published (see [`Route`]).
#[tracing::instrument(skip_all, fields(tenant = %event.tenant(), event_id = %event.id(), topic = %route.topic_suffix))]
pub async fn enqueue_routed(
    client: &impl GenericClient,
    event: &Event,
    route: &Route,
) -> Result<EnqueueOutcome, StoreError> {
    route.check(event)?;
    insert(client, event, Some(route)).await
}

async fn insert(
    client: &impl GenericClient,
    event: &Event,
    route: Option<&Route>,
) -> Result<EnqueueOutcome, StoreError> {
    let row = EventParams::new(event)?;
    let topic = route.map(|r| r.topic_suffix.as_str());
    let key = route.map(|r| r.key.as_str());
    let mut params = Vec::with_capacity(EVENT_COLUMN_COUNT + 2);
    params.extend_from_slice(&row.params());
    params.push(&topic);
    params.push(&key);
    timed("outbox_enqueue", async {
        let statement = client
            .prepare_cached(include_str!("../sql/outbox_enqueue.sql"))
            .await
            .map_err(|e| StoreError::postgres("outbox_enqueue", e))?;
        let notified = client
            .query(&statement, &params)
            .await
            .map_err(|e| StoreError::postgres("outbox_enqueue", e))?;
        Ok(if notified.is_empty() {
            EnqueueOutcome::AlreadyEnqueued
        } else {
            EnqueueOutcome::Inserted
        })
    })
    .await
}

/// Claims up to `limit` pending rows, oldest first, for the relay holding `tx`; see the
/// [module documentation](self) for the protocol and the guarantees.
///
/// The rows and their tenants stay claimed until `tx` ends: publish [`Claimed::entries`],
/// [`set_aside`] the [`Claimed::undecodable`] ones, call [`mark_published`], then commit.
/// An empty result means nothing is pending or every pending tenant is owned by another
/// relay right now. A row that does not decode is never an error here: the rest of the
/// batch, its tenant's later rows included, is returned beside it.
pub async fn claim_batch(tx: &Transaction<'_>, limit: u32) -> Result<Claimed, StoreError> {
    let limit = i64::from(limit.max(1));
    // How many of the oldest pending rows to look at for tenants: wider than one batch, so a
    // relay finds a free tenant even when the head of the queue belongs to another relay.
    let scan = (limit * 4).max(256);
    timed("outbox_claim", async {
        let statement = tx
            .prepare_cached(include_str!("../sql/outbox_claim.sql"))
            .await
            .map_err(|e| StoreError::postgres("outbox_claim", e))?;
        let rows = tx
            .query(&statement, &[&limit, &scan, &TENANT_LOCK_CLASS])
            .await
            .map_err(|e| StoreError::postgres("outbox_claim", e))?;
        let mut claimed = Claimed::default();
        for row in &rows {
            claim_row(row, &mut claimed)?;
        }
        Ok(claimed)
    })
    .await
}

/// Where `outbox_claim.sql` returns `topic` and `key`: after seq, created_at and the event.
const ROUTE_AT: usize = 2 + EVENT_COLUMN_COUNT;

/// Sorts one row of the claim into [`Claimed`].
fn claim_row(row: &Row, claimed: &mut Claimed) -> Result<(), StoreError> {
    let seq: i64 = row
        .try_get(0)
        .map_err(|e| StoreError::postgres("outbox_claim", e))?;
    let created_at = row
        .try_get(1)
        .map_err(|e| StoreError::postgres("outbox_claim", e))?;
    // `outbox_route_whole` checks every insert and update, so a row has both or neither.
    let topic: Option<String> = row
        .try_get(ROUTE_AT)
        .map_err(|e| StoreError::postgres("outbox_claim", e))?;
    let key: Option<String> = row
        .try_get(ROUTE_AT + 1)
        .map_err(|e| StoreError::postgres("outbox_claim", e))?;
    let route = topic
        .zip(key)
        .map(|(topic_suffix, key)| Route { topic_suffix, key });
    match event_from_row("outbox", row, 2) {
        Ok(event) => claimed.entries.push(OutboxEntry {
            seq,
            created_at,
            event,
            route,
        }),
        // The row is already in memory: whatever failed is in its values, so this is a
        // corrupt row whatever the error says.
        Err(error) => claimed.undecodable.push(UndecodableRow {
            seq,
            created_at,
            error: match error {
                corrupt @ StoreError::CorruptRow { .. } => corrupt,
                other => StoreError::CorruptRow {
                    what: format!("outbox seq {seq}"),
                    reason: other.to_string(),
                },
            },
            record: {
                let mut record = raw_record(row, 2);
                if let Some(route) = &route {
                    record.key = Some(Bytes::from(route.key.clone()));
                }
                record
            },
            route,
        }),
    }
    Ok(())
}

/// Moves the claimed `rows` from `outbox` to `outbox_failed`, each with its error as the
/// `failure`, in the relay's transaction `tx`; returns how many were moved. Takes effect when
/// `tx` commits, and from then on no claim returns them.
pub async fn set_aside(tx: &Transaction<'_>, rows: &[UndecodableRow]) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let seqs: Vec<i64> = rows.iter().map(|row| row.seq).collect();
    let failures: Vec<String> = rows.iter().map(|row| row.error.to_string()).collect();
    timed("outbox_set_aside", async {
        let statement = tx
            .prepare_cached(include_str!("../sql/outbox_set_aside.sql"))
            .await
            .map_err(|e| StoreError::postgres("outbox_set_aside", e))?;
        tx.execute(&statement, &[&seqs, &failures])
            .await
            .map_err(|e| StoreError::postgres("outbox_set_aside", e))
    })
    .await
}

/// Marks the rows `seqs` published, in the relay's transaction `tx`; returns how many were
/// still pending. Takes effect when `tx` commits.
pub async fn mark_published(tx: &Transaction<'_>, seqs: &[i64]) -> Result<u64, StoreError> {
    if seqs.is_empty() {
        return Ok(0);
    }
    timed("outbox_mark_published", async {
        let statement = tx
            .prepare_cached(include_str!("../sql/outbox_mark_published.sql"))
            .await
            .map_err(|e| StoreError::postgres("outbox_mark_published", e))?;
        tx.execute(&statement, &[&seqs])
            .await
            .map_err(|e| StoreError::postgres("outbox_mark_published", e))
    })
    .await
}

impl Store {
    /// Deletes rows published more than `older_than` ago, `chunk` per statement, and
    /// returns how many were deleted. Pending rows are never touched, however old.
    pub async fn prune_published(
        &self,
        older_than: Duration,
        chunk: u32,
    ) -> Result<u64, StoreError> {
        self.prune_in_chunks(
            "outbox_prune",
            include_str!("../sql/outbox_prune.sql"),
            older_than,
            chunk,
        )
        .await
    }
}
