//! Events/s and latency through the outbox relay (enqueue in PostgreSQL → broker ack), with
//! the two halves it is made of measured alone in the same run as baselines:
//!
//! - **INSERT loop** (pgbench-style): single-row autocommit `INSERT`s into a plain table of
//!   the same shape, from `WRITERS` connections: what the database allows for small commits;
//! - **enqueue loop**: the same with `outbox::enqueue` (the outbox row and its `NOTIFY`);
//! - **raw producer**: an rdkafka producer configured like the bus (idempotent, `acks=all`,
//!   `linger.ms=5`) publishing the same CloudEvents records with everything in flight;
//! - **relay, backlog**: the real `switchyard-outbox-relay` binary (release build) draining
//!   `--events` pending rows: events/s from start-up until none is pending;
//! - **relay, steady**: the binary running while writers enqueue at `--rate` events/s in
//!   transactions of `--per-tx` events; p50/p99 enqueue→ack from the relay's own histogram
//!   `switchyard_outbox_relay_enqueue_to_publish_seconds` (interpolated within its buckets:
//!   1, 2.5, 5, 10, 25, 50, 100, 250 ms, ...).
//!
//! Run: `cargo bench -p switchyard-outbox-relay --bench relay [-- --events 50000 --rate
//! 10000 --seconds 10 --per-tx 10]`. With `SWITCHYARD__BUS__KAFKA__BROKERS` set it uses that
//! broker, otherwise it starts a tansu of its own; PostgreSQL comes from
//! `SWITCHYARD__DATABASE__URL` (a fresh database is created and dropped).

#![allow(clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]
#![allow(clippy::cast_precision_loss)]

use std::time::{Duration, Instant};

use rdkafka::{
    ClientConfig,
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
};
use switchyard_bus::Bus;
use switchyard_domain::{Event, EventId, EventType, TenantId};
use switchyard_runtime::settings::{BusBackend, BusSettings, DatabaseSettings};
use switchyard_store::{Store, outbox};
use switchyard_testkit::{bench, binary::RunningBinary, postgres::TestDatabase, unique_name};

const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-outbox-relay");
const TENANTS: u64 = 64;
const WRITERS: u64 = 4;

struct Options {
    events: u64,
    rate: u64,
    seconds: u64,
    per_tx: u64,
}

impl Options {
    fn parse() -> Self {
        let args = bench::Options::from_args(
            &["--events", "--rate", "--seconds", "--per-tx"],
            "benches/relay.rs",
        );
        Self {
            events: args.get("--events", 50_000),
            rate: args.get("--rate", 10_000),
            seconds: args.get("--seconds", 10),
            per_tx: args.get::<u64>("--per-tx", 10).max(1),
        }
    }
}

/// A 512-byte JSON order event of tenant `n % TENANTS`.
fn event(run: &str, n: u64) -> Event {
    let tenant = format!("tenant{}", n % TENANTS);
    let padding = "x".repeat(440);
    Event::builder(
        TenantId::parse(&tenant).expect("tenant"),
        EventId::parse(&format!("evt_{run}_{n}")).expect("id"),
        format!("/{tenant}/orders"),
        EventType::parse("app.order.created").expect("type"),
    )
    .data(
        Some("application/json".into()),
        format!(r#"{{"n":{n},"pad":"{padding}"}}"#),
    )
    .build()
    .expect("event")
}

struct Row {
    what: &'static str,
    events: u64,
    took: Duration,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let (brokers, _private) = bench::kafka_brokers().await;
    let db = TestDatabase::create().await;
    let store = Store::connect(&DatabaseSettings {
        url: db.url.clone().into(),
        ..DatabaseSettings::default()
    })
    .await
    .expect("PostgreSQL");
    store.migrate().await.expect("migrate");
    let mut rows = Vec::new();

    rows.push(insert_loop(&store, options.events).await);
    rows.push(enqueue_loop(&store, options.events).await);
    rows.push(raw_producer(&brokers, options.events).await);
    rows.push(relay_backlog(&db, &store, &brokers, options.events).await);
    rows.push(relay_steady(&db, &store, &brokers, &options).await);

    println!("\n| contender | events | seconds | events/s | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    let ms = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"));
    for row in rows {
        println!(
            "| {} | {} | {:.2} | {:.0} | {} | {} |",
            row.what,
            row.events,
            row.took.as_secs_f64(),
            row.events as f64 / row.took.as_secs_f64(),
            ms(row.p50_ms),
            ms(row.p99_ms),
        );
    }
    drop(store);
    db.drop_database().await;
}

