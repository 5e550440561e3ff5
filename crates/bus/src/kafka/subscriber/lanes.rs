//! Flow control between the poll loop and the partition workers.
//!
//! The poll loop must never wait for one partition's worker: every partition of the
//! subscription shares it, and librdkafka evicts a member that stops polling for
//! `max.poll.interval.ms`. So a worker that falls behind gets its partition paused in
//! librdkafka, and resumed once it has worked its buffer down.
//!
//! librdkafka's pause is synchronous and raises the partition's version barrier, so records of
//! it that were already fetched are discarded instead of handed out, and on resume fetching
//! starts right after the last record handed to us. The record that found the buffer full is
//! therefore the only one held here, and nothing is lost or reordered.

use std::collections::{HashMap, VecDeque};

use futures::{StreamExt as _, future::BoxFuture, stream::FuturesUnordered};
use rdkafka::{
    TopicPartitionList,
    consumer::{Consumer as _, StreamConsumer},
};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;

use super::{Context, PartitionKey};
use crate::Delivery;

/// Records buffered per partition between the poll loop and the partition's worker.
const PARTITION_BUFFER: usize = 256;

/// A paused partition resumes once its worker is down to this many records. Well below full,
/// because every pause throws away what librdkafka had prefetched for the partition.
const RESUME_AT: usize = PARTITION_BUFFER / 4;

/// Resolves once a paused partition's worker is down to `RESUME_AT` records, or is stopped.
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
    /// Records received after the buffer filled, oldest first. Not empty exactly while the
    /// partition is paused.
    held: VecDeque<Delivery>,
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
            },
        );
        records
    }

    /// Hands `delivery` to the worker of the open lane `key`; holds it and pauses the partition
    /// when the worker is behind.
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
            // Paused already. librdkafka hands out nothing more of the partition, but if it
            // did, the record would still have to wait behind the held ones.
            lane.held.push_back(delivery);
            return;
        }
        let delivery = match lane.queue.try_send(delivery) {
            Ok(()) => return,
            Err(TrySendError::Full(delivery)) => delivery,
            Err(TrySendError::Closed(_)) => {
                // The worker stopped (partition revoked); the next owner reads the record.
                self.lanes.remove(&key);
                return;
            }
        };
        if let Err(error) = consumer.pause(&partition_list(&key)) {
            // librdkafka fails a pause only for a partition it does not know. Waiting for the
            // worker stalls the other partitions, but keeps memory bounded and order intact.
            tracing::warn!(%error, topic = %key.0, partition = key.1, "cannot pause a partition whose worker is behind; waiting for it");
            if lane.queue.send(delivery).await.is_err() {
                self.lanes.remove(&key);
            }
            return;
        }
        tracing::debug!(topic = %key.0, partition = key.1, "partition paused: its worker is behind");
        lane.held.push_back(delivery);
        self.draining
            .push(drained(key, lane.queue.clone(), lane.stop.clone()));
    }

    /// The next paused partition whose worker caught up or stopped, with the queue it was
    /// paused for. `None` at once when no partition is paused; cancel-safe.
    pub(super) async fn next_drained(&mut self) -> Option<(PartitionKey, mpsc::Sender<Delivery>)> {
        self.draining.next().await
    }

    /// Hands the held records of a caught-up partition to its worker and resumes the partition.
    pub(super) fn resume(
        &mut self,
        consumer: &StreamConsumer<Context>,
        key: PartitionKey,
        paused: &mpsc::Sender<Delivery>,
    ) {
        let Some(lane) = self.lanes.get_mut(&key) else {
            return;
        };
        if !lane.queue.same_channel(paused) {
            return; // a newer lane, opened after the paused one was revoked
        }
        if lane.stop.is_cancelled() {
            // Revoked (the revocation lifted the pause, see `Context::pre_rebalance`) or
            // shutting down.
            self.lanes.remove(&key);
            return;
        }
        while let Some(delivery) = lane.held.pop_front() {
            match lane.queue.try_send(delivery) {
                Ok(()) => {}
                Err(TrySendError::Full(delivery)) => {
                    lane.held.push_front(delivery);
                    self.draining
                        .push(drained(key, lane.queue.clone(), lane.stop.clone()));
                    return;
                }
                Err(TrySendError::Closed(_)) => {
                    // The worker is gone though the partition is still ours: resume, and the
                    // next record opens a new lane.
                    self.lanes.remove(&key);
                    break;
                }
            }
        }
        match consumer.resume(&partition_list(&key)) {
            Ok(()) => tracing::debug!(topic = %key.0, partition = key.1, "partition resumed"),
            Err(error) => {
                tracing::warn!(%error, topic = %key.0, partition = key.1, "cannot resume a paused partition");
            }
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
