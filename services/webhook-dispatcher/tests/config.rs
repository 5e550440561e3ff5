//! Endpoints configured at run time: the real dispatcher follows `<prefix>.config` on a
//! Kafka-protocol broker. An endpoint published there receives the next event (signed,
//! verified by the independent receiver), a pause stops its deliveries, and a resume with a
//! rotated secret signs with the new secret and the previous one during its overlap.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// The support serves every test binary; this one uses only the Python receiver.
#[allow(unused_imports)]
mod support;

use std::time::Duration;

use chrono::Utc;
use secrecy::SecretString;
use support::{
    receiver::PyReceiver,
    stage::{Dispatcher, NEW_SECRET, SECRET, Stage, endpoint, event},
};
use switchyard_control::{ConfigChange, EndpointSpec, Sealer};
use switchyard_runtime::settings::EndpointSettings;

const KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

fn upserted(
    version: i64,
    url: &str,
    secret: &str,
    previous: &[&str],
    paused: bool,
) -> ConfigChange {
    let settings = EndpointSettings {
        tenant: "acme".parse().unwrap(),
        id: "orders".parse().unwrap(),
        url: url.parse().unwrap(),
        secret: SecretString::from(secret),
        previous_secrets: previous.iter().map(|s| SecretString::from(*s)).collect(),
        paused,
        event_types: vec!["razorpay.payment.*".parse().unwrap()],
    };
    let sealer = Sealer::new(&[SecretString::from(KEY)]).unwrap();
    ConfigChange::EndpointUpserted {
        version,
        spec: EndpointSpec::seal(&settings, &sealer, Utc::now() + chrono::Duration::hours(1))
            .unwrap(),
    }
}

async fn publish(stage: &Stage, change: &ConfigChange) {
    stage
        .bus
        .publisher
        .publish(&stage.topics().config(), change.to_message().unwrap())
        .await
        .unwrap();
}

/// Waits until the dispatcher has applied `count` endpoint changes.
async fn applied(dispatcher: &Dispatcher, count: u32) {
    let line = format!(
        r#"switchyard_config_changes_applied_total{{kind="endpoint",result="applied"}} {count}"#
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = dispatcher.metrics().await;
        if metrics.contains(&line) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "change {count} not applied within 5 s:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_published_on_the_config_topic_receives_events_until_paused() {
    let receiver = PyReceiver::start(&[SECRET, NEW_SECRET]).await.unwrap();
    let stage = Stage::new(1).await;
    stage
        .ensure(std::slice::from_ref(&stage.topics().config()))
        .await;
    // A static endpoint that takes everything: once it has an event, the dispatcher has
    // handled that event for every endpoint.
    let witness = endpoint("acme", "witness", &receiver.url("/ok/witness"), &["*"]);
    let dispatcher = stage
        .start(&format!(
            "[dispatcher]\nallow_private_networks = true\nretry_jitter = 0.0\n\n[secrets]\nkeys = [{KEY:?}]\n\n{witness}"
        ))
        .await;
    let orders = receiver.url("/ok/orders");

    publish(&stage, &upserted(1, &orders, SECRET, &[], false)).await;
    applied(&dispatcher, 1).await;
    let first = event("acme", "razorpay.payment.captured", 0);
    stage.publish_events(std::slice::from_ref(&first)).await;
    let got = receiver
        .wait_for_count("orders", 1, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(got[0].webhook_id.as_deref(), Some(first.id().as_str()));
    assert!(got[0].verified, "{:?}", got[0]);

    publish(&stage, &upserted(2, &orders, SECRET, &[], true)).await;
    applied(&dispatcher, 2).await;
    let while_paused = event("acme", "razorpay.payment.captured", 1);
    stage
        .publish_events(std::slice::from_ref(&while_paused))
        .await;
    receiver
        .wait_for_count("witness", 2, Duration::from_secs(30))
        .await
        .unwrap();

    // Resumed, with its secret rotated: the previous one signs too until it expires.
    publish(&stage, &upserted(3, &orders, NEW_SECRET, &[SECRET], false)).await;
    applied(&dispatcher, 3).await;
    let resumed = event("acme", "razorpay.payment.captured", 2);
    stage.publish_events(std::slice::from_ref(&resumed)).await;
    receiver
        .wait_for_count("witness", 3, Duration::from_secs(30))
        .await
        .unwrap();
    let got = receiver
        .wait_for_count("orders", 2, Duration::from_secs(30))
        .await
        .unwrap();
    let ids: Vec<&str> = got.iter().filter_map(|r| r.webhook_id.as_deref()).collect();
    assert_eq!(
        ids,
        [first.id().as_str(), resumed.id().as_str()],
        "nothing delivered while paused"
    );
    assert!(got[1].verified);
    assert_eq!(got[1].signatures().len(), 2, "{:?}", got[1]);

    // Deleted: the endpoint gets nothing more.
    let deleted = ConfigChange::EndpointDeleted {
        tenant: "acme".parse().unwrap(),
        id: "orders".parse().unwrap(),
        version: 4,
    };
    publish(&stage, &deleted).await;
    applied(&dispatcher, 4).await;
    let after = event("acme", "razorpay.payment.captured", 3);
    stage.publish_events(std::slice::from_ref(&after)).await;
    receiver
        .wait_for_count("witness", 4, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(receiver.log(Some("orders")).await.unwrap().len(), 2);
}
