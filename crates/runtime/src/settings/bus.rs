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
    /// Prepended to every consumer group id (`processor` → `<group_prefix>processor`). Empty
    /// by default, so the groups are those DESIGN §1 names; set it when several Switchyard
    /// deployments (topic prefixes) share one cluster, since members of one group id rebalance
    /// together even when they read different topics.
    pub group_prefix: String,
    /// Partitions per topic when the bus creates it; the unit of parallelism of a consumer
    /// group (more replicas than partitions sit idle).
    pub partitions: u32,
    /// Records a publisher may hold unacknowledged before `publish` waits (backpressure).
    pub max_in_flight: usize,
    /// Milliseconds a publish may take, waiting for an in-flight slot and for the broker's
    /// acknowledgement, before failing with a retryable timeout. On Kafka this is also the
    /// producer's delivery timeout (`message.timeout.ms`).
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
            group_prefix: String::new(),
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
        if self.group_prefix.len() > 200
            || !self
                .group_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err((
                "bus.group_prefix".into(),
                "must be at most 200 of A-Z a-z 0-9 . _ -".into(),
            ));
        }
        // Holding records longer than the publish deadline would fail every one of them.
        if self.kafka.linger_ms >= self.publish_timeout_ms {
            return Err((
                "bus.kafka.linger_ms".into(),
                format!(
                    "must be below bus.publish_timeout_ms ({})",
                    self.publish_timeout_ms
                ),
            ));
        }
        Ok(())
    }

    /// The consumer group id of `name` under `group_prefix`.
    #[must_use]
    pub fn group(&self, name: &str) -> String {
        format!("{}{name}", self.group_prefix)
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
    /// How long the producer holds a record to batch it with others (`linger.ms`). Higher
    /// batches more per request and costs the broker less; lower answers sooner. A publisher
    /// that waits for each acknowledgement (ingest) pays it on every request.
    pub linger_ms: u64,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            replication_factor: -1,
            session_timeout_ms: 45_000,
            linger_ms: 5,
        }
    }
}

/// `[bus.redis]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RedisSettings {
    /// Redis URL.
    pub url: String,
    /// Entries each partition stream keeps, approximately (`XADD MAXLEN ~`). Redis holds
    /// streams in memory, so this is the retention; a group lagging further behind loses the
    /// oldest records (logged when it notices).
    pub max_len: u64,
    /// How long a silent member keeps its group membership and partition leases; after this
    /// its partitions move to the surviving members. Heartbeats and lease renewals run every
    /// third of it.
    pub session_timeout_ms: u64,
    /// How long an idle partition reader waits for new entries in one blocking read.
    pub block_ms: u64,
    /// Entries a partition reader fetches per read.
    pub read_count: usize,
    /// Milliseconds every Redis command other than a publish (group coordination, reads,
    /// acknowledgements, admin) waits before failing with a retryable timeout.
    pub command_timeout_ms: u64,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            max_len: 1_000_000,
            session_timeout_ms: 10_000,
            block_ms: 2_000,
            read_count: 32,
            command_timeout_ms: 5_000,
        }
    }
}

/// `[bus.nats]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct NatsSettings {
    /// NATS server URL.
    pub url: String,
    /// Stream and key-value bucket replicas (1 on a single server, 3 in a cluster).
    pub replicas: usize,
    /// Seconds a stream keeps records (JetStream `max_age`); 0 keeps them until the stream's
    /// other limits drop them.
    pub retention_secs: u64,
    /// Milliseconds within which a publish resent after a reconnect (same `Nats-Msg-Id`) is
    /// stored once (the stream's `duplicate_window`).
    pub duplicate_window_ms: u64,
    /// Milliseconds JetStream waits for a record's acknowledgement before it may deliver the
    /// record again. A record still in the handler is kept alive with progress notices, so this
    /// only bounds how long a lost delivery stays hidden.
    pub ack_wait_ms: u64,
    /// Records a partition reader fetches per pull; also the consumer's `max_ack_pending`.
    pub fetch_batch: usize,
    /// Deliveries of one record before JetStream gives up on it (`max_deliver`). A record
    /// given up on is dropped without reaching the DLQ, so the default, -1, never gives up:
    /// failing records are dead-lettered by the bus after its retries instead.
    pub max_deliver: i64,
    /// Key-value bucket holding consumer-group membership and partition leases.
    pub group_bucket: String,
    /// How long a silent member keeps its membership and partition leases; after this its
    /// partitions move to the surviving members. Renewals run every third of it. An existing
    /// bucket keeps the time it was created with, and members follow the bucket.
    pub lease_ttl_ms: u64,
    /// Seconds a group's durable consumers survive with no member reading them (JetStream
    /// `inactive_threshold`, like Kafka's offset retention); 0 keeps them forever.
    pub group_retention_secs: u64,
}

impl Default for NatsSettings {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            replicas: 1,
            retention_secs: 7 * 24 * 3600,
            duplicate_window_ms: 120_000,
            ack_wait_ms: 30_000,
            fetch_batch: 64,
            max_deliver: -1,
            group_bucket: "switchyard_groups".into(),
            lease_ttl_ms: 10_000,
            group_retention_secs: 7 * 24 * 3600,
        }
    }
}
