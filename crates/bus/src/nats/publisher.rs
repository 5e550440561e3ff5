use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_nats::{
    HeaderMap,
    jetstream::context::{PublishAckFuture, PublishError, PublishErrorKind},
};
use async_trait::async_trait;
use bytes::Bytes;
use switchyard_domain::Message;
use tokio::sync::watch;

use super::{BACKEND, Connection, codec, names, topology::Topology, unavailable};
use crate::{Ack, BusError, Position, Publisher, partitioner::partition_for, timed};

/// Records of one call waiting for their `PubAck` at once: enough to fill the pipe, well below
/// the JetStream context's own limit of acknowledgements in flight (5,000).
const WINDOW: usize = 1_024;
/// Pause before records are resent after a connection was lost.
const RESEND_PAUSE: Duration = Duration::from_millis(50);

/// Publishes to the partition subjects and waits for each record's `PubAck`.
pub(super) struct NatsPublisher {
    connection: Connection,
    topology: Arc<Topology>,
    timeout: Duration,
    ids: MsgIds,
}

/// A record ready to go: its subject and NATS headers are computed once, whatever the resends.
struct Outgoing {
    partition: u32,
    subject: String,
    headers: HeaderMap,
    payload: Bytes,
}

/// `Nats-Msg-Id`s unique to this publisher: a random prefix and a counter. An id identifies
/// one publish call, so only our own resends of it are de-duplicated, never a second publish
/// of the same event (a DLQ redrive must be stored again).
struct MsgIds {
    prefix: String,
    next: AtomicU64,
}

impl MsgIds {
    fn new() -> Self {
        Self {
            prefix: format!("{:016x}", rand::random::<u64>()),
            next: AtomicU64::new(0),
        }
    }

    fn next(&self) -> String {
        format!(
            "{}-{}",
            self.prefix,
            self.next.fetch_add(1, Ordering::Relaxed)
        )
    }
}

impl NatsPublisher {
    pub(super) fn new(connection: Connection, topology: Arc<Topology>, timeout: Duration) -> Self {
        Self {
            connection,
            topology,
            timeout,
            ids: MsgIds::new(),
        }
    }

