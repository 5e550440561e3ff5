//! Rows/s through the audit-writer (Kafka → PostgreSQL) for 1 KiB events, against three
//! baselines measured in the same run:
//!
//! - **single-row INSERT loop**: one prepared `INSERT … ON CONFLICT DO NOTHING` per event,
//!   each its own transaction (what a naive writer does; `--single` events, fewer than the
//!   others because it is slow);
//! - **batched insert, no Kafka**: the store's `insert_events` (one multi-row statement per
//!   `--batch` events), the events already in memory: the database's ceiling for this job;
//! - **raw rdkafka read**: a plain rdkafka consumer that only reads the records: the
//!   broker's ceiling for this job;
//! - **audit-writer**: the service's own handler (`AuditWriter`: decode the CloudEvents,
//!   insert the batch, offsets stored after the commit) on the bus's batched Kafka consumer.
//!
//! Input: `--records` events (1,024 bytes of data each, every attribute set) over 64 tenants
//! on a 6-partition events topic, published once before the runs. Each figure is rows (or
//! records) ÷ seconds from the first one handled to the last; the events table is emptied
//! before each contender.
//!
//! Run: `cargo bench -p switchyard-audit-writer --bench throughput [-- --records 50000
//! --runs 3 --batch 1000 --single 5000]`. Kafka: `SWITCHYARD__BUS__KAFKA__BROKERS` if set,
//! else a fresh tansu (sqlite engine) of its own; PostgreSQL: a throwaway database on
//! `SWITCHYARD__DATABASE__URL`. Each cell is the median of the runs.

#![allow(
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    missing_docs
)]

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{TimeZone as _, Utc};
use rdkafka::{
    ClientConfig,
    consumer::{Consumer as _, StreamConsumer},
};
use secrecy::SecretString;
use switchyard_audit_writer::{WRITE_RETRY, handler::AuditWriter};
use switchyard_bus::{BatchHandler, Bus, Delivery, HandlerError, StartFrom, Subscription};
use switchyard_domain::{Event, EventId, EventType, TenantId};
use switchyard_runtime::settings::{BusBackend, BusSettings, DatabaseSettings};
use switchyard_store::Store;
use switchyard_testkit::{bench, postgres::TestDatabase, unique_name};
use tokio_util::sync::CancellationToken;

const TENANTS: usize = 64;
const PARTITIONS: u32 = 6;
const DATA_BYTES: usize = 1024;

struct Options {
    records: usize,
    runs: usize,
    batch: usize,
    single: usize,
}

impl Options {
    fn parse() -> Self {
        let args = bench::Options::from_args(
            &["--records", "--runs", "--batch", "--single"],
            "benches/throughput.rs",
        );
        let records = args.get("--records", 50_000);
        Self {
            records,
            runs: args.get("--runs", 3),
            batch: args.get("--batch", 1000),
            single: args.get("--single", 5_000).min(records),
        }
    }
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let (brokers, _private) = bench::kafka_brokers().await;
    let mut settings = BusSettings {
        backend: BusBackend::Kafka,
        partitions: PARTITIONS,
        ..BusSettings::default()
    };
    settings.kafka.brokers.clone_from(&brokers);
    settings.topic_prefix = unique_name("bench-audit").parse().expect("prefix");
    let bus = Bus::connect(&settings)
        .await
        .unwrap_or_else(|e| panic!("Kafka-protocol broker at {brokers}: {e}"));
    let topics = settings.topics();
    bus.admin
        .ensure_topics(&[topics.events(), topics.deliveries(), topics.dlq()])
        .await
        .unwrap_or_else(|e| panic!("Kafka-protocol broker at {brokers}: {e}"));

    let db = TestDatabase::create().await;
    let store = Store::connect(&DatabaseSettings {
        url: SecretString::from(db.url.clone()),
        read_url: SecretString::default(),
        pool_size: 16,
        connect_timeout_secs: 5,
    })
    .await
    .expect("PostgreSQL");
    store.migrate().await.expect("migrations");

    let events = events(options.records);
    println!(
        "filling {}: {} events, data {DATA_BYTES} bytes, {TENANTS} tenants, {PARTITIONS} partitions",
        topics.events(),
        options.records
    );
    for chunk in events.chunks(1000) {
        bus.publisher
            .publish_batch(
                &topics.events(),
                chunk.iter().map(Event::to_binary).collect(),
            )
            .await
            .expect("fill the events topic");
    }

    let mut results: Vec<(&str, Vec<f64>)> = vec![
        ("single-row INSERT loop", vec![]),
        ("batched insert, no Kafka", vec![]),
        ("raw rdkafka read (no writes)", vec![]),
        ("audit-writer (Kafka → PostgreSQL)", vec![]),
    ];
    for run in 1..=options.runs {
        let figures = [
            single_rows(&store, &events[..options.single]).await,
            batched(&store, &events, options.batch).await,
            raw_read(&brokers, &topics.events(), options.records).await,
            writer(&bus, &settings, &store, options.records, options.batch).await,
        ];
        for (slot, figure) in figures.into_iter().enumerate() {
            println!("run {run}: {:<34} {figure:>8.0}/s", results[slot].0);
            results[slot].1.push(figure);
        }
    }

    println!(
        "\n| contender | rows/s (median of {}) | vs batched insert |",
        options.runs
    );
    println!("|---|---|---|");
    let baseline = median(&results[1].1);
    for (name, figures) in &results {
        let m = median(figures);
        println!("| {name} | {m:.0} | {:.0}% |", m / baseline * 100.0);
    }
    drop(store);
    db.drop_database().await;
}

