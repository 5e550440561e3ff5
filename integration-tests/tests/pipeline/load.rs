//! The load: the webhook senders and the event publishers, sequential per tenant and path,
//! retrying as a provider does, and the ledger of what was accepted and what was retried.

use std::{
    fmt::Write as _,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use serde_json::{Value, json};
use switchyard_integration_tests::providers::Provider;
use tokio::{sync::watch, task::JoinHandle, time::Instant};

/// Calm phase, per tenant.
pub(crate) const CALM_WEBHOOKS: u64 = 20;
pub(crate) const CALM_PUBLISHES: u64 = 10;
/// Kill phase pace, per tenant.
pub(crate) const WEBHOOK_EVERY: Duration = Duration::from_millis(200);
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_millis(400);
/// How long one webhook or publish is retried before the test gives up on it.
pub(crate) const SEND_DEADLINE: Duration = Duration::from_secs(45);

/// The two ways into the events topic; order is kept per tenant within each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Path {
    /// Signed webhook → ingest → raw topic → processor.
    Webhook,
    /// `POST /v1/events` → outbox → outbox-relay.
    Publish,
}

/// One request answered `202`.
#[derive(Debug, Clone)]
pub(crate) struct Accepted {
    pub(crate) tenant: usize,
    pub(crate) path: Path,
    /// Position in the tenant's sequence of this path.
    pub(crate) seq: u64,
    pub(crate) id: String,
    pub(crate) event_type: String,
    pub(crate) probe: bool,
    pub(crate) at: Instant,
    pub(crate) attempts: u32,
}

/// One failed attempt that was retried.
#[derive(Debug, Clone)]
pub(crate) struct Retried {
    pub(crate) path: Path,
    pub(crate) at: Instant,
}

#[derive(Default)]
pub(crate) struct Ledger {
    pub(crate) accepted: Vec<Accepted>,
    pub(crate) retried: Vec<Retried>,
}

pub(crate) struct TenantInfo {
    pub(crate) name: String,
    pub(crate) token: String,
}

/// What the senders share.
pub(crate) struct Ctx {
    pub(crate) http: reqwest::Client,
    pub(crate) ingest: String,
    pub(crate) gateway: String,
    pub(crate) tenants: Vec<TenantInfo>,
    pub(crate) ledger: Mutex<Ledger>,
}

impl Ctx {
    pub(crate) fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn accepted(&self) -> Vec<Accepted> {
        self.ledger().accepted.clone()
    }
}

pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

/// Posts webhook `seq` of `tenant` until ingest answers `202`.
pub(crate) async fn send_webhook(ctx: &Ctx, tenant: usize, seq: u64) -> Accepted {
    let provider = Provider::ALL[usize::try_from(seq % 5).unwrap()];
    let name = &ctx.tenants[tenant].name;
    let delivery = match provider {
        Provider::Stripe => format!("evt_{seq}"),
        other => format!("{}-{seq}", other.name()),
    };
    let url = format!("{}/webhooks/{name}/{}", ctx.ingest, provider.name());
    let started = Instant::now();
    let mut attempts = 0;
    let mut backoff = Duration::from_millis(50);
    loop {
        attempts += 1;
        let signed = provider.signed(name, seq, &delivery);
        let mut request = ctx.http.post(&url).body(signed.body);
        for (header, value) in signed.headers {
            request = request.header(header, value);
        }
        let why = match request.send().await {
            Ok(response) if response.status() == 202 => match response.json::<Value>().await {
                Ok(body) => {
                    let accepted = Accepted {
                        tenant,
                        path: Path::Webhook,
                        seq,
                        id: body["id"]
                            .as_str()
                            .unwrap_or_else(|| panic!("ingest's 202 has no id: {body}"))
                            .to_owned(),
                        event_type: provider.event_type().to_owned(),
                        probe: false,
                        at: Instant::now(),
                        attempts,
                    };
                    ctx.ledger().accepted.push(accepted.clone());
                    return accepted;
                }
                Err(e) => format!("202 with an unreadable body: {}", error_chain(&e)),
            },
            Ok(response) if response.status().is_server_error() || response.status() == 429 => {
                let status = response.status();
                format!("{status} {}", response.text().await.unwrap_or_default())
            }
            Ok(response) => {
                let status = response.status();
                panic!(
                    "tenant {name}: webhook #{seq} ({}, delivery {delivery}) refused with {status}: {}",
                    provider.name(),
                    response.text().await.unwrap_or_default()
                );
            }
            Err(e) => error_chain(&e),
        };
        ctx.ledger().retried.push(Retried {
            path: Path::Webhook,
            at: Instant::now(),
        });
        assert!(
            started.elapsed() < SEND_DEADLINE,
            "tenant {name}: webhook #{seq} ({}, delivery {delivery}) not accepted within \
             {SEND_DEADLINE:?} ({attempts} attempts); last: {why}",
            provider.name()
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(400));
    }
}

