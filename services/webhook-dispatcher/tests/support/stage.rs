//! A topic prefix of the test's own on the shared Kafka-protocol broker, the dispatcher
//! binary started on it, and readers of what it wrote.

use std::path::PathBuf;

use bytes::Bytes;
use prost::Message as _;
use switchyard_domain::{
    Event, EventId, EventType, Headers, Message, TenantId,
    wire::{DeliveryAttempt, delivery_attempt::Outcome},
};
use switchyard_testkit::binary::RunningBinary;

pub const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-webhook-dispatcher");
/// The Standard Webhooks secret of the examples; the receivers verify with it.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// A second secret, for rotation.
pub const NEW_SECRET: &str = "whsec_dGhlIG5ldyBzZWNyZXQgYWZ0ZXIgcm90YXRpb24h";

/// The test's own topics, with the dispatcher's started.
pub struct Stage(KafkaStage);

impl std::ops::Deref for Stage {
    type Target = KafkaStage;
    fn deref(&self) -> &KafkaStage {
        &self.0
    }
}

impl Stage {
    /// A fresh prefix with `partitions` per topic.
    pub async fn new(partitions: u32) -> Self {
        let stage = KafkaStage::new("dispatch", partitions).await;
        let topics = stage.topics();
        stage
            .ensure(&[topics.events(), topics.deliveries(), topics.dlq()])
            .await;
        Self(stage)
    }

    /// Starts the dispatcher with `config` (TOML), loopback receivers allowed unless the
    /// config says otherwise.
    pub async fn start(&self, config: &str) -> Dispatcher {
        let dir = tempfile::tempdir().unwrap();
        let path: PathBuf = dir.path().join("switchyard.toml");
        std::fs::write(&path, config).unwrap();
        let path = path.to_str().unwrap().to_owned();
        Dispatcher {
            binary: self
                .start_binary(BINARY, &[("SWITCHYARD_CONFIG", path.as_str())])
                .await,
            _config: dir,
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

pub use switchyard_testkit_bus::{KafkaStage, TopicReader};
