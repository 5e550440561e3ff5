//! What the two stream routes share: the handles they need, the per-connection policy, the
//! routes themselves and the drain that closes every connection on shutdown.

use std::{sync::Arc, time::Duration};

use actix_web::web;
use chrono::Utc;
use switchyard_auth::Principal;
use switchyard_runtime::settings::WebsocketSettings;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    admission::Gatekeeper,
    frame::{self, Outbound},
    history::Resume,
    hub::Hub,
    sse, ws,
};

/// Per-connection settings.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Messages queued per connection.
    pub queue_capacity: usize,
    /// Between pings (WebSocket) or keep-alive comments (SSE).
    pub ping_interval: Duration,
    /// Silence (WebSocket) or a blocked write tolerated before the connection is closed.
    pub idle_timeout: Duration,
    /// Largest client message.
    pub max_client_message_bytes: usize,
}

impl Policy {
    /// From `[websocket]`.
    #[must_use]
    pub fn from_settings(settings: &WebsocketSettings) -> Self {
        Self {
            queue_capacity: settings.queue_capacity,
            ping_interval: Duration::from_secs(settings.ping_interval_secs),
            idle_timeout: Duration::from_secs(settings.idle_timeout_secs),
            max_client_message_bytes: settings.max_client_message_bytes,
        }
    }
}

/// The handles of the stream routes.
#[derive(Debug)]
pub struct Streams {
    /// Admission checks.
    pub gate: Gatekeeper,
    /// The fan-out.
    pub hub: Arc<Hub>,
    /// Per-connection settings.
    pub policy: Policy,
    /// WebSocket connection tasks.
    pub connections: TaskTracker,
    /// The service's shutdown token; each connection stops on a child of it.
    pub stopping: CancellationToken,
}

/// `GET /v1/ws` and `GET /v1/sse`.
pub fn routes(config: &mut web::ServiceConfig, streams: web::Data<Streams>) {
    config
        .app_data(streams)
        .route("/v1/ws", web::get().to(ws::open))
        .route("/v1/sse", web::get().to(sse::open));
}

/// After shutdown fires, waits for every WebSocket connection task to send its 1012 close
/// and end (the runtime's drain deadline bounds the wait).
pub async fn drain(connections: TaskTracker, stopping: CancellationToken) {
    stopping.cancelled().await;
    connections.close();
    connections.wait().await;
}

/// How long until the token expires (zero if it already has).
#[must_use]
pub fn expiry(principal: &Principal) -> Duration {
    (principal.expires_at() - Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO)
}

/// What a resuming client gets before the live stream: the missed events, or a gap message.
#[must_use]
pub fn resume_messages(since: Option<&str>, resume: Option<Resume>) -> Vec<Outbound> {
    match (since, resume) {
        (_, Some(Resume::Missed(frames))) => frames.into_iter().map(Outbound::Event).collect(),
        (Some(last), Some(Resume::Gap { history_starts_at })) => {
            vec![Outbound::Control(frame::gap(last, history_starts_at))]
        }
        _ => Vec::new(),
    }
}
