//! The message bus every Switchyard service talks through: one publish/subscribe API and four
//! backends (Kafka, Redis Streams, NATS JetStream, memory) with the same guarantees, proved by
//! one contract suite (`tests/`).
//!
//! Guarantees on every backend: a publish returns only after the broker acknowledged the
//! record; records of one key keep their order; members of one consumer group share the
//! partitions and each record reaches one member; a record is acknowledged only after its
//! handler succeeded or it was dead-lettered, so a consumer that dies loses nothing.
//!
//! Not here: what records mean. Payloads are opaque bytes; `switchyard-domain` maps events.

mod error;
pub mod kafka;
pub mod memory;
pub mod nats;
pub mod partitioner;
mod process;
mod record;
pub mod redis;
mod subscription;
mod telemetry;

use std::{sync::Arc, time::Instant};

use async_trait::async_trait;
pub use error::BusError;
pub use process::{DLQ_ATTEMPTS, DLQ_GROUP, DLQ_ORIGIN, DLQ_REASON, DLQ_TOPIC, DeadLetter};
pub use record::{Ack, Delivery, Position};
pub use subscription::{BatchHandler, Handler, HandlerError, RetryPolicy, StartFrom, Subscription};
use switchyard_domain::Message;
use switchyard_runtime::{
    Shutdown,
    health::{CheckFuture, ReadinessCheck},
    settings::{BusBackend, BusSettings},
    trace_context,
};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Publishes records and waits for the broker's acknowledgement.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes one record; `Ok` means the broker stored it.
    async fn publish(&self, topic: &str, message: Message) -> Result<Ack, BusError>;

    /// Publishes records in order and waits for every acknowledgement. Records of one key keep
    /// their order. On error some records may have been stored (retry is safe: consumers are
    /// idempotent by event id).
    async fn publish_batch(
        &self,
        topic: &str,
        messages: Vec<Message>,
    ) -> Result<Vec<Ack>, BusError> {
        let mut acks = Vec::with_capacity(messages.len());
        for message in messages {
            acks.push(self.publish(topic, message).await?);
        }
        Ok(acks)
    }
}

/// Joins consumer groups and feeds their records to a handler.
#[async_trait]
pub trait Subscriber: Send + Sync {
    /// Processes the subscription's records until `shutdown` fires, then lets the record in
    /// hand finish, stores the acknowledged position and leaves the group.
    async fn run(
        &self,
        subscription: Subscription,
        handler: Arc<dyn Handler>,
        shutdown: CancellationToken,
    ) -> Result<(), BusError>;

    /// Like [`Subscriber::run`], but hands the handler up to `max_batch` consecutive records
    /// of a partition at once. Backends without native batching hand over one at a time.
    async fn run_batched(
        &self,
        subscription: Subscription,
        handler: Arc<dyn BatchHandler>,
        max_batch: usize,
        shutdown: CancellationToken,
    ) -> Result<(), BusError> {
        let _ = max_batch;
        self.run(
            subscription,
            Arc::new(subscription::OneByOne(handler)),
            shutdown,
        )
        .await
    }
}

/// Creates topics and checks the broker.
#[async_trait]
pub trait Admin: Send + Sync {
    /// Makes sure each topic exists with the configured partition count (idempotent).
    async fn ensure_topics(&self, topics: &[String]) -> Result<(), BusError>;
    /// Checks that the broker answers (used by `/readyz`).
    async fn ping(&self) -> Result<(), BusError>;

    /// Moves a stopped group's committed position on `topics` to `to`, so its next run
    /// replays (or skips) records. Members of the group must not be running: a running member
    /// would overwrite the position with its own. Backends that cannot seek say so with
    /// [`BusError::Config`].
    async fn reset_group(
        &self,
        group: &str,
        topics: &[String],
        to: SeekTo,
    ) -> Result<(), BusError> {
        let _ = (group, topics, to);
        Err(BusError::Config {
            backend: "bus",
            reason: "this backend cannot move a group's position".into(),
        })
    }
}

