//! Deliveries/s from the events topic to a local receiver through the real
//! `switchyard-webhook-dispatcher` binary, and its event→delivery latency at a steady rate,
//! against baselines measured in the same run on the same receiver and broker:
//!
//! - **reqwest loop** (the issue's baseline): a plain `reqwest::Client` POSTing the bodies the
//!   dispatcher sends (each event as a structured-mode CloudEvent) to the same endpoints, with
//!   as many requests in flight as the dispatcher may have (`endpoint_concurrency`, 32, per
//!   endpoint), no Kafka: the HTTP ceiling of this machine;
//! - **Sender loop**: the same through the dispatcher's own `Sender` (Standard Webhooks
//!   signature, address-guarded resolver, response excerpt), still no Kafka;
//! - **raw consume**: an rdkafka consumer reading the events topic: what the broker hands out;
//!   **raw consume, pause every 256**: the same pausing a partition after every 256 of its
//!   records and resuming it 5 ms later, as the bus's consumer does to a partition whose
//!   worker is a full buffer behind;
//! - **broker pipe**: an rdkafka consumer reading the events topic and writing one
//!   delivery-attempt record per delivery, acknowledged before its offsets are stored: the
//!   dispatcher's Kafka traffic without HTTP;
//! - **handler, no pauses**: the dispatcher's `Dispatcher::handle` in this process, fed per
//!   partition in batches of up to 256 by a consumer that never pauses;
//! - **dispatcher**: the binary (release build) as deployed, on a consumer group of its own;
//!   deliveries ÷ (last − first arrival at the receiver).
//!
//! Input: `--events` events with 1 KiB of JSON data over `--tenants` tenants on a 6-partition
//! events topic, published once; each tenant has `--fanout` endpoints taking `*`, so every
//! event is `--fanout` deliveries. The receiver (actix-web, 2 workers, answers 200) listens on
//! one loopback port per endpoint (or on `--ports` ports shared round-robin), so endpoints are
//! distinct hosts to the HTTP clients' connection pools, as subscribers are.
//!
//! Latency: events published one by one at `--rate` events/s and at half the dispatcher's
//! measured median, for `--seconds` each, to a fresh topic read by a warmed-up raw consumer
//! (the baseline: the broker's own publish → read latency) and then by the binary; arrival −
//! publish (the instant before the record is handed to the producer).
//!
//! Everything shares the machine's cores: the broker, the dispatcher, the receiver and the
//! bench. CPU per delivery is reported per process (the receiver's worker threads apart from
//! the rest of the bench) from `/proc`, in 10 ms ticks.
//!
//! Run: `cargo bench -p switchyard-webhook-dispatcher --bench throughput [-- --events 20000
//! --runs 3 --tenants 10 --fanout 1 --ports 0 --rate 1000 --seconds 10 --fetch-wait-ms 500]`.
//! `--fetch-wait-ms` is the bench's own consumers' `fetch.wait.max.ms`; the binary keeps the
//! bus's, librdkafka's default of 500 ms. With `SWITCHYARD__BUS__KAFKA__BROKERS` set it uses
//! that broker (its CPU is then not reported); otherwise it starts a fresh tansu of its own.
//! Each cell is the median of the runs.

#![allow(clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]

