//! End to end under sustained load: signed webhooks into `switchyard-ingest`, through
//! `ingest.raw`, the processor and `events`, out to subscribers' HTTP endpoints
//! (webhook-dispatcher), WebSocket clients (websocket-gateway) and the audit store
//! (audit-writer → PostgreSQL), all as separate release-built processes on one
//! Kafka-protocol broker (a private tansu, sqlite engine) and PostgreSQL, against a raw
//! rdkafka client on the same broker in the same run.
//!
//! **Cluster**: the seven service binaries from `target/release` started by
//! `switchyard_integration_tests::cluster` (gateway and outbox-relay idle), every topic with
//! `--partitions` partitions; per tenant a Razorpay source (`[[sources]]`, budgets out of the
//! way) and one endpoint taking every type (`[[endpoints]]`) on a port of its own of this
//! process's receiver. Services log at `warn`, with 2 HTTP workers.
//!
//! **Load**: `--connections` keep-alive connections post signed Razorpay `payment.captured`
//! webhooks (the documented 1 KiB sample, `sign_request`) round-robin over `--tenants`
//! tenants, at `--rate` per second on a fixed timetable (0: closed loop, as fast as answers
//! come), for `--warmup-secs` then `--duration-secs` measured. Each body carries a sequence
//! number and the instant it was due, so every receiver computes due → arrival: latency
//! includes any lateness of the sender (no coordinated omission).
//!
//! **Receivers**: the endpoint receiver (ingest → endpoint), `--ws-clients` WebSocket
//! clients per tenant on `/v1/ws` (ingest → WS), and the audit store (ingest → row:
//! `stored_at`, the insert transaction's start). After the load, the bench waits until every
//! accepted webhook arrived everywhere or nothing moved for 30 s, then counts per consumer
//! what was lost or repeated among the webhooks due in the measured window and accepted
//! (`202`).
//!
//! **Baseline** (before the load, services idle): rdkafka produce → consume of 1 KiB
//! records on the same broker, at its maximum and at `--rate`, with the services'
//! `fetch.wait.max.ms` (100) and, for comparison, 10.
//!
//! **CPU**: seconds per process over the measured window from `/proc` (each service, the
//! broker, PostgreSQL, this process), and the machine's total, so other load shows.
//!
//! Run: `scripts/bench.sh` (builds the binaries, checks PostgreSQL, runs this), or
//! `cargo build --release -p <the seven services> && cargo bench -p
//! switchyard-integration-tests --bench pipeline -- --rate 5000 --duration-secs 60`.
//! Options: `--rate 5000 --duration-secs 60 --warmup-secs 5 --tenants 8 --connections 256
//! --ws-clients 2 --partitions 6 --baseline-secs 10 --report PATH`. `SWITCHYARD__*`
//! variables in the environment reach every service (tunings); the report lists them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

#[path = "pipeline/cpu.rs"]
mod cpu;
#[path = "pipeline/load.rs"]
mod load;
#[path = "pipeline/raw.rs"]
mod raw;
#[path = "pipeline/receiver.rs"]
mod receiver;
#[path = "pipeline/report.rs"]
mod report;
#[path = "pipeline/ws.rs"]
mod ws;