/// Where [`Admin::reset_group`] moves a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeekTo {
    /// The oldest retained record: replay everything.
    Earliest,
    /// The end: skip everything published so far.
    Latest,
    /// The first record published at or after this time.
    Time(std::time::SystemTime),
}

/// A connected bus: what services hold.
#[derive(Clone)]
pub struct Bus {
    /// Publishing, with a bounded number of records in flight.
    pub publisher: Arc<dyn Publisher>,
    /// Consumer groups.
    pub subscriber: Arc<dyn Subscriber>,
    /// Topic administration and health.
    pub admin: Arc<dyn Admin>,
}

impl Bus {
    /// Connects to the configured backend. For `memory` that is the process's own broker
    /// ([`memory::MemoryBroker::process_wide`]): services in one process (`switchyard dev`)
    /// share it as they would share a cluster; use [`Bus::memory`] for an isolated one.
    pub async fn connect(settings: &BusSettings) -> Result<Self, BusError> {
        match settings.backend {
            BusBackend::Memory => Ok(Self::memory(
                &memory::MemoryBroker::process_wide(settings.partitions),
                settings,
            )),
            BusBackend::Kafka => kafka::connect(settings),
            BusBackend::Redis => redis::connect(settings).await,
            BusBackend::Nats => nats::connect(settings).await,
        }
    }

    /// A consumer service's main loop: makes sure `topics` exist, then runs `subscription`
    /// with `handler` in batches of up to `max_batch` until `shutdown` fires. While the
    /// broker is away it retries with [`RetryPolicy::default`] backoff (readiness reports the
    /// broker meanwhile), and it rejoins if the consumer stops on its own.
    pub async fn consume_until_shutdown(
        &self,
        topics: &[String],
        subscription: Subscription,
        handler: Arc<dyn BatchHandler>,
        max_batch: usize,
        shutdown: &Shutdown,
    ) {
        let backoff = RetryPolicy::default();
        for attempt in 1.. {
            let result = match self.admin.ensure_topics(topics).await {
                Ok(()) => {
                    self.subscriber
                        .run_batched(
                            subscription.clone(),
                            handler.clone(),
                            max_batch,
                            shutdown.token(),
                        )
                        .await
                }
                Err(error) => Err(error),
            };
            match result {
                Ok(()) if shutdown.is_triggered() => return,
                Ok(()) => {
                    tracing::warn!(group = %subscription.group, "consumer stopped unexpectedly; rejoining");
                }
                Err(error) => {
                    tracing::warn!(%error, group = %subscription.group, "cannot consume yet; retrying");
                }
            }
            tokio::select! {
                () = shutdown.triggered() => return,
                () = tokio::time::sleep(backoff.backoff(attempt)) => {}
            }
        }
    }

    /// A `/readyz` check that passes while the broker answers.
    #[must_use]
    pub fn readiness_check(&self) -> BrokerReady {
        BrokerReady {
            admin: self.admin.clone(),
        }
    }

    /// A bus over an existing in-process broker.
    #[must_use]
    pub fn memory(broker: &memory::MemoryBroker, settings: &BusSettings) -> Self {
        let publisher = Arc::new(BusPublisher::new(Arc::new(broker.publisher()), settings));
        Self {
            subscriber: Arc::new(broker.subscriber(publisher.clone())),
            admin: Arc::new(broker.clone()),
            publisher,
        }
    }
}

/// Readiness of the bus for `/readyz`; see [`Bus::readiness_check`].
pub struct BrokerReady {
    admin: Arc<dyn Admin>,
}

impl ReadinessCheck for BrokerReady {
    fn name(&self) -> &str {
        "bus"
    }

    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move { self.admin.ping().await.map_err(|e| e.to_string()) })
    }
}

/// The publisher services hold, around a backend's own: it attaches the current trace context
/// to records that carry none, and bounds the records in flight: past the limit, `publish`
/// waits for a slot instead of buffering without end (backpressure reaches the caller). The
/// whole publish, the wait for a slot included, ends within `publish_timeout_ms`, so a caller
/// with a deadline of its own (ingest answering a webhook) needs no timer of its own.
pub(crate) struct BusPublisher {
    inner: Arc<dyn Publisher>,
    slots: Semaphore,
    limit: u32,
    timeout: std::time::Duration,
}

