//! The demo tenant's endpoint, served by dev itself at `/dev/loopback`: it checks each
//! delivery's Standard Webhooks signature with the endpoint's secret, as a subscriber's
//! server would, and keeps the last [`KEPT`] deliveries for `GET /dev/loopback`, so a new
//! user sees a webhook go all the way round without running a server of their own.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime},
};

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use switchyard_signatures::{HeaderLookup, Scheme, Verifier};
use tokio::sync::Notify;

/// Deliveries kept for `GET /dev/loopback`.
pub const KEPT: usize = 100;

/// The path the loopback endpoint answers on.
pub const PATH: &str = "/dev/loopback";

/// How far a delivery's `webhook-timestamp` may be from now.
const TOLERANCE: Duration = Duration::from_secs(300);

/// One delivery the loopback endpoint took.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// `webhook-id`: the event's id.
    pub id: String,
    /// The delivered event's `type`.
    pub event_type: String,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

/// The loopback endpoint's state. Clones share it.
#[derive(Clone, Default)]
pub struct Loopback {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    arrived: Notify,
}

#[derive(Default)]
struct State {
    verifier: Option<Verifier>,
    received: VecDeque<Received>,
    count: u64,
}

impl Loopback {
    /// Verifies deliveries with `secret` from now on (the endpoint's, as the API returned it).
    ///
    /// # Errors
    /// When `secret` is not a Standard Webhooks secret.
    pub fn trust(&self, secret: &SecretString) -> Result<(), switchyard_signatures::KeyError> {
        let verifier = Verifier::new(
            Scheme::StandardWebhooks {
                tolerance: TOLERANCE,
            },
            std::slice::from_ref(secret),
        )?;
        self.state().verifier = Some(verifier);
        Ok(())
    }

    /// The deliveries taken so far, oldest first (at most [`KEPT`]).
    #[must_use]
    pub fn received(&self) -> Vec<Received> {
        self.state().received.iter().cloned().collect()
    }

    /// How many deliveries have arrived since start (not capped at [`KEPT`]).
    #[must_use]
    pub fn count(&self) -> u64 {
        self.state().count
    }

    /// Waits until more than `seen` deliveries have arrived, up to `deadline`.
    pub async fn wait_beyond(&self, seen: u64, deadline: Duration) -> bool {
        let wait = async {
            loop {
                let arrived = self.inner.arrived.notified();
                if self.count() > seen {
                    return;
                }
                arrived.await;
            }
        };
        tokio::time::timeout(deadline, wait).await.is_ok()
    }

    /// Registers `POST` and `GET` on [`PATH`].
    pub fn routes(&self, config: &mut web::ServiceConfig) {
        config
            .app_data(web::Data::new(self.clone()))
            .route(PATH, web::post().to(deliver))
            .route(PATH, web::get().to(list));
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain data: a panic elsewhere while holding the lock leaves it usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

struct Headers<'a>(&'a actix_web::http::header::HeaderMap);

impl HeaderLookup for Headers<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.0
            .get(name)
            .map(actix_web::http::header::HeaderValue::as_bytes)
    }
}

async fn deliver(
    loopback: web::Data<Loopback>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let headers = Headers(request.headers());
    let verdict = match &loopback.state().verifier {
        None => Err("the demo endpoint has no secret yet".to_owned()),
        Some(verifier) => verifier
            .verify(&headers, &body, SystemTime::now())
            .map_err(|e| e.to_string()),
    };
    if let Err(reason) = verdict {
        // The dispatcher records the refusal as a failed attempt and retries, as with any
        // subscriber that refuses a delivery.
        return HttpResponse::Unauthorized().body(reason);
    }
    let id = headers
        .header("webhook-id")
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    let event_type = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default();
    tracing::info!(%id, %event_type, "demo endpoint received a verified delivery");
    {
        let mut state = loopback.state();
        if state.received.len() == KEPT {
            state.received.pop_front();
        }
        state.count += 1;
        state.received.push_back(Received {
            id,
            event_type,
            received_at: Utc::now(),
        });
    }
    loopback.inner.arrived.notify_waiters();
    HttpResponse::NoContent().finish()
}

async fn list(loopback: web::Data<Loopback>) -> HttpResponse {
    HttpResponse::Ok().json(loopback.received())
}