use std::{
    collections::HashMap,
    sync::{Arc, atomic::Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use reqwest::Url;
use secrecy::SecretString;
use switchyard_integration_tests::{
    cluster::{Cluster, ClusterSpec, Role, admin_token},
    providers::Provider,
};
use switchyard_testkit::unique_name;
use tokio::{sync::watch, time::Instant};

use crate::{
    cpu::{Snapshot, Usage},
    load::{Senders, Source},
    report::{Consumer, Report},
};

const SAMPLE: &str = include_str!("../../schemas/fixtures/razorpay/razorpay.payment.captured.json");
/// Sequence numbers of the liveness probes sent before the load; never measured.
const PROBE_BASE: u64 = 1 << 40;
/// The services' consumers' `fetch.wait.max.ms` (set in `crates/bus/src/kafka/subscriber.rs`).
const BUS_FETCH_WAIT_MS: u32 = 100;
/// The same for the comparison: what one hop would cost with a short fetch wait.
const SHORT_FETCH_WAIT_MS: u32 = 10;
/// How long the idle cluster's CPU is measured before the load.
const IDLE: Duration = Duration::from_secs(5);
/// Nothing new arrived anywhere for this long: the drain is over.
const STALL: Duration = Duration::from_secs(30);

/// What to run, from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// Webhooks per second offered; 0: closed loop.
    pub rate: f64,
    /// Measured seconds.
    pub duration: Duration,
    /// Load before the measured window.
    pub warmup: Duration,
    /// Tenants (one source, one endpoint each).
    pub tenants: usize,
    /// Sender connections.
    pub connections: usize,
    /// WebSocket clients per tenant.
    pub ws_clients: usize,
    /// Partitions of every topic.
    pub partitions: u32,
    /// Seconds of each raw-client baseline run.
    pub baseline: Duration,
    /// Longest wait for the pipeline to drain after the load.
    pub drain: Duration,
    /// Where the markdown report is also written.
    pub report: Option<String>,
    /// The command line, for the report.
    pub command: String,
}

impl Options {
    const USAGE: &'static str = "options: --rate 5000 (0 = closed loop) --duration-secs 60 \
         --warmup-secs 5 --tenants 8 --connections 256 --ws-clients 2 --partitions 6 \
         --baseline-secs 10 --drain-secs 180 --report PATH (see benches/pipeline.rs)";

    fn parse() -> Self {
        let mut options = Self {
            rate: 5000.0,
            duration: Duration::from_secs(60),
            warmup: Duration::from_secs(5),
            tenants: 8,
            connections: 256,
            ws_clients: 2,
            partitions: 6,
            baseline: Duration::from_secs(10),
            drain: Duration::from_secs(180),
            report: None,
            command: String::new(),
        };
        let mut shown = Vec::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg == "--bench" {
                continue;
            }
            if arg == "--help" {
                println!("{}", Self::USAGE);
                std::process::exit(0);
            }
            let value = args
                .next()
                .unwrap_or_else(|| panic!("{arg} needs a value; {}", Self::USAGE));
            let secs = || Duration::from_secs_f64(number(&arg, &value));
            match arg.as_str() {
                "--rate" => options.rate = number(&arg, &value),
                "--duration-secs" => options.duration = secs(),
                "--warmup-secs" => options.warmup = secs(),
                "--tenants" => options.tenants = number(&arg, &value),
                "--connections" => options.connections = number(&arg, &value),
                "--ws-clients" => options.ws_clients = number(&arg, &value),
                "--partitions" => options.partitions = number(&arg, &value),
                "--baseline-secs" => options.baseline = secs(),
                "--drain-secs" => options.drain = secs(),
                "--report" => options.report = Some(value.clone()),
                _ => panic!("unknown option {arg}; {}", Self::USAGE),
            }
            if arg != "--report" {
                shown.push(format!("{arg} {value}"));
            }
        }
        assert!(
            options.tenants > 0 && options.connections > 0 && options.partitions > 0,
            "--tenants, --connections and --partitions must be at least 1"
        );
        options.command = format!(
            "scripts/bench.sh{}{}",
            if shown.is_empty() { "" } else { " -- " },
            shown.join(" ")
        );
        options
    }
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> T {
    value
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{name}: {value:?} is not a number; {}", Options::USAGE))
}

/// Nanoseconds since the Unix epoch: the clock the senders and every receiver share.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// One webhook arriving somewhere.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// Its sequence number.
    pub seq: u64,
    /// Arrival − due, ns.
    pub latency_ns: u64,
    /// When it arrived (ns since the epoch).
    pub at_ns: u64,
}

/// The `(bench_seq, sent_ns)` a webhook's JSON carries, wherever it sits in `text` (the
/// data of a structured CloudEvent, or the raw body).
pub fn stamp(text: &[u8]) -> Option<(u64, u64)> {
    Some((
        field(text, b"\"bench_seq\":")?,
        field(text, b"\"sent_ns\":")?,
    ))
}

