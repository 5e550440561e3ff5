//! Shared by the ingest binary tests: start the real binary with a configuration file, sign
//! requests as each provider does, and read what landed on the raw topic.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::{path::PathBuf, sync::Arc, time::Duration};

use hmac::{Hmac, Mac as _};
use prost::Message as _;
use sha2::Sha256;
use switchyard_bus::{Bus, HandlerError, RetryPolicy, StartFrom, Subscription};
use switchyard_domain::wire::RawWebhook;
use switchyard_runtime::settings::{BusBackend, BusSettings};
use switchyard_testkit::{binary::RunningBinary, infra, unique_name};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
    sync::mpsc,
};
use tokio_util::sync::CancellationToken;

pub const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-ingest");

/// A running ingest with its own topic prefix on a Kafka-protocol broker.
pub struct Ingest {
    pub binary: RunningBinary,
    pub prefix: String,
    pub brokers: String,
    _config: tempfile::TempDir,
}

impl Ingest {
    /// Starts ingest on the shared test broker with `config` (TOML, usually `[[sources]]`).
    pub async fn start(config: &str) -> Self {
        Self::start_with(config, &infra::kafka_brokers(), &unique_name("ingest"), &[]).await
    }

    /// Starts ingest against `brokers` under topic `prefix` with extra environment.
    pub async fn start_with(
        config: &str,
        brokers: &str,
        prefix: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path: PathBuf = dir.path().join("switchyard.toml");
        std::fs::write(&path, config).unwrap();
        let path = path.to_str().unwrap().to_owned();
        let mut all = vec![
            ("SWITCHYARD_CONFIG", path.as_str()),
            ("SWITCHYARD__BUS__BACKEND", "kafka"),
            ("SWITCHYARD__BUS__KAFKA__BROKERS", brokers),
            ("SWITCHYARD__BUS__TOPIC_PREFIX", prefix),
            ("SWITCHYARD__BUS__PARTITIONS", "1"),
        ];
        all.extend_from_slice(env);
        let binary = RunningBinary::start(BINARY, &all).await;
        Self {
            binary,
            prefix: prefix.to_owned(),
            brokers: brokers.to_owned(),
            _config: dir,
        }
    }

    pub fn url(&self, tenant: &str, source: &str) -> String {
        format!("{}/webhooks/{tenant}/{source}", self.binary.base_url)
    }

    /// `host:port` of the HTTP listener.
    pub fn addr(&self) -> String {
        self.binary
            .base_url
            .trim_start_matches("http://")
            .to_owned()
    }

    /// Reads `<prefix>.ingest.raw` from the start.
    pub async fn raw_reader(&self) -> RawReader {
        RawReader::start(&self.brokers, &self.prefix).await
    }

    /// Waits until `/readyz` passes: the broker answers and the run-time sources are loaded,
    /// so an unknown source is 404 rather than 503 `sources-loading`.
    pub async fn wait_ready(&self) {
        let started = std::time::Instant::now();
        loop {
            let (status, body) = self.binary.get("/readyz").await;
            if status == 200 {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "ingest not ready within 30 s: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Scrapes `/metrics`.
    pub async fn metrics(&self) -> String {
        self.binary.get("/metrics").await.1
    }
}

/// A source block for the configuration file.
pub fn source(tenant: &str, id: &str, provider: &str, secrets: &[&str], extra: &str) -> String {
    let secrets = secrets
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "[[sources]]\ntenant = {tenant:?}\nid = {id:?}\nprovider = {provider:?}\nsecrets = [{secrets}]\n{extra}\n"
    )
}

pub fn hmac_sha256(secret: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// `X-Razorpay-Signature` for `body`.
pub fn razorpay_signature(secret: &str, body: &[u8]) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), &[body]))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Posts a Razorpay-signed webhook with delivery id `event_id`.
pub async fn post_razorpay(
    url: &str,
    secret: &str,
    event_id: &str,
    body: &[u8],
) -> reqwest::Response {
    client()
        .post(url)
        .header("content-type", "application/json")
        .header("x-razorpay-signature", razorpay_signature(secret, body))
        .header("x-razorpay-event-id", event_id)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

/// Asserts a problem+json answer of `status` and type slug; returns the body.
pub async fn expect_problem(
    response: reqwest::Response,
    status: u16,
    slug: &str,
) -> serde_json::Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status of {:?}",
        response.url()
    );
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["type"],
        format!("urn:switchyard:problem:{slug}"),
        "{body}"
    );
    assert_eq!(body["status"], status);
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

/// Asserts a 202 and returns `(id, duplicate)`.
pub async fn expect_accepted(response: reqwest::Response) -> (String, bool) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 202, "expected 202, got {status}: {text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("evt_"), "{body}");
    (id, body["duplicate"].as_bool().unwrap_or(false))
}

/// Sends raw bytes on a fresh connection and returns what the server answered (status line
/// and headers, as text) once it answers or closes.
pub async fn raw_exchange(addr: &str, request: &[u8], then_wait: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    };
    let _ = tokio::time::timeout(then_wait, read).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Everything on one ingest's raw topic, decoded.
pub struct RawReader {
    records: mpsc::Receiver<(Option<Vec<u8>>, RawWebhook)>,
    stop: CancellationToken,
}

impl RawReader {
    async fn start(brokers: &str, prefix: &str) -> Self {
        let mut settings = BusSettings {
            backend: BusBackend::Kafka,
            partitions: 1,
            ..BusSettings::default()
        };
        settings.kafka.brokers = brokers.to_owned();
        settings.kafka.session_timeout_ms = 6_000;
        settings.topic_prefix = prefix.parse().unwrap();
        let bus = Bus::connect(&settings)
            .await
            .unwrap_or_else(|e| infra::unavailable("Kafka-protocol broker", brokers, &e));
        let topics = settings.topics();
        let topic = topics.ingest_raw();
        bus.admin
            .ensure_topics(&[topic.clone(), topics.dlq()])
            .await
            .unwrap();
        let (tx, records) = mpsc::channel(1024);
        let stop = CancellationToken::new();
        let subscription = Subscription {
            group: unique_name("reader"),
            topics: vec![topic],
            retry: RetryPolicy::default(),
            dlq_topic: topics.dlq(),
            start: StartFrom::Earliest,
        };
        let handler = move |delivery: switchyard_bus::Delivery| {
            let tx = tx.clone();
            async move {
                let raw = RawWebhook::decode(delivery.message.payload.clone())
                    .map_err(|e| HandlerError::Reject(e.to_string()))?;
                let key = delivery.message.key.as_ref().map(|k| k.to_vec());
                tx.send((key, raw))
                    .await
                    .map_err(|e| HandlerError::Retry(e.to_string()))
            }
        };
        let subscriber = bus.subscriber.clone();
        let token = stop.clone();
        tokio::spawn(async move { subscriber.run(subscription, Arc::new(handler), token).await });
        Self { records, stop }
    }

    /// The next record (key, value), waiting up to 30 s.
    pub async fn next(&mut self) -> (Option<Vec<u8>>, RawWebhook) {
        tokio::time::timeout(Duration::from_secs(30), self.records.recv())
            .await
            .expect("no record on the raw topic within 30 s")
            .expect("reader stopped")
    }

    /// Asserts nothing more arrives within `quiet`.
    pub async fn expect_no_more(&mut self, quiet: Duration) {
        if let Ok(Some((_, raw))) = tokio::time::timeout(quiet, self.records.recv()).await {
            panic!(
                "unexpected record for delivery {:?} (event {})",
                raw.delivery_id, raw.event_id
            );
        }
    }
}

impl Drop for RawReader {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