use std::{
    net::TcpListener,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bytes::Bytes;
use prost::Message as _;
use rdkafka::{
    ClientConfig, Message as _, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer, StreamConsumer},
    message::{BorrowedMessage, Header, Headers as _, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
};
use secrecy::SecretString;
use switchyard_bus::{Bus, Delivery, Position};
use switchyard_domain::{
    EndpointId, Event, EventId, EventType, EventTypePattern, Headers, Message, TenantId,
    wire::{DELIVERY_ATTEMPT_CONTENT_TYPE, DeliveryAttempt, delivery_attempt::Outcome},
};
use switchyard_runtime::{
    Shutdown,
    settings::{BusBackend, BusSettings, DispatcherSettings},
};
use switchyard_signatures::Signer;
use switchyard_testkit::{
    bench::{self, child_pid, cpu_seconds},
    binary::RunningBinary,
    unique_name,
};
use switchyard_webhook_dispatcher::{
    catalog::{Catalog, EndpointConfig},
    dispatch::Dispatcher,
    sender::Sender,
    ssrf::AddressPolicy,
};
use url::Url;

const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-webhook-dispatcher");
const PARTITIONS: u32 = 6;
/// The dispatcher's defaults, which the baselines mirror.
const ENDPOINT_CONCURRENCY: usize = 32;
const MAX_BATCH: usize = 256;

const RECEIVER_WORKERS: usize = 2;
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The bus's per-partition buffer (`crates/bus/src/kafka/subscriber/lanes.rs`): a partition
/// whose worker has this many records waiting is paused.
const PARTITION_BUFFER: u64 = 256;
/// In the order they run; the table's ratios are to the first and to `broker pipe`.
const CONTENDERS: [&str; 7] = [
    "reqwest loop",
    "Sender loop",
    "raw consume",
    "raw consume, pause every 256",
    "broker pipe",
    "handler, no pauses",
    "dispatcher",
];
/// A contender that delivers nothing new for this long has stalled.
const STALL: Duration = Duration::from_secs(60);

struct Options {
    events: usize,
    runs: usize,
    tenants: usize,
    fanout: usize,
    ports: usize,
    rate: u64,
    seconds: u64,
    fetch_wait_ms: u64,
}

impl Options {
    fn parse() -> Self {
        let args = bench::Options::from_args(
            &[
                "--events",
                "--runs",
                "--tenants",
                "--fanout",
                "--ports",
                "--rate",
                "--seconds",
                "--fetch-wait-ms",
            ],
            "benches/throughput.rs",
        );
        Self {
            events: args.get("--events", 20_000),
            runs: args.get("--runs", 3),
            tenants: args.get("--tenants", 10),
            fanout: args.get::<usize>("--fanout", 1).max(1),
            ports: args.get("--ports", 0),
            rate: args.get("--rate", 1_000),
            seconds: args.get("--seconds", 10),
            fetch_wait_ms: args.get("--fetch-wait-ms", 500),
        }
    }
}

/// The broker, the input and the receiver every contender shares.
struct World {
    brokers: String,
    settings: BusSettings,
    bus: Bus,
    tally: Arc<Tally>,
    endpoints: Vec<Target>,
    deliveries: u64,
    fanout: u64,
    /// `fetch.wait.max.ms` of the bench's own consumers.
    fetch_wait_ms: u64,
    broker_pid: Option<u32>,
}

/// One endpoint and the deliveries it is due, as the baselines send them.
struct Target {
    tenant: String,
    id: String,
    url: Url,
    bodies: Vec<(String, Bytes)>,
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let (brokers, private) = bench::kafka_brokers().await;
    let broker_pid = private.as_ref().and_then(|_| child_pid("tansu"));
    let mut settings = BusSettings {
        backend: BusBackend::Kafka,
        partitions: PARTITIONS,
        ..BusSettings::default()
    };
    settings.kafka.brokers.clone_from(&brokers);
    settings.topic_prefix = unique_name("bench-dispatch").parse().expect("prefix");
    let bus = Bus::connect(&settings)
        .await
        .unwrap_or_else(|e| panic!("Kafka-protocol broker at {brokers}: {e}"));
    let topics = settings.topics();
    bus.admin
        .ensure_topics(&[topics.events(), topics.deliveries(), topics.dlq()])
        .await
        .unwrap_or_else(|e| panic!("Kafka-protocol broker at {brokers}: {e}"));

    let endpoint_count = options.tenants * options.fanout;
    let ports = if options.ports == 0 {
        endpoint_count
    } else {
        options.ports
    };
    let tally = Arc::new(Tally::new());
    let (receiver, addresses) = start_receiver(ports, tally.clone());
    let events: Vec<Event> = (0..options.events)
        .map(|n| event(n, options.tenants, "evt"))
        .collect();
    let mut endpoints = Vec::with_capacity(endpoint_count);
    for t in 0..options.tenants {
        let tenant = format!("tenant{t}");
        for f in 0..options.fanout {
            let address = addresses[endpoints.len() % addresses.len()];
            let url = format!("http://{address}/hooks/{tenant}/ep{f}");
            let bodies = events
                .iter()
                .filter(|e| e.tenant().as_str() == tenant)
                .map(|e| (e.id().as_str().to_owned(), e.to_structured_json().into()))
                .collect();
            endpoints.push(Target {
                tenant: tenant.clone(),
                id: format!("ep{f}"),
                url: url.parse().expect("url"),
                bodies,
            });
        }
    }
    let deliveries = (options.events * options.fanout) as u64;
    println!(
        "{} events, data {} bytes, structured body {} bytes, {} tenants × {} endpoints on {} \
         receiver ports, {PARTITIONS} partitions: {deliveries} deliveries",
        options.events,
        events[0].data().len(),
        endpoints[0].bodies[0].1.len(),
        options.tenants,
        options.fanout,
        addresses.len(),
    );
    for chunk in events.chunks(1_000) {
        bus.publisher
            .publish_batch(
                &topics.events(),
                chunk.iter().map(Event::to_binary).collect(),
            )
            .await
            .expect("fill the events topic");
    }
    drop(events);
    let world = World {
        brokers,
        settings,
        bus,
        tally,
        endpoints,
        deliveries,
        fanout: options.fanout as u64,
        fetch_wait_ms: options.fetch_wait_ms,
        broker_pid,
    };

    let mut results: Vec<Vec<Figure>> = vec![Vec::new(); CONTENDERS.len()];
    for run in 1..=options.runs {
        for (slot, name) in CONTENDERS.iter().enumerate() {
            let figure = match slot {
                0 => http_loop(&world, false).await,
                1 => http_loop(&world, true).await,
                2 => raw_consume(&world, None).await,
                3 => raw_consume(&world, Some(PARTITION_BUFFER)).await,
                4 => pipe(&world).await,
                5 => handler(&world).await,
                _ => dispatcher(&world).await,
            };
            println!("run {run}: {name:<32} {figure}");
            results[slot].push(figure);
        }
    }
    let medians: Vec<Figure> = results.iter().map(|f| median(f)).collect();
    println!(
        "\n| contender | per s (median of {}) | vs reqwest loop | vs broker pipe | CPU µs per \
         delivery: client · receiver · broker | cores busy |",
        options.runs
    );
    println!("|---|---:|---:|---:|---|---:|");
    for (name, m) in CONTENDERS.iter().zip(&medians) {
        println!(
            "| {name} | {:.0} | {:.0}% | {:.0}% | {} | {:.2} |",
            m.per_sec,
            m.per_sec / medians[0].per_sec * 100.0,
            m.per_sec / medians[4].per_sec * 100.0,
            m.cpu,
            m.cores
        );
    }

    println!(
        "\n| contender | events/s offered | deliveries | p50 ms | p90 ms | p99 ms | max ms | \
         cores busy: client · receiver · broker |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    let half = (medians[6].per_sec / 2.0 / options.fanout as f64) as u64;
    for rate in [options.rate, half] {
        for with_dispatcher in [false, true] {
            let row = latency(&world, &options, rate, with_dispatcher).await;
            println!("{row}");
        }
    }
    receiver.abort();
}

/// Event `n` of the bench: tenant `n % tenants`, id `<prefix>_<n>`, 1,024 bytes of JSON data.
fn event(n: usize, tenants: usize, prefix: &str) -> Event {
    let tenant = format!("tenant{}", n % tenants);
    let head = format!(r#"{{"n":{n},"amount":{},"pad":""#, 50_000 + n);
    let data = format!("{head}{}\"}}", "x".repeat(1_024 - head.len() - 2));
    Event::builder(
        TenantId::parse(&tenant).expect("tenant"),
        EventId::parse(&format!("{prefix}_{n}")).expect("id"),
        format!("/{tenant}/orders"),
        EventType::parse("app.order.created").expect("type"),
    )
    .subject(Some(format!("ord_{n}")))
    .data(Some("application/json".into()), data)
    .build()
    .expect("event")
}

/// What the receiver saw: arrivals counted, the first and the last, and for latency the
/// event number of each `webhook-id` `evt_<n>` with its arrival. Times are nanoseconds since
/// `base`.
struct Tally {
    base: Instant,
    count: AtomicU64,
    first: AtomicU64,
    last: AtomicU64,
    arrivals: Mutex<Vec<(usize, u64)>>,
}

impl Tally {
    fn new() -> Self {
        Self {
            base: Instant::now(),
            count: AtomicU64::new(0),
            first: AtomicU64::new(u64::MAX),
            last: AtomicU64::new(0),
            arrivals: Mutex::new(Vec::new()),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        at.duration_since(self.base).as_nanos() as u64
    }

    fn reset(&self) {
        self.count.store(0, Ordering::SeqCst);
        self.first.store(u64::MAX, Ordering::SeqCst);
        self.last.store(0, Ordering::SeqCst);
        self.arrivals.lock().expect("tally").clear();
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// An arrival now of the record or request with id `id`.
    fn record(&self, id: Option<&str>) {
        let at = self.nanos(Instant::now());
        if let Some(n) = id
            .and_then(|id| id.strip_prefix("evt_"))
            .and_then(|n| n.parse().ok())
        {
            self.arrivals.lock().expect("tally").push((n, at));
        }
        self.first.fetch_min(at, Ordering::AcqRel);
        self.last.fetch_max(at, Ordering::AcqRel);
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    /// Last − first arrival.
    fn span(&self) -> Duration {
        let first = self.first.load(Ordering::Acquire);
        Duration::from_nanos(self.last.load(Ordering::Acquire).saturating_sub(first))
    }
}

async fn receive(request: HttpRequest, _body: web::Bytes, tally: web::Data<Tally>) -> HttpResponse {
    tally.record(
        request
            .headers()
            .get("webhook-id")
            .and_then(|v| v.to_str().ok()),
    );
    HttpResponse::Ok().finish()
}

/// The receiver on `ports` loopback ports. Its workers are threads of their own (named
/// `actix-server …`), so their CPU is told apart from the bench's.
fn start_receiver(
    ports: usize,
    tally: Arc<Tally>,
) -> (
    tokio::task::JoinHandle<std::io::Result<()>>,
    Vec<std::net::SocketAddr>,
) {
    let data = web::Data::from(tally);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(receive))
    })
    .workers(RECEIVER_WORKERS)
    .disable_signals()
    .shutdown_timeout(1);
    let mut addresses = Vec::with_capacity(ports);
    for _ in 0..ports {
        let listener = TcpListener::bind("127.0.0.1:0").expect("loopback port");
        addresses.push(listener.local_addr().expect("address"));
        server = server.listen(listener).expect("listen");
    }
    (tokio::spawn(server.run()), addresses)
}

/// CPU seconds per part of the machine's work.
#[derive(Clone, Copy, Default)]
struct Cpu {
    /// The bench process less the receiver's threads, or the dispatcher process.
    client: f64,
    receiver: f64,
    /// `None` on a broker this bench did not start.
    broker: Option<f64>,
}

impl std::ops::Sub for Cpu {
    type Output = Self;
    fn sub(self, earlier: Self) -> Self {
        Self {
            client: self.client - earlier.client,
            receiver: self.receiver - earlier.receiver,
            broker: self.broker.zip(earlier.broker).map(|(a, b)| a - b),
        }
    }
}

impl std::fmt::Display for Cpu {
    /// µs per delivery, once divided by the deliveries.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let broker = self.broker.map_or("–".into(), |b| format!("{b:.1}"));
        write!(f, "{:.1} · {:.1} · {broker}", self.client, self.receiver)
    }
}

fn receiver_cpu() -> f64 {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(Result::ok)
        .map(|task| task.file_name().to_string_lossy().into_owned())
        .filter(|tid| {
            std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
                .is_ok_and(|comm| comm.starts_with("actix-server"))
        })
        .map(|tid| cpu_seconds(&format!("self/task/{tid}")))
        .sum()
}

/// The CPU used so far; `client` is the dispatcher's when it runs, the bench's otherwise.
fn sample_cpu(world: &World, dispatcher: Option<u32>) -> Cpu {
    let receiver = receiver_cpu();
    let client = match dispatcher {
        Some(pid) => cpu_seconds(&pid.to_string()),
        None => cpu_seconds("self") - receiver,
    };
    Cpu {
        client,
        receiver,
        broker: world.broker_pid.map(|pid| cpu_seconds(&pid.to_string())),
    }
}

/// One contender's result.
#[derive(Clone, Copy)]
struct Figure {
    per_sec: f64,
    /// CPU µs per delivery.
    cpu: Cpu,
    cores: f64,
}

impl Figure {
    fn new(count: u64, elapsed: Duration, cpu: Cpu) -> Self {
        let per = |s: f64| s * 1e6 / count as f64;
        let total = cpu.client + cpu.receiver + cpu.broker.unwrap_or(0.0);
        Self {
            per_sec: count as f64 / elapsed.as_secs_f64(),
            cpu: Cpu {
                client: per(cpu.client),
                receiver: per(cpu.receiver),
                broker: cpu.broker.map(per),
            },
            cores: total / elapsed.as_secs_f64(),
        }
    }
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>7.0}/s, CPU µs per delivery (client · receiver · broker) {}, {:.2} cores",
            self.per_sec, self.cpu, self.cores
        )
    }
}

