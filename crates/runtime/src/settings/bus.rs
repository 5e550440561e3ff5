use serde::Deserialize;
use switchyard_domain::{TopicPrefix, Topics};

/// Which message bus carries the topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BusBackend {
    /// Apache Kafka or any Kafka-protocol broker (production).
    #[default]
    Kafka,
    /// Redis Streams (mid-size deployments).
    Redis,
    /// NATS JetStream.
    Nats,
    /// In-process memory (`switchyard dev` and tests); nothing survives the process.
    Memory,
}

named_enum!(BusBackend { Kafka => "kafka", Redis => "redis", Nats => "nats", Memory => "memory" });

/// `[bus]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct BusSettings {
    /// Backend in use.
    pub backend: BusBackend,
    /// Prefix of every topic name.
    pub topic_prefix: TopicPrefix,
    /// Partitions per topic when the bus creates it; the unit of parallelism of a consumer
    /// group (more replicas than partitions sit idle).
    pub partitions: u32,
    /// Records a publisher may hold unacknowledged before `publish` waits (backpressure).
    pub max_in_flight: usize,
    /// Milliseconds a publish waits for the broker's acknowledgement before failing with a
    /// retryable timeout.
    pub publish_timeout_ms: u64,
    /// `[bus.kafka]`.
    pub kafka: KafkaSettings,
    /// `[bus.redis]`.
    pub redis: RedisSettings,
    /// `[bus.nats]`.
    pub nats: NatsSettings,
}

impl Default for BusSettings {
    fn default() -> Self {
        Self {
            backend: BusBackend::default(),
            topic_prefix: TopicPrefix::default(),
            partitions: 12,
            max_in_flight: 10_000,
            publish_timeout_ms: 10_000,
            kafka: KafkaSettings::default(),
            redis: RedisSettings::default(),
            nats: NatsSettings::default(),
        }
    }
}

impl BusSettings {
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        if !(1..=1024).contains(&self.partitions) {
            return Err(("bus.partitions".into(), "must be between 1 and 1024".into()));
        }
        if self.max_in_flight == 0 {
            return Err(("bus.max_in_flight".into(), "must be at least 1".into()));
        }
        if self.publish_timeout_ms < 100 {
            return Err((
                "bus.publish_timeout_ms".into(),
                "must be at least 100".into(),
            ));
        }
        Ok(())
    }

    /// Topic names under the configured prefix.
    #[must_use]
    pub fn topics(&self) -> Topics {
        Topics::new(self.topic_prefix.clone())
    }
}

/// `[bus.kafka]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct KafkaSettings {
    /// Bootstrap servers, comma-separated.
    pub brokers: String,
    /// Replication factor of topics the bus creates; -1 takes the broker's default.
    pub replication_factor: i32,
    /// How long the group waits for a silent member before giving its partitions away.
    pub session_timeout_ms: u64,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            replication_factor: -1,
            session_timeout_ms: 45_000,
        }
    }
}

/// `[bus.redis]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RedisSettings {
    /// Redis URL.
    pub url: String,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
        }
    }
}

/// `[bus.nats]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct NatsSettings {
    /// NATS server URL.
    pub url: String,
}

impl Default for NatsSettings {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
        }
    }
}
