//! The real `switchyard-webhook-dispatcher` on a Kafka-protocol broker, delivering to local
//! receivers: signatures checked by an independent Standard Webhooks implementation (the
//! `standardwebhooks` package from PyPI), retries, terminal states, isolation from a hanging
//! endpoint, a dead endpoint coming back, refused addresses, and a kill mid-stream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    collections::HashSet,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use support::{
    receiver::{FastReceiver, PyReceiver},
    stage::{Dispatcher, NEW_SECRET, SECRET, Stage, endpoint, event, of, outcomes},
};
use switchyard_domain::wire::delivery_attempt::Outcome;

/// `[dispatcher]` with loopback receivers allowed, plus `settings`, then `endpoints`.
fn config(settings: &str, endpoints: &str) -> String {
    format!(
        "[dispatcher]\nallow_private_networks = true\nretry_jitter = 0.0\n{settings}\n\n{endpoints}"
    )
}

fn metric(metrics: &str, name: &str, labels: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && labels.split(',').all(|p| l.contains(p)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Waits up to 30 s for the gauge or counter to read `value` (gauges are sampled every 5 s).
async fn wait_for_metric(dispatcher: &Dispatcher, name: &str, labels: &str, value: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = dispatcher.metrics().await;
        if metric(&metrics, name, labels) == Some(value) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}{{{labels}}} never read {value}:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_verify_independently_and_follow_tenant_and_type_filters() {
    let receiver = PyReceiver::start(&[SECRET]).await.unwrap();
    let stage = Stage::new(2).await;
    let rotating = format!(
        "[[endpoints]]\ntenant = \"acme\"\nid = \"rotating\"\nurl = {:?}\nsecret = {NEW_SECRET:?}\nprevious_secrets = [{SECRET:?}]\n\n",
        receiver.url("/ok/rotating")
    );
    let endpoints = [
        endpoint(
            "acme",
            "pay",
            &receiver.url("/ok/pay"),
            &["razorpay.payment.*"],
        ),
        rotating,
        endpoint("acme", "github", &receiver.url("/ok/github"), &["github.*"]),
        endpoint("globex", "other", &receiver.url("/ok/other"), &["*"]),
    ]
    .concat();
    // A record that is no CloudEvent comes first: it is dead-lettered and the rest flows.
    stage.publish_garbage(b"\xff not an event").await;
    let mut events: Vec<_> = (0..5)
        .map(|n| event("acme", "razorpay.payment.captured", n))
        .collect();
    events.push(event("acme", "razorpay.order.paid", 5));
    stage.publish_events(&events).await;
    let _dispatcher = stage.start(&config("", &endpoints)).await;

    let pay = receiver
        .wait_for_count("pay", 5, Duration::from_secs(60))
        .await
        .unwrap();
    let rotated = receiver
        .wait_for_count("rotating", 6, Duration::from_secs(30))
        .await
        .unwrap();
    let mut attempts = stage.attempts().await;
    let attempts = attempts
        .until(Duration::from_secs(30), |a| a.len() >= 11)
        .await;

    for request in pay.iter().chain(&rotated) {
        assert!(
            request.verified,
            "signature refused by the independent verifier: {request:?}"
        );
        let id = request.webhook_id.as_deref().unwrap();
        assert_eq!(request.body["id"], id, "webhook-id is the event id");
        assert_eq!(request.body["specversion"], "1.0");
        assert_eq!(request.body["tenant"], "acme");
        let sent = events.iter().find(|e| e.id().as_str() == id).unwrap();
        assert_eq!(request.body["type"], sent.event_type().as_str());
        assert_eq!(request.body["subject"], sent.subject().unwrap());
        assert_eq!(
            request.body["data"],
            serde_json::from_slice::<serde_json::Value>(sent.data()).unwrap()
        );
        assert!(
            request
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/cloudevents+json")),
            "{request:?}"
        );
        assert!(
            request
                .header("user-agent")
                .is_some_and(|u| u.starts_with("Switchyard-Webhooks/"))
        );
    }
    let ids = |log: &[support::receiver::Received]| -> HashSet<String> {
        log.iter().filter_map(|r| r.webhook_id.clone()).collect()
    };
    let payments: HashSet<String> = events[..5].iter().map(|e| e.id().to_string()).collect();
    assert_eq!(ids(&pay), payments, "the type filter takes payments only");
    assert_eq!(ids(&rotated).len(), 6);
    // During a rotation each delivery carries a signature per active secret.
    assert!(
        rotated.iter().all(|r| r.signatures().len() == 2),
        "{rotated:?}"
    );

    let successes = attempts
        .iter()
        .filter(|a| a.outcome() == Outcome::Succeeded && a.attempt == 1)
        .count();
    assert_eq!(successes, 11, "{attempts:#?}");
    assert!(
        attempts
            .iter()
            .all(|a| a.response_status == 200 && a.tenant == "acme")
    );

    let mut dlq = stage.dlq().await;
    let dead = dlq.until(Duration::from_secs(30), |d| !d.is_empty()).await;
    assert!(
        dead[0]
            .headers
            .get_str("dlq-reason")
            .is_some_and(|r| r.contains("not a CloudEvent")),
        "{dead:?}"
    );
    // Neither another type's endpoint nor another tenant's saw anything.
    assert!(receiver.log(Some("github")).await.unwrap().is_empty());
    assert!(receiver.log(Some("other")).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_retried_on_schedule_until_it_succeeds() {
    let receiver = PyReceiver::start(&[SECRET]).await.unwrap();
    let stage = Stage::new(1).await;
    let endpoints = endpoint("acme", "flaky", &receiver.url("/fail/3/flaky"), &["*"]);
    let events: Vec<_> = (0..2).map(|n| event("acme", "order.created", n)).collect();
    stage.publish_events(&events).await;
    let _dispatcher = stage
        .start(&config(
            "retry_schedule = \"300ms 300ms 300ms 300ms 300ms\"\nbreaker_failures = 100",
            &endpoints,
        ))
        .await;

    let log = receiver
        .wait_for(
            "flaky",
            |log| log.iter().filter(|r| r.status == Some(200)).count() == 2,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    for sent in &events {
        let tries: Vec<_> = log
            .iter()
            .filter(|r| r.webhook_id.as_deref() == Some(sent.id().as_str()))
            .collect();
        let statuses: Vec<_> = tries.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [Some(500), Some(500), Some(500), Some(200)]);
        assert!(tries.iter().all(|r| r.verified));
        // Retries wait their turn: at least the schedule's 300 ms between tries.
        for pair in tries.windows(2) {
            assert!(
                pair[1].received_at - pair[0].received_at >= 0.29,
                "{tries:?}"
            );
        }
    }
    let mut attempts = stage.attempts().await;
    let attempts = attempts
        .until(Duration::from_secs(30), |a| a.len() >= 8)
        .await;
    for sent in &events {
        let mine: Vec<_> = attempts
            .iter()
            .filter(|a| a.event_id == sent.id().as_str())
            .cloned()
            .collect();
        assert_eq!(
            outcomes(&mine),
            [
                (1, Outcome::Retrying),
                (2, Outcome::Retrying),
                (3, Outcome::Retrying),
                (4, Outcome::Succeeded)
            ]
        );
        assert!(mine[..3].iter().all(|a| a.response_status == 500
            && a.next_attempt_at.is_some()
            && a.error.contains("500")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivery_ends_delivered_dead_lettered_or_stopped() {
    let receiver = PyReceiver::start(&[SECRET]).await.unwrap();
    let stage = Stage::new(1).await;
    let endpoints = [
        endpoint(
            "acme",
            "down",
            &receiver.url("/status/503/down"),
            &["order.*"],
        ),
        endpoint("acme", "gone", &receiver.url("/gone/gone"), &["order.*"]),
        // Subscribed to everything: it gets the announcements about the other two.
        endpoint("acme", "ops", &receiver.url("/ok/ops"), &["switchyard.*"]),
    ]
    .concat();
    let first = event("acme", "order.created", 1);
    stage.publish_events(std::slice::from_ref(&first)).await;
    let dispatcher = stage
        .start(&config(
            "retry_schedule = \"200ms 200ms\"\nbreaker_failures = 100",
            &endpoints,
        ))
        .await;

    let mut attempts = stage.attempts().await;
    let seen = attempts
        .until(Duration::from_secs(60), |a| {
            of(a, "down").len() >= 3 && !of(a, "gone").is_empty()
        })
        .await;
    assert_eq!(
        outcomes(&of(&seen, "down")),
        [
            (1, Outcome::Retrying),
            (2, Outcome::Retrying),
            (3, Outcome::Exhausted)
        ]
    );
    let gone = of(&seen, "gone");
    assert_eq!(outcomes(&gone), [(1, Outcome::Skipped)]);
    assert_eq!(gone[0].response_status, 410);
    assert!(gone[0].error.contains("disabled"), "{gone:?}");

    // The exhausted delivery is on the DLQ with its endpoint.
    let mut dlq = stage.dlq().await;
    let dead = dlq.until(Duration::from_secs(30), |d| !d.is_empty()).await;
    assert_eq!(dead[0].headers.get_str("ce_id"), Some(first.id().as_str()));
    assert_eq!(dead[0].headers.get_str("dlq-endpoint"), Some("down"));
    assert_eq!(dead[0].headers.get_str("dlq-attempts"), Some("3"));

    // Both are announced on the events topic, and delivered to the endpoint that asked.
    let mut events = stage.events().await;
    let announced = events
        .until(Duration::from_secs(30), |e| {
            e.iter()
                .filter(|e| e.event_type().as_str().starts_with("switchyard."))
                .count()
                >= 2
        })
        .await;
    let exhausted = announced
        .iter()
        .find(|e| e.event_type().as_str() == "switchyard.delivery.exhausted")
        .unwrap();
    assert_eq!(exhausted.subject(), Some("down"));
    let data: serde_json::Value = serde_json::from_slice(exhausted.data()).unwrap();
    assert_eq!(data["event_id"], first.id().as_str());
    assert_eq!(data["attempts"], 3);
    let disabled = announced
        .iter()
        .find(|e| e.event_type().as_str() == "switchyard.endpoint.disabled")
        .unwrap();
    assert_eq!(disabled.subject(), Some("gone"));
    receiver
        .wait_for_count("ops", 2, Duration::from_secs(30))
        .await
        .unwrap();

    // A disabled endpoint receives nothing more; the failing one is still tried.
    stage
        .publish_events(&[event("acme", "order.created", 2)])
        .await;
    receiver
        .wait_for_count("down", 4, Duration::from_secs(30))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.log(Some("gone")).await.unwrap().len(), 1);
    wait_for_metric(
        &dispatcher,
        "switchyard_dispatcher_endpoint_disabled",
        "endpoint=\"gone\"",
        1.0,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_endpoint_does_not_delay_the_others() {
    let receiver = PyReceiver::start(&[SECRET]).await.unwrap();
    let stage = Stage::new(1).await;
    // Same tenant, so both endpoints' deliveries come from one partition.
    let endpoints = [
        endpoint("acme", "hang", &receiver.url("/hang/hang"), &["*"]),
        endpoint("acme", "fast", &receiver.url("/ok/fast"), &["*"]),
    ]
    .concat();
    let dispatcher = stage
        .start(&config(
            "timeout_ms = 5000\ninline_wait_ms = 200\nbreaker_failures = 3\nretry_schedule = \"30s\"",
            &endpoints,
        ))
        .await;
    // Warm-up: the group has joined once the first event arrives.
    stage
        .publish_events(&[event("acme", "order.created", 0)])
        .await;
    receiver
        .wait_for_count("fast", 1, Duration::from_secs(60))
        .await
        .unwrap();

    let mut published = Vec::new();
    for n in 1..=30 {
        let e = event("acme", "order.created", n);
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        stage.publish_events(std::slice::from_ref(&e)).await;
        published.push((e.id().to_string(), at));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fast = receiver
        .wait_for_count("fast", 31, Duration::from_secs(30))
        .await
        .unwrap();
    let mut latencies: Vec<f64> = published
        .iter()
        .map(|(id, at)| {
            let got = fast
                .iter()
                .find(|r| r.webhook_id.as_deref() == Some(id))
                .unwrap_or_else(|| panic!("{id} never reached the healthy endpoint"));
            got.received_at - at
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let (p50, max) = (
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
    );
    println!("healthy endpoint beside a hanging one: p50 {p50:.3}s, max {max:.3}s");
    // Waiting on the hanging endpoint would put each event 5 s (its timeout) behind.
    assert!(
        max < 2.0,
        "the healthy endpoint waited for the hanging one: max {max:.3}s"
    );

    // The hanging endpoint's timeouts open its circuit.
    wait_for_metric(
        &dispatcher,
        "switchyard_dispatcher_circuit_state",
        "endpoint=\"hang\"",
        1.0,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_gets_its_backlog_once_it_is_back() {
    let port = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        free.local_addr().unwrap().port()
    };
    let stage = Stage::new(1).await;
    let endpoints = endpoint(
        "acme",
        "dead",
        &format!("http://127.0.0.1:{port}/dead"),
        &["*"],
    );
    let events: Vec<_> = (0..20).map(|n| event("acme", "order.created", n)).collect();
    stage.publish_events(&events).await;
    let dispatcher = stage
        .start(&config(
            "breaker_failures = 3\nbreaker_cooldown_secs = 2\nretry_schedule = \"1s 2s 3s 5s 8s 8s 8s 8s\"",
            &endpoints,
        ))
        .await;
    let mut attempts = stage.attempts().await;
    let refused = attempts
        .until(Duration::from_secs(60), |a| {
            a.iter().any(|a| a.error.contains("circuit is open"))
        })
        .await;
    assert!(
        refused.iter().all(|a| a.outcome() == Outcome::Retrying),
        "{refused:#?}"
    );
    let metrics = dispatcher.metrics().await;
    assert!(
        metric(
            &metrics,
            "switchyard_dispatcher_attempts_total",
            "class=\"connect\""
        )
        .is_some_and(|refused| refused > 0.0),
        "{metrics}"
    );

    let back = FastReceiver::start_at(port).await.unwrap();
    back.wait_for_count("/dead", 20, Duration::from_secs(60))
        .await
        .unwrap();
    let delivered: HashSet<String> = back.ids("/dead").into_iter().collect();
    let expected: HashSet<String> = events.iter().map(|e| e.id().to_string()).collect();
    assert_eq!(delivered, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_loopback_and_metadata_addresses_are_refused_unless_allowed() {
    let receiver = PyReceiver::start(&[SECRET]).await.unwrap();
    let stage = Stage::new(1).await;
    let port = receiver.port();
    let endpoints = [
        endpoint("acme", "loop", &receiver.url("/ok/loop"), &["*"]),
        // A name resolving to loopback: refused at connect time, after resolution.
        endpoint(
            "acme",
            "named",
            &format!("http://localhost:{port}/ok/named"),
            &["*"],
        ),
        endpoint(
            "acme",
            "meta",
            "http://169.254.169.254/latest/meta-data/",
            &["*"],
        ),
    ]
    .concat();
    stage
        .publish_events(&[event("acme", "order.created", 1)])
        .await;
    let config = format!(
        "[dispatcher]\nallow_private_networks = false\nretry_schedule = \"200ms\"\n\n{endpoints}"
    );
    let _dispatcher = stage.start(&config).await;
    let mut attempts = stage.attempts().await;
    let seen = attempts
        .until(Duration::from_secs(60), |a| {
            ["loop", "named", "meta"]
                .iter()
                .all(|e| of(a, e).len() >= 2)
        })
        .await;
    for (id, why) in [
        ("loop", "loopback"),
        ("named", "loopback"),
        ("meta", "metadata"),
    ] {
        let mine = of(&seen, id);
        assert_eq!(
            outcomes(&mine),
            [(1, Outcome::Retrying), (2, Outcome::Exhausted)]
        );
        assert!(
            mine.iter()
                .all(|a| a.error.contains(why) && a.response_status == 0),
            "{mine:#?}"
        );
    }
    assert!(
        receiver.log(None).await.unwrap().is_empty(),
        "a refused address was contacted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_stream_every_event_is_still_delivered() {
    const EVENTS: usize = 3_000;
    let receiver = FastReceiver::start().await.unwrap();
    let stage = Stage::new(3).await;
    let endpoints = ["acme", "globex", "initech"]
        .iter()
        .map(|t| endpoint(t, "all", &receiver.url(&format!("/{t}")), &["*"]))
        .collect::<String>();
    let events: Vec<_> = (0..EVENTS)
        .map(|n| event(["acme", "globex", "initech"][n % 3], "order.created", n))
        .collect();
    stage.publish_events(&events).await;
    let config = config("", &endpoints);
    let mut dispatcher = stage.start(&config).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while receiver.total() < 300 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no deliveries before the kill"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    dispatcher.binary.kill().await;
    let at_kill = receiver.total();
    assert!(
        at_kill < EVENTS as u64,
        "the kill came after the last delivery"
    );
    // tansu holds a new member's join behind a just-killed one until its session expires.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let _restarted = stage.start(&config).await;

    let expected: HashSet<String> = events.iter().map(|e| e.id().to_string()).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let delivered: HashSet<String> = ["acme", "globex", "initech"]
            .iter()
            .flat_map(|t| receiver.ids(&format!("/{t}")))
            .collect();
        if delivered == expected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {EVENTS} delivered after the restart (killed at {at_kill})",
            delivered.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
