//! Concurrent WebSocket connections on one `switchyard-websocket-gateway` (release binary):
//! resident memory per idle connection, and event → client latency under a steady stream,
//! at 1k, 5k and 10k connections, against a baseline measured in the same run on the same
//! broker.
//!
//! For each connection count N the bench starts a fresh gateway, waits until its consumer is
//! live, reads its `VmRSS`, opens N WebSocket connections (tokio-tungstenite, 64 handshakes in
//! flight) and reads `VmRSS` again after two idle seconds: (after − before) ÷ N is the memory
//! per connection. The connections are spread over N ÷ `--per-tenant` tenants, every one
//! subscribed to everything. Then events are published one by one at `--rate` per second for
//! `--seconds`, round-robin over the tenants, so each event goes to its tenant's
//! `--per-tenant` clients. Each event's data carries its publish instant (wall clock in µs,
//! taken just before it is handed to the producer); every client reads every message and
//! records arrival − publish. Percentiles are over all messages received.
//!
//! Baseline: an rdkafka consumer reading the same events topic with the gateway's consumer
//! settings that matter for latency (`fetch.wait.max.ms` 100, as `crates/bus` sets), fed the
//! same stream: the broker's own publish → read latency, which the gateway cannot beat.
//!
//! Everything shares the machine's cores: the broker, the gateway, and this bench (the
//! publisher and all the WebSocket clients). CPU is read from `/proc/<pid>/stat`.
//!
//! Run: `cargo bench -p switchyard-websocket-gateway --bench connections [-- --up-to 10000
//! --per-tenant 100 --rate 1000 --seconds 10]`. With `SWITCHYARD__BUS__KAFKA__BROKERS` set it
//! uses that broker (its CPU is then not reported); otherwise it starts a fresh tansu of its
//! own. `ulimit -n` must exceed `--up-to` plus a few hundred.

#![allow(clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use futures::{StreamExt as _, stream};
use rdkafka::{
    ClientConfig, Message as _,
    consumer::{Consumer as _, StreamConsumer},
};
use secrecy::SecretString;
use switchyard_auth::{Scope, Scopes, TokenSpec, mint_hs256};
use switchyard_bus::Bus;
use switchyard_domain::{Event, EventId, EventType, TenantId};
use switchyard_runtime::settings::{BusBackend, BusSettings};
use switchyard_testkit::{
    bench::{self, child_pid, cpu_seconds},
    binary::RunningBinary,
    unique_name,
};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest as _};
use tokio_util::sync::CancellationToken;

const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-websocket-gateway");
const SECRET: &str = "a websocket-gateway bench secret of 32+ bytes";
const COUNTS: [usize; 3] = [1_000, 5_000, 10_000];
/// A stream that delivers nothing new for this long has stalled.
const STALL: Duration = Duration::from_secs(30);

struct Options {
    up_to: usize,
    per_tenant: usize,
    rate: u64,
    seconds: u64,
}

impl Options {
    fn parse() -> Self {
        let args = bench::Options::from_args(
            &["--up-to", "--per-tenant", "--rate", "--seconds"],
            "benches/connections.rs",
        );
        Self {
            up_to: args.get("--up-to", 10_000),
            per_tenant: args.get::<usize>("--per-tenant", 100).max(1),
            rate: args.get("--rate", 1_000),
            seconds: args.get("--seconds", 10),
        }
    }
}

/// The broker and topic every measurement shares.
struct World {
    brokers: String,
    settings: BusSettings,
    bus: Bus,
    broker_pid: Option<u32>,
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let (brokers, private) = bench::kafka_brokers().await;
    let broker_pid = private.as_ref().and_then(|_| child_pid("tansu"));
    let mut settings = BusSettings {
        backend: BusBackend::Kafka,
        partitions: 1,
        ..BusSettings::default()
    };
    settings.kafka.brokers.clone_from(&brokers);
    settings.topic_prefix = unique_name("bench-wsgw").parse().expect("prefix");
    let bus = Bus::connect(&settings)
        .await
        .unwrap_or_else(|e| panic!("Kafka-protocol broker at {brokers}: {e}"));
    bus.admin
        .ensure_topics(&[settings.topics().events()])
        .await
        .unwrap_or_else(|e| panic!("Kafka-protocol broker at {brokers}: {e}"));
    let world = World {
        brokers,
        settings,
        bus,
        broker_pid,
    };
    println!(
        "{} events/s for {} s, {} connections per tenant, 1 partition",
        options.rate, options.seconds, options.per_tenant
    );

    let baseline = raw_consume(&world, &options).await;
    println!("baseline: {baseline}");
    let mut rows = Vec::new();
    for connections in COUNTS.into_iter().filter(|&n| n <= options.up_to) {
        let row = gateway_run(&world, &options, connections).await;
        println!("{connections}: {row}");
        rows.push((connections, row));
    }

