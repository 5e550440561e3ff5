//! Shared by the audit-writer binary tests: start the real binary on a Kafka-protocol broker
//! and a PostgreSQL database of the test's own, publish events and delivery attempts the way
//! the processor and the dispatcher do, and look at the rows and the DLQ.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeZone as _, Utc};
use prost::Message as _;
use secrecy::SecretString;
use switchyard_bus::Bus;
use switchyard_domain::{
    Event, EventId, EventType, Message, TenantId, Traceparent,
    wire::{DELIVERY_ATTEMPT_CONTENT_TYPE, DeliveryAttempt, delivery_attempt::Outcome},
};
use switchyard_runtime::settings::DatabaseSettings;
use switchyard_store::Store;
use switchyard_testkit::binary::RunningBinary;

pub const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-audit-writer");

/// Partitions of every test topic: several, as in production, so batches of different
/// partitions are written concurrently.
pub const PARTITIONS: u32 = 3;

/// A topic prefix of its own on the shared test broker, with its bus.
pub struct Stage(KafkaStage);

impl std::ops::Deref for Stage {
    type Target = KafkaStage;
    fn deref(&self) -> &KafkaStage {
        &self.0
    }
}

impl Stage {
    /// A fresh prefix whose events, deliveries and DLQ topics exist, each with
    /// [`PARTITIONS`] partitions.
    pub async fn new() -> Self {
        Self::with_deliveries_partitions(PARTITIONS).await
    }

    /// Like [`Stage::new`], with `deliveries` partitions for `<prefix>.deliveries`.
    ///
    /// Replicas share one group over both topics, and the group balances partition counts,
    /// not topics: with as many deliveries partitions as events partitions, a replica that
    /// joins second may be handed every deliveries partition and no events partition. One
    /// deliveries partition against [`PARTITIONS`] events partitions leaves each of two
    /// replicas at least one events partition.
    pub async fn with_deliveries_partitions(deliveries: u32) -> Self {
        let stage = KafkaStage::new("audit", PARTITIONS).await;
        let topics = stage.topics();
        if deliveries != PARTITIONS {
            // Topics are created with the bus's partition count; an existing one is kept.
            let mut settings = stage.settings.clone();
            settings.partitions = deliveries;
            Bus::connect(&settings)
                .await
                .unwrap()
                .admin
                .ensure_topics(&[topics.deliveries()])
                .await
                .unwrap();
        }
        stage
            .ensure(&[topics.events(), topics.deliveries(), topics.dlq()])
            .await;
        Self(stage)
    }

    /// Starts the audit-writer binary on this stage, writing to `database_url`, with
    /// `extra` environment (e.g. a smaller `max_batch`).
    pub async fn start_writer(&self, database_url: &str, extra: &[(&str, &str)]) -> RunningBinary {
        let mut env = vec![
            ("SWITCHYARD__DATABASE__URL", database_url),
            ("SWITCHYARD__DATABASE__POOL_SIZE", "4"),
            ("SWITCHYARD__DATABASE__CONNECT_TIMEOUT_SECS", "2"),
        ];
        env.extend_from_slice(extra);
        self.start_binary(BINARY, &env).await
    }

    /// Publishes delivery attempts to `<prefix>.deliveries` as the dispatcher does.
    pub async fn publish_attempts(&self, attempts: &[DeliveryAttempt]) {
        let topic = self.settings.topics().deliveries();
        let messages = attempts.iter().map(attempt_message).collect();
        self.bus
            .publisher
            .publish_batch(&topic, messages)
            .await
            .unwrap();
    }

    /// Publishes one arbitrary record to `topic`.
    pub async fn publish(&self, topic: &str, message: Message) {
        self.bus.publisher.publish(topic, message).await.unwrap();
    }

    /// Reads `<prefix>.dlq` from the start.
    pub fn dlq(&self) -> TopicReader<Message> {
        TopicReader::messages(&self.bus, self.settings.topics().dlq())
    }
}

/// A delivery attempt as the dispatcher records it.
pub fn attempt_message(attempt: &DeliveryAttempt) -> Message {
    let mut headers = switchyard_domain::Headers::with_capacity(1);
    headers.insert("content-type", DELIVERY_ATTEMPT_CONTENT_TYPE);
    Message {
        key: Some(Bytes::copy_from_slice(attempt.tenant.as_bytes())),
        headers,
        payload: attempt.encode_to_vec().into(),
    }
}

