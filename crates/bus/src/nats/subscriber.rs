use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{
    API_TIMEOUT, BACKEND, Config, Connection, buckets::open_bucket, group::Member,
    membership::GroupTopic, partition::Shared, topology::Topology,
};
use crate::{BusError, Handler, Publisher, Subscriber, Subscription, process::Processor};

/// Consumer groups on JetStream.
pub(super) struct NatsSubscriber {
    connection: Connection,
    topology: Arc<Topology>,
    config: Arc<Config>,
    dlq: Arc<dyn Publisher>,
}

impl NatsSubscriber {
    pub(super) fn new(
        connection: Connection,
        topology: Arc<Topology>,
        config: Arc<Config>,
        dlq: Arc<dyn Publisher>,
    ) -> Self {
        Self {
            connection,
            topology,
            config,
            dlq,
        }
    }

    /// Makes sure the topics' streams and the group buckets exist, and builds the member.
    async fn join(&self, processor: &Arc<Processor>) -> Result<Member, BusError> {
        let subscription = processor.subscription();
        let mut topics = Vec::with_capacity(subscription.topics.len());
        for topic in &subscription.topics {
            let partitions = self.topology.ensure(topic).await?;
            topics.push(GroupTopic::new(&subscription.group, topic, partitions));
        }
        let js = &self.connection.js;
        let replicas = self.config.replicas;
        let bucket = &self.config.group_bucket;
        let leases = open_bucket(js, bucket, self.config.lease_ttl, replicas).await?;
        let cursors =
            open_bucket(js, &format!("{bucket}_cursors"), Duration::ZERO, replicas).await?;
        // Every member must agree on the TTL, so the bucket's own decides.
        let ttl = leases
            .status()
            .await
            .map(|status| status.max_age())
            .unwrap_or(self.config.lease_ttl);
        if ttl != self.config.lease_ttl {
            tracing::warn!(bucket, ?ttl, configured = ?self.config.lease_ttl, "the group bucket's lease TTL differs from bus.nats.lease_ttl_ms; following the bucket");
        }
        if ttl.is_zero() {
            return Err(BusError::Config {
                backend: BACKEND,
                reason: format!("bucket {bucket} has no max_age, so leases would never expire"),
            });
        }
        let fetch_wait = (ttl / 3).min(Duration::from_secs(5));
        let shared = Arc::new(Shared {
            js: js.clone(),
            cursors,
            config: self.config.clone(),
            processor: processor.clone(),
            epoch: self.connection.epoch.clone(),
            fetch_wait,
            lease_margin: ttl / 6,
            op_timeout: (ttl / 3).min(API_TIMEOUT),
        });
        Ok(Member {
            id: format!("{:016x}", rand::random::<u64>()),
            group: subscription.group.clone(),
            bucket: leases,
            ttl,
            topics,
            shared,
        })
    }
}

#[async_trait]
impl Subscriber for NatsSubscriber {
    async fn run(
        &self,
        subscription: Subscription,
        handler: Arc<dyn Handler>,
        shutdown: CancellationToken,
    ) -> Result<(), BusError> {
        let processor = Arc::new(Processor::new(
            BACKEND,
            subscription,
            handler,
            self.dlq.clone(),
        ));
        // The server may be away when the service starts: keep trying, like a running group.
        let mut attempt = 0u32;
        let member = loop {
            match self.join(&processor).await {
                Ok(member) => break member,
                Err(error) if error.is_retryable() => {
                    attempt = attempt.saturating_add(1);
                    tracing::warn!(%error, attempt, "cannot join the consumer group yet");
                    let wait = Duration::from_millis(200 * 2u64.pow(attempt.min(4)));
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = shutdown.cancelled() => return Ok(()),
                    }
                }
                Err(error) => return Err(error),
            }
        };
        tracing::info!(group = %member.group, member = %member.id, "joined the consumer group");
        member.run(shutdown).await;
        Ok(())
    }
}