    println!(
        "\n| connections | tenants | KiB per idle connection | RSS idle → loaded MiB | \
         messages/s delivered | p50 ms | p99 ms | max ms | dropped | cores: gateway · \
         bench · broker |"
    );
    println!("|---:|---:|---:|---|---:|---:|---:|---:|---:|---|");
    println!(
        "| baseline: raw rdkafka consumer | – | – | – | {:.0} | {:.1} | {:.1} | {:.1} | – | – · \
         {:.2} · {} |",
        baseline.per_sec,
        baseline.p50,
        baseline.p99,
        baseline.max,
        baseline.cores.bench,
        baseline.cores.broker_text()
    );
    for (connections, row) in &rows {
        println!(
            "| {connections} | {} | {:.1} | {:.0} → {:.0} | {:.0} | {:.1} | {:.1} | {:.1} | {} | \
             {:.2} · {:.2} · {} |",
            row.tenants,
            row.kib_per_connection,
            row.rss_idle_kib as f64 / 1024.0,
            row.rss_loaded_kib as f64 / 1024.0,
            row.stream.per_sec,
            row.stream.p50,
            row.stream.p99,
            row.stream.max,
            row.dropped,
            row.stream.cores.gateway,
            row.stream.cores.bench,
            row.stream.cores.broker_text()
        );
    }
    drop(private);
}

/// Latency and throughput of one stream.
struct Stream {
    received: usize,
    per_sec: f64,
    p50: f64,
    p99: f64,
    max: f64,
    cores: Cores,
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} received, {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, cores gateway {:.2} \
             bench {:.2} broker {}",
            self.received,
            self.per_sec,
            self.p50,
            self.p99,
            self.max,
            self.cores.gateway,
            self.cores.bench,
            self.cores.broker_text()
        )
    }
}

/// One connection count's figures.
struct Row {
    tenants: usize,
    kib_per_connection: f64,
    rss_idle_kib: u64,
    rss_loaded_kib: u64,
    dropped: usize,
    stream: Stream,
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} tenants, {:.1} KiB per connection (RSS idle {} KiB, after the stream {} KiB), \
             {} connections ended early; {}",
            self.tenants,
            self.kib_per_connection,
            self.rss_idle_kib,
            self.rss_loaded_kib,
            self.dropped,
            self.stream
        )
    }
}

/// Cores busy over a measurement: CPU seconds ÷ wall seconds.
#[derive(Clone, Copy)]
struct Cores {
    gateway: f64,
    bench: f64,
    broker: Option<f64>,
}

impl Cores {
    fn broker_text(&self) -> String {
        self.broker.map_or("–".into(), |b| format!("{b:.2}"))
    }
}

/// CPU seconds so far of the gateway (when given), this process and the broker.
struct CpuSample {
    at: Instant,
    gateway: f64,
    bench: f64,
    broker: Option<f64>,
}

impl CpuSample {
    fn take(world: &World, gateway: Option<u32>) -> Self {
        Self {
            at: Instant::now(),
            gateway: gateway.map_or(0.0, |pid| cpu_seconds(&pid.to_string())),
            bench: cpu_seconds("self"),
            broker: world.broker_pid.map(|pid| cpu_seconds(&pid.to_string())),
        }
    }

    fn cores_since(&self, start: &Self) -> Cores {
        let wall = self.at.duration_since(start.at).as_secs_f64();
        Cores {
            gateway: (self.gateway - start.gateway) / wall,
            bench: (self.bench - start.bench) / wall,
            broker: self.broker.zip(start.broker).map(|(a, b)| (a - b) / wall),
        }
    }
}

/// Resident memory of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .expect("the gateway's VmRSS")
}

/// Microseconds since the Unix epoch: the clock the publisher and the clients share.
fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_micros() as u64
}