/// `count` events over `tenants` tenants, numbered from `first`; every field set, data of
/// about 1 KiB that is not valid UTF-8, times with nanoseconds.
pub fn events(first: usize, count: usize, tenants: usize) -> Vec<Event> {
    let mut data = vec![0xffu8, 0x00, 0xfe];
    data.extend(std::iter::repeat_n(b'x', 1021));
    let data = Bytes::from(data);
    let traceparent =
        Traceparent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    (first..first + count)
        .map(|i| {
            let tenant = format!("tenant{}", i % tenants);
            let id = EventId::derive(&[tenant.as_bytes(), i.to_string().as_bytes()]);
            let nanos = u32::try_from(i % 1_000_000_000).unwrap();
            Event::builder(
                TenantId::parse(&tenant).unwrap(),
                id,
                "/audit/test",
                EventType::parse("test.order.created").unwrap(),
            )
            .time(
                Utc.timestamp_opt(1_764_000_000 + i64::try_from(i).unwrap(), nanos)
                    .unwrap(),
            )
            .subject(Some(format!("order_{}", i % 97)))
            .data(Some("application/octet-stream".into()), data.clone())
            .data_schema(Some("https://schemas.example/order/v1".into()))
            .traceparent(Some(traceparent.clone()))
            .extension("shard", (i % 7).to_string())
            .build()
            .unwrap()
        })
        .collect()
}

/// `count` delivery attempts of tenant `acme`, every field set.
pub fn attempts(count: usize) -> Vec<DeliveryAttempt> {
    (0..count)
        .map(|i| DeliveryAttempt {
            attempt_id: format!("att_{i}"),
            tenant: "acme".into(),
            event_id: format!("evt_{}", i / 3),
            event_type: "test.order.created".into(),
            endpoint_id: "orders".into(),
            url: "https://orders.example/hooks".into(),
            attempt: u32::try_from(i % 3 + 1).unwrap(),
            outcome: Outcome::Retrying.into(),
            response_status: 503,
            error: "service unavailable".into(),
            response_body_excerpt: Bytes::from_static(b"\x00busy\xff"),
            attempted_at: Some(prost_types::Timestamp {
                seconds: 1_764_000_000 + i64::try_from(i).unwrap(),
                nanos: 123_456_000,
            }),
            duration_ms: 42,
            next_attempt_at: Some(prost_types::Timestamp {
                seconds: 1_764_000_300,
                nanos: 0,
            }),
        })
        .collect()
}

/// A store over `url`, for reading rows back as the gateway does.
pub async fn store(url: &str) -> Store {
    Store::connect(&DatabaseSettings {
        url: SecretString::from(url.to_owned()),
        read_url: SecretString::default(),
        pool_size: 2,
        connect_timeout_secs: 5,
    })
    .await
    .unwrap()
}

/// Rows in `table`, or `None` while the database (or the table) is not there.
pub async fn try_count(url: &str, table: &str) -> Option<i64> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .ok()?;
    tokio::spawn(connection);
    let row = client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .ok()?;
    Some(row.get(0))
}

/// Rows in `table` now.
pub async fn count(url: &str, table: &str) -> i64 {
    try_count(url, table)
        .await
        .unwrap_or_else(|| panic!("cannot count {table} at {url}"))
}

/// Waits until `table` holds `expected` rows (failing after `within`), then checks that no
/// more arrive for a moment: exactly `expected`, not at least.
pub async fn wait_for_exactly(url: &str, table: &str, expected: i64, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    let mut last = None;
    loop {
        last = try_count(url, table).await.or(last);
        if last == Some(expected) {
            break;
        }
        assert!(
            last.is_none_or(|n| n < expected),
            "{table} holds {last:?} rows, more than the {expected} expected"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "{table} holds {last:?} rows after {within:?}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(url, table).await, expected, "{table} after settling");
}

/// Polls until `table` holds at least one row; returns the count seen.
pub async fn wait_for_some(url: &str, table: &str, within: Duration) -> i64 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(n) = try_count(url, table).await
            && n > 0
        {
            return n;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no rows in {table} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls `/readyz` until it answers `status`; returns the body.
pub async fn wait_for_readiness(binary: &RunningBinary, status: u16, within: Duration) -> String {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (got, body) = binary.get("/readyz").await;
        if got == status {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz still {got} after {within:?}, expected {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `url` (a PostgreSQL URL with or without a database) naming `database` instead.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("//").map_or(0, |i| i + 2);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

pub use switchyard_testkit_bus::{KafkaStage, TopicReader};
