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
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BusSettings {
    /// Backend in use.
    pub backend: BusBackend,
    /// Prefix of every topic name.
    pub topic_prefix: TopicPrefix,
    /// `[bus.kafka]`.
    pub kafka: KafkaSettings,
    /// `[bus.redis]`.
    pub redis: RedisSettings,
    /// `[bus.nats]`.
    pub nats: NatsSettings,
}

impl BusSettings {
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
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
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
