//! The audit-writer binary on a real Kafka-protocol broker and real PostgreSQL: every event
//! and attempt stored exactly once, byte for byte, through duplicates, a kill -9, a database
//! restart and two replicas sharing the group; records that can never be stored
//! dead-lettered with the reason.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use bytes::Bytes;
use support::{
    Stage, attempts, count, events, store, wait_for_exactly, wait_for_readiness, wait_for_some,
};
use switchyard_bus::{DLQ_REASON, DLQ_TOPIC};
use switchyard_domain::{Event, EventId, Headers, Message, TenantId};
use switchyard_testkit::{
    binary::RunningBinary, postgres::TestDatabase, private_postgres::PrivatePostgres, unique_name,
};

const EVENTS: usize = 10_000;
const TENANTS: usize = 5;
const WAIT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_events_with_duplicates_become_exactly_the_distinct_rows_byte_for_byte() {
    let stage = Stage::new().await;
    let db = TestDatabase::create().await;
    let sent = events(0, EVENTS, TENANTS);
    // Every 25th event published a second time: a processor that crashed before committing.
    let duplicates: Vec<Event> = sent.iter().step_by(25).cloned().collect();
    let sent_attempts = attempts(60);
    stage.publish_events(&sent).await;
    stage.publish_events(&duplicates).await;
    stage.publish_attempts(&sent_attempts).await;
    stage.publish_attempts(&sent_attempts[..10]).await;

    let writer = stage.start_writer(&db.url, &[]).await;
    wait_for_exactly(&db.url, "events", i64::try_from(EVENTS).unwrap(), WAIT).await;
    wait_for_exactly(&db.url, "delivery_attempts", 60, WAIT).await;

    let store = store(&db.url).await;
    for event in sent.iter().step_by(401) {
        let stored = store.get_event(event.tenant(), event.id()).await.unwrap();
        assert_eq!(
            stored.as_ref(),
            Some(event),
            "event {} as stored",
            event.id()
        );
    }
    let acme = TenantId::parse("acme").unwrap();
    let stored = store
        .list_deliveries(&acme, &EventId::parse("evt_4").unwrap())
        .await
        .unwrap();
    assert_eq!(stored, sent_attempts[12..15], "attempts of evt_4 as stored");

    let metrics = writer.get("/metrics").await.1;
    let written = metric(
        &metrics,
        "switchyard_audit_writer_rows_written_total",
        "events",
    );
    assert_eq!(written, 10_000.0, "rows written by this writer: {metrics}");
    let duplicates_seen = metric(
        &metrics,
        "switchyard_audit_writer_duplicates_total",
        "events",
    );
    assert_eq!(duplicates_seen, 400.0, "duplicates skipped");
    assert!(
        metrics.contains("switchyard_audit_writer_batch_duration_seconds"),
        "batch latency histogram exported: {metrics}"
    );
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn writer_killed_mid_stream_resumes_and_stores_exactly_ten_thousand_rows() {
    let stage = Stage::new().await;
    let db = TestDatabase::create().await;
    stage.publish_events(&events(0, EVENTS, TENANTS)).await;
    // Small batches, so the kill lands between commits of a long run.
    let small = [("SWITCHYARD__AUDIT_WRITER__MAX_BATCH", "50")];

    let mut writer = stage.start_writer(&db.url, &small).await;
    wait_for_some(&db.url, "events", WAIT).await;
    writer.kill().await;
    let at_kill = count(&db.url, "events").await;
    assert!(
        at_kill < i64::try_from(EVENTS).unwrap(),
        "the writer was killed mid-stream ({at_kill} rows stored when killed)"
    );

    let _writer = stage.start_writer(&db.url, &small).await;
    wait_for_exactly(&db.url, "events", i64::try_from(EVENTS).unwrap(), WAIT).await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_restarted_mid_run_loses_nothing_and_readiness_is_red_while_it_is_down() {
    let stage = Stage::new().await;
    let mut postgres = PrivatePostgres::init().await;
    let url = postgres.create_database(&unique_name("audit")).await;
    let mut dlq = stage.dlq();
    let half = EVENTS / 2;
    stage.publish_events(&events(0, half, TENANTS)).await;

    let writer = stage
        .start_writer(&url, &[("SWITCHYARD__AUDIT_WRITER__MAX_BATCH", "50")])
        .await;
    wait_for_readiness(&writer, 200, Duration::from_secs(30)).await;
    wait_for_some(&url, "events", WAIT).await;
    postgres.stop().await;

    let body = wait_for_readiness(&writer, 503, Duration::from_secs(15)).await;
    assert!(
        body.contains("postgres"),
        "the failing check is named: {body}"
    );
    // The second half arrives while the database is away: the writer must hold it.
    stage
        .publish_events(&events(half, EVENTS - half, TENANTS))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(writer.get("/readyz").await.0, 503, "still red while down");
    assert_eq!(writer.get("/healthz").await.0, 200, "alive while not ready");

    postgres.start().await;
    wait_for_exactly(&url, "events", i64::try_from(EVENTS).unwrap(), WAIT).await;
    wait_for_readiness(&writer, 200, Duration::from_secs(15)).await;
    let metrics = writer.get("/metrics").await.1;
    assert!(
        metrics.contains("switchyard_audit_writer_db_errors_total"),
        "database errors counted: {metrics}"
    );
    dlq.expect_no_more(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn records_that_can_never_be_stored_are_dead_lettered_with_the_reason_and_the_rest_written() {
    let stage = Stage::new().await;
    let db = TestDatabase::create().await;
    let topics = stage.settings.topics();
    let mut dlq = stage.dlq();
    let good = events(0, 3, 1);
    let key = Some(Bytes::copy_from_slice(good[0].tenant().as_str().as_bytes()));
    // Same key as the good events: same partition, so they queue behind the bad ones.
    stage
        .publish(
            &topics.events(),
            Message {
                key: key.clone(),
                headers: Headers::new(),
                payload: Bytes::from_static(b"{\"not\": \"a cloudevent\"}"),
            },
        )
        .await;
    let unstorable = good[1]
        .to_builder()
        .extension("note", "nul\0inside")
        .build()
        .unwrap();
    stage
        .publish_events(&[good[0].clone(), unstorable, good[2].clone()])
        .await;
    stage
        .publish(
            &topics.deliveries(),
            Message {
                key,
                headers: Headers::new(),
                payload: Bytes::from_static(&[0xff, 0xff, 0xff]),
            },
        )
        .await;
    let mut after = attempts(1);
    after[0].tenant = good[0].tenant().to_string();
    stage.publish_attempts(&after).await;

    let _writer = stage.start_writer(&db.url, &[]).await;
    wait_for_exactly(&db.url, "events", 2, WAIT).await;
    wait_for_exactly(&db.url, "delivery_attempts", 1, WAIT).await;

    let mut reasons = Vec::new();
    for _ in 0..3 {
        let record = dlq.next().await;
        reasons.push((
            record
                .headers
                .get_str(DLQ_TOPIC)
                .unwrap_or_default()
                .to_owned(),
            record
                .headers
                .get_str(DLQ_REASON)
                .unwrap_or_default()
                .to_owned(),
        ));
    }
    reasons.sort();
    let expected = [
        (topics.deliveries(), "not a protobuf DeliveryAttempt"),
        (topics.events(), "NUL character"),
        (topics.events(), "missing CloudEvents attribute"),
    ];
    for (topic, needle) in expected {
        assert!(
            reasons
                .iter()
                .any(|(t, r)| *t == topic && r.contains(needle)),
            "a DLQ record from {topic} says {needle:?}: {reasons:?}"
        );
    }
    dlq.expect_no_more(Duration::from_secs(2)).await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_in_one_group_split_the_partitions_and_store_exactly_ten_thousand_rows() {
    // One deliveries partition, so the group cannot hand one replica every events partition
    // and the other only deliveries (see `Stage::with_deliveries_partitions`).
    let stage = Stage::with_deliveries_partitions(1).await;
    let db = TestDatabase::create().await;
    // Many tenants, so every partition has keys whichever replica owns it.
    let sent = events(0, EVENTS, 30);
    let first = stage.start_writer(&db.url, &[]).await;
    let second = stage.start_writer(&db.url, &[]).await;
    wait_for_readiness(&first, 200, Duration::from_secs(30)).await;
    wait_for_readiness(&second, 200, Duration::from_secs(30)).await;

    // Both joined, but the group may still be assigning partitions: feed it small chunks
    // until each replica has written rows, then the rest at once.
    let written = async |writer: &RunningBinary| {
        try_metric(
            &writer.get("/metrics").await.1,
            "switchyard_audit_writer_rows_written_total",
            "events",
        )
        .unwrap_or_default()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut published = 0;
    while published < EVENTS && (written(&first).await == 0.0 || written(&second).await == 0.0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the group never gave both replicas a partition ({published} events published)"
        );
        let end = (published + 100).min(EVENTS);
        stage.publish_events(&sent[published..end]).await;
        published = end;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stage.publish_events(&sent[published..]).await;
    wait_for_exactly(
        &db.url,
        "events",
        i64::try_from(EVENTS).unwrap(),
        Duration::from_secs(60),
    )
    .await;

    let (by_first, by_second) = (written(&first).await, written(&second).await);
    assert!(
        by_first > 0.0 && by_second > 0.0,
        "both replicas wrote rows: {by_first} and {by_second}"
    );
    // Each row is inserted by exactly one replica; a record both saw around a rebalance is
    // a duplicate to the second, not a second row.
    assert_eq!(
        by_first + by_second,
        10_000.0,
        "rows written by the two replicas together"
    );
    let store = store(&db.url).await;
    for event in sent.iter().step_by(997) {
        let stored = store.get_event(event.tenant(), event.id()).await.unwrap();
        assert_eq!(
            stored.as_ref(),
            Some(event),
            "event {} as stored",
            event.id()
        );
    }
    drop((first, second));
    db.drop_database().await;
}

/// The value of `name{table="<table>"}` in a Prometheus scrape.
fn metric(scrape: &str, name: &str, table: &str) -> f64 {
    try_metric(scrape, name, table)
        .unwrap_or_else(|| panic!("{name}{{table=\"{table}\"}} not in /metrics: {scrape}"))
}

/// The value of `name{table="<table>"}` in a Prometheus scrape, if it is there yet.
fn try_metric(scrape: &str, name: &str, table: &str) -> Option<f64> {
    let label = format!("table=\"{table}\"");
    scrape
        .lines()
        .find(|line| line.starts_with(name) && line.contains(&label))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}
