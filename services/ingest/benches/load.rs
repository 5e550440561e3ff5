//! Load test of the webhook front door: how many signed Razorpay webhooks `switchyard-ingest`
//! accepts per second (each one acknowledged by the broker before its `202`), and its latency
//! below that peak, against two baselines measured in the same run on the same machine:
//!
//! - **raw producer**: a plain rdkafka producer configured like the service's (idempotent,
//!   `acks=all`, `linger.ms=5`) pushing 1 KiB records keyed `acme` into a fresh 6-partition
//!   topic, with a bounded number in flight: what the broker takes. It runs at 1,000 in
//!   flight and at each closed-loop connection count, since a connection waiting for its
//!   `202` holds exactly one record in flight;
//! - **bare ceiling**: an actix-web server with as many workers as the service that reads each
//!   body and answers `202` doing nothing else, in its own process (this executable again, with
//!   `INGEST_BENCH_ROLE=bare`): what HTTP alone costs on this machine.
//!
//! Both servers get a closed loop: `C` keep-alive HTTP/1.1 connections each posting a 1 KiB
//! body signed with the source's secret and a unique `x-razorpay-event-id` (so ingest never
//! answers from its duplicate memory), waiting for the answer and posting again; the best `C`
//! is the peak. Ingest then gets an open loop at a fraction of its peak: requests on a fixed
//! timetable, latency from each one's scheduled send time so stalls are not hidden
//! (no coordinated omission). Every run warms up before its measured window, and reports the
//! cores used by each party from `/proc` (the load generator shares the machine with server
//! and broker); a run during which other processes took CPU is flagged as suspect.
//!
//! Run: `cargo bench -p switchyard-ingest --bench load [-- OPTIONS]` against the broker in
//! `SWITCHYARD__BUS__KAFKA__BROKERS` (default `127.0.0.1:9092`); it fails naming the broker if
//! nothing listens there. Options: `--connections 64,256,1000` (closed-loop connection counts),
//! `--seconds 10` (measured window per run), `--warmup 2`, `--load 0.8` (open-loop rate as a
//! fraction of the ingest peak), `--in-flight 64,256,1000` (raw producer; by default the
//! connection counts and 1,000).

#![allow(clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]

#[path = "load/bare.rs"]
mod bare;
#[path = "load/cpu.rs"]
mod cpu;
#[path = "load/http_load.rs"]
mod http_load;
#[path = "load/launch.rs"]
mod launch;
#[path = "load/outcomes.rs"]
mod outcomes;
#[path = "load/raw_producer.rs"]
mod raw_producer;
#[path = "load/report.rs"]
mod report;
#[path = "load/server.rs"]
mod server;

use std::{future::Future, time::Duration};

use bytes::Bytes;
use switchyard_testkit::infra;

use crate::{
    cpu::{CpuSnapshot, CpuUse, Parties},
    http_load::Window,
    outcomes::Summary,
    raw_producer::RawFigures,
    server::ServerProcess,
};

const BODY_BYTES: usize = 1024;
/// The raw producer's bound on records in flight, beside the connection counts.
const DEFAULT_IN_FLIGHT: usize = 1000;

/// What to run, from the command line.
struct Options {
    connections: Vec<usize>,
    window: Window,
    load: f64,
    in_flight: Vec<usize>,
}

impl Options {
    const USAGE: &'static str = "options: --connections 64,256,1000 --seconds 10 --warmup 2 \
                                 --load 0.8 --in-flight 64,256,1000 (see benches/load.rs)";

    fn parse(mut args: impl Iterator<Item = String>) -> Self {
        let mut options = Self {
            connections: vec![64, 256, 1000],
            window: Window {
                warmup: Duration::from_secs(2),
                measure: Duration::from_secs(10),
            },
            load: 0.8,
            in_flight: Vec::new(),
        };
        while let Some(arg) = args.next() {
            // Cargo passes `--bench` to every bench target.
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
            match arg.as_str() {
                "--connections" => options.connections = numbers(&arg, &value),
                "--seconds" => {
                    options.window.measure = Duration::from_secs_f64(number(&arg, &value));
                }
                "--warmup" => options.window.warmup = Duration::from_secs_f64(number(&arg, &value)),
                "--load" => options.load = number(&arg, &value),
                "--in-flight" => options.in_flight = numbers(&arg, &value),
                _ => panic!("unknown argument {arg}; {}", Self::USAGE),
            }
        }
        if options.in_flight.is_empty() {
            options.in_flight = options.connections.clone();
            options.in_flight.push(DEFAULT_IN_FLIGHT);
        }
        options.in_flight.sort_unstable();
        options.in_flight.dedup();
        let mut counts = options.connections.iter().chain(&options.in_flight);
        assert!(
            !options.connections.is_empty() && counts.all(|&n| n > 0),
            "connection and in-flight counts must be at least 1; {}",
            Self::USAGE
        );
        assert!(
            options.load > 0.0 && options.window.measure > Duration::ZERO,
            "--load and --seconds must be positive; {}",
            Self::USAGE
        );
        options
    }
}

