//! Partition counts, recorded in Redis per topic so every client maps keys alike.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use super::{connection::Redis, keys, scripts};
use crate::BusError;

/// Each topic's partition count, read from Redis once per process (a topic never changes its
/// count: that would move keys between partitions and break their order).
pub(super) struct TopicRegistry {
    redis: Arc<Redis>,
    /// What a topic gets if this client is the first to use it.
    default_partitions: u32,
    known: Mutex<HashMap<String, u32>>,
}

impl TopicRegistry {
    pub(super) fn new(redis: Arc<Redis>, default_partitions: u32) -> Self {
        Self {
            redis,
            default_partitions: default_partitions.max(1),
            known: Mutex::default(),
        }
    }

    /// The topic's partition count. A topic nobody used yet is recorded with ours, the way a
    /// Kafka broker creates a topic on first use.
    pub(super) async fn partitions(&self, topic: &str, timeout: Duration) -> Result<u32, BusError> {
        if let Some(partitions) = self.lock().get(topic) {
            return Ok(*partitions);
        }
        let mut register = scripts::REGISTER_TOPIC.key(keys::meta(topic));
        register.arg(self.default_partitions);
        let recorded: i64 = self.redis.script(&register, timeout).await?;
        let partitions = u32::try_from(recorded)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| BusError::Config {
                backend: super::BACKEND,
                reason: format!("{} holds {recorded} partitions", keys::meta(topic)),
            })?;
        self.lock().insert(topic.to_owned(), partitions);
        Ok(partitions)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        // A panic while holding the lock leaves a plain map in a usable state.
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
