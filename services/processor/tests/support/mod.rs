//! Shared by the processor binary tests: start the real binary on a Kafka-protocol broker,
//! put raw webhooks on its input topic the way ingest does, and read what it wrote.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::PathBuf;

use bytes::Bytes;
use switchyard_domain::{
    Event, EventId, Headers, Message,
    wire::{self, HttpHeader, RawWebhook},
};
use switchyard_testkit::binary::RunningBinary;

pub const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-processor");

/// The schemas shipped in the repository.
pub fn schemas_dir() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas").to_owned()
}

/// The configuration every test starts from: the shipped schemas and one source per
/// provider for tenant `acme`, plus `extra`.
pub fn config(extra: &str) -> String {
    let mut config = format!("[processor]\nschemas_dir = {:?}\n\n", schemas_dir());
    for provider in [
        "razorpay",
        "stripe",
        "github",
        "shopify",
        "standard-webhooks",
    ] {
        let secret = if provider == "standard-webhooks" {
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        } else {
            "test-secret"
        };
        config.push_str(&format!(
            "[[sources]]\ntenant = \"acme\"\nid = {provider:?}\nprovider = {provider:?}\nsecrets = [{secret:?}]\n\n"
        ));
    }
    config.push_str(extra);
    config
}

/// A topic prefix of its own on the shared test broker, with its bus.
pub struct Stage(KafkaStage);

impl std::ops::Deref for Stage {
    type Target = KafkaStage;
    fn deref(&self) -> &KafkaStage {
        &self.0
    }
}

impl Stage {
    /// A fresh prefix whose raw, events and DLQ topics exist (one partition each, so the
    /// order the test publishes in is the order the processor sees).
    pub async fn new() -> Self {
        let stage = KafkaStage::new("processor", 1).await;
        let topics = stage.topics();
        stage
            .ensure(&[topics.ingest_raw(), topics.events(), topics.dlq()])
            .await;
        Self(stage)
    }

    /// Starts the processor binary on this stage with `config` (TOML).
    pub async fn start_processor(&self, config: &str) -> Processor {
        let dir = tempfile::tempdir().unwrap();
        let path: PathBuf = dir.path().join("switchyard.toml");
        std::fs::write(&path, config).unwrap();
        let path = path.to_str().unwrap().to_owned();
        Processor {
            binary: self
                .start_binary(BINARY, &[("SWITCHYARD_CONFIG", path.as_str())])
                .await,
            _config: dir,
        }
    }

    /// Publishes raw webhooks to `<prefix>.ingest.raw` as ingest does (key = tenant), in order,
    /// waiting for every acknowledgement.
    pub async fn publish_raw(&self, records: &[RawWebhook]) {
        let topic = self.settings.topics().ingest_raw();
        for chunk in records.chunks(500) {
            let messages = chunk.iter().map(raw_message).collect();
            self.bus
                .publisher
                .publish_batch(&topic, messages)
                .await
                .unwrap();
        }
    }

    /// Publishes arbitrary bytes to the raw topic (a record no ingest would write).
    pub async fn publish_garbage(&self, payload: &'static [u8]) {
        let message = Message {
            key: Some(Bytes::from_static(b"acme")),
            headers: Headers::new(),
            payload: Bytes::from_static(payload),
        };
        self.bus
            .publisher
            .publish(&self.settings.topics().ingest_raw(), message)
            .await
            .unwrap();
    }

    /// Reads `<prefix>.events` from the start, decoding every record as a CloudEvent.
    pub async fn events(&self) -> TopicReader<(Option<Bytes>, Event)> {
        TopicReader::start(&self.bus, self.settings.topics().events(), |message| {
            let event = Event::from_message(message).map_err(|e| e.to_string())?;
            Ok((message.key.clone(), event))
        })
    }

    /// Reads `<prefix>.dlq` from the start.
    pub async fn dlq(&self) -> TopicReader<Message> {
        TopicReader::start(&self.bus, self.settings.topics().dlq(), |message| {
            Ok(message.clone())
        })
    }
}

/// A running processor.
pub struct Processor {
    pub binary: RunningBinary,
    _config: tempfile::TempDir,
}

impl Processor {
    /// Scrapes `/metrics`.
    pub async fn metrics(&self) -> String {
        self.binary.get("/metrics").await.1
    }
}

/// A raw webhook of `provider` for tenant `acme`, as ingest records it.
pub fn raw(provider: &str, delivery_id: &str, body: &[u8], headers: &[(&str, &str)]) -> RawWebhook {
    let mut kept = vec![HttpHeader {
        name: "content-type".into(),
        value: Bytes::from_static(b"application/json"),
    }];
    for (name, value) in headers {
        kept.retain(|h| h.name != *name);
        kept.push(HttpHeader {
            name: (*name).to_owned(),
            value: Bytes::copy_from_slice(value.as_bytes()),
        });
    }
    let event_id = EventId::derive(&[b"acme", provider.as_bytes(), delivery_id.as_bytes()]);
    RawWebhook {
        tenant: "acme".into(),
        source: provider.into(),
        provider: provider.into(),
        body: Bytes::copy_from_slice(body),
        headers: kept,
        received_at: Some(prost_types::Timestamp {
            seconds: 1_764_000_000,
            nanos: 0,
        }),
        delivery_id: delivery_id.into(),
        remote_ip: "203.0.113.7".into(),
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        event_id: event_id.to_string(),
    }
}

fn raw_message(raw: &RawWebhook) -> Message {
    use prost::Message as _;
    let mut headers = Headers::with_capacity(1);
    headers.insert("content-type", wire::RAW_WEBHOOK_CONTENT_TYPE);
    Message {
        key: Some(Bytes::copy_from_slice(raw.tenant.as_bytes())),
        headers,
        payload: raw.encode_to_vec().into(),
    }
}

pub use switchyard_testkit_bus::{KafkaStage, TopicReader};
