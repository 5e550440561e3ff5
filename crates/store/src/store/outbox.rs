//! [`Store`]'s outbox operations: enqueue, the relay's claims, pruning, backlog, wake-ups.

use std::time::Duration;

use switchyard_domain::Event;
use switchyard_runtime::Shutdown;
use tokio::sync::Notify;

use super::Store;
use crate::{
    StoreError,
    backend::Outgoing,
    events::check_storable,
    outbox::{Backlog, ClaimedBatch, EnqueueOutcome, Route},
};

impl Store {
    /// Puts `events` in the outbox in one atomic unit (one transaction on PostgreSQL), each
    /// for the events topic keyed by its tenant; the relay publishes them once this
    /// returns. Per event, in order: [`EnqueueOutcome::AlreadyEnqueued`] when its
    /// `(tenant, id)` is in the outbox already (a retried `Idempotency-Key`). An event
    /// that cannot be stored fails the whole call, which writes nothing.
    #[tracing::instrument(skip_all, fields(events = events.len()))]
    pub async fn enqueue(&self, events: &[&Event]) -> Result<Vec<EnqueueOutcome>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<Outgoing<'_>> = events
            .iter()
            .map(|event| {
                check_storable(event)?;
                Ok(Outgoing { event, route: None })
            })
            .collect::<Result<_, StoreError>>()?;
        self.backend.enqueue(&rows).await
    }

    /// Like [`Store::enqueue`] for one event the relay publishes to the topic `route`
    /// names, under the route's key. Refused with [`StoreError::Unstorable`] when no broker
    /// could take the route.
    pub async fn enqueue_routed(
        &self,
        event: &Event,
        route: &Route,
    ) -> Result<EnqueueOutcome, StoreError> {
        check_storable(event)?;
        route.check(event)?;
        let outcomes = self
            .backend
            .enqueue(&[Outgoing {
                event,
                route: Some(route),
            }])
            .await?;
        Ok(outcomes
            .into_iter()
            .next()
            .unwrap_or(EnqueueOutcome::AlreadyEnqueued))
    }

    /// Claims up to `limit` pending outbox rows for one relay batch; see [`crate::outbox`]
    /// for the protocol and its guarantees.
    pub async fn claim_outbox(&self, limit: u32) -> Result<ClaimedBatch, StoreError> {
        self.backend
            .claim_outbox(limit.max(1))
            .await
            .map(ClaimedBatch::new)
    }

    /// Deletes outbox rows published more than `older_than` ago, `chunk` at a time, and
    /// returns how many were deleted. Pending rows are never touched, however old.
    pub async fn prune_published(
        &self,
        older_than: Duration,
        chunk: u32,
    ) -> Result<u64, StoreError> {
        self.backend.prune_published(older_than, chunk.max(1)).await
    }

    /// The outbox's pending rows (the oldest one's time) and set-aside rows, each count
    /// stopping at `cap` so a huge backlog costs a bounded amount of work.
    pub async fn outbox_backlog(&self, cap: i64) -> Result<Backlog, StoreError> {
        self.backend.outbox_backlog(cap.max(0)).await
    }

    /// Wakes one waiter of `wake` whenever rows were committed to the outbox, and once at
    /// the start, until `shutdown`. On PostgreSQL a dedicated `LISTEN` connection,
    /// reconnecting with backoff (notifications sent while it is away are lost, so a relay
    /// still polls); in memory, every enqueue.
    pub async fn watch_outbox(&self, wake: &Notify, shutdown: &Shutdown) {
        self.backend.watch_outbox(wake, shutdown).await;
    }
}