/// Runs `write` on `WRITERS` tasks at once; each does its share of the commits.
async fn parallel_commits<F, Fut>(store: &Store, write: F) -> Duration
where
    F: Fn(Store, u64) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let task = write(store.clone(), w);
        tasks.spawn(task);
    }
    tasks.join_all().await;
    started.elapsed()
}

async fn insert_loop(store: &Store, events: u64) -> Row {
    let client = store
        .postgres()
        .expect("a PostgreSQL store")
        .client()
        .await
        .expect("client");
    client
        .batch_execute(
            "CREATE TABLE bench_rows (seq bigserial PRIMARY KEY, tenant text NOT NULL, \
             id text NOT NULL, data bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .expect("create table");
    let took = parallel_commits(store, |store, w| async move {
        let client = store
            .postgres()
            .expect("a PostgreSQL store")
            .client()
            .await
            .expect("client");
        let insert = client
            .prepare("INSERT INTO bench_rows (tenant, id, data) VALUES ($1, $2, $3)")
            .await
            .expect("prepare");
        for n in (w..events).step_by(WRITERS as usize) {
            let event = event("insert", n);
            client
                .execute(
                    &insert,
                    &[
                        &event.tenant().as_str(),
                        &event.id().as_str(),
                        &event.data().as_ref(),
                    ],
                )
                .await
                .expect("insert");
        }
    })
    .await;
    Row {
        what: "INSERT loop (1 row/commit, 4 conns)",
        events,
        took,
        p50_ms: None,
        p99_ms: None,
    }
}

async fn enqueue_loop(store: &Store, events: u64) -> Row {
    let took = parallel_commits(store, |store, w| async move {
        let client = store
            .postgres()
            .expect("a PostgreSQL store")
            .client()
            .await
            .expect("client");
        for n in (w..events).step_by(WRITERS as usize) {
            outbox::enqueue(&client, &event("enqueue", n))
                .await
                .expect("enqueue");
        }
    })
    .await;
    // Leave the outbox empty for the relay runs.
    client_exec(store, "TRUNCATE outbox").await;
    Row {
        what: "outbox enqueue loop (1 event/commit, 4 conns)",
        events,
        took,
        p50_ms: None,
        p99_ms: None,
    }
}

async fn client_exec(store: &Store, sql: &str) {
    store
        .postgres()
        .expect("a PostgreSQL store")
        .client()
        .await
        .expect("client")
        .batch_execute(sql)
        .await
        .expect(sql);
}

async fn raw_producer(brokers: &str, events: u64) -> Row {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let topic = unique_name("bench-raw");
    let mut settings = BusSettings {
        backend: BusBackend::Kafka,
        partitions: 6,
        ..BusSettings::default()
    };
    settings.kafka.brokers = brokers.to_owned();
    let bus = Bus::connect(&settings).await.expect("bus");
    bus.admin
        .ensure_topics(std::slice::from_ref(&topic))
        .await
        .expect("raw topic");
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(events as usize);
    let mut in_flight = futures::stream::FuturesUnordered::new();
    use futures::StreamExt as _;
    for n in 0..events {
        let message = event("raw", n).to_binary();
        let mut headers = OwnedHeaders::new_with_capacity(message.headers.len());
        for header in &message.headers {
            headers = headers.insert(Header {
                key: &header.name,
                value: Some(header.value.as_ref()),
            });
        }
        let record = FutureRecord::to(&topic)
            .key(message.key.as_deref().unwrap_or_default())
            .payload(message.payload.as_ref())
            .headers(headers);
        let sent = Instant::now();
        let delivery = producer.send_result(record).expect("queue full");
        in_flight.push(async move {
            if let Err((error, _)) = delivery.await.expect("canceled") {
                panic!("not acknowledged: {error}");
            }
            sent.elapsed()
        });
        while in_flight.len() >= 10_000 {
            latencies.push(in_flight.next().await.expect("in flight"));
        }
    }
    while let Some(latency) = in_flight.next().await {
        latencies.push(latency);
    }
    let took = started.elapsed();
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    Row {
        what: "raw rdkafka producer (all in flight)",
        events,
        took,
        p50_ms: Some(pick(0.5)),
        p99_ms: Some(pick(0.99)),
    }
}

async fn start_relay(db: &TestDatabase, brokers: &str) -> RunningBinary {
    let prefix = unique_name("bench-relay");
    RunningBinary::start(
        BINARY,
        &[
            ("SWITCHYARD__DATABASE__URL", db.url.as_str()),
            ("SWITCHYARD__BUS__BACKEND", "kafka"),
            ("SWITCHYARD__BUS__KAFKA__BROKERS", brokers),
            ("SWITCHYARD__BUS__TOPIC_PREFIX", prefix.as_str()),
            ("SWITCHYARD__BUS__PARTITIONS", "6"),
        ],
    )
    .await
}

async fn pending(store: &Store) -> i64 {
    store
        .postgres()
        .expect("a PostgreSQL store")
        .client()
        .await
        .expect("client")
        .query_one(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL",
            &[],
        )
        .await
        .expect("count")
        .get(0)
}

async fn wait_drained(store: &Store) {
    while pending(store).await > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn relay_backlog(db: &TestDatabase, store: &Store, brokers: &str, events: u64) -> Row {
    for chunk in (0..events).collect::<Vec<_>>().chunks(1_000) {
        let mut client = store
            .postgres()
            .expect("a PostgreSQL store")
            .client()
            .await
            .expect("client");
        let tx = client.transaction().await.expect("begin");
        for n in chunk {
            outbox::enqueue(&tx, &event("backlog", *n))
                .await
                .expect("enqueue");
        }
        tx.commit().await.expect("commit");
    }
    let started = Instant::now();
    let relay = start_relay(db, brokers).await;
    wait_drained(store).await;
    let took = started.elapsed();
    relay.terminate();
    drop(relay);
    client_exec(store, "DELETE FROM outbox").await;
    Row {
        what: "relay draining a backlog (start-up included)",
        events,
        took,
        p50_ms: None,
        p99_ms: None,
    }
}

async fn relay_steady(db: &TestDatabase, store: &Store, brokers: &str, options: &Options) -> Row {
    let relay = start_relay(db, brokers).await;
    let total = options.rate * options.seconds;
    let per_writer_gap =
        Duration::from_secs_f64((options.per_tx * WRITERS) as f64 / options.rate as f64);
    let per_tx = options.per_tx;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let store = store.clone();
        tasks.spawn(async move {
            let mut client = store
                .postgres()
                .expect("a PostgreSQL store")
                .client()
                .await
                .expect("client");
            let first = tokio::time::Instant::now();
            let mut n = w * per_tx;
            let mut k = 0u32;
            while n < total {
                // A fixed schedule: a writer that falls behind catches up without pausing.
                tokio::time::sleep_until(first + per_writer_gap * k).await;
                k += 1;
                let tx = client.transaction().await.expect("begin");
                for i in n..(n + per_tx).min(total) {
                    outbox::enqueue(&tx, &event("steady", i))
                        .await
                        .expect("enqueue");
                }
                tx.commit().await.expect("commit");
                n += per_tx * WRITERS;
            }
        });
    }
    tasks.join_all().await;
    let enqueued_in = started.elapsed();
    wait_drained(store).await;
    let took = started.elapsed();
    let metrics = relay.get("/metrics").await.1;
    let (p50, p99) = quantiles(
        &metrics,
        "switchyard_outbox_relay_enqueue_to_publish_seconds",
    );
    eprintln!(
        "steady: enqueued {total} in {:.2}s ({:.0}/s offered)",
        enqueued_in.as_secs_f64(),
        total as f64 / enqueued_in.as_secs_f64()
    );
    relay.terminate();
    Row {
        what: "relay at a steady enqueue rate (enqueue→ack)",
        events: total,
        took,
        p50_ms: p50.map(|s| s * 1e3),
        p99_ms: p99.map(|s| s * 1e3),
    }
}

/// p50 and p99 of a Prometheus histogram, interpolated linearly within its buckets.
fn quantiles(text: &str, name: &str) -> (Option<f64>, Option<f64>) {
    let prefix = format!("{name}_bucket{{le=\"");
    let mut buckets: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(&prefix)?;
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.trim().parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last().map_or(0.0, |b| b.1);
    if total == 0.0 {
        return (None, None);
    }
    let quantile = |q: f64| {
        let target = total * q;
        let (mut lower, mut below) = (0.0, 0.0);
        for &(le, count) in &buckets {
            if count >= target {
                if le.is_infinite() {
                    return lower;
                }
                let share = if count > below {
                    (target - below) / (count - below)
                } else {
                    0.0
                };
                return lower + (le - lower) * share;
            }
            (lower, below) = (le, count);
        }
        lower
    };
    (Some(quantile(0.5)), Some(quantile(0.99)))
}