fn median(figures: &[Figure]) -> Figure {
    let mut sorted = figures.to_vec();
    sorted.sort_by(|a, b| a.per_sec.total_cmp(&b.per_sec));
    sorted[sorted.len() / 2]
}

/// Waits for the receiver's first arrival, then for `expected`; CPU over that window.
async fn measure(world: &World, expected: u64, dispatcher: Option<u32>) -> Figure {
    let tally = &world.tally;
    let mut seen = (0, Instant::now());
    let mut cpu_at_start = None;
    while tally.count() < expected {
        let count = tally.count();
        if count > 0 && cpu_at_start.is_none() {
            cpu_at_start = Some(sample_cpu(world, dispatcher));
        }
        if count != seen.0 {
            seen = (count, Instant::now());
        }
        assert!(
            seen.1.elapsed() < STALL,
            "stalled at {count} of {expected} deliveries"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let cpu = sample_cpu(world, dispatcher) - cpu_at_start.unwrap_or_default();
    Figure::new(expected, tally.span(), cpu)
}

/// The dispatcher's HTTP client as `lib.rs` builds it, loopback allowed.
fn sender() -> Sender {
    Sender::new(
        AddressPolicy {
            allow_private_networks: true,
        },
        Duration::from_secs(15),
        ENDPOINT_CONCURRENCY,
        "Switchyard-Webhooks/bench",
    )
    .expect("sender")
}

/// POSTs every delivery with `ENDPOINT_CONCURRENCY` requests in flight per endpoint: plain
/// reqwest, or the dispatcher's `Sender` (`signed`).
async fn http_loop(world: &World, signed: bool) -> Figure {
    world.tally.reset();
    let plain = reqwest::Client::new();
    let sender = sender();
    let signers = Arc::new(vec![Signer::new(&SecretString::from(SECRET)).expect("key")]);
    let mut tasks = tokio::task::JoinSet::new();
    for target in &world.endpoints {
        let next = Arc::new(AtomicUsize::new(0));
        let url = target.url.clone();
        let bodies = Arc::new(target.bodies.clone());
        for _ in 0..ENDPOINT_CONCURRENCY {
            let (next, url, bodies) = (next.clone(), url.clone(), bodies.clone());
            let (plain, sender, signers) = (plain.clone(), sender.clone(), signers.clone());
            tasks.spawn(async move {
                while let Some((id, body)) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if signed {
                        let outcome = sender.send(&url, id, &signers, body.clone()).await;
                        assert!(outcome.failure.is_none(), "{:?}", outcome.failure);
                    } else {
                        let response = plain
                            .post(url.clone())
                            .header("content-type", "application/cloudevents+json")
                            .header("webhook-id", id)
                            .body(body.clone())
                            .send()
                            .await
                            .expect("POST");
                        assert!(response.status().is_success());
                        response.bytes().await.expect("response body");
                    }
                }
            });
        }
    }
    let figure = measure(world, world.deliveries, None).await;
    tasks.join_all().await;
    figure
}

/// A consumer configured like the bus's (offsets stored by hand, committed every second).
fn consumer(world: &World) -> StreamConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", &world.brokers)
        .set("group.id", unique_name("bench-read"))
        .set("fetch.wait.max.ms", world.fetch_wait_ms.to_string())
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.offset.store", "false")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .create()
        .expect("consumer")
}

