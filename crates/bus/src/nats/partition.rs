//! One partition's reader: pulls the durable consumer of (group, partition) and handles its
//! records in order while this member holds the partition's lease (`consumer.rs` opens it).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_nats::jetstream::{
    self, AckKind,
    consumer::{PullConsumer, pull},
    kv,
};
use futures::StreamExt as _;
use tokio::{sync::watch, time::Instant};
use tokio_util::sync::CancellationToken;

use super::{BACKEND, Config, codec, unavailable, within};
use crate::{
    BusError, Delivery, Position,
    process::{Done, Processor},
};

/// What the partition readers of one member share.
pub(super) struct Shared {
    pub(super) js: jetstream::Context,
    pub(super) cursors: kv::Store,
    pub(super) config: Arc<Config>,
    pub(super) processor: Arc<Processor>,
    pub(super) epoch: watch::Receiver<u64>,
    /// How long one pull waits for records.
    pub(super) fetch_wait: Duration,
    /// Headroom a pull must leave before the lease could expire.
    pub(super) lease_margin: Duration,
    /// Deadline of one server call.
    pub(super) op_timeout: Duration,
}

/// Reads one partition while its lease lasts.
pub(super) struct Reader {
    pub(super) shared: Arc<Shared>,
    pub(super) topic: String,
    pub(super) partition: u32,
    pub(super) cursor_key: String,
    /// Until when the lease surely holds (last renewal sent + TTL).
    pub(super) lease: watch::Receiver<Instant>,
    /// Fires when the partition is given up, lost, or the member stops.
    pub(super) stop: CancellationToken,
    /// Stream sequence of the last record this member finished in this partition (0: none);
    /// kept by the member across readers, since only it knows what it handled.
    pub(super) finished: Arc<AtomicU64>,
    /// Records of the partition the group has not received yet (see [`lag_gauge`]).
    pub(super) lag: metrics::Gauge,
}

/// Why a session ended.
enum End {
    Stopped,
    Reconnected,
    Failed(BusError),
}

