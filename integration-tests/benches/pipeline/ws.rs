//! WebSocket clients of the websocket-gateway's `/v1/ws` (tokio-tungstenite, `Authorization:
//! Bearer` with an `admin` token of the tenant, every event type): each records, per event,
//! its sequence number and arrival − due instant.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use futures::{SinkExt as _, StreamExt as _};
use tokio::{sync::watch, task::JoinHandle};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest as _};

use crate::{Arrival, now_ns, stamp};

/// One client following one tenant.
pub struct Client {
    /// The tenant's index.
    pub tenant: usize,
    /// Events received so far.
    pub count: Arc<AtomicU64>,
    task: JoinHandle<(Vec<Arrival>, Option<String>)>,
}

/// What a client saw, once stopped.
pub struct Seen {
    /// The tenant's index.
    pub tenant: usize,
    /// Every event in arrival order.
    pub arrivals: Vec<Arrival>,
    /// Why the connection ended before it was stopped, if it did.
    pub ended: Option<String>,
}

impl Client {
    /// Connects to `url` (`ws://…/v1/ws`) with `token`, and reads until `stop` turns true.
    pub async fn connect(
        url: &str,
        token: &str,
        tenant: usize,
        stop: watch::Receiver<bool>,
    ) -> Self {
        let mut request = url
            .into_client_request()
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}")
                .parse()
                .unwrap_or_else(|e| panic!("header: {e}")),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .unwrap_or_else(|e| panic!("websocket connect to {url}: {e}"));
        let count = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(read(socket, Arc::clone(&count), stop));
        Self {
            tenant,
            count,
            task,
        }
    }

    /// Waits for the reader to stop and returns what it saw.
    pub async fn finish(self) -> Seen {
        let (arrivals, ended) = self
            .task
            .await
            .unwrap_or_else(|e| panic!("websocket reader: {e}"));
        Seen {
            tenant: self.tenant,
            arrivals,
            ended,
        }
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn read(
    mut socket: Socket,
    count: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> (Vec<Arrival>, Option<String>) {
    let mut arrivals = Vec::new();
    loop {
        let next = tokio::select! {
            message = socket.next() => Some(message),
            _ = stop.wait_for(|stopped| *stopped) => None,
        };
        let Some(message) = next else {
            let _ = socket.close(None).await;
            return (arrivals, None);
        };
        match message {
            Some(Ok(Message::Text(text))) => {
                let at = now_ns();
                if let Some((seq, due_ns)) = stamp(text.as_bytes()) {
                    arrivals.push(Arrival {
                        seq,
                        latency_ns: at.saturating_sub(due_ns),
                        at_ns: at,
                    });
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(Ok(Message::Ping(payload))) => {
                // tungstenite queues a pong itself; flushing it now keeps the server's idle
                // timer from firing on a client that only reads.
                let _ = socket.send(Message::Pong(payload)).await;
            }
            Some(Ok(Message::Close(frame))) => {
                return (arrivals, Some(format!("closed by the server: {frame:?}")));
            }
            Some(Err(error)) => return (arrivals, Some(format!("error: {error}"))),
            None => return (arrivals, Some("stream ended".to_owned())),
            Some(Ok(_)) => {}
        }
    }
}