/// Reads the events topic and nothing else.
/// Reads the events topic and nothing else; with `pause_every`, pauses a partition after
/// that many of its records and resumes it 5 ms later, as the bus does when a partition's
/// worker is a full buffer behind.
async fn raw_consume(world: &World, pause_every: Option<u64>) -> Figure {
    let consumer = consumer(world);
    consumer
        .subscribe(&[&world.settings.topics().events()])
        .expect("subscribe");
    let events = world.deliveries / world.fanout;
    let mut per_partition = [0u64; PARTITIONS as usize];
    let mut since_pause = per_partition;
    let (mut started, mut cpu_at_start) = (None, Cpu::default());
    for _ in 0..events {
        let message = consumer.recv().await.expect("consume");
        let partition = usize::try_from(message.partition()).unwrap_or(0);
        per_partition[partition] += 1;
        since_pause[partition] += 1;
        if started.is_none() {
            started = Some(Instant::now());
            cpu_at_start = sample_cpu(world, None);
        }
        if pause_every.is_some_and(|every| since_pause[partition] > every) {
            since_pause[partition] = 0;
            let mut list = TopicPartitionList::new();
            list.add_partition(message.topic(), message.partition());
            drop(message);
            consumer.pause(&list).expect("pause");
            tokio::time::sleep(Duration::from_millis(5)).await;
            consumer.resume(&list).expect("resume");
        }
    }
    let elapsed = started.map_or(Duration::ZERO, |s| s.elapsed());
    if pause_every.is_none() {
        eprintln!("  events per partition: {per_partition:?}");
    }
    // Per event read; one event is `fanout` deliveries for the others.
    Figure::new(events, elapsed, sample_cpu(world, None) - cpu_at_start)
}

