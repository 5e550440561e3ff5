//! Flow control between the poll loop and the partition workers.
//!
//! The poll loop must never wait for one partition's worker: every partition of the
//! subscription shares it, and librdkafka evicts a member that stops polling for
//! `max.poll.interval.ms`. A worker whose buffer is full is given `STALL_GRACE` to make
//! room — a busy one does, when it takes its next batch — and after that its records are held
//! here, and its partition is paused in librdkafka once too many are held, and resumed once
//! it has worked its backlog down.
//!
//! Pausing is not free: librdkafka raises the partition's version barrier, so records of it
//! that were already fetched are discarded instead of handed out, and on resume they are
//! fetched again (from right after the last record handed to us, so nothing is lost or
//! reordered). Pausing at the first full buffer cost a busy consumer 90% of its throughput
//! (docs/benchmarks.md, webhook-dispatcher). So a busy worker is waited for, a partition is
//! paused only once `HOLD_LIMIT` records wait for it, and resumed while half of them still
//! do: the worker has that much work in hand while the fetch starts again.

use std::collections::{HashMap, VecDeque};

use futures::{StreamExt as _, future::BoxFuture, stream::FuturesUnordered};
use rdkafka::{
    TopicPartitionList,
    consumer::{Consumer as _, StreamConsumer},
};
use tokio::sync::mpsc::{
    self,
    error::{SendTimeoutError, TrySendError},
};
use tokio_util::sync::CancellationToken;

use super::{Context, PartitionKey};
use crate::Delivery;

/// Records buffered per partition between the poll loop and the partition's worker.
const PARTITION_BUFFER: usize = 256;

/// How long the poll loop waits for a worker with a full buffer before it holds the worker's
/// records instead: longer than a busy worker takes to start its next batch, short enough
/// that a stalled one delays the other partitions only briefly (once per stall).
const STALL_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// Held records are handed on once the worker is down to this many in its buffer.
const RESUME_AT: usize = PARTITION_BUFFER / 4;

/// Records held for a partition beyond its buffer before the partition is paused: the bound
/// on a lane's memory is `PARTITION_BUFFER + HOLD_LIMIT` records.
const HOLD_LIMIT: usize = 1024;

/// A paused partition resumes once no more than this many records are held for it.
const RESUME_HELD: usize = HOLD_LIMIT / 2;

/// Resolves once a worker with held records is down to `RESUME_AT` records, or is stopped.
type Drained = BoxFuture<'static, (PartitionKey, mpsc::Sender<Delivery>)>;

/// The way from the poll loop to each partition's worker.
#[derive(Default)]
pub(super) struct Lanes {
    lanes: HashMap<PartitionKey, Lane>,
    draining: FuturesUnordered<Drained>,
}

struct Lane {
    queue: mpsc::Sender<Delivery>,
    /// The worker's token: cancelled when the partition is revoked or the subscriber stops.
    stop: CancellationToken,
    /// Records received while the buffer was full, oldest first. While it is not empty, a
    /// `drained` future is waiting to hand them on.
    held: VecDeque<Delivery>,
    /// Paused in librdkafka.
    paused: bool,
}

impl Lanes {
    /// Whether `key` has a worker taking records. A revoked partition's lane is closed even
    /// while its worker finishes the record in hand.
    pub(super) fn is_open(&self, key: &PartitionKey) -> bool {
        self.lanes
            .get(key)
            .is_some_and(|lane| !lane.stop.is_cancelled())
    }

    /// Opens the lane of `key` for a new worker stopped by `stop`, and returns the worker's end.
    pub(super) fn open(
        &mut self,
        key: PartitionKey,
        stop: CancellationToken,
    ) -> mpsc::Receiver<Delivery> {
        let (queue, records) = mpsc::channel(PARTITION_BUFFER);
        // A closed lane's held records can go: no worker saw them, so no offset at or past them
        // was stored, and they are read again from the committed offset.
        self.lanes.insert(
            key,
            Lane {
                queue,
                stop,
                held: VecDeque::new(),
                paused: false,
            },
        );
        records
    }

