//! One member of a consumer group: its identity, its heartbeats and leases in Redis, and the
//! assignment every member computes alike (see the module's design notes).

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use redis::Value;
use tokio::time::Instant;

use super::{
    PartitionKey, Tuning,
    connection::{Failure, Redis},
    keys, scripts,
};
use crate::{StartFrom, process::Processor};

/// A member of one group, shared by its coordinator and its partition readers.
pub(super) struct Member {
    pub(super) redis: Arc<Redis>,
    pub(super) processor: Processor,
    /// Unique per `run`; also the member's Redis consumer name.
    pub(super) id: String,
    pub(super) tuning: Tuning,
}

/// Whether a lease request may take a free lease or only keep one already held.
#[derive(Debug, Clone, Copy)]
pub(super) enum LeaseRequest {
    Acquire,
    Renew,
}

impl Member {
    pub(super) fn new(redis: Arc<Redis>, processor: Processor, tuning: Tuning) -> Self {
        Self {
            redis,
            processor,
            id: format!("{}-{:016x}", std::process::id(), rand::random::<u64>()),
            tuning,
        }
    }

    pub(super) fn group(&self) -> &str {
        &self.processor.subscription().group
    }

    fn timeout(&self) -> Duration {
        self.tuning.command_timeout
    }

    /// Renews this member's membership of `topic`'s readers; returns the live members, sorted.
    pub(super) async fn heartbeat(&self, topic: &str) -> Result<Vec<String>, Failure> {
        let mut heartbeat = scripts::HEARTBEAT.key(keys::members(topic, self.group()));
        heartbeat.arg(&self.id).arg(millis(self.tuning.session));
        let mut live: Vec<String> = self.redis.script(&heartbeat, self.timeout()).await?;
        live.sort_unstable();
        Ok(live)
    }

    /// Leaves `topic`'s readers at once, rather than after the session timeout.
    pub(super) async fn leave(&self, topic: &str) -> Result<(), Failure> {
        let mut leave = redis::cmd("ZREM");
        leave.arg(keys::members(topic, self.group())).arg(&self.id);
        self.redis.query::<i64>(&leave, self.timeout()).await?;
        Ok(())
    }

    /// Takes or renews leases; one flag per lease, in order: whether this member holds it.
    pub(super) async fn leases(
        &self,
        leases: &[String],
        request: LeaseRequest,
    ) -> Result<Vec<bool>, Failure> {
        let mut script = scripts::LEASES.prepare_invoke();
        for lease in leases {
            script.key(lease);
        }
        let request = match request {
            LeaseRequest::Acquire => "acquire",
            LeaseRequest::Renew => "renew",
        };
        script
            .arg(&self.id)
            .arg(millis(self.tuning.session))
            .arg(request);
        let held: Vec<i64> = self.redis.script(&script, self.timeout()).await?;
        if held.len() != leases.len() {
            return Err(Failure::Unexpected("lease flags"));
        }
        Ok(held.into_iter().map(|flag| flag == 1).collect())
    }

    /// Gives a lease up, if this member still holds it.
    pub(super) async fn release(&self, topic: &str, partition: u32) -> Result<(), Failure> {
        let mut release = scripts::RELEASE.key(keys::owner(topic, partition, self.group()));
        release.arg(&self.id);
        self.redis
            .script::<i64>(&release, self.timeout())
            .await
            .map(drop)
    }

    /// Deletes the partition's consumers that are gone and hold nothing.
    pub(super) async fn prune_consumers(&self, topic: &str, partition: u32) -> Result<(), Failure> {
        let mut prune = scripts::PRUNE_CONSUMERS.key(keys::stream(topic, partition));
        prune
            .key(keys::members(topic, self.group()))
            .arg(self.group());
        let removed: i64 = self.redis.script(&prune, self.timeout()).await?;
        if removed > 0 {
            tracing::debug!(
                topic,
                partition,
                removed,
                "deleted idle consumers of gone members"
            );
        }
        Ok(())
    }

