//! Sources configured at run time: the real ingest binary follows `<prefix>.config` on a
//! Kafka-protocol broker. A source published there takes webhooks within seconds, a deletion
//! turns it into a 404, a pause into a 503 the provider retries, a static source is replaced
//! by its API version, and a restarted replica is ready only once it knows them all.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use secrecy::SecretString;
use support::{Ingest, post_razorpay, source};
use switchyard_bus::Bus;
use switchyard_control::{ConfigChange, Sealer, SourceSpec};
use switchyard_runtime::settings::{BusBackend, BusSettings, Provider, SourceSettings};
use switchyard_testkit::{infra, unique_name};

/// `[secrets] keys`, as the gateway and ingest share it.
const KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
const OLD_SECRET: &str = "rzp_static_secret";
const NEW_SECRET: &str = "rzp_api_secret";
/// How soon a change must reach ingest.
const WITHIN: Duration = Duration::from_secs(5);

/// The gateway's side of the test: the config topic of one prefix.
struct ConfigTopic {
    bus: Bus,
    topic: String,
    prefix: String,
}

impl ConfigTopic {
    async fn new() -> Self {
        let brokers = infra::kafka_brokers();
        let prefix = unique_name("ingest-cfg");
        let mut settings = BusSettings {
            backend: BusBackend::Kafka,
            // As ingest is started by the support (`SWITCHYARD__BUS__PARTITIONS=1`).
            partitions: 1,
            ..BusSettings::default()
        };
        settings.kafka.brokers.clone_from(&brokers);
        settings.topic_prefix = prefix.parse().unwrap();
        let bus = Bus::connect(&settings)
            .await
            .unwrap_or_else(|e| infra::unavailable("Kafka-protocol broker", &brokers, &e));
        let topic = settings.topics().config();
        bus.admin
            .ensure_topics(std::slice::from_ref(&topic))
            .await
            .unwrap_or_else(|e| infra::unavailable("Kafka-protocol broker", &brokers, &e));
        Self { bus, topic, prefix }
    }

    async fn publish(&self, change: &ConfigChange) {
        self.bus
            .publisher
            .publish(&self.topic, change.to_message().unwrap())
            .await
            .unwrap_or_else(|e| panic!("cannot publish to {}: {e}", self.topic));
    }

    /// Starts ingest on this prefix with the sealing key and `config`.
    async fn start_ingest(&self, config: &str) -> Ingest {
        Ingest::start_with(
            config,
            &infra::kafka_brokers(),
            &self.prefix,
            &[("SWITCHYARD__SECRETS__KEYS", KEY)],
        )
        .await
    }
}

fn sealer() -> Sealer {
    Sealer::new(&[SecretString::from(KEY)]).unwrap()
}

fn upserted(version: i64, secret: &str, paused: bool) -> ConfigChange {
    let settings = SourceSettings {
        tenant: "acme".parse().unwrap(),
        id: "rzp".parse().unwrap(),
        provider: Provider::Razorpay,
        secrets: vec![SecretString::from(secret)],
        allow_ips: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
        rate_limit_per_sec: 100,
        max_body_bytes: 65_536,
        hmac: None,
        strict: false,
        transform: Default::default(),
        paused,
    };
    ConfigChange::SourceUpserted {
        version,
        spec: SourceSpec::seal(&settings, &sealer()).unwrap(),
    }
}

fn deleted(version: i64) -> ConfigChange {
    ConfigChange::SourceDeleted {
        tenant: "acme".parse().unwrap(),
        id: "rzp".parse().unwrap(),
        version,
    }
}