/// A delivery-attempt record like the dispatcher's for a success.
fn attempt_record(tenant: &str, event_id: &str, endpoint: &Target) -> Message {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let at = prost_types::Timestamp {
        seconds: now.as_secs() as i64,
        nanos: now.subsec_nanos() as i32,
    };
    let record = DeliveryAttempt {
        attempt_id: format!("att_{}", uuid::Uuid::now_v7().simple()),
        tenant: tenant.to_owned(),
        event_id: event_id.to_owned(),
        event_type: "app.order.created".into(),
        endpoint_id: endpoint.id.clone(),
        url: endpoint.url.to_string(),
        attempt: 1,
        outcome: Outcome::Succeeded.into(),
        response_status: 200,
        attempted_at: Some(at),
        duration_ms: 1,
        ..DeliveryAttempt::default()
    };
    let mut message = Message {
        key: Some(Bytes::copy_from_slice(tenant.as_bytes())),
        payload: record.encode_to_vec().into(),
        ..Message::default()
    };
    message
        .headers
        .insert("content-type", DELIVERY_ATTEMPT_CONTENT_TYPE);
    message
}

/// Reads the events and writes one attempt record per delivery to a fresh topic with a
/// producer configured like the bus's, storing offsets once a batch is acknowledged.
async fn pipe(world: &World) -> Figure {
    let out = unique_name("bench-attempts");
    world
        .bus
        .admin
        .ensure_topics(std::slice::from_ref(&out))
        .await
        .expect("attempts topic");
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &world.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let consumer = consumer(world);
    consumer
        .subscribe(&[&world.settings.topics().events()])
        .expect("subscribe");
    let (mut done, mut started, mut cpu_at_start) = (0, None, Cpu::default());
    while done < world.deliveries {
        let mut messages = vec![consumer.recv().await.expect("consume").detach()];
        if started.is_none() {
            started = Some(Instant::now());
            cpu_at_start = sample_cpu(world, None);
        }
        while messages.len() < MAX_BATCH {
            match tokio::time::timeout(Duration::ZERO, consumer.recv()).await {
                Ok(Ok(message)) => messages.push(message.detach()),
                _ => break,
            }
        }
        let mut pending = Vec::new();
        for message in &messages {
            let header = |name: &str| {
                message.headers().and_then(|h| {
                    h.iter()
                        .find(|h| h.key == name)
                        .and_then(|h| std::str::from_utf8(h.value?).ok())
                })
            };
            let (tenant, id) = (
                header("ce_tenant").expect("tenant"),
                header("ce_id").expect("id"),
            );
            for endpoint in world.endpoints.iter().filter(|e| e.tenant == tenant) {
                let record = attempt_record(tenant, id, endpoint);
                let mut headers = OwnedHeaders::new();
                for h in &record.headers {
                    headers = headers.insert(Header {
                        key: &h.name,
                        value: Some(h.value.as_ref()),
                    });
                }
                let sent = FutureRecord::to(&out)
                    .key(tenant)
                    .payload(record.payload.as_ref())
                    .headers(headers);
                pending.push(
                    producer
                        .send_result(sent)
                        .map_err(|(e, _)| e)
                        .expect("enqueue"),
                );
            }
        }
        done += pending.len() as u64;
        for delivery in pending {
            delivery
                .await
                .expect("delivery")
                .map_err(|(e, _)| e)
                .expect("ack");
        }
        let mut offsets = TopicPartitionList::new();
        for message in &messages {
            offsets
                .add_partition_offset(
                    message.topic(),
                    message.partition(),
                    Offset::Offset(message.offset() + 1),
                )
                .expect("offset");
        }
        consumer.store_offsets(&offsets).expect("store offsets");
    }
    let elapsed = started.map_or(Duration::ZERO, |s| s.elapsed());
    Figure::new(
        world.deliveries,
        elapsed,
        sample_cpu(world, None) - cpu_at_start,
    )
}