    /// Publishes `messages` to `topic` within the publish deadline.
    async fn publish_all(&self, topic: &str, messages: &[Message]) -> Result<Vec<Ack>, BusError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let work = async {
            let partitions = self.topology.partitions(topic).await?;
            let records = messages
                .iter()
                .map(|message| {
                    let partition = partition_for(message.key.as_deref(), partitions);
                    Ok(Outgoing {
                        partition,
                        subject: names::subject(topic, partition),
                        headers: codec::encode(message, &self.ids.next())?,
                        payload: message.payload.clone(),
                    })
                })
                .collect::<Result<Vec<_>, BusError>>()?;
            self.store(topic, &records).await
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) if !self.connection.connected() => Err(unavailable(
                "publish",
                format!("not connected to the server after {:?}", self.timeout),
            )),
            Err(_) => Err(BusError::Timeout {
                backend: BACKEND,
                after: self.timeout,
            }),
        }
    }

    /// Sends the records in order, keeping up to [`WINDOW`] of them waiting for their
    /// `PubAck` at once. A change of connection while waiting may have lost requests or
    /// answers: once connected again, the records not yet acknowledged are sent again with the
    /// same ids, and the stream drops any it already holds.
    async fn store(&self, topic: &str, records: &[Outgoing]) -> Result<Vec<Ack>, BusError> {
        let mut acks = Vec::with_capacity(records.len());
        let mut epoch = self.connection.epoch.clone();
        'send: loop {
            epoch.borrow_and_update();
            let mut pending = VecDeque::with_capacity(WINDOW.min(records.len()));
            let mut next = acks.len();
            while acks.len() < records.len() {
                if next < records.len() && pending.len() < WINDOW {
                    pending.push_back(self.send(topic, &records[next]).await?);
                    next += 1;
                    continue;
                }
                let Some(ack) = pending.pop_front() else {
                    break;
                };
                let answer = tokio::select! {
                    answer = ack.into_future() => answer,
                    Ok(()) = epoch.changed() => {
                        self.reconnected(&mut epoch).await?;
                        continue 'send;
                    }
                };
                match answer {
                    Ok(ack) => acks.push(Ack {
                        partition: records[acks.len()].partition,
                        position: Position::Sequence(ack.sequence),
                    }),
                    // The answer died with the connection (or JetStream went away with the
                    // server): the record may be stored, so it is resent under its id.
                    Err(e) if self.connection_lost(&e, &epoch) => {
                        self.reconnected(&mut epoch).await?;
                        continue 'send;
                    }
                    Err(e) => return Err(self.map_error(topic, &e)),
                }
            }
            return Ok(acks);
        }
    }

    /// Whether a failed wait for a `PubAck` is down to the connection: the answer was lost
    /// with it, or the request waited in the client while it was down, or JetStream went away
    /// with a stopping server.
    fn connection_lost(&self, error: &PublishError, epoch: &watch::Receiver<u64>) -> bool {
        match error.kind() {
            PublishErrorKind::BrokenPipe => true,
            PublishErrorKind::TimedOut
            | PublishErrorKind::StreamNotFound
            | PublishErrorKind::Other => {
                !self.connection.connected() || epoch.has_changed().unwrap_or(false)
            }
            _ => false,
        }
    }

    /// Waits until the client is connected again (the caller's deadline bounds the wait).
    async fn reconnected(&self, epoch: &mut watch::Receiver<u64>) -> Result<(), BusError> {
        // Let the client notice a dead connection before checking on it.
        tokio::time::sleep(RESEND_PAUSE).await;
        while !self.connection.connected() {
            if epoch.changed().await.is_err() {
                return Err(BusError::Closed);
            }
        }
        Ok(())
    }

    async fn send(&self, topic: &str, record: &Outgoing) -> Result<PublishAckFuture, BusError> {
        self.connection
            .js
            .publish_with_headers(
                record.subject.clone(),
                record.headers.clone(),
                record.payload.clone(),
            )
            .await
            .map_err(|e| self.map_error(topic, &e))
    }

    fn map_error(&self, topic: &str, error: &PublishError) -> BusError {
        match error.kind() {
            PublishErrorKind::TimedOut => BusError::Timeout {
                backend: BACKEND,
                after: self.timeout,
            },
            // "No responders": no stream takes the subject (the topic is gone or was never
            // created), or JetStream is not up yet. Look the topic up afresh next time.
            PublishErrorKind::StreamNotFound => {
                self.topology.forget(topic);
                unavailable(
                    "publish",
                    format!("no stream stores topic {topic}; is it created?"),
                )
            }
            PublishErrorKind::MaxPayloadExceeded
            | PublishErrorKind::WrongLastMessageId
            | PublishErrorKind::WrongLastSequence => BusError::Rejected {
                backend: BACKEND,
                reason: error.to_string(),
            },
            PublishErrorKind::BrokenPipe
            | PublishErrorKind::MaxAckPending
            | PublishErrorKind::Other => unavailable("publish", error),
        }
    }
}

#[async_trait]
impl Publisher for NatsPublisher {
    async fn publish(&self, topic: &str, message: Message) -> Result<Ack, BusError> {
        timed(BACKEND, topic, async {
            let mut acks = self
                .publish_all(topic, std::slice::from_ref(&message))
                .await?;
            acks.pop().ok_or(BusError::Closed)
        })
        .await
    }

    /// Sends records without waiting for each `PubAck` in turn: one connection carries them in
    /// order, so the stream stores them in order, without a round trip per record.
    async fn publish_batch(
        &self,
        topic: &str,
        messages: Vec<Message>,
    ) -> Result<Vec<Ack>, BusError> {
        timed(BACKEND, topic, self.publish_all(topic, &messages)).await
    }
}