/// Posts Razorpay webhooks signed with `secret` until one is answered `status`, for at most
/// `within`; returns that response.
async fn until_status(
    ingest: &Ingest,
    secret: &str,
    status: u16,
    within: Duration,
) -> reqwest::Response {
    let deadline = tokio::time::Instant::now() + within;
    let mut n = 0;
    loop {
        n += 1;
        let body = format!("{{\"event\":\"payment.captured\",\"n\":{n}}}");
        let response = post_razorpay(
            &ingest.url("acme", "rzp"),
            secret,
            &format!("evt_cfg_{n}_{}", unique_name("d")),
            body.as_bytes(),
        )
        .await;
        if response.status().as_u16() == status {
            return response;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {status} within {within:?}; last answer {}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_ready(ingest: &Ingest) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = ingest.binary.get("/readyz").await;
        if status == 200 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz not 200 within 30 s: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_source_published_on_the_config_topic_takes_webhooks_until_paused_or_deleted() {
    let config = ConfigTopic::new().await;
    let ingest = config.start_ingest("").await;
    wait_ready(&ingest).await;
    let before = post_razorpay(&ingest.url("acme", "rzp"), NEW_SECRET, "evt_0", b"{}").await;
    assert_eq!(
        before.status().as_u16(),
        404,
        "unknown before it is published"
    );

    config.publish(&upserted(1, NEW_SECRET, false)).await;
    until_status(&ingest, NEW_SECRET, 202, WITHIN).await;

    config.publish(&upserted(2, NEW_SECRET, true)).await;
    let paused = until_status(&ingest, NEW_SECRET, 503, WITHIN).await;
    assert_eq!(
        paused.headers()["retry-after"].to_str().unwrap(),
        "60",
        "the provider is told when to retry"
    );
    let problem: serde_json::Value = paused.json().await.unwrap();
    assert_eq!(problem["type"], "urn:switchyard:problem:source-paused");

    config.publish(&deleted(3)).await;
    until_status(&ingest, NEW_SECRET, 404, WITHIN).await;
    // A stale upsert (replayed, or overtaken by the deletion) does not bring it back.
    config.publish(&upserted(2, NEW_SECRET, false)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = post_razorpay(&ingest.url("acme", "rzp"), NEW_SECRET, "evt_x", b"{}").await;
    assert_eq!(after.status().as_u16(), 404);

    let metrics = ingest.metrics().await;
    assert!(
        metrics.contains(
            r#"switchyard_config_changes_applied_total{kind="source",result="applied"} 3"#
        ),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"switchyard_config_changes_applied_total{kind="source",result="stale"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_static_source_replaced_through_the_config_topic_uses_the_new_secret() {
    let config = ConfigTopic::new().await;
    let ingest = config
        .start_ingest(&source("acme", "rzp", "razorpay", &[OLD_SECRET], ""))
        .await;
    until_status(&ingest, OLD_SECRET, 202, WITHIN).await;

    config.publish(&upserted(1, NEW_SECRET, false)).await;
    until_status(&ingest, NEW_SECRET, 202, WITHIN).await;
    let old = post_razorpay(&ingest.url("acme", "rzp"), OLD_SECRET, "evt_old", b"{}").await;
    assert_eq!(
        old.status().as_u16(),
        401,
        "the static secret no longer opens"
    );
}

#[tokio::test]
async fn a_restarted_replica_is_ready_only_once_it_knows_the_sources_of_the_config_topic() {
    let config = ConfigTopic::new().await;
    config.publish(&upserted(1, OLD_SECRET, false)).await;
    config.publish(&upserted(2, NEW_SECRET, false)).await;

    let ingest = config.start_ingest("").await;
    wait_ready(&ingest).await;
    // No waiting beyond readiness: a load balancer sends traffic as soon as it is ready.
    let response = post_razorpay(
        &ingest.url("acme", "rzp"),
        NEW_SECRET,
        "evt_ready",
        b"{\"event\":\"payment.captured\"}",
    )
    .await;
    assert_eq!(response.status().as_u16(), 202, "ready means caught up");
}

#[tokio::test]
async fn without_sealing_keys_a_sealed_source_is_skipped_and_ingest_keeps_serving() {
    let config = ConfigTopic::new().await;
    config.publish(&upserted(1, NEW_SECRET, false)).await;
    let mut ingest = Ingest::start_with(
        &source("acme", "static", "razorpay", &[OLD_SECRET], ""),
        &infra::kafka_brokers(),
        &config.prefix,
        &[],
    )
    .await;
    ingest
        .binary
        .expect_log("an error naming the missing keys", |l| {
            l["level"] == "ERROR"
                && l["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("no sealing keys"))
        })
        .await;
    wait_ready(&ingest).await;
    let skipped = post_razorpay(&ingest.url("acme", "rzp"), NEW_SECRET, "evt_s", b"{}").await;
    assert_eq!(skipped.status().as_u16(), 404);
    let response = post_razorpay(
        &ingest.url("acme", "static"),
        OLD_SECRET,
        "evt_static",
        b"{}",
    )
    .await;
    assert_eq!(response.status().as_u16(), 202);
}
