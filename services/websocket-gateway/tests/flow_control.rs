//! Flow control on the real gateway: a client that never reads is dropped while a fast one
//! keeps up, connection limits, heartbeats, token expiry and the restart close on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{
    Stage,
    clients::{Auth, SseClient, WsClient, numbers},
    event, metric, sized_event, token,
};
use switchyard_testkit::unique_name;

const HOUR: Duration = Duration::from_secs(3600);
const WAIT: Duration = Duration::from_secs(30);

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped_while_a_fast_client_keeps_receiving() {
    let stage = Stage::new(1).await;
    let gateway = stage
        .start(&[("SWITCHYARD__WEBSOCKET__QUEUE_CAPACITY", "256")])
        .await;
    let acme = unique_name("acme");
    let auth = Auth::Header(token(&acme, None, HOUR));
    let mut slow = gateway.ws("", &auth).await;
    let mut fast = gateway.ws("", &auth).await;

    // 16 KiB events: enough of them to fill the socket buffers of the client that never
    // reads (several MiB on loopback) and then its queue.
    const EVENTS: usize = 1_500;
    let reader = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(EVENTS);
        let mut got = Vec::with_capacity(EVENTS);
        while got.len() < EVENTS {
            let message = fast
                .next_json(WAIT)
                .await
                .unwrap_or_else(|| panic!("fast client stalled after {} events", got.len()));
            if let Some(n) = message["data"]["n"].as_u64() {
                latencies.push(now_ms() - message["data"]["sent_ms"].as_u64().unwrap());
                got.push(n);
            }
        }
        (got, latencies)
    });
    for batch in 0..(EVENTS / 100) {
        let events: Vec<_> = (batch * 100..(batch + 1) * 100)
            .map(|n| sized_event(&acme, "pay.captured", n, 16 * 1024))
            .collect();
        stage.publish_events(&events).await;
    }
    let (got, mut latencies) = reader.await.unwrap();
    assert_eq!(
        got,
        (0..EVENTS as u64).collect::<Vec<_>>(),
        "fast client: all, in order"
    );
    latencies.sort_unstable();
    let p50 = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    println!("fast client latency (publish batch → received): p50 {p50} ms, p99 {p99} ms");

    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let metrics = gateway.metrics().await;
        let drops = metric(
            &metrics,
            "switchyard_websocket_gateway_disconnects_total",
            r#"reason="slow",transport="ws""#,
        );
        if drops == Some(1.0) {
            assert_eq!(
                metric(
                    &metrics,
                    "switchyard_websocket_gateway_slow_drops_total",
                    ""
                ),
                Some(1.0)
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no slow drop: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // When it finally reads, it finds the stream ended short of the end.
    let mut seen = Vec::new();
    while let Some(message) = slow.next_json(Duration::from_secs(5)).await {
        seen.push(message);
    }
    let read = numbers(&seen);
    assert!(
        read.len() < EVENTS,
        "the slow client was cut off ({} events)",
        read.len()
    );
    assert_eq!(
        read,
        (0..read.len() as u64).collect::<Vec<_>>(),
        "what it got was in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limits_answer_429_per_tenant_and_503_per_replica() {
    let stage = Stage::new(1).await;
    let gateway = stage
        .start(&[
            ("SWITCHYARD__WEBSOCKET__MAX_CONNECTIONS_PER_TENANT", "2"),
            ("SWITCHYARD__WEBSOCKET__MAX_CONNECTIONS", "3"),
        ])
        .await;
    let acme = Auth::Header(token(&unique_name("acme"), None, HOUR));
    let first = gateway.ws("", &acme).await;
    let _second = SseClient::connect(gateway.http_url(), "", &acme, None)
        .await
        .unwrap();
    let refused = WsClient::connect(&gateway.ws_url(""), &acme).await;
    assert_eq!(refused.err().map(|(s, _)| s), Some(429));
    let _other = gateway
        .ws("", &Auth::Header(token(&unique_name("globex"), None, HOUR)))
        .await;
    let full = SseClient::connect(
        gateway.http_url(),
        "",
        &Auth::Header(token(&unique_name("initech"), None, HOUR)),
        None,
    )
    .await;
    assert_eq!(full.err().map(|(s, _)| s), Some(503));

    // A closed connection gives its place back.
    first.close().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while WsClient::connect(&gateway.ws_url(""), &acme).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the permit never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_and_silent_clients_are_closed_with_their_codes() {
    let stage = Stage::new(1).await;
    let gateway = stage
        .start(&[
            ("SWITCHYARD__WEBSOCKET__PING_INTERVAL_SECS", "1"),
            ("SWITCHYARD__WEBSOCKET__IDLE_TIMEOUT_SECS", "3"),
        ])
        .await;
    let acme = unique_name("acme");
    let short = Auth::Header(token(&acme, None, Duration::from_secs(2)));
    let mut expiring = gateway.ws("", &short).await;
    let mut expiring_sse = SseClient::connect(gateway.http_url(), "", &short, None)
        .await
        .unwrap();
    // A client that renews in time stays; a renewal for another tenant is refused.
    let mut renewing = gateway.ws("", &short).await;
    let other = token(&unique_name("globex"), None, HOUR);
    renewing
        .send_json(&serde_json::json!({ "type": "auth", "token": other }))
        .await;
    let reply = renewing.until(WAIT, |m| !m.is_empty()).await.remove(0);
    assert_eq!(reply["type"], "switchyard.error", "{reply}");
    renewing
        .send_json(&serde_json::json!({ "type": "auth", "token": token(&acme, None, HOUR) }))
        .await;
    let reply = renewing.until(WAIT, |m| !m.is_empty()).await.remove(0);
    assert_eq!(reply["type"], "switchyard.authenticated", "{reply}");

    let closed = expiring.closed(Duration::from_secs(10)).await;
    assert_eq!(closed.code, Some(4001), "{closed:?}");
    let end = expiring_sse
        .until(Duration::from_secs(10), |m| {
            m.iter().any(|m| m.data["type"] == "switchyard.closing")
        })
        .await;
    assert_eq!(end.last().unwrap().data["data"]["code"], 4001);
    // Past the first token's expiry, the renewed connection still gets events.
    stage
        .publish_events(&[event(&acme, "after.renewal", 7)])
        .await;
    assert_eq!(numbers(&renewing.until(WAIT, |m| !m.is_empty()).await), [7]);
    // Gone before the idle check below, which counts the one silent client.
    renewing.close().await;

    // A client that never answers pings (it does not read, so it never pongs).
    let mut silent = gateway
        .ws("", &Auth::Header(token(&acme, None, HOUR)))
        .await;
    let mut alive = gateway
        .ws("", &Auth::Header(token(&acme, None, HOUR)))
        .await;
    // It reads (and so pongs) all along.
    let alive = tokio::spawn(async move { alive.next_json(Duration::from_secs(60)).await });
    tokio::time::sleep(Duration::from_secs(5)).await;
    let metrics = gateway.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "switchyard_websocket_gateway_disconnects_total",
            r#"reason="idle",transport="ws""#
        ),
        Some(1.0),
        "{metrics}"
    );
    // Its late pongs may draw a reset that hides the close frame; when it does arrive, it
    // says 4009.
    let closed = silent.closed(Duration::from_secs(5)).await;
    assert!(matches!(closed.code, None | Some(4009)), "{closed:?}");
    stage.publish_events(&[event(&acme, "a.b", 1)]).await;
    let message = alive
        .await
        .unwrap()
        .expect("the live client still receives");
    assert_eq!(message["data"]["n"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_every_client_to_reconnect_elsewhere_and_exits_0() {
    let stage = Stage::new(1).await;
    let mut gateway = stage.start(&[]).await;
    let acme = Auth::Header(token(&unique_name("acme"), None, HOUR));
    let mut ws = gateway.ws("", &acme).await;
    let mut sse = SseClient::connect(gateway.http_url(), "", &acme, None)
        .await
        .unwrap();
    gateway.binary.terminate();
    let closed = ws.closed(Duration::from_secs(10)).await;
    assert_eq!(closed.code, Some(1012), "{closed:?}");
    let end = sse
        .until(Duration::from_secs(10), |m| {
            m.iter().any(|m| m.data["type"] == "switchyard.closing")
        })
        .await;
    assert_eq!(end.last().unwrap().data["data"]["code"], 1012);
    assert_eq!(
        gateway.binary.exit_code(Duration::from_secs(15)).await,
        Some(0)
    );
}
