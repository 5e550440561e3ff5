//! A topic prefix of the test's own on the shared Kafka-protocol broker, the dispatcher
//! binary started on it, and readers of what it wrote.

use std::{path::PathBuf, sync::Arc, time::Duration};

use bytes::Bytes;
use prost::Message as _;
use switchyard_bus::{Bus, HandlerError, RetryPolicy, StartFrom, Subscription};
use switchyard_domain::{
    Event, EventId, EventType, Headers, Message, TenantId,
    wire::{DeliveryAttempt, delivery_attempt::Outcome},
};
use switchyard_runtime::settings::{BusBackend, BusSettings};
use switchyard_testkit::{binary::RunningBinary, infra, unique_name};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-webhook-dispatcher");
/// The Standard Webhooks secret of the examples; the receivers verify with it.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// A second secret, for rotation.
pub const NEW_SECRET: &str = "whsec_dGhlIG5ldyBzZWNyZXQgYWZ0ZXIgcm90YXRpb24h";

pub struct Stage {
    pub prefix: String,
    pub brokers: String,
    pub bus: Bus,
    pub settings: BusSettings,
}

impl Stage {
    /// A fresh prefix with `partitions` per topic.
    pub async fn new(partitions: u32) -> Self {
        let brokers = infra::kafka_brokers();
        let prefix = unique_name("dispatch");
        let mut settings = BusSettings {
            backend: BusBackend::Kafka,
            partitions,
            ..BusSettings::default()
        };
        settings.kafka.brokers.clone_from(&brokers);
        settings.kafka.session_timeout_ms = 6_000;
        settings.topic_prefix = prefix.parse().unwrap();
        let bus = Bus::connect(&settings)
            .await
            .unwrap_or_else(|e| infra::unavailable("Kafka-protocol broker", &brokers, &e));
        let topics = settings.topics();
        bus.admin
            .ensure_topics(&[topics.events(), topics.deliveries(), topics.dlq()])
            .await
            .unwrap_or_else(|e| infra::unavailable("Kafka-protocol broker", &brokers, &e));
        Self {
            prefix,
            brokers,
            bus,
            settings,
        }
    }

    /// Starts the dispatcher with `config` (TOML), loopback receivers allowed unless the
    /// config says otherwise.
    pub async fn start(&self, config: &str) -> Dispatcher {
        let dir = tempfile::tempdir().unwrap();
        let path: PathBuf = dir.path().join("switchyard.toml");
        std::fs::write(&path, config).unwrap();
        let path = path.to_str().unwrap().to_owned();
        let group_prefix = format!("{}.", self.prefix);
        let partitions = self.settings.partitions.to_string();
        let env = [
            ("SWITCHYARD_CONFIG", path.as_str()),
            ("SWITCHYARD__BUS__BACKEND", "kafka"),
            ("SWITCHYARD__BUS__KAFKA__BROKERS", self.brokers.as_str()),
            ("SWITCHYARD__BUS__KAFKA__SESSION_TIMEOUT_MS", "6000"),
            ("SWITCHYARD__BUS__TOPIC_PREFIX", self.prefix.as_str()),
            ("SWITCHYARD__BUS__GROUP_PREFIX", group_prefix.as_str()),
            ("SWITCHYARD__BUS__PARTITIONS", partitions.as_str()),
        ];
        Dispatcher {
            binary: RunningBinary::start(BINARY, &env).await,
            _config: dir,
        }
    }

    /// Publishes events to `<prefix>.events` in binary mode, in order.
    pub async fn publish(&self, events: &[Event]) {
        let topic = self.settings.topics().events();
        for chunk in events.chunks(500) {
            let messages = chunk.iter().map(Event::to_binary).collect();
            self.bus
                .publisher
                .publish_batch(&topic, messages)
                .await
                .unwrap();
        }
    }

    /// Publishes raw bytes to the events topic (a record no producer of ours would write).
    pub async fn publish_garbage(&self, payload: &'static [u8]) {
        let message = Message {
            key: Some(Bytes::from_static(b"acme")),
            headers: Headers::new(),
            payload: Bytes::from_static(payload),
        };
        self.bus
            .publisher
            .publish(&self.settings.topics().events(), message)
            .await
            .unwrap();
    }

    /// Every delivery attempt record, from the start.
    pub async fn attempts(&self) -> TopicReader<DeliveryAttempt> {
        TopicReader::start(&self.bus, self.settings.topics().deliveries(), |m| {
            DeliveryAttempt::decode(m.payload.as_ref()).map_err(|e| e.to_string())
        })
    }

    /// `<prefix>.events` from the start.
    pub async fn events(&self) -> TopicReader<Event> {
        TopicReader::start(&self.bus, self.settings.topics().events(), |m| {
            Event::from_message(m).map_err(|e| e.to_string())
        })
    }

    /// `<prefix>.dlq` from the start.
    pub async fn dlq(&self) -> TopicReader<Message> {
        TopicReader::messages(&self.bus, self.settings.topics().dlq())
    }
}

/// A running dispatcher.
pub struct Dispatcher {
    pub binary: RunningBinary,
    _config: tempfile::TempDir,
}

impl Dispatcher {
    pub async fn metrics(&self) -> String {
        self.binary.get("/metrics").await.1
    }
}

/// `[[endpoints]]` for `tenant`/`id` at `url` taking `types`.
pub fn endpoint(tenant: &str, id: &str, url: &str, types: &[&str]) -> String {
    format!(
        "[[endpoints]]\ntenant = {tenant:?}\nid = {id:?}\nurl = {url:?}\nsecret = {SECRET:?}\nevent_types = {types:?}\n\n"
    )
}

/// Event number `n` of `tenant`, of type `event_type`, with a 1 KiB-ish JSON body.
pub fn event(tenant: &str, event_type: &str, n: usize) -> Event {
    let data = serde_json::json!({ "n": n, "amount": 50_000 + n, "note": "x".repeat(64) });
    Event::builder(
        TenantId::parse(tenant).unwrap(),
        EventId::derive(&[
            tenant.as_bytes(),
            event_type.as_bytes(),
            n.to_string().as_bytes(),
        ]),
        format!("/{tenant}/test"),
        EventType::parse(event_type).unwrap(),
    )
    .subject(Some(format!("sub_{n}")))
    .data(Some("application/json".into()), data.to_string())
    .build()
    .unwrap()
}

/// Attempts of `endpoint`, in arrival order.
pub fn of(attempts: &[DeliveryAttempt], endpoint: &str) -> Vec<DeliveryAttempt> {
    attempts
        .iter()
        .filter(|a| a.endpoint_id == endpoint)
        .cloned()
        .collect()
}

/// The outcomes of `attempts`.
pub fn outcomes(attempts: &[DeliveryAttempt]) -> Vec<(u32, Outcome)> {
    attempts.iter().map(|a| (a.attempt, a.outcome())).collect()
}

pub use switchyard_testkit_bus::TopicReader;