/// `n` events as the processor writes them: every attribute set, 1 KiB of data.
fn events(n: usize) -> Vec<Event> {
    let data = Bytes::from(vec![b'x'; DATA_BYTES]);
    let event_type = EventType::parse("bench.order.created").expect("type");
    (0..n)
        .map(|i| {
            let tenant = format!("tenant{}", i % TENANTS);
            Event::builder(
                TenantId::parse(&tenant).expect("tenant"),
                EventId::derive(&[tenant.as_bytes(), i.to_string().as_bytes()]),
                "/bench/source",
                event_type.clone(),
            )
            .time(Utc.timestamp_opt(1_764_000_000, 0).single().expect("time"))
            .subject(Some(format!("order_{}", i % 1000)))
            .data(Some("application/json".into()), data.clone())
            .build()
            .expect("event")
        })
        .collect()
}

fn median(figures: &[f64]) -> f64 {
    let mut sorted = figures.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn per_sec(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

async fn empty(store: &Store) {
    let client = store
        .postgres()
        .expect("a PostgreSQL store")
        .client()
        .await
        .expect("client");
    client
        .batch_execute("TRUNCATE events")
        .await
        .expect("truncate");
}

async fn stored(store: &Store) -> i64 {
    let client = store
        .postgres()
        .expect("a PostgreSQL store")
        .client()
        .await
        .expect("client");
    client
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .expect("count")
        .get(0)
}

const SINGLE_ROW: &str = "INSERT INTO events (tenant, id, type, subject, time, time_nanos, \
    source, data_content_type, data_schema, traceparent, extensions, data) \
    VALUES ($1, $2, $3, $4, $5, 0, $6, $7, NULL, NULL, '{}', $8) \
    ON CONFLICT (tenant, id) DO NOTHING";

/// Baseline (a): one statement, one transaction, per event.
async fn single_rows(store: &Store, events: &[Event]) -> f64 {
    empty(store).await;
    let client = store
        .postgres()
        .expect("a PostgreSQL store")
        .client()
        .await
        .expect("client");
    let statement = client.prepare(SINGLE_ROW).await.expect("prepare");
    let started = Instant::now();
    for event in events {
        client
            .execute(
                &statement,
                &[
                    &event.tenant().as_str(),
                    &event.id().as_str(),
                    &event.event_type().as_str(),
                    &event.subject(),
                    &event.time(),
                    &event.source(),
                    &event.data_content_type(),
                    &event.data().as_ref(),
                ],
            )
            .await
            .expect("insert");
    }
    per_sec(events.len(), started.elapsed())
}

/// Baseline (b): the store's batch insert, events already in memory, one batch at a time.
async fn batched(store: &Store, events: &[Event], batch: usize) -> f64 {
    empty(store).await;
    let started = Instant::now();
    for chunk in events.chunks(batch) {
        store.insert_events(chunk).await.expect("insert");
    }
    let figure = per_sec(events.len(), started.elapsed());
    assert_eq!(stored(store).await, i64::try_from(events.len()).expect("n"));
    figure
}

/// Baseline (c): a plain rdkafka consumer that reads every record and does nothing else.
async fn raw_read(brokers: &str, topic: &str, records: usize) -> f64 {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique_name("bench-read"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut started = None;
    for _ in 0..records {
        consumer.recv().await.expect("consume");
        started.get_or_insert_with(Instant::now);
    }
    per_sec(records, started.map_or(Duration::ZERO, |s| s.elapsed()))
}

/// Counts the rows the writer's handler committed.
struct Counting {
    inner: AuditWriter,
    done: AtomicUsize,
    started: OnceLock<Instant>,
    all: tokio::sync::Notify,
    records: usize,
}

#[async_trait]
impl BatchHandler for Counting {
    async fn handle_batch(&self, batch: &[Delivery]) -> Result<Vec<(usize, String)>, HandlerError> {
        self.started.get_or_init(Instant::now);
        let rejected = self.inner.handle_batch(batch).await?;
        assert!(
            rejected.is_empty(),
            "the bench input must all be valid: {rejected:?}"
        );
        if self.done.fetch_add(batch.len(), Ordering::AcqRel) + batch.len() >= self.records {
            self.all.notify_one();
        }
        Ok(rejected)
    }
}

/// The service's handler on the bus, as the binary runs it.
async fn writer(
    bus: &Bus,
    settings: &BusSettings,
    store: &Store,
    records: usize,
    batch: usize,
) -> f64 {
    empty(store).await;
    let topics = settings.topics();
    let handler = Arc::new(Counting {
        inner: AuditWriter {
            store: store.clone(),
            events_topic: topics.events(),
            deliveries_topic: topics.deliveries(),
        },
        done: AtomicUsize::new(0),
        started: OnceLock::new(),
        all: tokio::sync::Notify::new(),
        records,
    });
    let subscription = Subscription {
        group: unique_name("bench-audit-writer"),
        topics: vec![topics.events(), topics.deliveries()],
        retry: WRITE_RETRY,
        dlq_topic: topics.dlq(),
        start: StartFrom::Earliest,
    };
    let stop = CancellationToken::new();
    let running = {
        let (subscriber, handler, stop) = (bus.subscriber.clone(), handler.clone(), stop.clone());
        tokio::spawn(async move {
            subscriber
                .run_batched(subscription, handler, batch, stop)
                .await
        })
    };
    handler.all.notified().await;
    let figure = per_sec(records, handler.started.get().expect("started").elapsed());
    stop.cancel();
    let _ = running.await;
    assert_eq!(stored(store).await, i64::try_from(records).expect("n"));
    figure
}