fn field(text: &[u8], name: &[u8]) -> Option<u64> {
    let at = text.windows(name.len()).position(|w| w == name)? + name.len();
    let digits = text[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&text[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// Percentiles of a set of latencies.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latencies {
    /// How many.
    pub count: usize,
    /// Median, ms.
    pub p50: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// Largest, ms.
    pub max: f64,
}

impl Latencies {
    /// Of `ns` (any order).
    pub fn of(mut ns: Vec<u64>) -> Self {
        ns.sort_unstable();
        let pick = |q: f64| {
            ns.get(((ns.len().max(1) - 1) as f64 * q).round() as usize)
                .map_or(f64::NAN, |&v| v as f64 / 1e6)
        };
        Self {
            count: ns.len(),
            p50: pick(0.5),
            p99: pick(0.99),
            max: pick(1.0),
        }
    }
}

fn tenant_name(i: usize) -> String {
    format!("bench{i}")
}

fn config_toml(tenants: usize, endpoint_urls: &[String]) -> String {
    let mut toml = String::from("[dispatcher]\nallow_private_networks = true\n\n");
    for (i, url) in endpoint_urls.iter().enumerate().take(tenants) {
        let tenant = tenant_name(i);
        toml += &format!(
            "[[sources]]\ntenant = {tenant:?}\nid = \"razorpay\"\nprovider = \"razorpay\"\n\
             secrets = [{secret:?}]\nrate_limit_per_sec = 1000000\nmax_body_bytes = 65536\n\n\
             [[endpoints]]\ntenant = {tenant:?}\nid = \"bench\"\nurl = {url:?}\n\
             secret = {endpoint_secret:?}\nevent_types = [\"*\"]\n\n",
            secret = Provider::Razorpay.secret(&tenant),
            endpoint_secret = Provider::StandardWebhooks.secret(&tenant),
        );
    }
    toml
}

/// Waits until `done()` or nothing changed in `progress()` for [`STALL`] or `limit` passed.
async fn wait_until(
    limit: Duration,
    mut progress: impl FnMut() -> u64,
    mut done: impl FnMut() -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    let (mut last, mut moved) = (progress(), Instant::now());
    loop {
        if done() {
            return true;
        }
        if moved.elapsed() > STALL || Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = progress();
        if now != last {
            (last, moved) = (now, Instant::now());
        }
    }
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let tenants: Vec<String> = (0..options.tenants).map(tenant_name).collect();
    eprintln!("pipeline bench: {options:?}");

    let endpoints = receiver::Receiver::start(options.tenants);
    let spec = ClusterSpec {
        name: "bench",
        partitions: options.partitions,
        config_toml: config_toml(options.tenants, &endpoints.urls),
        env: [
            ("SWITCHYARD__HTTP__WORKERS", "2"),
            (
                "SWITCHYARD__TELEMETRY__LOG_LEVEL",
                "warn,switchyard_runtime::service=info",
            ),
            ("SWITCHYARD__INGEST__RATE_LIMIT_PER_IP", "1000000"),
            ("SWITCHYARD__INGEST__RATE_LIMIT_PER_TENANT", "1000000"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    };
    eprintln!("starting the cluster (private tansu, PostgreSQL database, seven services)…");
    let cluster = Cluster::start(spec).await;
    let brokers = cluster.stage.brokers.clone();
    let partitions = i32::try_from(options.partitions).unwrap_or(i32::MAX);

    eprintln!(
        "baseline: raw rdkafka at its maximum for {:?}…",
        options.baseline
    );
    let raw_max = raw::measure(
        &brokers,
        partitions,
        &tenants,
        None,
        BUS_FETCH_WAIT_MS,
        options.baseline,
    )
    .await;
    let mut raw_at_rate = Vec::new();
    if options.rate > 0.0 {
        for fetch_wait in [BUS_FETCH_WAIT_MS, SHORT_FETCH_WAIT_MS] {
            eprintln!(
                "baseline: raw rdkafka at {}/s, fetch.wait.max.ms {fetch_wait}…",
                options.rate
            );
            raw_at_rate.push(
                raw::measure(
                    &brokers,
                    partitions,
                    &tenants,
                    Some(options.rate),
                    fetch_wait,
                    options.baseline,
                )
                .await,
            );
        }
    }

    // Receivers: WebSocket clients of every tenant, before any webhook is sent.
    let ws_url = format!(
        "{}/v1/ws",
        cluster
            .url(Role::WebsocketGateway)
            .replacen("http://", "ws://", 1)
    );
    let (stop_ws, stop_rx) = watch::channel(false);
    let mut clients = Vec::new();
    for (t, tenant) in tenants.iter().enumerate() {
        let token = admin_token(tenant);
        for _ in 0..options.ws_clients {
            clients.push(ws::Client::connect(&ws_url, &token, t, stop_rx.clone()).await);
        }
    }

    let ingest = cluster.url(Role::Ingest);
    let senders = Arc::new(Senders::new(
        tenants
            .iter()
            .map(|tenant| Source {
                url: Url::parse(&format!("{ingest}/webhooks/{tenant}/razorpay"))
                    .unwrap_or_else(|e| panic!("ingest URL: {e}")),
                secret: SecretString::from(Provider::Razorpay.secret(tenant)),
            })
            .collect(),
        SAMPLE,
        unique_name("bench"),
    ));

    // Live: a probe per tenant reaches its endpoint and every WebSocket client.
    eprintln!("waiting until every consumer receives a probe…");
    let probe_client = load::connection();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut probes_accepted = 0_u64;
    let mut probe_seq = PROBE_BASE;
    loop {
        for _ in 0..options.tenants {
            if senders.post(&probe_client, probe_seq, now_ns()).await == 202 {
                probes_accepted += 1;
            }
            probe_seq += 1;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let ws_live = clients.iter().all(|c| c.count.load(Ordering::Relaxed) > 0);
        let endpoints_live = endpoints.log.count.load(Ordering::Relaxed) >= options.tenants as u64;
        if ws_live && endpoints_live {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pipeline did not deliver a probe everywhere within 120 s (ws {ws_live}, \
             endpoints {endpoints_live}):\n{}",
            cluster.log_report()
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The load: warm-up, then the measured window.
    eprintln!(
        "load: {} for {:?} + {:?} measured…",
        if options.rate > 0.0 {
            format!("{}/s", options.rate)
        } else {
            format!("closed loop, {} connections", options.connections)
        },
        options.warmup,
        options.duration
    );
    // What the running cluster costs with no load: consumers polling the broker.
    let parties = cpu::parties("bench (senders, receiver, WS clients)");
    let idle_start = Snapshot::take(&parties);
    tokio::time::sleep(IDLE).await;
    let idle = Usage::between(&parties, &idle_start, &Snapshot::take(&parties));
    let load_start_ns = now_ns();
    let load = {
        let senders = Arc::clone(&senders);
        let options = options.clone();
        tokio::spawn(async move {
            load::run(
                &senders,
                options.rate,
                options.connections,
                options.warmup + options.duration,
                0,
            )
            .await
        })
    };
    tokio::time::sleep(options.warmup).await;
    let load_before = cpu::load_average();
    let cpu_start = Snapshot::take(&parties);
    tokio::time::sleep(options.duration).await;
    let cpu_end = Snapshot::take(&parties);
    let usage = Usage::between(&parties, &cpu_start, &cpu_end);
    let sent = load.await.unwrap_or_else(|e| panic!("load: {e}"));
    let load_ended = Instant::now();

    // Drain: until everything accepted arrived everywhere, or nothing moves.
    let accepted_total = sent.iter().filter(|s| s.status == 202).count() as u64 + probes_accepted;
    let mut accepted_per_tenant = vec![0_u64; options.tenants];
    for s in sent.iter().filter(|s| s.status == 202) {
        accepted_per_tenant[(s.seq % options.tenants as u64) as usize] += 1;
    }
    eprintln!("load done: {accepted_total} accepted; draining…");
    let ws_counts = || {
        clients
            .iter()
            .map(|c| c.count.load(Ordering::Relaxed))
            .collect::<Vec<_>>()
    };
    let drained = wait_until(
        options.drain,
        || endpoints.log.count.load(Ordering::Relaxed) + ws_counts().iter().sum::<u64>(),
        || {
            endpoints.log.count.load(Ordering::Relaxed) >= accepted_total
                && clients
                    .iter()
                    .all(|c| c.count.load(Ordering::Relaxed) >= accepted_per_tenant[c.tenant])
        },
    )
    .await;
    let db = cluster.database.client().await;
    let audit_count = || async {
        db.query_one("SELECT count(*) FROM events", &[])
            .await
            .map_or(0, |row| row.get::<_, i64>(0) as u64)
    };
    let deadline = Instant::now() + options.drain;
    let (mut last, mut moved) = (audit_count().await, Instant::now());
    while last < accepted_total && moved.elapsed() < STALL && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = audit_count().await;
        if now != last {
            (last, moved) = (now, Instant::now());
        }
    }
    let drain_secs = load_ended.elapsed().as_secs_f64();
    let _ = stop_ws.send(true);
    let mut seen = Vec::new();
    for client in clients {
        seen.push(client.finish().await);
    }
    let audit_rows: Vec<Arrival> = db
        .query(
            "SELECT (convert_from(data, 'UTF8')::jsonb #>> \
             '{payload,payment,entity,notes,bench_seq}')::bigint, \
             (convert_from(data, 'UTF8')::jsonb #>> \
             '{payload,payment,entity,notes,sent_ns}')::bigint, \
             (extract(epoch FROM stored_at) * 1000000)::bigint FROM events",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("reading the audit store: {e}"))
        .into_iter()
        .filter_map(|row| {
            let seq = row.get::<_, Option<i64>>(0)? as u64;
            let due = row.get::<_, Option<i64>>(1)? as u64;
            let at_ns = row.get::<_, Option<i64>>(2)? as u64 * 1000;
            Some(Arrival {
                seq,
                latency_ns: at_ns.saturating_sub(due),
                at_ns,
            })
        })
        .collect();

    // Judge the measured window.
    let window_start_ns = load_start_ns + options.warmup.as_nanos() as u64;
    let window_end_ns = window_start_ns + options.duration.as_nanos() as u64;
    let measured: Vec<&load::Sent> = sent
        .iter()
        .filter(|s| (window_start_ns..window_end_ns).contains(&s.due_ns))
        .collect();
    let accepted: HashMap<u64, u64> = measured
        .iter()
        .filter(|s| s.status == 202)
        .map(|s| (s.seq, s.due_ns))
        .collect();
    let tenant_of = |seq: u64| (seq % options.tenants as u64) as usize;
    let first_due = measured
        .iter()
        .map(|s| s.due_ns)
        .min()
        .unwrap_or(window_start_ns);

    let endpoint_arrivals = endpoints.take();
    let endpoint = Consumer::judge(
        "ingest → endpoint (webhook-dispatcher)",
        &endpoint_arrivals,
        &accepted,
        |_| true,
        first_due,
    );
    let mut ws_all = Consumer::default();
    let mut ws_ended = Vec::new();
    for client in &seen {
        let one = Consumer::judge(
            "",
            &client.arrivals,
            &accepted,
            |seq| tenant_of(seq) == client.tenant,
            first_due,
        );
        ws_all.absorb(&one);
        if let Some(why) = &client.ended {
            ws_ended.push(format!("{}: {why}", tenant_name(client.tenant)));
        }
    }
    ws_all.name = format!(
        "ingest → WebSocket ({} clients, websocket-gateway)",
        seen.len()
    );
    ws_all.finish(seen.len() as f64 / options.tenants as f64, first_due);
    let audit = Consumer::judge(
        "ingest → audit row (audit-writer, `stored_at`)",
        &audit_rows,
        &accepted,
        |_| true,
        first_due,
    );

    let report = Report {
        options: options.clone(),
        sent: measured.iter().map(|s| **s).collect(),
        due: if options.rate > 0.0 {
            (options.rate * options.duration.as_secs_f64()).round() as u64
        } else {
            measured.len() as u64
        },
        raw_max,
        raw_at_rate,
        consumers: vec![endpoint, ws_all, audit],
        usage,
        idle,
        load_before,
        drained,
        drain_secs,
        ws_ended,
    };
    let text = report.markdown();
    println!("{text}");
    if let Some(path) = &options.report {
        std::fs::write(path, &text).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        eprintln!("report written to {path}");
    }
    if !report.everything_arrived() {
        eprintln!("{}", cluster.log_report());
    }
    drop(endpoints);
    cluster.shut_down().await;
}
