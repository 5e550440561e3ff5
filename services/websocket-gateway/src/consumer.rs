//! The replica's reader of the events topic: decodes each record and hands it to the
//! [`Hub`]. It never fails a record: an undecodable one is counted and skipped (the processor
//! already dead-letters bad records, and every replica doing so again would multiply them).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use switchyard_bus::{BatchHandler, Delivery, HandlerError};
use switchyard_domain::Event;
use tokio::time::Instant;

use crate::{hub::Hub, metrics};

/// Feeds the hub.
#[derive(Debug)]
pub struct FanOut(pub Arc<Hub>);

#[async_trait]
impl BatchHandler for FanOut {
    async fn handle_batch(&self, batch: &[Delivery]) -> Result<Vec<(usize, String)>, HandlerError> {
        let now = Instant::now();
        for delivery in batch {
            match Event::from_message(&delivery.message) {
                Ok(event) => {
                    let fanout = self.0.publish(&event, now);
                    let lag = (Utc::now() - event.time()).to_std().unwrap_or_default();
                    metrics::fanned_out(event.tenant(), fanout.queued, fanout.overflowed, lag);
                }
                Err(error) => {
                    metrics::undecodable();
                    tracing::warn!(
                        %error,
                        topic = %delivery.topic,
                        partition = delivery.partition,
                        position = %delivery.position,
                        "skipping a record that is not an event"
                    );
                }
            }
        }
        Ok(Vec::new())
    }
}
