//! A source's rules changed at run time: the real processor follows `<prefix>.config` on a
//! Kafka-protocol broker, and a transform published there applies to the next raw webhook.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use secrecy::SecretString;
use support::{Stage, raw, schemas_dir};
use switchyard_control::{ConfigChange, Sealer, SourceSpec};
use switchyard_runtime::settings::{Provider, SourceSettings, TransformSettings};

const KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

fn captured_payment() -> Vec<u8> {
    std::fs::read(format!(
        "{}/fixtures/razorpay/razorpay.payment.captured.json",
        schemas_dir()
    ))
    .unwrap()
}

/// The gateway's record of acme/razorpay with `transform`. Sealed with a key the processor
/// does not have: it needs none, as it never verifies signatures.
fn upserted(version: i64, transform: TransformSettings) -> ConfigChange {
    let settings = SourceSettings {
        tenant: "acme".parse().unwrap(),
        id: "razorpay".parse().unwrap(),
        provider: Provider::Razorpay,
        secrets: vec![SecretString::from("test-secret")],
        allow_ips: vec!["0.0.0.0/0".parse().unwrap()],
        rate_limit_per_sec: 100,
        max_body_bytes: 65_536,
        hmac: None,
        strict: false,
        transform,
        paused: false,
    };
    let sealer = Sealer::new(&[SecretString::from(KEY)]).unwrap();
    ConfigChange::SourceUpserted {
        version,
        spec: SourceSpec::seal(&settings, &sealer).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transform_published_on_the_config_topic_applies_to_the_next_raw_webhook() {
    let stage = Stage::new().await;
    let config_topic = stage.topics().config();
    stage.ensure(std::slice::from_ref(&config_topic)).await;
    let processor = stage
        .start_processor(
            "[processor]\nvalidate = false\n\n[[sources]]\ntenant = \"acme\"\nid = \"razorpay\"\nprovider = \"razorpay\"\nsecrets = [\"test-secret\"]\n",
        )
        .await;
    let mut events = stage.events().await;
    let body = captured_payment();

    stage
        .publish_raw(&[raw("razorpay", "d1", &body, &[])])
        .await;
    let (_, before) = events.next().await;
    let data: serde_json::Value = serde_json::from_slice(before.data()).unwrap();
    assert!(data["payload"]["payment"]["entity"]["card"].is_object());
    assert_eq!(before.subject(), Some("pay_DESp9bgForNoUd"));

    let transform = TransformSettings {
        drop: vec!["/payload/payment/entity/card".into()],
        subject: "/account_id".into(),
        ..TransformSettings::default()
    };
    stage
        .bus
        .publisher
        .publish(&config_topic, upserted(1, transform).to_message().unwrap())
        .await
        .unwrap();
    let applied = r#"switchyard_config_changes_applied_total{kind="source",result="applied"} 1"#;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = processor.metrics().await;
        if metrics.contains(applied) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the change was not applied within 5 s:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    stage
        .publish_raw(&[raw("razorpay", "d2", &body, &[])])
        .await;
    let (_, after) = events.next().await;
    let data: serde_json::Value = serde_json::from_slice(after.data()).unwrap();
    assert!(
        data["payload"]["payment"]["entity"].get("card").is_none(),
        "card details dropped: {data}"
    );
    assert_eq!(
        data["payload"]["payment"]["entity"]["id"],
        "pay_DESp9bgForNoUd"
    );
    assert_eq!(after.subject(), Some("acc_BFQ7uQEaa7j2z7"));

    // Deleting the source's record brings back the provider's defaults.
    let deleted = ConfigChange::SourceDeleted {
        tenant: "acme".parse().unwrap(),
        id: "razorpay".parse().unwrap(),
        version: 2,
    };
    stage
        .bus
        .publisher
        .publish(&config_topic, deleted.to_message().unwrap())
        .await
        .unwrap();
    let applied = r#"switchyard_config_changes_applied_total{kind="source",result="applied"} 2"#;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !processor.metrics().await.contains(applied) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "deletion not applied"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stage
        .publish_raw(&[raw("razorpay", "d3", &body, &[])])
        .await;
    let (_, last) = events.next().await;
    assert_eq!(last.subject(), Some("pay_DESp9bgForNoUd"));
}