/// The dispatcher's handler (`Dispatcher::handle`, as `lib.rs` wires it) in this process,
/// fed per partition in batches of up to `MAX_BATCH` by a consumer that never pauses: the
/// dispatcher without the bus's flow control. Its attempt records go to the deliveries topic.
async fn handler(world: &World) -> Figure {
    world.tally.reset();
    let settings = DispatcherSettings {
        allow_private_networks: true,
        ..DispatcherSettings::default()
    };
    let catalog = Catalog::from_settings(&[], &settings).expect("catalog");
    for target in &world.endpoints {
        let config = EndpointConfig::new(
            TenantId::parse(&target.tenant).expect("tenant"),
            EndpointId::parse(&target.id).expect("endpoint id"),
            target.url.clone(),
            &SecretString::from(SECRET),
            vec![EventTypePattern::parse("*").expect("pattern")],
        );
        catalog.upsert(config.expect("endpoint"));
    }
    let dispatcher = Arc::new(Dispatcher::new(
        Arc::new(catalog),
        sender(),
        &settings,
        world.bus.publisher.clone(),
        world.settings.topics(),
        Shutdown::new(),
    ));
    let consumer = consumer(world);
    consumer
        .subscribe(&[&world.settings.topics().events()])
        .expect("subscribe");
    let events = world.deliveries / world.fanout;
    let feeding = tokio::spawn(async move {
        let mut lanes = std::collections::HashMap::new();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..events {
            let message = consumer.recv().await.expect("consume");
            let lane = lanes.entry(message.partition()).or_insert_with(|| {
                let (lane, records) = tokio::sync::mpsc::channel(events as usize);
                workers.spawn(handle_partition(dispatcher.clone(), records));
                lane
            });
            lane.try_send(to_delivery(&message))
                .expect("room for every event");
        }
        drop(lanes);
        workers.join_all().await;
    });
    let figure = measure(world, world.deliveries, None).await;
    feeding.await.expect("feeder");
    figure
}