impl BusPublisher {
    pub(crate) fn new(inner: Arc<dyn Publisher>, settings: &BusSettings) -> Self {
        let limit = u32::try_from(settings.max_in_flight.max(1)).unwrap_or(u32::MAX >> 3);
        Self {
            inner,
            slots: Semaphore::new(limit as usize),
            limit,
            timeout: std::time::Duration::from_millis(settings.publish_timeout_ms),
        }
    }

    /// Runs `publish` within the deadline.
    async fn bounded<T>(
        &self,
        publish: impl Future<Output = Result<T, BusError>>,
    ) -> Result<T, BusError> {
        tokio::time::timeout(self.timeout, publish)
            .await
            .unwrap_or(Err(BusError::Timeout {
                backend: "bus",
                after: self.timeout,
            }))
    }
}

#[async_trait]
impl Publisher for BusPublisher {
    async fn publish(&self, topic: &str, mut message: Message) -> Result<Ack, BusError> {
        with_trace_context(&mut message);
        self.bounded(async {
            let _slot = self.slots.acquire().await.map_err(|_| BusError::Closed)?;
            self.inner.publish(topic, message).await
        })
        .await
    }

    async fn publish_batch(
        &self,
        topic: &str,
        mut messages: Vec<Message>,
    ) -> Result<Vec<Ack>, BusError> {
        messages.iter_mut().for_each(with_trace_context);
        // A batch larger than the limit takes every slot rather than waiting forever.
        let wanted = u32::try_from(messages.len())
            .unwrap_or(u32::MAX)
            .clamp(1, self.limit);
        self.bounded(async {
            let _slots = self
                .slots
                .acquire_many(wanted)
                .await
                .map_err(|_| BusError::Closed)?;
            self.inner.publish_batch(topic, messages).await
        })
        .await
    }
}

/// Attaches the current span's W3C trace context to a record that carries none, so the
/// consumer's span joins the publisher's trace. CloudEvents records carry their own
/// (`ce_traceparent`) and are left alone.
fn with_trace_context(message: &mut Message) {
    let headers = &message.headers;
    if headers.get(trace_context::TRACEPARENT_HEADER).is_none()
        && headers.get("ce_traceparent").is_none()
    {
        trace_context::inject(&mut message.headers, trace_context::TRACEPARENT_HEADER);
    }
}

/// Times a publish and records its metric.
pub(crate) async fn timed<T>(
    backend: &'static str,
    topic: &str,
    publish: impl Future<Output = Result<T, BusError>>,
) -> Result<T, BusError> {
    let started = Instant::now();
    let result = publish.await;
    telemetry::published(backend, topic, result.is_ok(), started.elapsed());
    result
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// A publish inside a traced span writes that span's context into the record, and a
    /// record that already carries one keeps it.
    #[tokio::test(flavor = "current_thread")]
    async fn publishing_inside_a_span_carries_its_trace_context() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let _default = tracing::subscriber::set_default(subscriber);

        let broker = memory::MemoryBroker::new(1);
        let bus = Bus::memory(&broker, &BusSettings::default());
        let span = tracing::info_span!("publish");
        let expected = {
            let _entered = span.enter();
            trace_context::current().map(|tp| tp.trace_id().to_owned())
        };
        assert!(expected.is_some(), "the test span is traced");
        let _entered = span.enter();
        bus.publisher
            .publish("t", Message::default())
            .await
            .unwrap();
        let mut own = Message::default();
        own.headers.insert(
            "ce_traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        bus.publisher.publish("t", own).await.unwrap();

        let (_, first) = broker.read_for_test("t", 0, 0).await;
        let written = trace_context::extract(&first.headers, trace_context::TRACEPARENT_HEADER);
        assert_eq!(written.map(|tp| tp.trace_id().to_owned()), expected);
        let (_, second) = broker.read_for_test("t", 0, 1).await;
        assert!(
            second
                .headers
                .get(trace_context::TRACEPARENT_HEADER)
                .is_none(),
            "CloudEvents context left alone"
        );
    }
}
