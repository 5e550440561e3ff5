use std::{sync::Arc, time::UNIX_EPOCH};

use async_trait::async_trait;

use super::{connection::Redis, keys, scripts, topics::TopicRegistry};
use crate::{Admin, BusError, SeekTo};

pub(super) struct RedisAdmin {
    redis: Arc<Redis>,
    topics: Arc<TopicRegistry>,
}

impl RedisAdmin {
    pub(super) fn new(redis: Arc<Redis>, topics: Arc<TopicRegistry>) -> Self {
        Self { redis, topics }
    }
}

#[async_trait]
impl Admin for RedisAdmin {
    /// Records each topic's partition count (keeping one already recorded) and creates its
    /// partition streams, empty, where missing.
    async fn ensure_topics(&self, topics: &[String]) -> Result<(), BusError> {
        let timeout = self.redis.command_timeout();
        for topic in topics {
            let partitions = self.topics.partitions(topic, timeout).await?;
            let mut create = scripts::CREATE_STREAMS.prepare_invoke();
            for partition in 0..partitions {
                create.key(keys::stream(topic, partition));
            }
            self.redis.script::<i64>(&create, timeout).await?;
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), BusError> {
        let pong: String = self
            .redis
            .query(&redis::cmd("PING"), self.redis.command_timeout())
            .await?;
        tracing::trace!(%pong, "redis answered");
        Ok(())
    }

    /// Sets the group's last delivered id on every partition stream (`XGROUP SETID`), creating
    /// the group where it does not exist yet, and drops its pending entries. Stream ids are
    /// Redis's clock in milliseconds, so `SeekTo::Time` is as exact as that clock.
    async fn reset_group(
        &self,
        group: &str,
        topics: &[String],
        to: SeekTo,
    ) -> Result<(), BusError> {
        let timeout = self.redis.command_timeout();
        let at = match to {
            SeekTo::Earliest => "0".to_owned(),
            SeekTo::Latest => "$".to_owned(),
            // Just before the first id of that millisecond: the group reads on from there.
            SeekTo::Time(time) => {
                match time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis()) {
                    0 => "0".to_owned(),
                    millis => format!("{}-{}", millis - 1, u64::MAX),
                }
            }
        };
        for topic in topics {
            let partitions = self.topics.partitions(topic, timeout).await?;
            let mut reset = scripts::RESET_GROUP.prepare_invoke();
            for partition in 0..partitions {
                reset.key(keys::stream(topic, partition));
            }
            reset.arg(group).arg(&at);
            self.redis.script::<i64>(&reset, timeout).await?;
        }
        Ok(())
    }
}
