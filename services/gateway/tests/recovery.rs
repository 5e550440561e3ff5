//! The DLQ and replays through the real gateway on the Kafka-protocol broker: dead letters
//! consumed from the DLQ topic and listed per tenant, a failed delivery redriven to its
//! endpoint only (the dispatcher's first retry topic, never the events topic), another dead
//! letter back to its own topic, and a time range replayed to one endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use serde_json::{Value, json};
use support::{Gateway, KafkaStage, TopicReader, admin, event};
use switchyard_domain::{Message, redelivery};
use switchyard_testkit::unique_name;

const WAIT: Duration = Duration::from_secs(30);

/// A dead letter as a service writes it: `record` plus the `dlq-*` headers.
fn dead_letter(record: &Message, topic: &str, reason: &str, endpoint: Option<&str>) -> Message {
    let mut message = record.clone();
    message
        .headers
        .insert("dlq-reason", Bytes::from(reason.to_owned()));
    message
        .headers
        .insert("dlq-topic", Bytes::from(topic.to_owned()));
    message
        .headers
        .insert("dlq-attempts", Bytes::from_static(b"8"));
    message
        .headers
        .insert("dlq-group", Bytes::from_static(b"webhook-dispatcher"));
    if let Some(endpoint) = endpoint {
        message
            .headers
            .insert("dlq-endpoint", Bytes::from(endpoint.to_owned()));
    }
    message
}

