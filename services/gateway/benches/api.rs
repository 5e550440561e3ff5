//! The gateway's two numbers from issue 8, each beside a baseline from the same run:
//!
//! - **Publishes/s** (`POST /v1/events`, 256-byte JSON data, `--concurrency` clients for
//!   `--seconds`, memory bus: the outbox is the work) against
//!   - `GET /healthz` at the same concurrency: the HTTP stack and this load generator on this
//!     machine, with no work behind it;
//!   - a **one-commit-per-publish loop**, `Store::enqueue` of one event at a time from 16
//!     connections: what the gateway would do without group commit.
//! - **Search latency over `--events` stored events of one tenant** (20 types, 1000 subjects,
//!   30 days): six kinds of query (newest page, exact type, type pattern, subject, a day's
//!   range, the second page by cursor) through `GET /v1/events`, p50/p99 per kind, against
//!   the same queries through `Store::list_events` directly (no HTTP, token or JSON).
//!
//! Run: `cargo bench -p switchyard-gateway --bench api [-- --seconds 10 --concurrency 64
//! --events 1000000 --searches 3000]`. PostgreSQL comes from `SWITCHYARD__DATABASE__URL` (a
//! fresh database is created and dropped). The load generator shares the machine's cores
//! with the gateway and PostgreSQL.

#![allow(clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, TimeZone as _, Utc};
use secrecy::SecretString;
use switchyard_auth::{Scope, Scopes, TokenSpec, mint_hs256};
use switchyard_domain::{Event, EventId, EventType, EventTypePattern, TenantId};
use switchyard_runtime::settings::DatabaseSettings;
use switchyard_store::{EventFilter, Order, Store};
use switchyard_testkit::{bench, binary::RunningBinary, postgres::TestDatabase, unique_name};

const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-gateway");
const SECRET: &str = "a gateway bench secret of at least 32 bytes";
const SEALING_KEY: &str = "Z2F0ZXdheSB0ZXN0IHNlYWxpbmcga2V5IDMyIGJ5dGU=";
const TYPES: u64 = 20;
const SUBJECTS: u64 = 1_000;
const DAYS: i64 = 30;

struct Options {
    seconds: u64,
    concurrency: u64,
    events: u64,
    searches: u64,
}

impl Options {
    fn parse() -> Self {
        let args = bench::Options::from_args(
            &["--seconds", "--concurrency", "--events", "--searches"],
            "benches/api.rs",
        );
        Self {
            seconds: args.get("--seconds", 10),
            concurrency: args.get::<u64>("--concurrency", 64).max(1),
            events: args.get("--events", 1_000_000),
            searches: args.get::<u64>("--searches", 3_000).max(6),
        }
    }
}

/// Latencies of one kind of request.
#[derive(Default)]
struct Samples(Vec<Duration>);

