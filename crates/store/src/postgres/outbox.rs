//! The transactional outbox on PostgreSQL: enqueue inside a caller's transaction, claims
//! under per-tenant advisory locks with `FOR UPDATE SKIP LOCKED`, set-aside and marks in the
//! claiming transaction. The protocol and its guarantees are in [`crate::outbox`].

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient, Object, Transaction};
use futures::future::join_all;
use switchyard_domain::Event;
use tokio_postgres::Row;

use super::{
    PgStore,
    event_row::{EVENT_COLUMN_COUNT, EventParams, event_from_row, raw_record},
    timing::timed,
};
use crate::{
    backend::{OutboxClaim, Outgoing},
    error::StoreError,
    outbox::{Backlog, Claimed, EnqueueOutcome, OutboxEntry, Route, UndecodableRow},
};

/// Advisory lock class of the per-tenant relay locks ("SYOB"); the second key is the
/// tenant's `hashtext`.
const TENANT_LOCK_CLASS: i32 = 0x5359_4f42;

/// Adds `event` to the outbox as part of `client`'s transaction, and notifies
/// [`crate::outbox::NOTIFY_CHANNEL`] when that transaction commits.
///
/// For a service that writes rows of its own in the same PostgreSQL transaction; with
/// nothing else to write, [`crate::Store::enqueue`] does the whole unit of work on either
/// engine. When another transaction is enqueuing the same `(tenant, id)` and has not
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
/// route's key in place of the tenant. Refused with [`StoreError::Unstorable`], before
/// anything is sent, when the route could never be published (see [`Route`]).
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

/// Claims up to `limit` pending rows in `tx` (see [`crate::outbox`]); for a relay of the
/// caller's own, as [`crate::Store::claim_outbox`] does it.
pub async fn claim_batch(tx: &Transaction<'_>, limit: u32) -> Result<Claimed, StoreError> {
    claim_rows(tx, limit).await
}