async fn handle_partition(
    dispatcher: Arc<Dispatcher>,
    mut records: tokio::sync::mpsc::Receiver<Delivery>,
) {
    while let Some(first) = records.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match records.try_recv() {
                Ok(delivery) => batch.push(delivery),
                Err(_) => break,
            }
        }
        let rejected = dispatcher.handle(&batch).await.expect("handled");
        assert!(rejected.is_empty(), "{rejected:?}");
    }
}

fn to_delivery(message: &BorrowedMessage<'_>) -> Delivery {
    let mut headers = Headers::new();
    for header in message.headers().into_iter().flat_map(|h| h.iter()) {
        let value = header.value.unwrap_or_default();
        headers.append(header.key, Bytes::copy_from_slice(value));
    }
    Delivery {
        topic: message.topic().to_owned(),
        partition: u32::try_from(message.partition()).expect("partition"),
        position: Position::Offset(u64::try_from(message.offset()).expect("offset")),
        message: Message {
            key: message.key().map(Bytes::copy_from_slice),
            headers,
            payload: Bytes::copy_from_slice(message.payload().unwrap_or_default()),
        },
        attempt: 1,
    }
}

/// A running dispatcher binary.
struct Running {
    binary: RunningBinary,
    pid: u32,
    _config: tempfile::TempDir,
}

/// Starts the binary on topic prefix `prefix` with a consumer group of its own, every
/// endpoint taking `*`, loopback allowed, everything else at its defaults.
async fn start_dispatcher(world: &World, prefix: &str) -> Running {
    let mut toml = String::from("[dispatcher]\nallow_private_networks = true\n\n");
    for target in &world.endpoints {
        toml += &format!(
            "[[endpoints]]\ntenant = {:?}\nid = {:?}\nurl = {:?}\nsecret = {SECRET:?}\n\
             event_types = [\"*\"]\n\n",
            target.tenant,
            target.id,
            target.url.as_str()
        );
    }
    let dir = tempfile::tempdir().expect("scratch dir");
    let path = dir.path().join("switchyard.toml");
    std::fs::write(&path, toml).expect("config");
    let path = path.to_str().expect("path").to_owned();
    let group_prefix = format!("{}.", unique_name("bench"));
    let partitions = PARTITIONS.to_string();
    let env = [
        ("SWITCHYARD_CONFIG", path.as_str()),
        ("SWITCHYARD__BUS__BACKEND", "kafka"),
        ("SWITCHYARD__BUS__KAFKA__BROKERS", world.brokers.as_str()),
        ("SWITCHYARD__BUS__TOPIC_PREFIX", prefix),
        ("SWITCHYARD__BUS__GROUP_PREFIX", group_prefix.as_str()),
        ("SWITCHYARD__BUS__PARTITIONS", partitions.as_str()),
    ];
    let binary = RunningBinary::start(BINARY, &env).await;
    let pid = child_pid("switchyard-webhook-dispatcher").expect("the dispatcher's pid");
    Running {
        binary,
        pid,
        _config: dir,
    }
}

async fn stop(mut running: Running) {
    running.binary.terminate();
    running.binary.exit_code(Duration::from_secs(30)).await;
}

/// Records written to `topic` so far (the sum of its partitions' high watermarks).
async fn written(world: &World, topic: &str) -> i64 {
    let (brokers, topic) = (world.brokers.clone(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .expect("client");
        (0..PARTITIONS as i32)
            .map(|p| {
                client
                    .fetch_watermarks(&topic, p, Duration::from_secs(10))
                    .expect("watermarks")
                    .1
            })
            .sum()
    })
    .await
    .expect("watermarks")
}

