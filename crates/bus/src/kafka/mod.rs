//! Kafka (and any Kafka-protocol broker) through librdkafka.
//!
//! Producer: idempotent, `acks=all`, murmur2 partitioning (the Java client's, so producers in
//! other languages agree on a tenant's partition). Consumer: offsets are stored only after a
//! record is handled or dead-lettered, one worker per partition keeps order (a worker that
//! falls behind pauses its own partition, never the others), and librdkafka commits the stored
//! offsets periodically, on rebalance and on shutdown.

mod admin;
mod publisher;
mod subscriber;

use std::{sync::Arc, time::Duration};

use rdkafka::{
    ClientConfig,
    error::{KafkaError, RDKafkaErrorCode},
};
use switchyard_runtime::settings::BusSettings;

use crate::{Bus, BusError, BusPublisher};

const BACKEND: &str = "kafka";

/// Connects to the brokers in `settings.kafka.brokers`.
pub fn connect(settings: &BusSettings) -> Result<Bus, BusError> {
    let publisher = Arc::new(publisher::KafkaPublisher::new(settings)?);
    let limited = Arc::new(BusPublisher::new(publisher.clone(), settings));
    Ok(Bus {
        subscriber: Arc::new(subscriber::KafkaSubscriber::new(settings, limited.clone())),
        admin: Arc::new(admin::KafkaAdmin::new(settings, publisher)?),
        publisher: limited,
    })
}

fn base_config(settings: &BusSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.kafka.brokers)
        .set("client.id", "switchyard")
        // librdkafka logs through its own callback; keep connection chatter out of our logs.
        .set("log.connection.close", "false");
    config
}

fn publish_timeout(settings: &BusSettings) -> Duration {
    Duration::from_millis(settings.publish_timeout_ms)
}

/// Maps librdkafka's errors onto retry-later versus will-never-work.
fn map_error(error: &KafkaError) -> BusError {
    let code = error.rdkafka_error_code();
    match code {
        Some(
            RDKafkaErrorCode::MessageTimedOut
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::OperationTimedOut,
        ) => BusError::Timeout {
            backend: BACKEND,
            after: Duration::ZERO,
        },
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::InvalidMessage
            | RDKafkaErrorCode::UnknownTopicOrPartition
            | RDKafkaErrorCode::UnknownTopic
            | RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::InvalidTopic,
        ) => BusError::Rejected {
            backend: BACKEND,
            reason: error.to_string(),
        },
        _ => BusError::Unavailable {
            backend: BACKEND,
            reason: error.to_string(),
        },
    }
}