    /// Creates the partition's consumer group at entry id `at` (and the stream, if missing); a
    /// group that exists is left as it is.
    pub(super) async fn create_group(
        &self,
        topic: &str,
        partition: u32,
        at: &str,
    ) -> Result<(), Failure> {
        let mut create = redis::cmd("XGROUP");
        create
            .arg("CREATE")
            .arg(keys::stream(topic, partition))
            .arg(self.group())
            .arg(at)
            .arg("MKSTREAM");
        match self.redis.query::<()>(&create, self.timeout()).await {
            Err(failure) if failure.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// How many entries of each partition the group has not read yet (`XINFO GROUPS`'s
    /// `lag`; `None` where Redis cannot tell, e.g. after entries were deleted, or before 7.0).
    pub(super) async fn lags(
        &self,
        partitions: &[PartitionKey],
    ) -> Result<Vec<Option<u64>>, Failure> {
        let mut pipeline = redis::pipe();
        for (topic, partition) in partitions {
            pipeline
                .cmd("XINFO")
                .arg("GROUPS")
                .arg(keys::stream(topic, *partition));
        }
        let replies: Vec<Value> = self.redis.pipeline(&pipeline, self.timeout()).await?;
        Ok(replies
            .into_iter()
            .map(|groups| self.lag_in(groups))
            .collect())
    }

    /// This group's `lag` in one `XINFO GROUPS` reply: `[[field, value, ...], ...]`.
    fn lag_in(&self, groups: Value) -> Option<u64> {
        let Value::Array(groups) = groups else {
            return None;
        };
        groups.into_iter().find_map(|group| {
            let Value::Array(fields) = group else {
                return None;
            };
            let mut name = None;
            let mut lag = None;
            for pair in fields.chunks_exact(2) {
                match (&pair[0], &pair[1]) {
                    (Value::BulkString(field), Value::BulkString(value)) if field == b"name" => {
                        name = Some(value.as_slice());
                    }
                    (Value::BulkString(field), Value::Int(value)) if field == b"lag" => {
                        lag = u64::try_from(*value).ok();
                    }
                    _ => {}
                }
            }
            (name == Some(self.group().as_bytes()))
                .then_some(lag)
                .flatten()
        })
    }

    /// Where a new group starts: `0` reads what the stream retains, `$` only what comes next.
    pub(super) fn start_id(&self) -> &'static str {
        match self.processor.subscription().start {
            StartFrom::Earliest => "0",
            StartFrom::Latest => "$",
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The partitions of a topic that `me` reads: partition `p` goes to the `p mod n`-th of the `n`
/// live members sorted by id. Empty while `me` is not among them (its heartbeat has not
/// landed), so a member never reads on a view that leaves it out.
pub(super) fn assigned(live: &[String], me: &str, partitions: u32) -> Vec<u32> {
    let Some(index) = live.iter().position(|member| member == me) else {
        return Vec::new();
    };
    let members = u32::try_from(live.len()).unwrap_or(u32::MAX);
    let index = u32::try_from(index).unwrap_or(u32::MAX);
    (0..partitions).filter(|p| p % members == index).collect()
}

/// This member's own view of one lease: valid until a deadline measured from before the last
/// successful renewal was sent, so never later than the expiry Redis applies.
pub(super) struct LeaseClock {
    valid_until: Mutex<Instant>,
}

impl LeaseClock {
    pub(super) fn until(deadline: Instant) -> Self {
        Self {
            valid_until: Mutex::new(deadline),
        }
    }

    pub(super) fn extend_to(&self, deadline: Instant) {
        let mut valid_until = self
            .valid_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *valid_until = (*valid_until).max(deadline);
    }

    pub(super) fn is_valid(&self) -> bool {
        Instant::now()
            < *self
                .valid_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn members(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("m{i:02}")).collect()
    }

    #[test]
    fn every_partition_has_exactly_one_member_and_the_split_is_even() {
        for n in 1..6 {
            let live = members(n);
            let mut owners: BTreeMap<u32, usize> = BTreeMap::new();
            for member in &live {
                let mine = assigned(&live, member, 12);
                assert!(mine.len() >= 12 / n && mine.len() <= 12 / n + 1);
                for p in mine {
                    *owners.entry(p).or_default() += 1;
                }
            }
            assert_eq!(owners.len(), 12);
            assert!(owners.values().all(|count| *count == 1));
        }
    }

    #[test]
    fn a_member_missing_from_the_view_reads_nothing() {
        assert!(assigned(&members(2), "stranger", 4).is_empty());
    }

    #[test]
    fn more_members_than_partitions_leaves_some_idle() {
        let live = members(3);
        assert_eq!(assigned(&live, "m00", 2), vec![0]);
        assert_eq!(assigned(&live, "m01", 2), vec![1]);
        assert!(assigned(&live, "m02", 2).is_empty());
    }
}