async fn dead_letters(gateway: &Gateway, token: &str, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let page = gateway.get("/v1/dlq", token).await;
        assert_eq!(page.status, 200, "{page:?}");
        let data = page.body["data"].as_array().unwrap().clone();
        if data.len() >= count {
            return data;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {count} dead letters: {page:?}",
            data.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_per_tenant_and_redriven_to_where_they_failed() {
    let stage = KafkaStage::new("gwdlq", 1).await;
    let topics = stage.topics();
    stage
        .ensure(&[
            topics.dlq(),
            topics.events(),
            topics.delivery_retry(redelivery::FIRST_STAGE),
        ])
        .await;
    let gateway = Gateway::on_kafka(&stage, &[]).await;
    let (acme, globex) = (unique_name("acme"), unique_name("globex"));

    let failed = event(&acme, "order.created", 1, 0).to_binary();
    let rejected = event(&acme, "order.created", 2, 1).to_binary();
    let theirs = event(&globex, "order.created", 3, 2).to_binary();
    stage
        .bus
        .publisher
        .publish_batch(
            &topics.dlq(),
            vec![
                dead_letter(
                    &failed,
                    &topics.events(),
                    "attempts exhausted: 503",
                    Some("orders"),
                ),
                dead_letter(&rejected, &topics.events(), "schema violation", None),
                dead_letter(
                    &theirs,
                    &topics.events(),
                    "attempts exhausted",
                    Some("orders"),
                ),
            ],
        )
        .await
        .unwrap();

    let ops = admin(&acme);
    let listed = dead_letters(&gateway, &ops, 2).await;
    assert_eq!(listed.len(), 2, "only acme's: {listed:?}");
    let by_reason = |reason: &str| {
        listed
            .iter()
            .find(|d| d["reason"] == reason)
            .unwrap_or_else(|| panic!("{reason} missing from {listed:?}"))
            .clone()
    };
    let delivery = by_reason("attempts exhausted: 503");
    assert_eq!(delivery["endpoint"], "orders");
    assert_eq!(delivery["event_id"], format!("evt_{acme}_1"));
    assert_eq!(delivery["payload"]["n"], 1);
    let filtered = gateway.get("/v1/dlq?endpoint=orders", &ops).await;
    assert_eq!(filtered.body["data"].as_array().unwrap().len(), 1);

    // A failed delivery goes back to its endpoint only: the first retry topic, attempt 1,
    // due now, without the dlq-* headers.
    let mut retries =
        TopicReader::messages(&stage.bus, topics.delivery_retry(redelivery::FIRST_STAGE));
    let mut events = TopicReader::messages(&stage.bus, topics.events());
    let id = delivery["id"].as_str().unwrap();
    let redriven = gateway
        .call(
            Method::POST,
            &format!("/v1/dlq/{id}/redrive"),
            Some(&ops),
            None,
            &[],
        )
        .await;
    assert_eq!(redriven.status, 202, "{redriven:?}");
    assert_eq!(redriven.body["redrive_count"], 1);
    let record = retries.next().await;
    assert_eq!(record.headers.get_str(redelivery::ENDPOINT), Some("orders"));
    assert_eq!(record.headers.get_str(redelivery::ATTEMPT), Some("1"));
    assert_eq!(
        record.headers.get_str("ce_id"),
        failed.headers.get_str("ce_id")
    );
    assert!(
        record.headers.iter().all(|h| !h.name.starts_with("dlq-")),
        "{record:?}"
    );
    assert_eq!(record.payload, failed.payload);

    // Anything else goes back to its own topic, as it was.
    let other = by_reason("schema violation");
    let id = other["id"].as_str().unwrap();
    let answer = gateway
        .call(
            Method::POST,
            &format!("/v1/dlq/{id}/redrive"),
            Some(&ops),
            None,
            &[],
        )
        .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    let record = events.next().await;
    assert_eq!(record, rejected);
    events.expect_no_more(Duration::from_secs(2)).await;
    retries.expect_no_more(Duration::from_secs(1)).await;

    let pending = gateway.get("/v1/dlq?redriven=false", &ops).await;
    assert_eq!(pending.body["data"], json!([]), "{pending:?}");
    gateway
        .call(
            Method::POST,
            &format!("/v1/dlq/{id}/redrive"),
            Some(&admin(&globex)),
            None,
            &[],
        )
        .await
        .assert_problem(404, "not-found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_redelivers_a_time_range_of_subscribed_types_to_one_endpoint() {
    let stage = KafkaStage::new("gwreplay", 1).await;
    let topics = stage.topics();
    stage
        .ensure(&[topics.dlq(), topics.delivery_retry(redelivery::FIRST_STAGE)])
        .await;
    let gateway = Gateway::on_kafka(&stage, &[("SWITCHYARD__GATEWAY__MAX_REPLAY", "3")]).await;
    let acme = unique_name("acme");
    let ops = admin(&acme);
    let created = gateway
        .post("/v1/endpoints", &ops, &json!({ "id": "orders", "url": "https://orders.example/", "event_types": ["order.*"] }))
        .await;
    assert_eq!(created.status, 201);
    // Seconds 0..10: even ones are orders, odd ones payments.
    let events: Vec<_> = (0..10)
        .map(|n| {
            event(
                &acme,
                if n % 2 == 0 {
                    "order.created"
                } else {
                    "payment.captured"
                },
                n,
                i64::from(n),
            )
        })
        .collect();
    gateway.store_events(&events).await;

    let mut retries =
        TopicReader::messages(&stage.bus, topics.delivery_retry(redelivery::FIRST_STAGE));
    let replay = gateway
        .post(
            "/v1/endpoints/orders/replay",
            &ops,
            &json!({ "since": "2026-01-01T00:00:01Z", "until": "2026-01-01T00:00:09Z" }),
        )
        .await;
    assert_eq!(replay.status, 202, "{replay:?}");
    // Orders at seconds 2, 4, 6 (8 too, but one replay takes at most 3 here).
    assert_eq!(replay.body["scheduled"], 3);
    assert_eq!(replay.body["truncated"], true);
    assert_eq!(replay.body["resume_since"], "2026-01-01T00:00:08Z");
    let got = retries.until(WAIT, |r| r.len() == 3).await;
    let ids: Vec<_> = got
        .iter()
        .map(|r| r.headers.get_str("ce_id").unwrap().to_owned())
        .collect();
    assert_eq!(ids, [2, 4, 6].map(|n| format!("evt_{acme}_{n}")));
    assert!(
        got.iter()
            .all(|r| r.headers.get_str(redelivery::ENDPOINT) == Some("orders"))
    );

    let rest = gateway
        .post(
            "/v1/endpoints/orders/replay",
            &ops,
            &json!({ "since": "2026-01-01T00:00:08Z", "until": "2026-01-01T00:00:09Z" }),
        )
        .await;
    assert_eq!(rest.body["scheduled"], 1);
    assert_eq!(rest.body["truncated"], false);
    assert_eq!(
        retries.next().await.headers.get_str("ce_id"),
        Some(format!("evt_{acme}_8").as_str())
    );
    retries.expect_no_more(Duration::from_secs(2)).await;

    gateway
        .post(
            "/v1/endpoints/nope/replay",
            &ops,
            &json!({ "since": "2026-01-01T00:00:00Z" }),
        )
        .await
        .assert_problem(404, "not-found");
    gateway
        .post(
            "/v1/endpoints/orders/replay",
            &ops,
            &json!({ "since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z" }),
        )
        .await
        .assert_problem(400, "invalid-request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_while_storing_the_dlq_stores_every_dead_letter_once() {
    let stage = KafkaStage::new("gwdlqkill", 2).await;
    let topics = stage.topics();
    stage.ensure(&[topics.dlq(), topics.events()]).await;
    let mut gateway = Gateway::on_kafka(&stage, &[]).await;
    let acme = unique_name("acme");
    let records: Vec<_> = (0..3_000)
        .map(|n| {
            let record = event(&acme, "order.created", n, i64::from(n)).to_binary();
            dead_letter(&record, &topics.events(), "schema violation", None)
        })
        .collect();
    for chunk in records.chunks(500) {
        stage
            .bus
            .publisher
            .publish_batch(&topics.dlq(), chunk.to_vec())
            .await
            .unwrap();
    }
    let client = gateway.database.client().await;
    let stored = || async {
        client
            .query_one(
                "SELECT count(*) FROM dead_letters WHERE tenant = $1",
                &[&acme],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    // Killed mid-stream: some stored, not all.
    let deadline = tokio::time::Instant::now() + WAIT;
    while stored().await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "nothing stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = stored().await;
    gateway.kill_and_restart(&stage).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let count = stored().await;
        assert!(count <= 3_000, "stored twice: {count}");
        if count == 3_000 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} of 3000 after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        before < 3_000,
        "the kill came after the whole stream ({before}); nothing was proved"
    );
    let positions: i64 = client
        .query_one(
            "SELECT count(DISTINCT source_position) FROM dead_letters WHERE tenant = $1",
            &[&acme],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(positions, 3_000);
}
