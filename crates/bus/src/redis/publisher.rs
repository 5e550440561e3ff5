use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use redis::Cmd;
use switchyard_domain::Message;
use tokio::time::Instant;

use super::{BACKEND, Tuning, codec, connection::Redis, keys, topics::TopicRegistry};
use crate::{Ack, BusError, Position, Publisher, partitioner::partition_for, timed};

/// `XADD` to the key's partition stream; the reply is Redis's acknowledgement.
pub(super) struct RedisPublisher {
    redis: Arc<Redis>,
    topics: Arc<TopicRegistry>,
    max_len: u64,
    timeout: Duration,
}

impl RedisPublisher {
    pub(super) fn new(
        redis: Arc<Redis>,
        topics: Arc<TopicRegistry>,
        tuning: &Tuning,
        timeout: Duration,
    ) -> Self {
        Self {
            redis,
            topics,
            max_len: tuning.max_len,
            timeout,
        }
    }

    fn xadd(&self, topic: &str, partitions: u32, message: &Message) -> (u32, Cmd) {
        let partition = partition_for(message.key.as_deref(), partitions);
        let mut cmd = redis::cmd("XADD");
        cmd.arg(keys::stream(topic, partition))
            // `~` lets Redis trim whole nodes of the stream, far cheaper than an exact length.
            .arg("MAXLEN")
            .arg("~")
            .arg(self.max_len)
            .arg("*");
        codec::encode(&mut cmd, message);
        (partition, cmd)
    }

    /// The whole publish, partition lookup included, fits in one publish timeout.
    fn remaining(&self, deadline: Instant) -> Duration {
        deadline.saturating_duration_since(Instant::now())
    }

    /// Reports a timeout with the publish timeout, not what was left of it.
    fn timed_out(&self, error: BusError) -> BusError {
        match error {
            BusError::Timeout { .. } => BusError::Timeout {
                backend: BACKEND,
                after: self.timeout,
            },
            other => other,
        }
    }
}

#[async_trait]
impl Publisher for RedisPublisher {
    async fn publish(&self, topic: &str, message: Message) -> Result<Ack, BusError> {
        timed(BACKEND, topic, async {
            let deadline = Instant::now() + self.timeout;
            let partitions = self.topics.partitions(topic, self.timeout).await?;
            let (partition, cmd) = self.xadd(topic, partitions, &message);
            let id: String = self.redis.query(&cmd, self.remaining(deadline)).await?;
            Ok(Ack {
                partition,
                position: Position::StreamId(id),
            })
        })
        .await
        .map_err(|e| self.timed_out(e))
    }

    /// Sends every `XADD` in one pipeline: one round trip, applied in order.
    async fn publish_batch(
        &self,
        topic: &str,
        messages: Vec<Message>,
    ) -> Result<Vec<Ack>, BusError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        timed(BACKEND, topic, async {
            let deadline = Instant::now() + self.timeout;
            let partitions = self.topics.partitions(topic, self.timeout).await?;
            let mut pipeline = redis::pipe();
            let mut assigned = Vec::with_capacity(messages.len());
            for message in &messages {
                let (partition, cmd) = self.xadd(topic, partitions, message);
                pipeline.add_command(cmd);
                assigned.push(partition);
            }
            let ids: Vec<String> = self
                .redis
                .pipeline(&pipeline, self.remaining(deadline))
                .await?;
            Ok(assigned
                .into_iter()
                .zip(ids)
                .map(|(partition, id)| Ack {
                    partition,
                    position: Position::StreamId(id),
                })
                .collect())
        })
        .await
        .map_err(|e| self.timed_out(e))
    }
}
