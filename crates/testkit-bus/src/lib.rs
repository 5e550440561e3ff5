//! Test support on the bus, for the services' integration tests: [`KafkaStage`] gives a test
//! topics of its own on the shared Kafka-protocol broker and starts a service binary on them;
//! [`TopicReader`] reads everything a service wrote to a topic, decoded, through a consumer
//! group of its own.
//!
//! A crate of its own rather than part of `switchyard-testkit` because the bus's own tests
//! use the testkit: the testkit cannot depend on the bus.

#![allow(clippy::expect_used)] // test support: a broken reader must fail the test loudly

use std::{fmt::Debug, sync::Arc, time::Duration};

use switchyard_bus::{Bus, Delivery, HandlerError, RetryPolicy, StartFrom, Subscription};
use switchyard_domain::{Event, Message, Topics};
use switchyard_runtime::settings::{BusBackend, BusSettings};
use switchyard_testkit::{binary::RunningBinary, infra, unique_name};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Records a reader keeps before its consumer waits for the test to take them.
const BUFFER: usize = 65_536;

/// Consumer session timeout of the services a stage starts: short, so a test that kills a
/// member sees its partitions move on soon.
const SESSION_TIMEOUT_MS: &str = "6000";

/// A topic prefix of the test's own on a Kafka-protocol broker, with a bus over it. Services
/// started on the stage use the prefix for their topics and their consumer groups, so tests
/// running side by side never share a topic or a group (a member another test killed would
/// stall this one's join).
pub struct KafkaStage {
    /// `<name>-<unique suffix>`.
    pub prefix: String,
    /// The broker's bootstrap addresses.
    pub brokers: String,
    /// The test's own bus on the prefix.
    pub bus: Bus,
    /// The bus settings; `partitions` is what new topics get.
    pub settings: BusSettings,
}

impl KafkaStage {
    /// A fresh prefix starting with `name` on the shared test broker; topics it creates get
    /// `partitions` partitions. Fails the test, naming the broker, when it is unreachable.
    pub async fn new(name: &str, partitions: u32) -> Self {
        Self::on(infra::kafka_brokers(), name, partitions).await
    }

    /// Like [`KafkaStage::new`], on the given broker.
    pub async fn on(brokers: String, name: &str, partitions: u32) -> Self {
        let prefix = unique_name(name);
        let mut settings = BusSettings {
            backend: BusBackend::Kafka,
            partitions,
            ..BusSettings::default()
        };
        settings.kafka.brokers.clone_from(&brokers);
        settings.kafka.session_timeout_ms = 6_000;
        settings.topic_prefix = prefix
            .parse()
            .unwrap_or_else(|e| panic!("{prefix} is not a topic prefix: {e}"));
        let bus = Bus::connect(&settings)
            .await
            .unwrap_or_else(|e| infra::unavailable("Kafka-protocol broker", &brokers, &e));
        Self {
            prefix,
            brokers,
            bus,
            settings,
        }
    }

    /// The stage's topic names.
    #[must_use]
    pub fn topics(&self) -> Topics {
        self.settings.topics()
    }

    /// Creates `topics` (with the stage's partition count) if they do not exist.
    pub async fn ensure(&self, topics: &[String]) {
        self.bus
            .admin
            .ensure_topics(topics)
            .await
            .unwrap_or_else(|e| infra::unavailable("Kafka-protocol broker", &self.brokers, &e));
    }

    /// Publishes events to `<prefix>.events` in binary mode (key = tenant), in order, waiting
    /// for every acknowledgement.
    pub async fn publish_events(&self, events: &[Event]) {
        let topic = self.topics().events();
        for chunk in events.chunks(500) {
            let messages = chunk.iter().map(Event::to_binary).collect();
            self.bus
                .publisher
                .publish_batch(&topic, messages)
                .await
                .unwrap_or_else(|e| panic!("cannot publish to {topic}: {e}"));
        }
    }