impl Samples {
    fn percentile(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index].as_secs_f64() * 1_000.0
    }
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let db = TestDatabase::create().await;
    let store = Store::connect(&DatabaseSettings {
        url: db.url.clone().into(),
        pool_size: 32,
        ..DatabaseSettings::default()
    })
    .await
    .expect("PostgreSQL");
    store.migrate().await.expect("migrate");
    let gateway = RunningBinary::start(
        BINARY,
        &[
            ("SWITCHYARD__AUTH__JWT_HS256_SECRET", SECRET),
            ("SWITCHYARD__SECRETS__KEYS", SEALING_KEY),
            ("SWITCHYARD__DATABASE__URL", db.url.as_str()),
            ("SWITCHYARD__BUS__BACKEND", "memory"),
            ("SWITCHYARD__HTTP__WORKERS", "2"),
            ("SWITCHYARD__GATEWAY__RATE_LIMIT_PER_SEC", "1000000"),
            ("SWITCHYARD__GATEWAY__RATE_LIMIT_BURST", "1000000"),
            (
                "SWITCHYARD__TELEMETRY__LOG_LEVEL",
                "info,switchyard::http=warn",
            ),
        ],
    )
    .await;
    let tenant = unique_name("bench");
    let token = mint_hs256(
        &SecretString::from(SECRET),
        &TokenSpec::new(
            TenantId::parse(&tenant).expect("tenant"),
            [Scope::EventsRead, Scope::EventsWrite]
                .into_iter()
                .collect::<Scopes>(),
            Duration::from_secs(3_600),
        ),
    )
    .expect("token");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency as usize)
        .build()
        .expect("client");

    println!(
        "\n## publishes ({} s, {} clients)\n",
        options.seconds, options.concurrency
    );
    println!("| contender | requests | per second | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    let health_url = format!("{}/healthz", gateway.base_url);
    let health = load(&options, {
        let http = http.clone();
        move |_| {
            let request = http.get(&health_url);
            async move { request.send().await.is_ok_and(|r| r.status() == 200) }
        }
    })
    .await;
    health.print("`GET /healthz` (HTTP floor)");
    let commits = commit_loop(&store, &options).await;
    commits.print("one commit per publish (`Store::enqueue` of one event, 16 connections)");
    let publish_url = format!("{}/v1/events", gateway.base_url);
    let publishes = load(&options, {
        let (http, token) = (http.clone(), token.clone());
        move |n| {
            let request = http
                .post(&publish_url)
                .bearer_auth(&token)
                .json(&serde_json::json!({
                    "type": "bench.order.created",
                    "subject": format!("order_{n}"),
                    "data": { "n": n, "pad": "x".repeat(200) },
                }));
            async move { request.send().await.is_ok_and(|r| r.status() == 202) }
        }
    })
    .await;
    publishes.print("`POST /v1/events` (group commit)");

    println!("\nfilling the store with {} events ...", options.events);
    let filled = Instant::now();
    fill(&store, &tenant, options.events).await;
    store
        .postgres()
        .expect("a PostgreSQL store")
        .client()
        .await
        .expect("client")
        .batch_execute("ANALYZE events")
        .await
        .expect("analyze");
    println!("filled in {:.0} s", filled.elapsed().as_secs_f64());

    println!(
        "\n## searches over {} events of one tenant ({} queries, 8 at a time)\n",
        options.events, options.searches
    );
    println!("| query | HTTP p50 ms | HTTP p99 ms | store p50 ms | store p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    let tenant_id = TenantId::parse(&tenant).expect("tenant");
    let mut all_http = Samples::default();
    let mut all_store = Samples::default();
    for kind in Query::ALL {
        let per_kind = options.searches / Query::ALL.len() as u64;
        let via_store = search_store(&store, &tenant_id, kind, per_kind).await;
        let via_http = search_http(&http, &gateway.base_url, &token, kind, per_kind).await;
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            kind.label(),
            via_http.percentile(0.5),
            via_http.percentile(0.99),
            via_store.percentile(0.5),
            via_store.percentile(0.99),
        );
        all_http.0.extend(via_http.0);
        all_store.0.extend(via_store.0);
    }
    println!(
        "| **all** | {:.1} | {:.1} | {:.1} | {:.1} |",
        all_http.percentile(0.5),
        all_http.percentile(0.99),
        all_store.percentile(0.5),
        all_store.percentile(0.99),
    );

    drop(gateway);
    drop(store);
    db.drop_database().await;
}

/// What a load run measured.
struct Load {
    ok: u64,
    failed: u64,
    took: Duration,
    latency: Samples,
}

impl Load {
    fn print(&self, what: &str) {
        println!(
            "| {what} | {}{} | {:.0} | {:.1} | {:.1} |",
            self.ok,
            if self.failed > 0 {
                format!(" ({} failed)", self.failed)
            } else {
                String::new()
            },
            self.ok as f64 / self.took.as_secs_f64(),
            self.latency.percentile(0.5),
            self.latency.percentile(0.99),
        );
    }
}

