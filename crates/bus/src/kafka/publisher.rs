use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use rdkafka::{
    error::{KafkaError, RDKafkaErrorCode},
    message::{Header, OwnedHeaders},
    producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _},
};
use switchyard_domain::Message;
use switchyard_runtime::settings::BusSettings;

use super::{BACKEND, base_config, map_error, publish_timeout};
use crate::{Ack, BusError, Position, Publisher, timed};

/// Consecutive records failed by the broker with an error the producer cannot recover from
/// before the producer is replaced.
const REPLACE_AFTER: u32 = 3;
/// Least time between two replacements, so a broker that refuses everything is not met with a
/// storm of new connections.
const REPLACE_EVERY: Duration = Duration::from_secs(5);

/// Idempotent, acks=all producer.
///
/// An idempotent producer keeps a producer id and per-partition sequence numbers, which the
/// broker must remember. A broker that lost that state (observed with tansu after a crash and
/// restart: every produce then fails with an unknown broker error) refuses the producer for
/// good, and librdkafka does not reset it for errors it does not classify. So after
/// `REPLACE_AFTER` such failures in a row the producer is replaced by a new one (a new
/// producer id); records still in the old one's queue end with their own errors, which the
/// caller retries like any other failed publish.
pub(super) struct KafkaPublisher {
    producer: ArcSwap<FutureProducer>,
    settings: BusSettings,
    timeout: Duration,
    unrecoverable: AtomicU32,
    replaced_at: Mutex<Option<Instant>>,
}

impl KafkaPublisher {
    pub(super) fn new(settings: &BusSettings) -> Result<Self, BusError> {
        Ok(Self {
            producer: ArcSwap::from_pointee(Self::create(settings)?),
            settings: settings.clone(),
            timeout: publish_timeout(settings),
            unrecoverable: AtomicU32::new(0),
            replaced_at: Mutex::new(None),
        })
    }

    fn create(settings: &BusSettings) -> Result<FutureProducer, BusError> {
        base_config(settings)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("partitioner", "murmur2_random")
            // The broker's acknowledgement must come within the publish deadline; librdkafka
            // then fails the record itself, so `publish` never waits longer.
            .set(
                "message.timeout.ms",
                settings.publish_timeout_ms.to_string(),
            )
            .set("linger.ms", settings.kafka.linger_ms.to_string())
            .create()
            .map_err(|e| BusError::Config {
                backend: BACKEND,
                reason: e.to_string(),
            })
    }

    pub(super) fn producer(&self) -> Arc<FutureProducer> {
        self.producer.load_full()
    }

    /// Counts a failed record: an error the producer cannot recover from by itself counts
    /// toward replacing it; any other outcome resets the count.
    fn observe(&self, error: Option<&KafkaError>) {
        let unrecoverable = matches!(
            error.and_then(KafkaError::rdkafka_error_code),
            Some(
                RDKafkaErrorCode::Unknown
                    | RDKafkaErrorCode::UnknownProducerId
                    | RDKafkaErrorCode::InvalidProducerEpoch
                    | RDKafkaErrorCode::OutOfOrderSequenceNumber
                    | RDKafkaErrorCode::Fatal
            )
        );
        if !unrecoverable {
            self.unrecoverable.store(0, Ordering::Relaxed);
            return;
        }
        if self.unrecoverable.fetch_add(1, Ordering::Relaxed) + 1 < REPLACE_AFTER {
            return;
        }
        let mut replaced_at = self
            .replaced_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if replaced_at.is_some_and(|at| at.elapsed() < REPLACE_EVERY) {
            return;
        }
        match Self::create(&self.settings) {
            Ok(producer) => {
                tracing::warn!(
                    error = ?error,
                    "the broker refuses this producer for good; replacing it with a new one"
                );
                metrics::counter!("switchyard_bus_producer_replaced_total", "backend" => BACKEND)
                    .increment(1);
                self.producer.store(Arc::new(producer));
                self.unrecoverable.store(0, Ordering::Relaxed);
                *replaced_at = Some(Instant::now());
            }
            Err(error) => tracing::error!(%error, "cannot create a replacement producer"),
        }
    }

    /// Puts one record on librdkafka's queue, waiting while the queue is full.
    async fn enqueue(&self, topic: &str, message: &Message) -> Result<DeliveryFuture, BusError> {
        let mut headers = OwnedHeaders::new_with_capacity(message.headers.len());
        for header in &message.headers {
            headers = headers.insert(Header {
                key: &header.name,
                value: Some(header.value.as_ref()),
            });
        }
        let mut record = FutureRecord::to(topic)
            .payload(message.payload.as_ref())
            .headers(headers);
        if let Some(key) = &message.key {
            record = record.key(key.as_ref());
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        let producer = self.producer.load();
        loop {
            match producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                // librdkafka hands the record back, so a retry re-sends it without rebuilding.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(BusError::Timeout {
                            backend: BACKEND,
                            after: self.timeout,
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    record = returned;
                }
                Err((error, _)) => return Err(map_error(&error)),
            }
        }
    }

    async fn acknowledged(&self, delivery: DeliveryFuture) -> Result<Ack, BusError> {
        match delivery.await {
            Ok(Ok(delivered)) => {
                self.observe(None);
                Ok(Ack {
                    partition: u32::try_from(delivered.partition).unwrap_or_default(),
                    position: Position::Offset(u64::try_from(delivered.offset).unwrap_or_default()),
                })
            }
            Ok(Err((error, _))) => Err({
                self.observe(Some(&error));
                match map_error(&error) {
                    BusError::Timeout { .. } => BusError::Timeout {
                        backend: BACKEND,
                        after: self.timeout,
                    },
                    other => other,
                }
            }),
            // The producer was dropped with the record still queued.
            Err(_) => Err(BusError::Closed),
        }
    }
}

#[async_trait]
impl Publisher for KafkaPublisher {
    async fn publish(&self, topic: &str, message: Message) -> Result<Ack, BusError> {
        timed(BACKEND, topic, async {
            let delivery = self.enqueue(topic, &message).await?;
            self.acknowledged(delivery).await
        })
        .await
    }

    /// Enqueues every record in order first, so librdkafka batches them into few requests,
    /// then waits for all acknowledgements.
    async fn publish_batch(
        &self,
        topic: &str,
        messages: Vec<Message>,
    ) -> Result<Vec<Ack>, BusError> {
        timed(BACKEND, topic, async {
            let mut pending = Vec::with_capacity(messages.len());
            for message in &messages {
                pending.push(self.enqueue(topic, message).await?);
            }
            let mut acks = Vec::with_capacity(pending.len());
            for delivery in pending {
                acks.push(self.acknowledged(delivery).await?);
            }
            Ok(acks)
        })
        .await
    }
}

impl Drop for KafkaPublisher {
    fn drop(&mut self) {
        // Give queued records a moment to be acknowledged rather than silently discarding them.
        let _ = self.producer.load().flush(Duration::from_secs(5));
    }
}
