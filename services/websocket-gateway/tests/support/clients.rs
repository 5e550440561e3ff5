//! Real clients: tokio-tungstenite for WebSocket, reqwest streaming for SSE.

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, Message, client::IntoClientRequest as _, protocol::CloseFrame},
};

/// How a client presents its token.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `Authorization: Bearer`.
    Header(String),
    /// `?token=` (what browsers do).
    Query(String),
    /// None at all.
    Nothing,
}

pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a WebSocket ended: the close frame's code and reason, if one came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub code: Option<u16>,
    pub reason: String,
}

impl WsClient {
    /// Connects; a refusal is `(status, body)`.
    pub async fn connect(url: &str, auth: &Auth) -> Result<Self, (u16, String)> {
        let url = match auth {
            Auth::Query(token) => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}token={token}")
            }
            _ => url.to_owned(),
        };
        let mut request = url.as_str().into_client_request().unwrap();
        if let Auth::Header(token) = auth {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(Self { stream }),
            Err(tungstenite::Error::Http(response)) => {
                let status = response.status().as_u16();
                let body = response
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                Err((status, body))
            }
            Err(other) => panic!("websocket connect to {url}: {other}"),
        }
    }

    /// The next JSON message within `within`, answering pings meanwhile; `None` on timeout
    /// or when the connection ended.
    pub async fn next_json(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??
                .ok()?;
            match message {
                Message::Text(text) => return Some(serde_json::from_str(&text).unwrap()),
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// Messages until `done` holds for what arrived; panics after `within`.
    pub async fn until(&mut self, within: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = Vec::new();
        while !done(&seen) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_json(left).await {
                Some(message) => seen.push(message),
                None => panic!(
                    "condition not met within {within:?} (or the connection ended); {} message(s), last: {:?}",
                    seen.len(),
                    seen.last()
                ),
            }
        }
        seen
    }

    /// Reads until the server closes; returns its close frame.
    pub async fn closed(&mut self, within: Duration) -> Closed {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => panic!("not closed within {within:?}"),
                Ok(None | Some(Err(_))) => {
                    return Closed {
                        code: None,
                        reason: String::new(),
                    };
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return frame.map_or(
                        Closed {
                            code: None,
                            reason: String::new(),
                        },
                        |CloseFrame { code, reason }| Closed {
                            code: Some(u16::from(code)),
                            reason: reason.to_string(),
                        },
                    );
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    pub async fn send_json(&mut self, value: &Value) {
        self.stream
            .send(Message::Text(value.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

/// One message of an event stream.
#[derive(Debug, Clone)]
pub struct SseMessage {
    pub id: Option<String>,
    pub data: Value,
}

pub struct SseClient {
    response: reqwest::Response,
    buffer: String,
}

impl SseClient {
    /// `GET /v1/sse?query` with `auth` and an optional `Last-Event-ID`; a refusal is
    /// `(status, body)`.
    pub async fn connect(
        base_url: &str,
        query: &str,
        auth: &Auth,
        last_event_id: Option<&str>,
    ) -> Result<Self, (u16, String)> {
        let mut url = format!("{base_url}/v1/sse?{query}");
        if let Auth::Query(token) = auth {
            url.push_str(&format!("&token={token}"));
        }
        let mut request = reqwest::Client::new()
            .get(url)
            .header("accept", "text/event-stream");
        if let Auth::Header(token) = auth {
            request = request.bearer_auth(token);
        }
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        if status != 200 {
            return Err((status, response.text().await.unwrap_or_default()));
        }
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "content type"
        );
        Ok(Self {
            response,
            buffer: String::new(),
        })
    }

    /// The next message (comments and `retry:` skipped) within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<SseMessage> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("id: ") {
                        id = Some(value.to_owned());
                    } else if let Some(value) = line.strip_prefix("data: ") {
                        data.push(value);
                    }
                }
                if data.is_empty() {
                    continue;
                }
                let data = serde_json::from_str(&data.join("\n")).unwrap();
                return Some(SseMessage { id, data });
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .ok()??;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// Messages until `done` holds; panics after `within`.
    pub async fn until(
        &mut self,
        within: Duration,
        done: impl Fn(&[SseMessage]) -> bool,
    ) -> Vec<SseMessage> {
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = Vec::new();
        while !done(&seen) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(message) => seen.push(message),
                None => panic!(
                    "condition not met within {within:?}; {} message(s), last: {:?}",
                    seen.len(),
                    seen.last()
                ),
            }
        }
        seen
    }
}

/// The `data.n` of the events among `messages` (control messages left out).
pub fn numbers(messages: &[Value]) -> Vec<u64> {
    messages
        .iter()
        .filter(|m| {
            !m["type"]
                .as_str()
                .unwrap_or_default()
                .starts_with("switchyard.")
        })
        .map(|m| m["data"]["n"].as_u64().unwrap())
        .collect()
}

/// How many of `messages` are events (not control messages).
pub fn event_count(messages: &[Value]) -> usize {
    numbers(messages).len()
}
