//! The webhook senders: signed Razorpay `payment.captured` webhooks (the documented sample,
//! about 1 KiB) posted to ingest over keep-alive HTTP/1.1 connections, each task owning one.
//! Every body carries a sequence number unique in the run and the instant it was due to be
//! sent (ns since the Unix epoch) in the payment's `notes`, where the receivers read it.
//!
//! Open loop (`rate > 0`): slot `n` is due at `start + n / rate`, shared out among the tasks;
//! latency counts from the slot's due time, so a sender held up by a slow answer does not
//! hide the delay (no coordinated omission). When every connection waits for an answer, the
//! timetable falls behind; whatever is still unsent when the run's time is up is never sent
//! (the report counts it as not sent). Closed loop (`rate = 0`): each task posts again
//! as soon as it has its answer.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use reqwest::{Client, Url};
use secrecy::SecretString;
use switchyard_signatures::{Scheme, sign_request};
use tokio::{task::JoinSet, time::Instant};

use crate::now_ns;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Where the sequence number and the due instant go in the sample body.
const NOTES: &str = r#""notes":[]"#;

/// One tenant's Razorpay source on ingest.
pub struct Source {
    /// `POST` target: `<ingest>/webhooks/<tenant>/razorpay`.
    pub url: Url,
    /// The source's webhook secret.
    pub secret: SecretString,
}

/// What the senders post to and how.
pub struct Senders {
    /// One source per tenant; slot `n` goes to `sources[n % len]`.
    pub sources: Vec<Source>,
    /// The sample body split around its `notes`.
    head: String,
    tail: String,
    /// Makes delivery ids unique across runs on the same ingest.
    id_prefix: String,
}

/// One request's outcome.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// Its sequence number (= slot).
    pub seq: u64,
    /// When it was due (wall clock ns); in the closed loop, when it was sent.
    pub due_ns: u64,
    /// How late the sender started it, ns after it was due.
    pub lag_ns: u64,
    /// The HTTP status, 0 when no answer came.
    pub status: u16,
    /// When the answer came, ns after it was due.
    pub answered_ns: u64,
}

impl Senders {
    /// Senders for `sources`, with the sample Razorpay body.
    pub fn new(sources: Vec<Source>, sample: &str, id_prefix: String) -> Self {
        let minified: serde_json::Value =
            serde_json::from_str(sample).unwrap_or_else(|e| panic!("sample body: {e}"));
        let minified = minified.to_string();
        let (head, tail) = minified
            .split_once(NOTES)
            .unwrap_or_else(|| panic!("the sample body has no {NOTES}"));
        Self {
            sources,
            head: head.to_owned(),
            tail: tail.to_owned(),
            id_prefix,
        }
    }

    /// The body of webhook `seq` due at `due_ns`.
    pub fn body(&self, seq: u64, due_ns: u64) -> Vec<u8> {
        format!(
            r#"{}"notes":{{"bench_seq":{seq},"sent_ns":{due_ns}}}{}"#,
            self.head, self.tail
        )
        .into_bytes()
    }

    /// Posts webhook `seq` (due at `due_ns`) once; the status, 0 without an answer.
    pub async fn post(&self, connection: &Client, seq: u64, due_ns: u64) -> u16 {
        let source = &self.sources[(seq % self.sources.len() as u64) as usize];
        let body = self.body(seq, due_ns);
        let delivery_id = format!("{}_{seq}", self.id_prefix);
        let headers = sign_request(
            &Scheme::Razorpay,
            &source.secret,
            &body,
            SystemTime::now(),
            &delivery_id,
        )
        .unwrap_or_else(|e| panic!("signing: {e}"));
        let mut request = connection
            .post(source.url.clone())
            .header("content-type", "application/json")
            .header("x-razorpay-event-id", delivery_id);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let Ok(response) = request.body(body).send().await else {
            return 0;
        };
        let status = response.status().as_u16();
        // Reading the body to its end returns the connection for the next request.
        if response.bytes().await.is_err() {
            return 0;
        }
        status
    }
}

/// A client holding one keep-alive connection.
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

/// Sends for `length` from now: at `rate` per second on a fixed timetable shared by
/// `connections` tasks, or (rate 0) as fast as `connections` closed-loop tasks get answers.
/// Sequence numbers start at `first_seq`. Returns every request's outcome.
pub async fn run(
    senders: &Arc<Senders>,
    rate: f64,
    connections: usize,
    length: Duration,
    first_seq: u64,
) -> Vec<Sent> {
    let start = Instant::now();
    let start_ns = now_ns();
    let until = start + length;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..connections {
        let (senders, next) = (Arc::clone(senders), Arc::clone(&next));
        tasks.spawn(async move {
            let client = connection();
            let mut sent = Vec::new();
            loop {
                let slot = next.fetch_add(1, Ordering::Relaxed);
                let (due, due_ns) = if rate > 0.0 {
                    let offset = Duration::from_secs_f64(slot as f64 / rate);
                    (start + offset, start_ns + offset.as_nanos() as u64)
                } else {
                    (Instant::now(), now_ns())
                };
                // Past the end of the run in due time or in real time: a sender that fell
                // behind does not go on sending the rest of the timetable late.
                if due >= until || Instant::now() >= until {
                    return sent;
                }
                tokio::time::sleep_until(due).await;
                let lag_ns = due.elapsed().as_nanos() as u64;
                let seq = first_seq + slot;
                let status = senders.post(&client, seq, due_ns).await;
                sent.push(Sent {
                    seq,
                    due_ns,
                    lag_ns,
                    status,
                    answered_ns: due.elapsed().as_nanos() as u64,
                });
            }
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done.unwrap_or_else(|e| panic!("sender task: {e}")));
    }
    all.sort_unstable_by_key(|s| s.seq);
    all
}
