//! Many concurrent connections on one replica, each receiving a published event.
//!
//! `WSGW_CONNECTIONS` (default 5000) sets how many. Each is one file descriptor in this test
//! process and one in the gateway, so `ulimit -n` must exceed it plus a few hundred.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::time::{Duration, Instant};

use futures::{StreamExt as _, stream};
use support::{Stage, clients::Auth, event, metric, token};
use switchyard_testkit::unique_name;

/// Resident memory of the process whose environment holds `marker`, in KiB.
fn rss_kib_of_process_with(marker: &str) -> Option<u64> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if !String::from_utf8_lossy(&environ).contains(marker) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmdline).contains("switchyard-websocket-gateway") {
            continue;
        }
        let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
        return status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_concurrent_connections_on_one_replica_all_receive_an_event() {
    let connections: usize = std::env::var("WSGW_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let stage = Stage::new(1).await;
    let limit = (connections + 10).to_string();
    let gateway = stage
        .start(&[
            ("SWITCHYARD__WEBSOCKET__MAX_CONNECTIONS", limit.as_str()),
            (
                "SWITCHYARD__WEBSOCKET__MAX_CONNECTIONS_PER_TENANT",
                limit.as_str(),
            ),
        ])
        .await;
    let before = rss_kib_of_process_with(&stage.prefix);
    let acme = unique_name("acme");
    let auth = Auth::Header(token(&acme, None, Duration::from_secs(3600)));

    let started = Instant::now();
    let gateway_ref = &gateway;
    let auth_ref = &auth;
    let mut clients: Vec<_> = stream::iter(0..connections)
        .map(|_| async move { gateway_ref.ws("", auth_ref).await })
        .buffer_unordered(64)
        .collect()
        .await;
    let opened_in = started.elapsed();
    let metrics = gateway.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "switchyard_websocket_gateway_connections",
            &format!(r#"tenant="{acme}",transport="ws""#)
        ),
        Some(connections as f64)
    );
    let after = rss_kib_of_process_with(&stage.prefix);

    let published = Instant::now();
    stage
        .publish_events(&[event(&acme, "pay.captured", 7)])
        .await;
    let received: Vec<_> = stream::iter(clients.iter_mut())
        .map(|client| async move { client.next_json(Duration::from_secs(60)).await })
        .buffer_unordered(512)
        .collect()
        .await;
    let all_in = published.elapsed();
    assert_eq!(received.len(), connections);
    for message in &received {
        let message = message
            .as_ref()
            .expect("every connection receives the event");
        assert_eq!(message["data"]["n"], 7);
    }
    let per_connection = match (before, after) {
        (Some(b), Some(a)) => format!(
            "{:.1} KiB",
            (a.saturating_sub(b)) as f64 / connections as f64
        ),
        _ => "unknown".into(),
    };
    println!(
        "{connections} connections opened in {opened_in:?}; one event reached all in {all_in:?}; \
         gateway RSS {before:?} KiB → {after:?} KiB ({per_connection} per connection)"
    );
}