/// Runs `request(n)` from `concurrency` tasks for `seconds`.
async fn load<F, Fut>(options: &Options, request: F) -> Load
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency {
        let (request, stop, counter) = (request.clone(), stop.clone(), counter.clone());
        tasks.spawn(async move {
            let (mut ok, mut failed, mut latency) = (0_u64, 0_u64, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let sent = Instant::now();
                if request(n).await {
                    ok += 1;
                    latency.push(sent.elapsed());
                } else {
                    failed += 1;
                }
            }
            (ok, failed, latency)
        });
    }
    tokio::time::sleep(Duration::from_secs(options.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Load {
        ok: 0,
        failed: 0,
        took: Duration::ZERO,
        latency: Samples::default(),
    };
    for (ok, failed, latency) in tasks.join_all().await {
        total.ok += ok;
        total.failed += failed;
        total.latency.0.extend(latency);
    }
    total.took = started.elapsed();
    total
}

/// `Store::enqueue` of one event per call (a transaction of its own), from 16 connections.
async fn commit_loop(store: &Store, options: &Options) -> Load {
    let connections = Options {
        concurrency: 16,
        ..*options
    };
    load(&connections, {
        let store = store.clone();
        move |n| {
            let store = store.clone();
            async move {
                let event = event("commit", n, 0);
                store.enqueue(&[&event]).await.is_ok()
            }
        }
    })
    .await
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("time")
}

/// Event `n` of `tenant`: type `n % TYPES`, subject `n % SUBJECTS`, spread over `DAYS`.
fn event(tenant: &str, n: u64, total: u64) -> Event {
    let seconds = if total == 0 {
        0
    } else {
        (n as i64) * DAYS * 86_400 / total as i64
    };
    Event::builder(
        TenantId::parse(tenant).expect("tenant"),
        EventId::parse(&format!("evt_{n}")).expect("id"),
        format!("/{tenant}/bench"),
        EventType::parse(&format!("bench.kind{}.done", n % TYPES)).expect("type"),
    )
    .time(start() + chrono::Duration::seconds(seconds))
    .subject(Some(format!("subject_{}", n % SUBJECTS)))
    .data(
        Some("application/json".into()),
        format!(r#"{{"n":{n},"pad":"{}"}}"#, "x".repeat(200)),
    )
    .build()
    .expect("event")
}

/// Inserts `total` events of `tenant` in batches from four connections.
async fn fill(store: &Store, tenant: &str, total: u64) {
    const BATCH: u64 = 5_000;
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..4 {
        let (store, tenant) = (store.clone(), tenant.to_owned());
        tasks.spawn(async move {
            let mut from = writer * BATCH;
            while from < total {
                let batch: Vec<_> = (from..(from + BATCH).min(total))
                    .map(|n| event(&tenant, n, total))
                    .collect();
                store.insert_events(&batch).await.expect("insert");
                from += 4 * BATCH;
            }
        });
    }
    tasks.join_all().await;
}

#[derive(Debug, Clone, Copy)]
enum Query {
    Newest,
    ExactType,
    Pattern,
    Subject,
    Day,
    SecondPage,
}

impl Query {
    const ALL: [Self; 6] = [
        Self::Newest,
        Self::ExactType,
        Self::Pattern,
        Self::Subject,
        Self::Day,
        Self::SecondPage,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Newest => "newest 100",
            Self::ExactType => "exact type, newest 100",
            Self::Pattern => "type pattern `bench.*`, newest 100",
            Self::Subject => "one subject, newest 100",
            Self::Day => "one day, oldest 100",
            Self::SecondPage => "second page by cursor",
        }
    }

    /// The query string of variant `i` (types, subjects and days vary with it).
    fn query(self, i: u64) -> String {
        let day = start() + chrono::Duration::days((i % 29) as i64);
        match self {
            Self::Newest | Self::SecondPage => "limit=100".into(),
            Self::ExactType => format!("limit=100&type=bench.kind{}.done", i % TYPES),
            Self::Pattern => "limit=100&type=bench.*".into(),
            Self::Subject => format!("limit=100&subject=subject_{}", i % SUBJECTS),
            Self::Day => format!(
                "limit=100&order=oldest&since={}&until={}",
                day.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                (day + chrono::Duration::days(1))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }

    fn filter(self, i: u64) -> EventFilter {
        let day = start() + chrono::Duration::days((i % 29) as i64);
        let mut filter = EventFilter {
            order: Order::NewestFirst,
            ..EventFilter::default()
        };
        match self {
            Self::Newest | Self::SecondPage => {}
            Self::ExactType => {
                filter.event_type =
                    EventTypePattern::parse(&format!("bench.kind{}.done", i % TYPES)).ok();
            }
            Self::Pattern => filter.event_type = EventTypePattern::parse("bench.*").ok(),
            Self::Subject => filter.subject = Some(format!("subject_{}", i % SUBJECTS)),
            Self::Day => {
                filter.order = Order::OldestFirst;
                filter.since = Some(day);
                filter.until = Some(day + chrono::Duration::days(1));
            }
        }
        filter
    }
}

/// `count` queries of `kind` through `GET /v1/events`, 8 at a time.
async fn search_http(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    kind: Query,
    count: u64,
) -> Samples {
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let (http, base, token) = (http.clone(), base.to_owned(), token.to_owned());
        tasks.spawn(async move {
            let mut samples = Vec::new();
            for i in (worker..count).step_by(8) {
                let mut url = format!("{base}/v1/events?{}", kind.query(i));
                if matches!(kind, Query::SecondPage) {
                    let first: serde_json::Value = http
                        .get(&url)
                        .bearer_auth(&token)
                        .send()
                        .await
                        .expect("search")
                        .json()
                        .await
                        .expect("json");
                    let cursor = first["next_cursor"].as_str().expect("a second page");
                    url = format!("{url}&cursor={cursor}");
                }
                let sent = Instant::now();
                let response = http
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("search");
                assert_eq!(response.status(), 200, "{url}");
                response.bytes().await.expect("body");
                samples.push(sent.elapsed());
            }
            samples
        });
    }
    Samples(tasks.join_all().await.into_iter().flatten().collect())
}

/// The same queries through the store directly.
async fn search_store(store: &Store, tenant: &TenantId, kind: Query, count: u64) -> Samples {
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let (store, tenant) = (store.clone(), tenant.clone());
        tasks.spawn(async move {
            let mut samples = Vec::new();
            for i in (worker..count).step_by(8) {
                let filter = kind.filter(i);
                let cursor = if matches!(kind, Query::SecondPage) {
                    store
                        .list_events(&tenant, &filter, 100, None)
                        .await
                        .expect("search")
                        .next_cursor
                } else {
                    None
                };
                let sent = Instant::now();
                store
                    .list_events(&tenant, &filter, 100, cursor.as_ref())
                    .await
                    .expect("search");
                samples.push(sent.elapsed());
            }
            samples
        });
    }
    Samples(tasks.join_all().await.into_iter().flatten().collect())
}