async fn claim_rows(client: &impl GenericClient, limit: u32) -> Result<Claimed, StoreError> {
    let limit = i64::from(limit.max(1));
    // How many of the oldest pending rows to look at for tenants: wider than one batch, so a
    // relay finds a free tenant even when the head of the queue belongs to another relay.
    let scan = (limit * 4).max(256);
    timed("outbox_claim", async {
        let statement = client
            .prepare_cached(include_str!("../sql/outbox_claim.sql"))
            .await
            .map_err(|e| StoreError::postgres("outbox_claim", e))?;
        let rows = client
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
    let decode = |e| StoreError::postgres("outbox_claim", e);
    let seq: i64 = row.try_get(0).map_err(decode)?;
    let created_at: DateTime<Utc> = row.try_get(1).map_err(decode)?;
    // `outbox_route_whole` checks every insert and update, so a row has both or neither.
    let topic: Option<String> = row.try_get(ROUTE_AT).map_err(decode)?;
    let key: Option<String> = row.try_get(ROUTE_AT + 1).map_err(decode)?;
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

/// Moves the claimed `rows` from `outbox` to `outbox_failed` in the relay's transaction;
/// returns how many were moved.
pub async fn set_aside(tx: &Transaction<'_>, rows: &[UndecodableRow]) -> Result<u64, StoreError> {
    set_aside_in(tx, rows).await
}

async fn set_aside_in(
    client: &impl GenericClient,
    rows: &[UndecodableRow],
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let seqs: Vec<i64> = rows.iter().map(|row| row.seq).collect();
    let failures: Vec<String> = rows.iter().map(|row| row.error.to_string()).collect();
    timed("outbox_set_aside", async {
        let statement = client
            .prepare_cached(include_str!("../sql/outbox_set_aside.sql"))
            .await
            .map_err(|e| StoreError::postgres("outbox_set_aside", e))?;
        client
            .execute(&statement, &[&seqs, &failures])
            .await
            .map_err(|e| StoreError::postgres("outbox_set_aside", e))
    })
    .await
}

/// Marks the rows `seqs` published in the relay's transaction; returns how many were still
/// pending.
pub async fn mark_published(tx: &Transaction<'_>, seqs: &[i64]) -> Result<u64, StoreError> {
    mark_in(tx, seqs).await
}

async fn mark_in(client: &impl GenericClient, seqs: &[i64]) -> Result<u64, StoreError> {
    if seqs.is_empty() {
        return Ok(0);
    }
    timed("outbox_mark_published", async {
        let statement = client
            .prepare_cached(include_str!("../sql/outbox_mark_published.sql"))
            .await
            .map_err(|e| StoreError::postgres("outbox_mark_published", e))?;
        client
            .execute(&statement, &[&seqs])
            .await
            .map_err(|e| StoreError::postgres("outbox_mark_published", e))
    })
    .await
}

/// A claim: a pooled connection inside the transaction that holds the rows and tenant locks.
///
/// `BEGIN` and `COMMIT` are sent as statements rather than through a [`Transaction`], which
/// borrows its connection and so could not travel with it in one value. Dropped while the
/// transaction is open (the relay's task was cancelled), the connection is taken out of the
/// pool and closed, and PostgreSQL rolls back: a pooled connection must never be handed to
/// someone else mid-transaction.
struct PgClaim {
    client: Option<Client>,
    claimed: Claimed,
}

impl Drop for PgClaim {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}

impl PgClaim {
    fn client(&self) -> Result<&Client, StoreError> {
        self.client.as_ref().ok_or(StoreError::PoolClosed)
    }
}

#[async_trait]
impl OutboxClaim for PgClaim {
    fn claimed(&self) -> &Claimed {
        &self.claimed
    }

    async fn mark(&mut self) -> Result<(), StoreError> {
        let client = self.client()?;
        set_aside_in(client, &self.claimed.undecodable).await?;
        let seqs: Vec<i64> = self.claimed.entries.iter().map(|e| e.seq).collect();
        mark_in(client, &seqs).await?;
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<Claimed, StoreError> {
        self.client()?
            .batch_execute("COMMIT")
            .await
            .map_err(|e| StoreError::postgres("outbox_commit", e))?;
        // Committed: the connection is clean and goes back to the pool.
        drop(self.client.take());
        Ok(std::mem::take(&mut self.claimed))
    }

    async fn release(mut self: Box<Self>) {
        let Some(client) = self.client.take() else {
            return;
        };
        match client.batch_execute("ROLLBACK").await {
            Ok(()) => drop(client),
            // The connection is broken: the server rolls back as it closes.
            Err(error) => {
                tracing::debug!(%error, "rollback of an outbox claim did not complete");
                drop(Object::take(client));
            }
        }
    }
}

impl PgStore {
    /// One transaction, the inserts issued together so they travel pipelined on the one
    /// connection, then one commit (and one notification per new row on commit).
    pub(super) async fn enqueue(
        &self,
        rows: &[Outgoing<'_>],
    ) -> Result<Vec<EnqueueOutcome>, StoreError> {
        let mut client = self.primary.get().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| StoreError::postgres("begin", e))?;
        let outcomes = join_all(rows.iter().map(|row| insert(&tx, row.event, row.route)))
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit()
            .await
            .map_err(|e| StoreError::postgres("commit", e))?;
        Ok(outcomes)
    }

    pub(super) async fn claim_outbox(
        &self,
        limit: u32,
    ) -> Result<Box<dyn OutboxClaim>, StoreError> {
        let client = self.primary.get().await?;
        client
            .batch_execute("BEGIN")
            .await
            .map_err(|e| StoreError::postgres("begin", e))?;
        let mut claim = PgClaim {
            client: Some(client),
            claimed: Claimed::default(),
        };
        // On error `claim` is dropped, closing the connection and its transaction with it.
        let claimed = claim_rows(claim.client()?, limit).await?;
        claim.claimed = claimed;
        Ok(Box::new(claim))
    }

    pub(super) async fn prune_published(
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

    /// Reads only the partial index of pending rows: the count stops at `cap`, and the
    /// oldest pending row is the index's first entry.
    pub(super) async fn outbox_backlog(&self, cap: i64) -> Result<Backlog, StoreError> {
        timed("outbox_backlog", async {
            let decode = |e| StoreError::postgres("outbox_backlog", e);
            let client = self.primary.get().await?;
            let statement = client
                .prepare_cached(include_str!("../sql/outbox_backlog.sql"))
                .await
                .map_err(decode)?;
            let row = client
                .query_one(&statement, &[&cap])
                .await
                .map_err(decode)?;
            Ok(Backlog {
                pending: row.try_get(0).map_err(decode)?,
                oldest: row.try_get(1).map_err(decode)?,
                failed: row.try_get(2).map_err(decode)?,
            })
        })
        .await
    }
}