/// The sum of a Prometheus counter's series whose labels contain `label`.
fn metric_sum(text: &str, name: &str, label: &str) -> u64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{'))
        })
        .filter(|l| l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// The binary on the pre-filled events topic; also waits for its attempt records.
async fn dispatcher(world: &World) -> Figure {
    world.tally.reset();
    let attempts = world.settings.topics().deliveries();
    let before = written(world, &attempts).await;
    let running = start_dispatcher(world, world.settings.topic_prefix.as_str()).await;
    let figure = measure(world, world.deliveries, Some(running.pid)).await;
    let delivered = Instant::now();
    let expected = before + world.deliveries as i64;
    let mut recorded = written(world, &attempts).await;
    while recorded < expected && delivered.elapsed() < STALL {
        tokio::time::sleep(Duration::from_millis(10)).await;
        recorded = written(world, &attempts).await;
    }
    let lag = delivered.elapsed();
    let recorded = recorded - before;
    let metrics = running.binary.get("/metrics").await.1;
    stop(running).await;
    eprintln!(
        "  {recorded} attempt records, all in {:.0} ms after the last delivery was seen; {} \
         POSTs received; failed attempts {}, deferred {}",
        lag.as_secs_f64() * 1e3,
        world.tally.count(),
        metric_sum(
            &metrics,
            "switchyard_dispatcher_attempts_total",
            "result=\"failure\""
        ),
        metric_sum(&metrics, "switchyard_dispatcher_deferred_total", ""),
    );
    figure
}

/// Publishes events one by one at `rate` for `--seconds` to a fresh topic read by a
/// warmed-up reader: the dispatcher binary, or (the baseline) a raw consumer counting the
/// records. A table row of the arrival − publish percentiles.
async fn latency(world: &World, options: &Options, rate: u64, with_dispatcher: bool) -> String {
    let prefix = unique_name("bench-latency");
    let mut settings = world.settings.clone();
    settings.topic_prefix = prefix.parse().expect("prefix");
    let topic = settings.topics().events();
    world
        .bus
        .admin
        .ensure_topics(std::slice::from_ref(&topic))
        .await
        .expect("events topic");
    world.tally.reset();
    let stop_reading = tokio_util::sync::CancellationToken::new();
    let (dispatcher, reader) = if with_dispatcher {
        (Some(start_dispatcher(world, &prefix).await), None)
    } else {
        let consumer = consumer(world);
        consumer.subscribe(&[&topic]).expect("subscribe");
        let (tally, stop) = (world.tally.clone(), stop_reading.clone());
        let reader = tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    received = consumer.recv() => received.expect("consume"),
                    () = stop.cancelled() => return,
                };
                let id = message.headers().and_then(|h| {
                    h.iter()
                        .find(|h| h.key == "ce_id")
                        .and_then(|h| std::str::from_utf8(h.value?).ok())
                });
                tally.record(id);
            }
        });
        (None, Some(reader))
    };
    // Warm-up: one event per tenant, read or delivered, so the group has its partitions and
    // the connections are open before the clock starts.
    let tenants = options.tenants;
    let warm = (0..tenants).map(|n| event(n, tenants, "warm").to_binary());
    world
        .bus
        .publisher
        .publish_batch(&topic, warm.collect())
        .await
        .expect("warm-up");
    let per_event = if with_dispatcher { world.fanout } else { 1 };
    let deadline = Instant::now() + STALL;
    while world.tally.count() < tenants as u64 * per_event {
        assert!(Instant::now() < deadline, "warm-up not delivered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    world.tally.reset();

    let pid = dispatcher.as_ref().map(|d| d.pid);
    let total = (rate * options.seconds) as usize;
    let cpu_at_start = sample_cpu(world, pid);
    let started = Instant::now();
    let published = publish_at(world, &topic, rate, total, tenants).await;
    let offered = total as f64 / started.elapsed().as_secs_f64();
    measure(world, total as u64 * per_event, pid).await;
    let cpu = sample_cpu(world, pid) - cpu_at_start;
    let wall = started.elapsed().as_secs_f64();
    if let Some(running) = dispatcher {
        stop(running).await;
    }
    stop_reading.cancel();
    if let Some(reader) = reader {
        reader.await.expect("reader");
    }
    let mut latencies: Vec<f64> = world
        .tally
        .arrivals
        .lock()
        .expect("tally")
        .iter()
        .map(|&(n, at)| at.saturating_sub(published[n]) as f64 / 1e6)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    let broker = cpu
        .broker
        .map_or("–".into(), |b| format!("{:.2}", b / wall));
    format!(
        "| {} | {rate} ({offered:.0}) | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} · {:.2} · \
         {broker} |",
        if with_dispatcher {
            "dispatcher: publish → delivered"
        } else {
            "raw consume: publish → read"
        },
        latencies.len(),
        pick(0.5),
        pick(0.9),
        pick(0.99),
        pick(1.0),
        cpu.client / wall,
        cpu.receiver / wall,
    )
}

/// Publishes `total` events one by one on a fixed schedule of `rate` per second; returns
/// each one's publish instant, in the tally's nanoseconds.
async fn publish_at(
    world: &World,
    topic: &str,
    rate: u64,
    total: usize,
    tenants: usize,
) -> Vec<u64> {
    let messages: Vec<Message> = (0..total)
        .map(|n| event(n, tenants, "evt").to_binary())
        .collect();
    let mut published = Vec::with_capacity(total);
    let mut publishing = tokio::task::JoinSet::new();
    let gap = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let started = Instant::now();
    for (n, message) in messages.into_iter().enumerate() {
        // A fixed schedule: after a late wake-up the next events go at once.
        tokio::time::sleep_until((started + gap * n as u32).into()).await;
        published.push(world.tally.nanos(Instant::now()));
        let (publisher, topic) = (world.bus.publisher.clone(), topic.to_owned());
        publishing.spawn(async move { publisher.publish(&topic, message).await });
        while let Some(done) = publishing.try_join_next() {
            done.expect("publish task").expect("publish");
        }
    }
    while let Some(done) = publishing.join_next().await {
        done.expect("publish task").expect("publish");
    }
    published
}
