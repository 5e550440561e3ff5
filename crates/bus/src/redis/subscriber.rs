use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{
    BACKEND, OUTAGE_BACKOFF, Tuning, connection::Redis, coordinator::Coordinator,
    membership::Member, topics::TopicRegistry,
};
use crate::{BusError, Handler, Publisher, Subscriber, Subscription, process::Processor};

pub(super) struct RedisSubscriber {
    redis: Arc<Redis>,
    topics: Arc<TopicRegistry>,
    tuning: Tuning,
    dlq: Arc<dyn Publisher>,
}

impl RedisSubscriber {
    pub(super) fn new(
        redis: Arc<Redis>,
        topics: Arc<TopicRegistry>,
        tuning: Tuning,
        dlq: Arc<dyn Publisher>,
    ) -> Self {
        Self {
            redis,
            topics,
            tuning,
            dlq,
        }
    }

    /// Reads each topic's partition count and makes sure every partition has the group,
    /// waiting out an outage. `None` if shut down meanwhile.
    async fn join(
        &self,
        member: &Member,
        shutdown: &CancellationToken,
    ) -> Result<Option<Vec<(String, u32)>>, BusError> {
        let mut attempt = 0;
        loop {
            match self.prepare(member).await {
                Ok(topics) => return Ok(Some(topics)),
                Err(error) if error.is_retryable() => {
                    tracing::warn!(%error, "cannot join the group yet; retrying");
                    attempt += 1;
                    tokio::select! {
                        () = tokio::time::sleep(OUTAGE_BACKOFF.backoff(attempt)) => {}
                        () = shutdown.cancelled() => return Ok(None),
                    }
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Groups are created for every partition when a member joins, so `StartFrom::Latest`
    /// means "after the join" on all of them, not "after this member got the partition".
    async fn prepare(&self, member: &Member) -> Result<Vec<(String, u32)>, BusError> {
        let timeout = self.tuning.command_timeout;
        let mut topics = Vec::new();
        for topic in &member.processor.subscription().topics {
            let partitions = self.topics.partitions(topic, timeout).await?;
            for partition in 0..partitions {
                member
                    .create_group(topic, partition, member.start_id())
                    .await?;
            }
            topics.push((topic.clone(), partitions));
        }
        Ok(topics)
    }
}

#[async_trait]
impl Subscriber for RedisSubscriber {
    async fn run(
        &self,
        subscription: Subscription,
        handler: Arc<dyn Handler>,
        shutdown: CancellationToken,
    ) -> Result<(), BusError> {
        let processor = Processor::new(BACKEND, subscription, handler, self.dlq.clone());
        let member = Arc::new(Member::new(self.redis.clone(), processor, self.tuning));
        let Some(topics) = self.join(&member, &shutdown).await? else {
            return Ok(());
        };
        tracing::info!(group = member.group(), member = %member.id, "joined the group");
        Coordinator::new(member, topics, shutdown).run().await;
        Ok(())
    }
}
