//! A WebSocket client of `GET /v1/ws` that behaves as the websocket-gateway asks clients to:
//! it stays connected, and when the connection ends (a close frame, a reset, a replica that
//! died) it reconnects to the same address with `?since=<the last event id it received>`,
//! retrying while nothing listens. It records every connection separately: the resume point
//! it asked for, the `switchyard.gap` message if the server could not resume, the events in
//! arrival order, the other control messages, and how it ended; the test judges.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use futures::StreamExt as _;
use serde_json::Value;
use tokio::{task::JoinHandle, time::Instant};
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest as _};

/// `source` of the websocket-gateway's control messages (its `frame::CONTROL_SOURCE`).
pub const CONTROL_SOURCE: &str = "/switchyard/websocket-gateway";

/// Pause between connection attempts while the server is away.
const RETRY_EVERY: Duration = Duration::from_millis(100);

/// One connection, from its upgrade to its end.
#[derive(Debug, Clone)]
pub struct WsConnection {
    /// The `since` it asked to resume after (`None` for the first).
    pub since: Option<String>,
    /// When the upgrade succeeded.
    pub opened_at: Instant,
    /// The `switchyard.gap` control message, if the server could not resume after `since`.
    pub gap: Option<Value>,
    /// How many events had arrived on this connection before the gap message (0 when it
    /// opened the connection, as it should).
    pub gap_position: usize,
    /// The events (not control messages), in arrival order.
    pub events: Vec<Value>,
    /// Control messages other than the gap.
    pub controls: Vec<Value>,
    /// How it ended (`None` while open).
    pub ended: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    connections: Vec<WsConnection>,
    /// Upgrades refused with an HTTP status (`status body`).
    refusals: Vec<String>,
    /// Attempts that found nothing listening, or failed before the upgrade.
    failed_attempts: u32,
}

impl State {
    fn last_event_id(&self) -> Option<String> {
        self.connections
            .iter()
            .rev()
            .find_map(|c| c.events.last())
            .and_then(|e| e["id"].as_str())
            .map(str::to_owned)
    }
}

/// A client following one tenant's stream; stops when dropped.
pub struct WsFollower {
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl WsFollower {
    /// Connects to `base` (`ws://127.0.0.1:<port>`) `/v1/ws?<query>` with `token` as
    /// `Authorization: Bearer`, and keeps following.
    #[must_use]
    pub fn start(base: &str, query: &str, token: &str) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let task = tokio::spawn(follow(
            format!("{base}/v1/ws"),
            query.to_owned(),
            token.to_owned(),
            Arc::clone(&state),
        ));
        Self { state, task }
    }

    /// Every connection so far (the last one possibly still open).
    #[must_use]
    pub fn connections(&self) -> Vec<WsConnection> {
        self.lock().connections.clone()
    }

    /// Upgrades the server refused with an HTTP status.
    #[must_use]
    pub fn refusals(&self) -> Vec<String> {
        self.lock().refusals.clone()
    }

    /// Attempts that failed before an upgrade (nothing listening, reset).
    #[must_use]
    pub fn failed_attempts(&self) -> u32 {
        self.lock().failed_attempts
    }

    /// Whether a connection is open now.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.lock()
            .connections
            .last()
            .is_some_and(|c| c.ended.is_none())
    }

    /// Ids of every event received, over all connections.
    #[must_use]
    pub fn event_ids(&self) -> Vec<String> {
        self.lock()
            .connections
            .iter()
            .flat_map(|c| c.events.iter())
            .filter_map(|e| e["id"].as_str().map(str::to_owned))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for WsFollower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn follow(endpoint: String, query: String, token: String, state: Arc<Mutex<State>>) {
    let lock = || state.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let since = lock().last_event_id();
        let mut url = reqwest::Url::parse(&endpoint)
            .unwrap_or_else(|e| panic!("websocket url {endpoint}: {e}"));
        url.set_query(Some(&query).filter(|q| !q.is_empty()).map(String::as_str));
        if let Some(since) = &since {
            url.query_pairs_mut().append_pair("since", since);
        }
        let mut request = url
            .as_str()
            .into_client_request()
            .unwrap_or_else(|e| panic!("websocket request {url}: {e}"));
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}")
                .parse()
                .unwrap_or_else(|e| panic!("authorization header: {e}")),
        );
        let connected = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_tungstenite::connect_async(request),
        )
        .await;
        let mut stream = match connected {
            Ok(Ok((stream, _))) => stream,
            Ok(Err(tungstenite::Error::Http(response))) => {
                let body = response
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                lock()
                    .refusals
                    .push(format!("{} {body}", response.status().as_u16()));
                tokio::time::sleep(RETRY_EVERY).await;
                continue;
            }
            Ok(Err(_)) | Err(_) => {
                lock().failed_attempts += 1;
                tokio::time::sleep(RETRY_EVERY).await;
                continue;
            }
        };
        lock().connections.push(WsConnection {
            since,
            opened_at: Instant::now(),
            gap: None,
            gap_position: 0,
            events: Vec::new(),
            controls: Vec::new(),
            ended: None,
        });
        let ended = loop {
            match stream.next().await {
                Some(Ok(Message::Text(text))) => {
                    let text = text.as_str();
                    let message: Value = serde_json::from_str(text)
                        .unwrap_or_else(|_| Value::String(format!("NOT JSON: {text}")));
                    let mut state = lock();
                    let Some(connection) = state.connections.last_mut() else {
                        unreachable!("a connection was pushed before reading")
                    };
                    if message["source"] == CONTROL_SOURCE {
                        if message["type"] == "switchyard.gap" && connection.gap.is_none() {
                            connection.gap_position = connection.events.len();
                            connection.gap = Some(message);
                        } else {
                            connection.controls.push(message);
                        }
                    } else {
                        connection.events.push(message);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    break format!(
                        "close frame {:?}",
                        frame.map(|f| (u16::from(f.code), f.reason.to_string()))
                    );
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => break format!("error: {error}"),
                None => break "end of stream".to_owned(),
            }
        };
        if let Some(connection) = lock().connections.last_mut() {
            connection.ended = Some(ended);
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}
