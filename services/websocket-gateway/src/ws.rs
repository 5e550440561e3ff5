//! `GET /v1/ws`: one task per connection writes its queue to the socket, pings, watches the
//! client's messages (subscription changes, pongs) and ends the connection with a close code
//! that says why (see [`CloseReason`]).

use std::{sync::Arc, time::Duration};

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, Session};
use bytestring::ByteString;
use serde::Deserialize;
use switchyard_auth::{Principal, Scope};
use tokio::time::Instant;

use crate::{
    admission::Admission,
    filter::Filter,
    frame::{self, Outbound},
    hub::Membership,
    link::{CloseReason, Link},
    metrics::{self, Transport},
    streams::{Policy, Streams, expiry, resume_messages},
};

/// How long the close frame may take to leave before the connection is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Upgrades an admitted request and spawns its connection task.
pub async fn open(
    request: HttpRequest,
    body: web::Payload,
    streams: web::Data<Streams>,
) -> Result<HttpResponse, actix_web::Error> {
    let admission = streams.gate.admit(&request, Transport::WebSocket).await?;
    let (response, session, messages) = actix_ws::handle(&request, body)?;
    let messages = messages
        .max_frame_size(streams.policy.max_client_message_bytes)
        .aggregate_continuations()
        .max_continuation_size(streams.policy.max_client_message_bytes);
    let (link, queue) = Link::new(
        streams.policy.queue_capacity,
        streams.stopping.child_token(),
    );
    let Admission {
        principal,
        filter,
        since,
        permit,
    } = admission;
    let (membership, resume) = streams.hub.join(
        principal.tenant(),
        filter,
        link.clone(),
        since.as_deref(),
        Instant::now(),
    );
    tracing::info!(tenant = %principal.tenant(), resume = since.is_some(), "websocket opened");
    let connection = Connection {
        session,
        messages,
        link,
        queue,
        membership,
        principal,
        policy: streams.policy,
        streams: streams.into_inner(),
        sent: 0,
    };
    let backlog = resume_messages(since.as_deref(), resume);
    // The session's message stream is bound to the worker's thread, so the task is local to
    // it; the tracker lets the drain wait for it.
    let connections = connection.streams.connections.clone();
    connections.spawn_local(async move {
        let reason = connection.run(backlog).await;
        metrics::connection_ended(Transport::WebSocket, reason);
        drop(permit);
    });
    Ok(response)
}

/// A message a client may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Command {
    /// Replace the filter: `{"type":"subscribe","types":["a.*"],"subject":"x"}` or, for a
    /// token with `sub`, `{"type":"subscribe","own":true}`.
    Subscribe {
        #[serde(default)]
        types: Vec<String>,
        #[serde(default)]
        subject: Option<String>,
        #[serde(default)]
        own: bool,
    },
    /// Extend the connection past its token's `exp` with a fresh token of the same tenant
    /// and `sub`: `{"type":"auth","token":"..."}`. Answered `switchyard.authenticated`.
    Auth { token: String },
}

struct Connection {
    session: Session,
    messages: AggregatedMessageStream,
    link: Arc<Link>,
    queue: tokio::sync::mpsc::Receiver<Outbound>,
    membership: Membership,
    principal: Principal,
    policy: Policy,
    streams: Arc<Streams>,
    sent: u64,
}

enum Step {
    Continue,
    End(CloseReason),
}

