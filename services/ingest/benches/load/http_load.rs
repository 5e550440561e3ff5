//! The load generator: signed Razorpay webhooks over keep-alive HTTP/1.1 connections, each
//! task owning one connection, either as fast as answers come back (closed loop) or on a fixed
//! timetable (open loop).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use hmac::{Hmac, Mac as _};
use reqwest::{
    Client, Url,
    header::{CONTENT_TYPE, HeaderName, HeaderValue},
};
use sha2::Sha256;
use switchyard_testkit::unique_name;
use tokio::{task::JoinSet, time::Instant};

use crate::outcomes::{Outcomes, Summary};

const SIGNATURE: HeaderName = HeaderName::from_static("x-razorpay-signature");
const EVENT_ID: HeaderName = HeaderName::from_static("x-razorpay-event-id");
const JSON: HeaderValue = HeaderValue::from_static("application/json");
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One webhook endpoint and what it takes to post to it: a constant 1 KiB body signed once,
/// and a fresh `x-razorpay-event-id` per request so that ingest never answers from its
/// duplicate memory.
pub struct Target {
    url: Url,
    body: Bytes,
    signature: HeaderValue,
    /// Random per target, so ids never repeat within a server's duplicate memory.
    id_prefix: String,
    next_id: AtomicU64,
}

impl Target {
    /// `POST {base_url}/webhooks/acme/razorpay` with `body`, signed with `secret`.
    pub fn new(base_url: &str, body: Bytes, secret: &str) -> Self {
        let url = format!("{base_url}/webhooks/acme/razorpay");
        Self {
            url: Url::parse(&url).unwrap_or_else(|e| panic!("{url}: {e}")),
            signature: razorpay_signature(secret, &body),
            body,
            id_prefix: unique_name("evt_bench"),
            next_id: AtomicU64::new(0),
        }
    }

    /// Posts once on `connection`: `Some(status)`, or `None` when no answer came.
    pub async fn post(&self, connection: &Client) -> Option<u16> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let response = connection
            .post(self.url.clone())
            .header(CONTENT_TYPE, JSON)
            .header(SIGNATURE, self.signature.clone())
            .header(EVENT_ID, format!("{}_{id}", self.id_prefix))
            .body(self.body.clone())
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        // Reading the body to its end is what returns the connection for the next request.
        response.bytes().await.ok()?;
        Some(status)
    }
}

/// Lowercase hex HMAC-SHA256 of the raw body, as Razorpay sends it.
fn razorpay_signature(secret: &str, body: &[u8]) -> HeaderValue {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|e| panic!("HMAC key: {e}"));
    mac.update(body);
    HeaderValue::from_str(&hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_else(|e| panic!("hex is a valid header value: {e}"))
}

/// A client holding at most one idle keep-alive connection: a task that owns one sends
/// every request over the same connection.
pub fn connection() -> Client {
    Client::builder()
        .http1_only()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap_or_else(|e| panic!("cannot build an HTTP client: {e}"))
}

/// Warm-up first, then the measured window; answers are recorded only inside the window.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Load before measuring: connections open, caches and batches reach steady state.
    pub warmup: Duration,
    /// The measured part.
    pub measure: Duration,
}

/// `connections` tasks each post, await the answer and post again, for the whole window.
pub async fn closed_loop(target: &Arc<Target>, connections: usize, window: Window) -> Summary {
    let measure_from = Instant::now() + window.warmup;
    let until = measure_from + window.measure;
    let mut tasks = JoinSet::new();
    for _ in 0..connections {
        let target = target.clone();
        tasks.spawn(async move {
            let connection = connection();
            let mut outcomes = Outcomes::default();
            loop {
                let sent = Instant::now();
                if sent >= until {
                    return outcomes;
                }
                let status = target.post(&connection).await;
                if sent >= measure_from {
                    outcomes.record(status, sent.elapsed());
                }
            }
        });
    }
    collect(tasks).await.summary(window.measure.as_secs_f64())
}

/// Requests scheduled at `rate` per second on a fixed timetable and shared among
/// `connections` tasks. Latency runs from each request's *scheduled* time, so a stall that
/// delays later requests counts against them too (no coordinated omission); the achieved
/// rate is over the time until the last measured request was answered. Tokio's timer wakes
/// on millisecond ticks, so up to 1 ms of each latency is the generator's own.
pub async fn open_loop(
    target: &Arc<Target>,
    connections: usize,
    rate: f64,
    window: Window,
) -> Summary {
    let start = Instant::now();
    let timetable = Arc::new(Timetable {
        start,
        measure_from: start + window.warmup,
        until: start + window.warmup + window.measure,
        interval: Duration::from_secs_f64(1.0 / rate),
        next_slot: AtomicU64::new(0),
    });
    let mut tasks = JoinSet::new();
    for _ in 0..connections {
        let (target, timetable) = (target.clone(), timetable.clone());
        tasks.spawn(async move {
            let connection = connection();
            let mut outcomes = Outcomes::default();
            while let Some(scheduled) = timetable.next() {
                tokio::time::sleep_until(scheduled).await;
                let status = target.post(&connection).await;
                if scheduled >= timetable.measure_from {
                    outcomes.record(status, scheduled.elapsed());
                }
            }
            outcomes
        });
    }
    let outcomes = collect(tasks).await;
    outcomes.summary(timetable.measure_from.elapsed().as_secs_f64())
}

/// Send times `start + n × interval`, handed out in order to whichever task asks first.
struct Timetable {
    start: Instant,
    measure_from: Instant,
    until: Instant,
    interval: Duration,
    next_slot: AtomicU64,
}

impl Timetable {
    fn next(&self) -> Option<Instant> {
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed);
        let offset = self.interval.as_secs_f64() * slot as f64;
        let at = self.start + Duration::from_secs_f64(offset);
        (at < self.until).then_some(at)
    }
}

async fn collect(mut tasks: JoinSet<Outcomes>) -> Outcomes {
    let mut all = Outcomes::default();
    while let Some(task) = tasks.join_next().await {
        all.merge(task.unwrap_or_else(|e| panic!("a load task failed: {e}")));
    }
    all
}