impl Reader {
    /// Reads until `stop`, starting a new session after every failure or reconnect.
    pub(super) async fn run(&self) {
        let mut failures = 0u32;
        while !self.stop.is_cancelled() {
            let epoch = *self.shared.epoch.borrow();
            let started = Instant::now();
            let end = match self.open().await {
                Ok(consumer) => self.session(&consumer, epoch).await,
                Err(error) => End::Failed(error),
            };
            let error = match end {
                End::Stopped => return,
                End::Reconnected => {
                    tracing::debug!(topic = %self.topic, partition = self.partition, "reconnected; reopening the consumer");
                    continue;
                }
                End::Failed(error) => error,
            };
            if started.elapsed() > self.shared.config.lease_ttl {
                failures = 0;
            }
            failures = failures.saturating_add(1);
            // Once per outage and then now and again, not once per partition per retry.
            if failures == 1 || failures.is_multiple_of(20) {
                tracing::warn!(%error, topic = %self.topic, partition = self.partition, failures, "partition reader failed; retrying");
            } else {
                tracing::debug!(%error, topic = %self.topic, partition = self.partition, failures, "partition reader failed; retrying");
            }
            let wait =
                Duration::from_millis(100 * 2u64.pow(failures.min(5))).min(Duration::from_secs(2));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.stop.cancelled() => return,
            }
        }
    }

    /// Pulls and handles records in order until stopped, reconnected or failed.
    async fn session(&self, consumer: &PullConsumer, epoch: u64) -> End {
        let mut lease = self.lease.clone();
        // The last record acknowledged without the server's confirmation.
        let mut unconfirmed = None;
        let end = loop {
            if self.stop.is_cancelled() {
                break End::Stopped;
            }
            if *self.shared.epoch.borrow() != epoch {
                break End::Reconnected;
            }
            let fresh_until = *lease.borrow_and_update();
            if Instant::now() + self.shared.fetch_wait + self.shared.lease_margin > fresh_until {
                // Not sure the lease outlasts a pull: wait for a renewal.
                tokio::select! {
                    _ = lease.changed() => {}
                    () = tokio::time::sleep(self.shared.fetch_wait) => {}
                    () = self.stop.cancelled() => {}
                }
                continue;
            }
            let pull = consumer
                .batch()
                .max_messages(self.shared.config.fetch_batch)
                .expires(self.shared.fetch_wait)
                .messages();
            let batch = match within(self.shared.op_timeout, pull).await {
                Ok(Ok(batch)) => batch,
                Ok(Err(e)) => break End::Failed(unavailable("pull", e)),
                Err(timeout) => break End::Failed(timeout),
            };
            if let Err(end) = self.drain(batch, &mut unconfirmed).await {
                break end;
            }
        };
        if let (End::Stopped, Some(message)) = (&end, unconfirmed) {
            // The next owner looks at the consumer right after we let go: make sure the
            // server has counted our last acknowledgement (and every one before it).
            if !matches!(
                within(self.shared.op_timeout, message.double_ack()).await,
                Ok(Ok(()))
            ) {
                tracing::debug!(topic = %self.topic, partition = self.partition, "last acknowledgement not confirmed; the next owner may see it again");
            }
        }
        end
    }

    /// Handles the records of one pull as they arrive.
    async fn drain(
        &self,
        mut batch: pull::Batch,
        unconfirmed: &mut Option<jetstream::Message>,
    ) -> Result<(), End> {
        // The server ends a pull when it expires; past that (plus slack) the pull is lost.
        let patience = self.shared.fetch_wait + self.shared.op_timeout;
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(patience, batch.next()) => next,
                () = self.stop.cancelled() => return Err(End::Stopped),
            };
            let message = match next {
                Ok(None) => return Ok(()),
                Ok(Some(Ok(message))) => message,
                Ok(Some(Err(e))) => return Err(End::Failed(unavailable("pull", e))),
                Err(_) => {
                    return Err(End::Failed(unavailable(
                        "pull",
                        "no answer to the pull request",
                    )));
                }
            };
            let Ok((sequence, behind)) = message
                .info()
                .map(|info| (info.stream_sequence, info.pending))
            else {
                tracing::warn!(topic = %self.topic, partition = self.partition, "message without JetStream metadata skipped");
                continue;
            };
            if sequence <= self.finished.load(Ordering::Relaxed) {
                // Already handled by this member: an acknowledgement lost with a connection
                // or a lease, or one the server had not counted yet when it was rewound.
                self.ack(&message, AckKind::Ack).await;
                continue;
            }
            let delivery = Delivery {
                topic: self.topic.clone(),
                partition: self.partition,
                position: Position::Sequence(sequence),
                message: codec::record(message.headers.as_ref(), message.payload.clone()),
                attempt: 1,
            };
            if self.process(&message, delivery).await.is_err() {
                return Err(End::Stopped); // stopped mid-record: not acknowledged, delivered again
            }
            self.ack(&message, AckKind::Ack).await;
            self.finished.store(sequence, Ordering::Relaxed);
            #[allow(clippy::cast_precision_loss)]
            self.lag.set(behind as f64);
            *unconfirmed = Some(message);
            if self.stop.is_cancelled() {
                return Err(End::Stopped);
            }
        }
    }

    /// Runs the handler, telling the server every third of `ack_wait` that the record is
    /// still being worked on, so a slow handler is not mistaken for a dead one.
    async fn process(
        &self,
        message: &jetstream::Message,
        delivery: Delivery,
    ) -> Result<Done, BusError> {
        let every = self.shared.config.ack_wait / 3;
        let mut progress = tokio::time::interval_at(Instant::now() + every, every);
        let work = self.shared.processor.process(delivery, &self.stop);
        tokio::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return done,
                _ = progress.tick() => self.ack(message, AckKind::Progress).await,
            }
        }
    }

    /// Sends an acknowledgement. A lost one costs a redelivery, never a record, so it is
    /// bounded in time and not retried.
    async fn ack(&self, message: &jetstream::Message, kind: AckKind) {
        let limit = self.shared.op_timeout.min(Duration::from_millis(500));
        if !matches!(within(limit, message.ack_with(kind)).await, Ok(Ok(()))) {
            tracing::debug!(topic = %self.topic, partition = self.partition, "acknowledgement not sent");
        }
    }
}

/// `switchyard_bus_consumer_lag` of one partition: the records not yet delivered to the group,
/// as the server counts them at each delivery (and, on opening, the unacknowledged ones too).
pub(super) fn lag_gauge(group: &str, topic: &str, partition: u32) -> metrics::Gauge {
    metrics::gauge!(
        "switchyard_bus_consumer_lag",
        "backend" => BACKEND,
        "topic" => topic.to_owned(),
        "partition" => partition.to_string(),
        "group" => group.to_owned()
    )
}
