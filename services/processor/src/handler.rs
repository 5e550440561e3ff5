//! The consumer-group side: a batch of raw records of one partition becomes a batch of events
//! published in the same order, so one acknowledgement wait covers the whole batch. The raw
//! positions are acknowledged (by the bus) only after every event of the batch is.

use std::{sync::Arc, time::SystemTime};

use async_trait::async_trait;
use switchyard_bus::{BatchHandler, Delivery, HandlerError, Publisher};

use crate::pipeline::Pipeline;

/// Events per tenant and type.
pub const EVENTS_TOTAL: &str = "switchyard_processor_events_total";
/// Raw records dead-lettered, by reason.
pub const REJECTED_TOTAL: &str = "switchyard_processor_rejected_total";
/// Seconds from ingest receiving the webhook to its event being acknowledged.
pub const LAG_SECONDS: &str = "switchyard_processor_end_to_end_lag_seconds";

/// Raw records in, events out.
pub struct RawToEvents {
    /// The mapping.
    pub pipeline: Pipeline,
    /// Where events go.
    pub publisher: Arc<dyn Publisher>,
    /// `<prefix>.events`.
    pub topic: String,
}

#[async_trait]
impl BatchHandler for RawToEvents {
    async fn handle_batch(&self, batch: &[Delivery]) -> Result<Vec<(usize, String)>, HandlerError> {
        let mut events = Vec::with_capacity(batch.len());
        let mut labels = Vec::with_capacity(batch.len());
        let mut received = Vec::with_capacity(batch.len());
        let mut rejected = Vec::new();
        for (index, delivery) in batch.iter().enumerate() {
            match self.pipeline.process(delivery) {
                Ok(processed) => {
                    labels.push((
                        processed.event.tenant().to_string(),
                        processed.event.event_type().to_string(),
                    ));
                    received.push(processed.received_at);
                    events.push(processed.event.to_binary());
                }
                Err(rejection) => {
                    metrics::counter!(REJECTED_TOTAL, "reason" => rejection.kind()).increment(1);
                    tracing::warn!(reason = rejection.kind(), topic = %delivery.topic, partition = delivery.partition, position = %delivery.position, "raw webhook dead-lettered: {rejection}");
                    rejected.push((index, rejection.to_string()));
                }
            }
        }
        if !events.is_empty() {
            self.publisher
                .publish_batch(&self.topic, events)
                .await
                .map_err(|error| {
                    HandlerError::Retry(format!("events not acknowledged: {error}"))
                })?;
        }
        let now = SystemTime::now();
        for ((tenant, event_type), received_at) in labels.into_iter().zip(received) {
            metrics::counter!(EVENTS_TOTAL, "tenant" => tenant, "type" => event_type).increment(1);
            if let Ok(lag) = now.duration_since(received_at) {
                metrics::histogram!(LAG_SECONDS).record(lag.as_secs_f64());
            }
        }
        Ok(rejected)
    }
}