impl Connection {
    async fn run(mut self, backlog: Vec<Outbound>) -> CloseReason {
        let reason = self.serve(backlog).await;
        metrics::sent(Transport::WebSocket, self.sent);
        let close = actix_ws::CloseReason {
            code: CloseCode::from(reason.code()),
            description: Some(reason.as_str().to_owned()),
        };
        // While a clone of the session lives the socket stays open, so a client that is still
        // reading gets the close frame and answers it before the TCP close (closing first
        // would make its late pongs draw a reset that discards the frame). A client that
        // stopped reading cannot take it: after the timeout the socket is dropped.
        let keep_open = self.session.clone();
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            if self.session.clone().close(Some(close)).await.is_ok()
                && reason != CloseReason::Normal
            {
                while let Some(Ok(message)) = self.messages.recv().await {
                    if matches!(message, AggregatedMessage::Close(_)) {
                        break;
                    }
                }
            }
        })
        .await;
        drop(keep_open);
        // Out of the index before the permit is given back.
        drop(self.membership);
        tracing::info!(tenant = %self.principal.tenant(), reason = reason.as_str(), code = reason.code(), "websocket closed");
        reason
    }

    async fn serve(&mut self, backlog: Vec<Outbound>) -> CloseReason {
        for message in backlog {
            if let Step::End(reason) = self.write(message).await {
                return reason;
            }
        }
        let expires = tokio::time::sleep(expiry(&self.principal));
        tokio::pin!(expires);
        let mut ping = tokio::time::interval_at(
            Instant::now() + self.policy.ping_interval,
            self.policy.ping_interval,
        );
        let mut last_heard = Instant::now();
        loop {
            let step = tokio::select! {
                biased;
                () = self.link.stopped() => Step::End(self.link.reason()),
                () = &mut expires => Step::End(CloseReason::TokenExpired),
                incoming = self.messages.recv() => {
                    last_heard = Instant::now();
                    let step = self.on_client_message(incoming).await;
                    // A fresh token (`auth` message) moves the deadline.
                    expires.as_mut().reset(Instant::now() + expiry(&self.principal));
                    step
                }
                message = self.queue.recv() => match message {
                    Some(message) => self.write(message).await,
                    None => Step::End(self.link.reason()),
                },
                _ = ping.tick() => {
                    if last_heard.elapsed() > self.policy.idle_timeout {
                        Step::End(CloseReason::Idle)
                    } else {
                        metrics::sent(Transport::WebSocket, std::mem::take(&mut self.sent));
                        self.ping().await
                    }
                }
            };
            if let Step::End(reason) = step {
                return reason;
            }
        }
    }

    /// Writes one message; a write that cannot leave within the idle timeout means the client
    /// stopped reading, and a stop (queue overflow, shutdown) interrupts a blocked write.
    async fn write(&mut self, message: Outbound) -> Step {
        let text = match message {
            Outbound::Event(frame) => frame.json.clone(),
            Outbound::Control(text) => text,
        };
        let step = tokio::select! {
            written = self.session.text(text) => match written {
                Ok(()) => Step::Continue,
                Err(_) => Step::End(CloseReason::Normal),
            },
            () = self.link.stopped() => Step::End(self.link.reason()),
            () = tokio::time::sleep(self.policy.idle_timeout) => Step::End(CloseReason::SlowConsumer),
        };
        if matches!(step, Step::Continue) {
            self.sent += 1;
        }
        step
    }

    async fn ping(&mut self) -> Step {
        tokio::select! {
            sent = self.session.ping(b"") => match sent {
                Ok(()) => Step::Continue,
                Err(_) => Step::End(CloseReason::Normal),
            },
            () = self.link.stopped() => Step::End(self.link.reason()),
            () = tokio::time::sleep(self.policy.idle_timeout) => Step::End(CloseReason::SlowConsumer),
        }
    }

    async fn on_client_message(
        &mut self,
        incoming: Option<Result<AggregatedMessage, actix_ws::ProtocolError>>,
    ) -> Step {
        match incoming {
            None | Some(Ok(AggregatedMessage::Close(_))) => {
                // The client said goodbye (or vanished): nothing more to write.
                self.link.stop_with(CloseReason::Normal);
                Step::End(CloseReason::Normal)
            }
            Some(Ok(AggregatedMessage::Ping(payload))) => match self.session.pong(&payload).await {
                Ok(()) => Step::Continue,
                Err(_) => Step::End(CloseReason::Normal),
            },
            Some(Ok(AggregatedMessage::Pong(_))) => Step::Continue,
            Some(Ok(AggregatedMessage::Text(text))) => {
                let reply = self.on_command(&text).await;
                self.write(Outbound::Control(reply)).await
            }
            Some(Ok(AggregatedMessage::Binary(_)) | Err(_)) => {
                Step::End(CloseReason::ProtocolError)
            }
        }
    }

    /// Applies a subscription change or a fresh token; answers `switchyard.subscribed`,
    /// `switchyard.authenticated` or `switchyard.error`.
    async fn on_command(&mut self, text: &str) -> ByteString {
        match serde_json::from_str::<Command>(text) {
            Ok(Command::Subscribe {
                types,
                subject,
                own,
            }) => self.subscribe(&types, subject.as_deref(), own),
            Ok(Command::Auth { token }) => self.reauthenticate(&token).await,
            Err(error) => error_message(&format!(
                r#"unreadable message ({error}); send {{"type":"subscribe","types":["a.*"],"subject":null}} or {{"type":"auth","token":"..."}}"#
            )),
        }
    }

    fn subscribe(&self, types: &[String], subject: Option<&str>, own: bool) -> ByteString {
        let filter = Filter::from_parts(types.iter().map(String::as_str), subject)
            .map_err(|e| e.to_string())
            .and_then(|f| {
                self.streams
                    .gate
                    .scope(f, own, &self.principal)
                    .map_err(|e| e.to_string())
            });
        match filter {
            Ok(filter) => {
                let reply = frame::control(
                    "switchyard.subscribed",
                    serde_json::json!({
                        "types": filter.types(),
                        "subject": filter.subject(),
                        "owner": filter.owner(),
                    }),
                );
                self.membership.resubscribe(filter);
                reply
            }
            Err(detail) => error_message(&detail),
        }
    }

    /// Accepts a token for the same tenant and `sub` (a different identity must reconnect:
    /// its filter and limits were decided for the old one) and moves the connection's
    /// deadline to its `exp`.
    async fn reauthenticate(&mut self, token: &str) -> ByteString {
        let principal = match self.streams.gate.auth.authenticate(token).await {
            Ok(principal) => principal,
            Err(error) => return error_message(&format!("auth: {error}")),
        };
        if principal.tenant() != self.principal.tenant()
            || principal.subject() != self.principal.subject()
        {
            return error_message(
                "auth: the new token must be for the same tenant and sub; reconnect to change identity",
            );
        }
        if let Err(error) = principal.require(Scope::EventsRead) {
            return error_message(&format!("auth: {error}"));
        }
        let expires_at = principal.expires_at();
        self.principal = principal;
        frame::control(
            "switchyard.authenticated",
            serde_json::json!({
                "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }),
        )
    }
}

fn error_message(detail: &str) -> ByteString {
    frame::control("switchyard.error", serde_json::json!({ "detail": detail }))
}
