//! What ingest promises when things around it fail: a broker outage is answered with 503 and
//! nothing acknowledged is ever lost; replicas sharing Redis answer a repeat as a duplicate.

mod support;

use std::{collections::HashSet, time::Duration};

use support::{Ingest, expect_accepted, expect_problem, post_razorpay, source};
use switchyard_testkit::{infra, tansu::PrivateTansu, unique_name};

const SECRET: &str = "rzp_webhook_secret";

/// Posts until the answer is 202 (the sender's retry loop), giving up after `within`.
async fn post_until_accepted(ingest: &Ingest, delivery: &str, within: Duration) -> String {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let response =
            post_razorpay(&ingest.url("acme", "razorpay"), SECRET, delivery, b"{}").await;
        match response.status().as_u16() {
            202 => return expect_accepted(response).await.0,
            503 => assert!(response.headers().contains_key("retry-after")),
            other => panic!("unexpected status {other} for {delivery}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{delivery} not accepted within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn a_broker_outage_answers_503_then_202_once_it_is_back_and_nothing_acknowledged_is_lost() {
    let mut broker = PrivateTansu::start().await;
    let ingest = Ingest::start_with(
        &source("acme", "razorpay", "razorpay", &[SECRET], ""),
        &broker.brokers(),
        &unique_name("outage"),
        &[("SWITCHYARD__INGEST__PUBLISH_TIMEOUT_MS", "2000")],
    )
    .await;
    let before = post_until_accepted(&ingest, "before", Duration::from_secs(60)).await;

    broker.kill().await;
    let started = std::time::Instant::now();
    let during = post_razorpay(&ingest.url("acme", "razorpay"), SECRET, "during", b"{}").await;
    let problem = expect_problem(during, 503, "broker-unavailable").await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "503 within the publish bound, not a hang"
    );
    assert!(
        !problem["detail"].as_str().unwrap().contains("127.0.0.1"),
        "no internals: {problem}"
    );

    broker.restart().await;
    let after = post_until_accepted(&ingest, "during", Duration::from_secs(90)).await;

    let mut reader = ingest.raw_reader().await;
    let mut seen = HashSet::new();
    while !(seen.contains(&before) && seen.contains(&after)) {
        seen.insert(reader.next().await.1.event_id);
    }
}

#[tokio::test]
async fn replicas_sharing_redis_answer_a_repeat_as_a_duplicate_and_publish_once() {
    let redis_url = infra::redis_url();
    let config = format!(
        "[dedupe]\nredis_url = {redis_url:?}\n{}",
        source("acme", "razorpay", "razorpay", &[SECRET], "")
    );
    let prefix = unique_name("dedupe");
    let brokers = infra::kafka_brokers();
    let a = Ingest::start_with(&config, &brokers, &prefix, &[]).await;
    let b = Ingest::start_with(&config, &brokers, &prefix, &[]).await;
    let mut reader = a.raw_reader().await;

    let first = post_until_accepted(&a, "shared-1", Duration::from_secs(30)).await;
    let (again, duplicate) =
        expect_accepted(post_razorpay(&b.url("acme", "razorpay"), SECRET, "shared-1", b"{}").await)
            .await;
    assert_eq!(again, first);
    assert!(
        duplicate,
        "the other replica knows the delivery through Redis"
    );

    assert_eq!(reader.next().await.1.event_id, first);
    reader.expect_no_more(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn every_acknowledged_webhook_survives_a_drain_under_load() {
    let ingest = Ingest::start(&source("acme", "razorpay", "razorpay", &[SECRET], "")).await;
    post_until_accepted(&ingest, "warm-up", Duration::from_secs(30)).await;
    let url = ingest.url("acme", "razorpay");
    let mut senders = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let url = url.clone();
        senders.spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0.. {
                let Ok(response) = support::client()
                    .post(&url)
                    .header(
                        "x-razorpay-signature",
                        support::razorpay_signature(SECRET, b"{}"),
                    )
                    .header("x-razorpay-event-id", format!("load-{worker}-{i}"))
                    .body("{}")
                    .send()
                    .await
                else {
                    break; // the server is gone
                };
                if response.status().as_u16() != 202 {
                    break;
                }
                let body: serde_json::Value = response.json().await.unwrap();
                acknowledged.push(body["id"].as_str().unwrap().to_owned());
            }
            acknowledged
        });
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    ingest.binary.terminate();
    let mut acknowledged = HashSet::new();
    while let Some(ids) = senders.join_next().await {
        acknowledged.extend(ids.unwrap());
    }
    assert!(
        acknowledged.len() > 8,
        "load ran before the drain ({} acknowledged)",
        acknowledged.len()
    );

    let mut reader = ingest.raw_reader().await;
    let mut missing = acknowledged;
    while !missing.is_empty() {
        let id = reader.next().await.1.event_id;
        missing.remove(&id);
    }
}