/// Event `n` of `tenant`, its data carrying the instant it is built (just before publishing).
fn event(tenant: &str, kind: &str, n: u64) -> Event {
    let data = format!(r#"{{"t":{},"n":{n}}}"#, now_micros());
    Event::builder(
        TenantId::parse(tenant).expect("tenant"),
        EventId::parse(&format!("evt_{kind}_{n}")).expect("event id"),
        format!("/{tenant}/bench"),
        EventType::parse("bench.tick").expect("event type"),
    )
    .data(Some("application/json".into()), data)
    .build()
    .expect("event")
}

/// The publish instant an event's JSON (structured, or its data alone) carries.
fn sent_micros(text: &[u8]) -> Option<u64> {
    let at = text.windows(4).position(|w| w == br#""t":"#)? + 4;
    let digits = text[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&text[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// Publishes `--rate` events/s for `--seconds`, one by one on a fixed schedule, round-robin
/// over `tenants`.
async fn publish_stream(world: &World, options: &Options, tenants: &[String], kind: &str) {
    let topic = world.settings.topics().events();
    let total = options.rate * options.seconds;
    let gap = Duration::from_secs_f64(1.0 / options.rate.max(1) as f64);
    let mut publishing = tokio::task::JoinSet::new();
    let started = Instant::now();
    for n in 0..total {
        // A fixed schedule: after a late wake-up the next events go at once.
        tokio::time::sleep_until((started + gap * n as u32).into()).await;
        let tenant = &tenants[n as usize % tenants.len()];
        let message = event(tenant, kind, n).to_binary();
        let (publisher, topic) = (world.bus.publisher.clone(), topic.clone());
        publishing.spawn(async move { publisher.publish(&topic, message).await });
        while let Some(done) = publishing.try_join_next() {
            done.expect("publish task").expect("publish");
        }
    }
    while let Some(done) = publishing.join_next().await {
        done.expect("publish task").expect("publish");
    }
}

/// Waits until `count` reaches `target` or stops moving for [`STALL`].
async fn wait_for(count: &AtomicU64, target: u64) {
    let (mut last, mut moved) = (count.load(Ordering::Relaxed), Instant::now());
    while last < target && moved.elapsed() < STALL {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = count.load(Ordering::Relaxed);
        if now != last {
            (last, moved) = (now, Instant::now());
        }
    }
}

/// Sorted latencies (ms) → the stream's figures.
fn summarise(mut latencies: Vec<f64>, elapsed: Duration, cores: Cores) -> Stream {
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Stream {
        received: latencies.len(),
        per_sec: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.5),
        p99: pick(0.99),
        max: pick(1.0),
        cores,
    }
}

/// The baseline: an rdkafka consumer of the events topic, from the latest offset, with the
/// bus's `fetch.wait.max.ms`.
async fn raw_consume(world: &World, options: &Options) -> Stream {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &world.brokers)
        .set("group.id", unique_name("bench-raw"))
        .set("auto.offset.reset", "latest")
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("consumer");
    let topic = world.settings.topics().events();
    consumer.subscribe(&[&topic]).expect("subscribe");
    let received = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();
    let reader = {
        let (received, stop) = (received.clone(), stop.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let message = tokio::select! {
                    message = consumer.recv() => message.expect("consume"),
                    () = stop.cancelled() => return latencies,
                };
                let arrived = now_micros();
                if let Some(sent) = message.payload().and_then(sent_micros) {
                    latencies.push(arrived.saturating_sub(sent) as f64 / 1e3);
                }
                received.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // Warm-up: until the consumer has its partition and reads what is published now.
    let deadline = Instant::now() + Duration::from_secs(60);
    for n in 0.. {
        assert!(
            Instant::now() < deadline,
            "the raw consumer never went live"
        );
        world
            .bus
            .publisher
            .publish(&topic, event("warm", "warmraw", n).to_binary())
            .await
            .expect("publish");
        tokio::time::sleep(Duration::from_millis(500)).await;
        if received.load(Ordering::Relaxed) > 0 {
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let skip = received.load(Ordering::Relaxed) as usize;
    let cpu = CpuSample::take(world, None);
    publish_stream(world, options, &["tenant0".to_owned()], "raw").await;
    wait_for(&received, skip as u64 + options.rate * options.seconds).await;
    let end = CpuSample::take(world, None);
    stop.cancel();
    let latencies = reader.await.expect("reader").split_off(skip);
    summarise(latencies, end.at - cpu.at, end.cores_since(&cpu))
}

fn token(tenant: &str) -> String {
    let spec = TokenSpec::new(
        TenantId::parse(tenant).expect("tenant"),
        Scopes::from(Scope::EventsRead),
        Duration::from_secs(3600),
    );
    mint_hs256(&SecretString::from(SECRET), &spec).expect("token")
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, token: &str) -> Socket {
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    tokio_tungstenite::connect_async(request)
        .await
        .unwrap_or_else(|e| panic!("websocket connect to {url}: {e}"))
        .0
}

/// Reads `socket` until `stop`, recording each event's arrival − publish in ms; the flag is
/// false if the server ended the connection first.
async fn read_events(
    mut socket: Socket,
    delivered: Arc<AtomicU64>,
    stop: CancellationToken,
) -> (Vec<f64>, bool) {
    let mut latencies = Vec::new();
    loop {
        let message = tokio::select! {
            message = socket.next() => message,
            () = stop.cancelled() => return (latencies, true),
        };
        match message {
            Some(Ok(Message::Text(text))) => {
                let arrived = now_micros();
                if let Some(sent) = sent_micros(text.as_bytes()) {
                    latencies.push(arrived.saturating_sub(sent) as f64 / 1e3);
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(Ok(Message::Close(_)) | Err(_)) | None => return (latencies, false),
            Some(Ok(_)) => {}
        }
    }
}

/// Starts a gateway, measures its memory with `connections` idle connections, then streams.
async fn gateway_run(world: &World, options: &Options, connections: usize) -> Row {
    let limit = (connections + 10).to_string();
    let group_prefix = format!("{}.", unique_name("bench"));
    let env = [
        ("SWITCHYARD__AUTH__JWT_HS256_SECRET", SECRET),
        ("SWITCHYARD__BUS__BACKEND", "kafka"),
        ("SWITCHYARD__BUS__KAFKA__BROKERS", world.brokers.as_str()),
        (
            "SWITCHYARD__BUS__TOPIC_PREFIX",
            world.settings.topic_prefix.as_str(),
        ),
        ("SWITCHYARD__BUS__GROUP_PREFIX", group_prefix.as_str()),
        ("SWITCHYARD__BUS__PARTITIONS", "1"),
        ("SWITCHYARD__WEBSOCKET__MAX_CONNECTIONS", limit.as_str()),
        (
            "SWITCHYARD__WEBSOCKET__MAX_CONNECTIONS_PER_TENANT",
            limit.as_str(),
        ),
        // RunningBinary stops draining the log pipe after `listening`; a line per
        // connection would fill it and block the gateway.
        (
            "SWITCHYARD__TELEMETRY__LOG_LEVEL",
            "info,switchyard::http=warn,switchyard_websocket_gateway=warn",
        ),
    ];
    let mut binary = RunningBinary::start(BINARY, &env).await;
    let pid = child_pid("switchyard-websocket-gateway").expect("the gateway's pid");
    let url = format!("{}/v1/ws", binary.base_url.replacen("http://", "ws://", 1));

    // Live: a probe client receives an event published now.
    let probe_delivered = Arc::new(AtomicU64::new(0));
    let probe_stop = CancellationToken::new();
    let probe = tokio::spawn(read_events(
        connect(&url, &token("probe")).await,
        probe_delivered.clone(),
        probe_stop.clone(),
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    for n in 0.. {
        assert!(Instant::now() < deadline, "the gateway never went live");
        world
            .bus
            .publisher
            .publish(
                &world.settings.topics().events(),
                event("probe", &format!("probe{connections}"), n).to_binary(),
            )
            .await
            .expect("publish");
        tokio::time::sleep(Duration::from_millis(500)).await;
        if probe_delivered.load(Ordering::Relaxed) > 0 {
            break;
        }
    }
    probe_stop.cancel();
    drop(probe.await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before = rss_kib(pid);

    let tenant_count = connections.div_ceil(options.per_tenant);
    let tenants: Vec<String> = (0..tenant_count).map(|t| format!("tenant{t}")).collect();
    let tokens: Vec<String> = tenants.iter().map(|t| token(t)).collect();
    let opening = Instant::now();
    let sockets: Vec<Socket> = stream::iter(0..connections)
        .map(|i| connect(&url, &tokens[i % tenant_count]))
        .buffer_unordered(64)
        .collect()
        .await;
    let opened_in = opening.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = rss_kib(pid);
    let kib_per_connection = rss_idle.saturating_sub(rss_before) as f64 / connections as f64;
    eprintln!(
        "  {connections} connections opened in {opened_in:.1?}; gateway RSS {rss_before} → \
         {rss_idle} KiB"
    );

    let delivered = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|socket| tokio::spawn(read_events(socket, delivered.clone(), stop.clone())))
        .collect();
    let expected = options.rate * options.seconds * options.per_tenant as u64;
    let cpu = CpuSample::take(world, Some(pid));
    publish_stream(world, options, &tenants, &format!("c{connections}")).await;
    wait_for(&delivered, expected).await;
    let end = CpuSample::take(world, Some(pid));
    let rss_loaded = rss_kib(pid);
    stop.cancel();
    let mut latencies = Vec::with_capacity(expected as usize);
    let mut dropped = 0;
    for reader in readers {
        let (mut mine, open) = reader.await.expect("reader");
        latencies.append(&mut mine);
        dropped += usize::from(!open);
    }
    let stream = summarise(latencies, end.at - cpu.at, end.cores_since(&cpu));
    if (stream.received as u64) < expected {
        eprintln!("  only {} of {expected} messages arrived", stream.received);
    }
    binary.terminate();
    binary.exit_code(Duration::from_secs(30)).await;
    Row {
        tenants: tenant_count,
        kib_per_connection,
        rss_idle_kib: rss_idle,
        rss_loaded_kib: rss_loaded,
        dropped,
        stream,
    }
}