    /// Starts service binary `path` on the stage: the Kafka backend on its broker, its topic
    /// and group prefix and partition count, then `extra` environment.
    pub async fn start_binary(&self, path: &str, extra: &[(&str, &str)]) -> RunningBinary {
        let group_prefix = format!("{}.", self.prefix);
        let partitions = self.settings.partitions.to_string();
        let mut env = vec![
            ("SWITCHYARD__BUS__BACKEND", "kafka"),
            ("SWITCHYARD__BUS__KAFKA__BROKERS", self.brokers.as_str()),
            (
                "SWITCHYARD__BUS__KAFKA__SESSION_TIMEOUT_MS",
                SESSION_TIMEOUT_MS,
            ),
            ("SWITCHYARD__BUS__TOPIC_PREFIX", self.prefix.as_str()),
            ("SWITCHYARD__BUS__GROUP_PREFIX", group_prefix.as_str()),
            ("SWITCHYARD__BUS__PARTITIONS", partitions.as_str()),
        ];
        env.extend_from_slice(extra);
        RunningBinary::start(path, &env).await
    }
}

/// Every record of one topic from its start, decoded, read by a consumer group of its own.
/// Stops reading when dropped.
pub struct TopicReader<T> {
    records: mpsc::Receiver<T>,
    stop: CancellationToken,
    topic: String,
}

impl TopicReader<Message> {
    /// Reads `topic`'s records as they are.
    pub fn messages(bus: &Bus, topic: impl Into<String>) -> Self {
        Self::start(bus, topic, |message| Ok(message.clone()))
    }
}

impl<T: Send + 'static> TopicReader<T> {
    /// Reads `topic`, decoding each record with `decode`. A record that does not decode fails
    /// the test (the panic names its position); it is never skipped.
    pub fn start(
        bus: &Bus,
        topic: impl Into<String>,
        decode: fn(&Message) -> Result<T, String>,
    ) -> Self {
        let topic = topic.into();
        let (tx, records) = mpsc::channel(BUFFER);
        let stop = CancellationToken::new();
        let subscription = Subscription {
            group: unique_name("reader"),
            topics: vec![topic.clone()],
            retry: RetryPolicy::default(),
            dlq_topic: unique_name("reader-dlq"),
            start: StartFrom::Earliest,
        };
        let handler = move |delivery: Delivery| {
            let tx = tx.clone();
            async move {
                let decoded = decode(&delivery.message)
                    .unwrap_or_else(|e| panic!("undecodable record at {}: {e}", delivery.position));
                tx.send(decoded)
                    .await
                    .map_err(|e| HandlerError::Retry(e.to_string()))
            }
        };
        let subscriber = bus.subscriber.clone();
        let token = stop.clone();
        tokio::spawn(async move { subscriber.run(subscription, Arc::new(handler), token).await });
        Self {
            records,
            stop,
            topic,
        }
    }

    /// The next record, waiting up to 30 s.
    pub async fn next(&mut self) -> T {
        self.next_within(Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no record on {} within 30 s", self.topic))
    }

    /// The next record if one arrives within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<T> {
        tokio::time::timeout(wait, self.records.recv())
            .await
            .ok()
            .flatten()
    }

    /// Asserts nothing more arrives within `quiet`.
    pub async fn expect_no_more(&mut self, quiet: Duration)
    where
        T: Debug,
    {
        if let Some(record) = self.next_within(quiet).await {
            panic!("unexpected record on {}: {record:?}", self.topic);
        }
    }

    /// Collects records until `done` holds for what arrived, or fails after `within` with
    /// what did.
    pub async fn until(&mut self, within: Duration, done: impl Fn(&[T]) -> bool) -> Vec<T>
    where
        T: Debug,
    {
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = Vec::new();
        while !done(&seen) {
            match tokio::time::timeout_at(deadline, self.records.recv()).await {
                Ok(Some(record)) => seen.push(record),
                Ok(None) => panic!("reader of {} stopped", self.topic),
                Err(_) => panic!(
                    "{}: condition not met within {within:?}; {} record(s): {seen:#?}",
                    self.topic,
                    seen.len()
                ),
            }
        }
        seen
    }

    /// Whatever arrives until nothing has for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<T> {
        let mut seen = Vec::new();
        while let Some(record) = self.next_within(quiet).await {
            seen.push(record);
        }
        seen
    }
}

impl<T> Drop for TopicReader<T> {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