/// Publishes event `seq` of `tenant` through the gateway until it answers `202`.
pub(crate) async fn publish(ctx: &Ctx, tenant: usize, seq: u64, probe: bool) -> Accepted {
    let info = &ctx.tenants[tenant];
    let event_type = if probe {
        "probe.ready"
    } else if seq.is_multiple_of(2) {
        "order.created"
    } else {
        "invoice.paid"
    };
    let url = format!("{}/v1/events", ctx.gateway);
    let body = json!({
        "type": event_type,
        "subject": format!("ord_{seq}"),
        "data": { "tenant": info.name, "n": seq },
    });
    let started = Instant::now();
    let mut attempts = 0;
    let mut backoff = Duration::from_millis(50);
    loop {
        attempts += 1;
        let sent = ctx
            .http
            .post(&url)
            .bearer_auth(&info.token)
            .header("idempotency-key", format!("publish-{seq}"))
            .json(&body)
            .send()
            .await;
        let why = match sent {
            Ok(response) if response.status() == 202 => match response.json::<Value>().await {
                Ok(answer) => {
                    let accepted = Accepted {
                        tenant,
                        path: Path::Publish,
                        seq,
                        id: answer["id"]
                            .as_str()
                            .unwrap_or_else(|| panic!("the gateway's 202 has no id: {answer}"))
                            .to_owned(),
                        event_type: event_type.to_owned(),
                        probe,
                        at: Instant::now(),
                        attempts,
                    };
                    ctx.ledger().accepted.push(accepted.clone());
                    return accepted;
                }
                Err(e) => format!("202 with an unreadable body: {}", error_chain(&e)),
            },
            Ok(response) if response.status().is_server_error() || response.status() == 429 => {
                let status = response.status();
                format!("{status} {}", response.text().await.unwrap_or_default())
            }
            Ok(response) => {
                let status = response.status();
                panic!(
                    "tenant {}: publish #{seq} refused with {status}: {}",
                    info.name,
                    response.text().await.unwrap_or_default()
                );
            }
            Err(e) => error_chain(&e),
        };
        ctx.ledger().retried.push(Retried {
            path: Path::Publish,
            at: Instant::now(),
        });
        assert!(
            started.elapsed() < SEND_DEADLINE,
            "tenant {}: publish #{seq} not accepted within {SEND_DEADLINE:?} ({attempts} \
             attempts); last: {why}",
            info.name
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(400));
    }
}

/// One sequential sender: `seqs` in order, each after the previous was accepted, every
/// `pace` at most, until `stop` turns true. Returns the next unused seq.
pub(crate) fn drive(
    ctx: &Arc<Ctx>,
    tenant: usize,
    path: Path,
    seqs: std::ops::Range<u64>,
    pace: Option<Duration>,
    stop: Option<watch::Receiver<bool>>,
) -> JoinHandle<u64> {
    let ctx = Arc::clone(ctx);
    tokio::spawn(async move {
        let mut next_at = Instant::now();
        for seq in seqs.clone() {
            if stop.as_ref().is_some_and(|s| *s.borrow()) {
                return seq;
            }
            if let Some(pace) = pace {
                tokio::time::sleep_until(next_at).await;
                next_at = Instant::now().max(next_at) + pace;
            }
            match path {
                Path::Webhook => send_webhook(&ctx, tenant, seq).await,
                Path::Publish => publish(&ctx, tenant, seq, false).await,
            };
        }
        seqs.end
    })
}

pub(crate) async fn join<T>(handle: JoinHandle<T>) -> T {
    match handle.await {
        Ok(value) => value,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => panic!("sender task: {error}"),
    }
}
