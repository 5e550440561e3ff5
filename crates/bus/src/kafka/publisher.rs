use std::time::Duration;

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

/// Idempotent, acks=all producer.
pub(super) struct KafkaPublisher {
    producer: FutureProducer,
    timeout: Duration,
}

impl KafkaPublisher {
    pub(super) fn new(settings: &BusSettings) -> Result<Self, BusError> {
        let timeout = publish_timeout(settings);
        let producer = base_config(settings)
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
            })?;
        Ok(Self { producer, timeout })
    }

    pub(super) fn producer(&self) -> &FutureProducer {
        &self.producer
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
        loop {
            match self.producer.send_result(record) {
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
            Ok(Ok(delivered)) => Ok(Ack {
                partition: u32::try_from(delivered.partition).unwrap_or_default(),
                position: Position::Offset(u64::try_from(delivered.offset).unwrap_or_default()),
            }),
            Ok(Err((error, _))) => Err(match map_error(&error) {
                BusError::Timeout { .. } => BusError::Timeout {
                    backend: BACKEND,
                    after: self.timeout,
                },
                other => other,
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
        let _ = self.producer.flush(Duration::from_secs(5));
    }
}