fn numbers(name: &str, list: &str) -> Vec<usize> {
    list.split(',').map(|value| number(name, value)).collect()
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> T {
    value
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{name}: {value:?} is not a number; {}", Options::USAGE))
}

fn main() {
    if std::env::var(launch::ROLE_VAR).is_ok_and(|role| role == launch::BARE_ROLE) {
        bare::serve().expect("the bare server failed");
        return;
    }
    let options = Options::parse(std::env::args().skip(1));
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime")
        .block_on(run(&options));
}

async fn run(options: &Options) {
    let brokers = infra::kafka_brokers();
    raw_producer::require_broker(&brokers).await;
    let bench = Bench {
        broker_pid: brokers.split(',').find_map(cpu::listener_pid),
        brokers,
        body: webhook_body(),
        options,
    };
    println!(
        "1 KiB signed Razorpay webhooks; {:?} warm-up then {:?} measured per run; broker {}{}; {} cores shared by all parties",
        options.window.warmup,
        options.window.measure,
        bench.brokers,
        bench
            .broker_pid
            .map_or_else(|| " (not local)".to_owned(), |pid| format!(" (pid {pid})")),
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
    );
    report::header();

    let raw = bench.raw_producer().await;
    let bare = bench.bare_ceiling().await;
    let (ingest, at_load) = bench.ingest().await;
    report::verdict(&raw, &bare, &ingest, &at_load, options.load);
}

/// What every phase shares.
struct Bench<'a> {
    options: &'a Options,
    brokers: String,
    broker_pid: Option<u32>,
    body: Bytes,
}

impl Bench<'_> {
    /// One run per bound on records in flight.
    async fn raw_producer(&self) -> Vec<(usize, RawFigures)> {
        let mut runs = Vec::with_capacity(self.options.in_flight.len());
        for &in_flight in &self.options.in_flight {
            let producer =
                raw_producer::measure(&self.brokers, &self.body, in_flight, self.options.window);
            let (raw, cpu) = self.with_cpu(None, producer).await;
            report::raw_row(&raw, in_flight, cpu);
            runs.push((in_flight, raw));
        }
        runs
    }

    async fn bare_ceiling(&self) -> (usize, Summary) {
        let server = launch::bare().await;
        let peak = self.peak("**bare actix-web** (ceiling)", &server).await;
        server.stop().await;
        peak
    }

    /// The peak, then the open loop at `--load` of it, on one service process.
    async fn ingest(&self) -> ((usize, Summary), Summary) {
        let ingest = launch::ingest(&self.brokers, &self.body).await;
        let peak = self.peak("ingest", &ingest.server).await;
        assert!(
            peak.1.accepted_per_sec > 0.0,
            "ingest accepted nothing at any connection count; its warnings are above"
        );
        let rate = peak.1.accepted_per_sec * self.options.load;
        // Headroom for bursts: a timetable slot waits when every connection is busy.
        let connections = peak.0 * 2;
        let target = launch::target(&ingest.server, &self.body);
        let (at_load, cpu) = self
            .with_cpu(
                Some(ingest.server.pid()),
                http_load::open_loop(&target, connections, rate, self.options.window),
            )
            .await;
        let load = format!(
            "open, {}/s ({:.0}% of peak), {connections} conns",
            report::thousands(rate),
            self.options.load * 100.0
        );
        report::http_row("ingest", &load, &at_load, cpu);
        ingest.server.stop().await;
        (peak, at_load)
    }

    /// Closed-loop runs at each connection count; prints each and returns the best.
    async fn peak(&self, contender: &str, server: &ServerProcess) -> (usize, Summary) {
        let target = launch::target(server, &self.body);
        let mut runs = Vec::with_capacity(self.options.connections.len());
        for &connections in &self.options.connections {
            let (summary, cpu) = self
                .with_cpu(
                    Some(server.pid()),
                    http_load::closed_loop(&target, connections, self.options.window),
                )
                .await;
            let load = format!("closed, {connections} conns");
            report::http_row(contender, &load, &summary, cpu);
            runs.push((connections, summary));
        }
        report::best(&runs)
    }

    /// Runs `load` while sampling CPU use over its measured window.
    async fn with_cpu<T>(&self, server: Option<u32>, load: impl Future<Output = T>) -> (T, CpuUse) {
        let parties = Parties {
            server,
            broker: self.broker_pid,
        };
        let window = self.options.window;
        let sample = async {
            tokio::time::sleep(window.warmup).await;
            let before = CpuSnapshot::take(parties);
            tokio::time::sleep(window.measure).await;
            CpuSnapshot::take(parties).since(&before)
        };
        tokio::join!(load, sample)
    }
}

/// A Razorpay `payment.captured` webhook padded to exactly 1 KiB.
fn webhook_body() -> Bytes {
    let event = |filler: &str| {
        serde_json::json!({
            "entity": "event",
            "account_id": "acc_BenchAccount0001",
            "event": "payment.captured",
            "contains": ["payment"],
            "payload": { "payment": { "entity": {
                "id": "pay_BenchPayment0001",
                "entity": "payment",
                "amount": 50000,
                "currency": "INR",
                "status": "captured",
                "method": "card",
                "captured": true,
                "email": "bench@example.com",
                "contact": "+919000090000",
                "notes": { "filler": filler },
            }}},
            "created_at": 1_764_028_800,
        })
        .to_string()
    };
    let unpadded = event("").len();
    let body = event(&"x".repeat(BODY_BYTES.saturating_sub(unpadded)));
    assert_eq!(body.len(), BODY_BYTES, "the webhook body must be 1 KiB");
    Bytes::from(body)
}