    /// Hands `delivery` to the worker of the open lane `key`; holds it when the worker is
    /// behind, and pauses the partition when it is far behind.
    pub(super) async fn forward(
        &mut self,
        consumer: &StreamConsumer<Context>,
        key: PartitionKey,
        delivery: Delivery,
    ) {
        let Some(lane) = self.lanes.get_mut(&key) else {
            return;
        };
        if !lane.held.is_empty() {
            // Behind already: the record waits behind the held ones.
            lane.held.push_back(delivery);
        } else {
            match lane.queue.try_send(delivery) {
                Ok(()) => return,
                Err(TrySendError::Full(delivery)) => {
                    // A busy worker makes room within one batch's time: waiting that long
                    // costs the other partitions little and keeps librdkafka's prefetch. A
                    // worker that makes no room is waiting on something else: hold and go on.
                    match lane.queue.send_timeout(delivery, STALL_GRACE).await {
                        Ok(()) => return,
                        Err(SendTimeoutError::Timeout(delivery)) => {
                            tracing::debug!(topic = %key.0, partition = key.1, "worker stalled; holding its records");
                            lane.held.push_back(delivery);
                            self.draining.push(drained(
                                key.clone(),
                                lane.queue.clone(),
                                lane.stop.clone(),
                            ));
                        }
                        Err(SendTimeoutError::Closed(_)) => {
                            self.lanes.remove(&key);
                            return;
                        }
                    }
                }
                Err(TrySendError::Closed(_)) => {
                    // The worker stopped (partition revoked); the next owner reads the record.
                    self.lanes.remove(&key);
                    return;
                }
            }
        }
        if lane.paused || lane.held.len() < HOLD_LIMIT {
            return;
        }
        if let Err(error) = consumer.pause(&partition_list(&key)) {
            // librdkafka fails a pause only for a partition it does not know. Waiting for the
            // worker stalls the other partitions, but keeps memory bounded and order intact.
            tracing::warn!(%error, topic = %key.0, partition = key.1, "cannot pause a partition whose worker is behind; waiting for it");
            while let Some(delivery) = lane.held.pop_front() {
                if lane.queue.send(delivery).await.is_err() {
                    self.lanes.remove(&key);
                    return;
                }
            }
            return;
        }
        tracing::debug!(topic = %key.0, partition = key.1, "partition paused: its worker is behind");
        lane.paused = true;
    }

    /// The next paused partition whose worker caught up or stopped, with the queue it was
    /// paused for. `None` at once when no partition is paused; cancel-safe.
    pub(super) async fn next_drained(&mut self) -> Option<(PartitionKey, mpsc::Sender<Delivery>)> {
        self.draining.next().await
    }

    /// Hands held records to a worker that caught up, and resumes its partition once few
    /// enough are left.
    pub(super) fn resume(
        &mut self,
        consumer: &StreamConsumer<Context>,
        key: &PartitionKey,
        paused: &mpsc::Sender<Delivery>,
    ) {
        let Some(lane) = self.lanes.get_mut(key) else {
            return;
        };
        if !lane.queue.same_channel(paused) {
            return; // a newer lane, opened after the paused one was revoked
        }
        if lane.stop.is_cancelled() {
            // Revoked (the revocation lifted any pause, see `Context::pre_rebalance`) or
            // shutting down.
            self.lanes.remove(key);
            return;
        }
        while let Some(delivery) = lane.held.pop_front() {
            match lane.queue.try_send(delivery) {
                Ok(()) => {}
                Err(TrySendError::Full(delivery)) => {
                    lane.held.push_front(delivery);
                    self.draining
                        .push(drained(key.clone(), lane.queue.clone(), lane.stop.clone()));
                    break;
                }
                Err(TrySendError::Closed(_)) => {
                    // The worker is gone though the partition is still ours: resume, and the
                    // next record opens a new lane.
                    lane.held.clear();
                    break;
                }
            }
        }
        if lane.paused && lane.held.len() <= RESUME_HELD {
            lane.paused = false;
            match consumer.resume(&partition_list(key)) {
                Ok(()) => tracing::debug!(topic = %key.0, partition = key.1, "partition resumed"),
                Err(error) => {
                    tracing::warn!(%error, topic = %key.0, partition = key.1, "cannot resume a paused partition");
                }
            }
        }
        if lane.held.is_empty() && lane.queue.is_closed() {
            self.lanes.remove(key);
        }
    }
}

fn drained(key: PartitionKey, queue: mpsc::Sender<Delivery>, stop: CancellationToken) -> Drained {
    Box::pin(async move {
        tokio::select! {
            // Room for all but `RESUME_AT` records is the worker down to `RESUME_AT`. The
            // permits go straight back: nothing else is sent to a paused partition.
            _ = queue.reserve_many(PARTITION_BUFFER - RESUME_AT) => {}
            () = stop.cancelled() => {}
        }
        (key, queue)
    })
}

fn partition_list((topic, partition): &PartitionKey) -> TopicPartitionList {
    let mut list = TopicPartitionList::with_capacity(1);
    list.add_partition(topic, *partition);
    list
}
