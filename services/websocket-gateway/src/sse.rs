//! `GET /v1/sse`: the connection is the response body itself. Each event is written as
//! `id: <event id>` + `data:` lines, so `EventSource` resumes with `Last-Event-ID`; control
//! messages carry no `id`. The stream ends with a `switchyard.closing` message saying why.

use std::{collections::VecDeque, convert::Infallible, sync::Arc};

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use bytes::{BufMut as _, Bytes, BytesMut};
use futures::stream;
use tokio::{sync::mpsc, time::Instant};

use crate::{
    admission::Admission,
    frame::{self, Outbound},
    hub::Membership,
    limits::Permit,
    link::{CloseReason, Link},
    metrics::{self, Transport},
    streams::{Streams, expiry, resume_messages},
};

/// Milliseconds `EventSource` waits before reconnecting on its own.
const RECONNECT_MS: u32 = 1_000;
/// Most queued messages written in one chunk.
const MAX_CHUNK_MESSAGES: usize = 64;

/// Opens an admitted event stream.
pub async fn open(
    request: HttpRequest,
    streams: web::Data<Streams>,
) -> Result<HttpResponse, actix_web::Error> {
    let Admission {
        principal,
        filter,
        since,
        permit,
    } = streams.gate.admit(&request, Transport::Sse).await?;
    let (link, queue) = Link::new(
        streams.policy.queue_capacity,
        streams.stopping.child_token(),
    );
    let (membership, resume) = streams.hub.join(
        principal.tenant(),
        filter,
        link.clone(),
        since.as_deref(),
        Instant::now(),
    );
    tracing::info!(tenant = %principal.tenant(), resume = since.is_some(), "event stream opened");
    let mut preamble = BytesMut::new();
    preamble.put_slice(format!("retry: {RECONNECT_MS}\n\n").as_bytes());
    let state = SseStream {
        backlog: resume_messages(since.as_deref(), resume).into(),
        queue,
        link,
        expires: Instant::now() + expiry(&principal),
        ping: tokio::time::interval_at(
            Instant::now() + streams.policy.ping_interval,
            streams.policy.ping_interval,
        ),
        preamble: Some(preamble.freeze()),
        ended: None,
        sent: 0,
        _membership: membership,
        _permit: permit,
    };
    let body = stream::unfold(state, |mut state| async move {
        let chunk = state.next_chunk().await?;
        Some((Ok::<_, Infallible>(chunk), state))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Proxies such as nginx buffer responses unless told not to.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

struct SseStream {
    backlog: VecDeque<Outbound>,
    queue: mpsc::Receiver<Outbound>,
    link: Arc<Link>,
    expires: Instant,
    ping: tokio::time::Interval,
    preamble: Option<Bytes>,
    ended: Option<CloseReason>,
    sent: u64,
    _membership: Membership,
    _permit: Permit,
}

impl SseStream {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(preamble) = self.preamble.take() {
            return Some(preamble);
        }
        if self.ended.is_some() {
            return None;
        }
        let mut chunk = BytesMut::new();
        if !self.backlog.is_empty() {
            let take = self.backlog.len().min(MAX_CHUNK_MESSAGES);
            for message in self.backlog.drain(..take).collect::<Vec<_>>() {
                self.encode(&message, &mut chunk);
            }
            return Some(chunk.freeze());
        }
        let reason = tokio::select! {
            biased;
            () = self.link.stopped() => self.link.reason(),
            () = tokio::time::sleep_until(self.expires) => CloseReason::TokenExpired,
            message = self.queue.recv() => match message {
                Some(message) => {
                    self.encode(&message, &mut chunk);
                    while chunk.len() < 64 * 1024 {
                        match self.queue.try_recv() {
                            Ok(message) => self.encode(&message, &mut chunk),
                            Err(_) => break,
                        }
                    }
                    return Some(chunk.freeze());
                }
                None => self.link.reason(),
            },
            _ = self.ping.tick() => {
                metrics::sent(Transport::Sse, std::mem::take(&mut self.sent));
                return Some(Bytes::from_static(b": keep-alive\n\n"));
            }
        };
        self.end(reason, &mut chunk);
        Some(chunk.freeze())
    }

    fn end(&mut self, reason: CloseReason, chunk: &mut BytesMut) {
        self.link.stop_with(reason);
        self.ended = Some(reason);
        let closing = frame::closing(reason.code(), reason.as_str());
        encode_data(None, &closing, chunk);
        tracing::info!(
            reason = reason.as_str(),
            code = reason.code(),
            "event stream closed"
        );
    }

    fn encode(&mut self, message: &Outbound, chunk: &mut BytesMut) {
        match message {
            Outbound::Event(frame) => encode_data(Some(&frame.id), &frame.json, chunk),
            Outbound::Control(json) => encode_data(None, json, chunk),
        }
        self.sent += 1;
    }
}

impl Drop for SseStream {
    fn drop(&mut self) {
        metrics::sent(Transport::Sse, self.sent);
        metrics::connection_ended(Transport::Sse, self.ended.unwrap_or(CloseReason::Normal));
    }
}

/// One SSE message. JSON may hold raw newlines inside embedded data, and a `data:` field ends
/// at a newline, so each line becomes its own `data:` field (the client joins them with `\n`).
fn encode_data(id: Option<&str>, json: &str, chunk: &mut BytesMut) {
    if let Some(id) = id {
        chunk.put_slice(b"id: ");
        chunk.put_slice(id.as_bytes());
        chunk.put_u8(b'\n');
    }
    for line in json.split('\n') {
        chunk.put_slice(b"data: ");
        chunk.put_slice(line.trim_end_matches('\r').as_bytes());
        chunk.put_u8(b'\n');
    }
    chunk.put_u8(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_json_becomes_several_data_fields() {
        let mut chunk = BytesMut::new();
        encode_data(Some("evt_1"), "{\"a\":\n1}", &mut chunk);
        assert_eq!(&chunk[..], b"id: evt_1\ndata: {\"a\":\ndata: 1}\n\n");
    }
}
