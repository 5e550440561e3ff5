//! One partition's reader, alive while its member holds the partition's lease: takes over
//! what earlier owners left pending, then follows the stream, one record at a time, in order.

use std::sync::Arc;

use redis::{Value, aio::MultiplexedConnection};
use tokio_util::sync::CancellationToken;

use super::{
    OUTAGE_BACKOFF, PartitionKey,
    codec::{self, Entry},
    connection::Failure,
    keys,
    membership::{LeaseClock, Member},
    scripts,
};
use crate::{BusError, Delivery, Position};

/// Why a reader stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Revoked or shutting down.
    Stopped,
    /// The lease expired or another member holds it.
    LeaseLost,
}

/// Reads `partition` of `topic` until `stop` fires or the lease is lost, then gives the lease
/// up. Returns the partition, for the coordinator's bookkeeping.
pub(super) async fn read_partition(
    member: Arc<Member>,
    (topic, partition): PartitionKey,
    lease: Arc<LeaseClock>,
    stop: CancellationToken,
) -> PartitionKey {
    let mut reader = Reader {
        stream: keys::stream(&topic, partition),
        owner: keys::owner(&topic, partition, member.group()),
        member,
        topic,
        partition,
        lease,
        stop,
        last_acked: None,
        blocking: None,
        failures: 0,
    };
    let end = match reader.take_over().await {
        Ok(()) => reader.follow().await,
        Err(end) => end,
    };
    if let Err(error) = reader.member.release(&reader.topic, partition).await {
        tracing::debug!(%error, "lease not released; it expires by itself");
    }
    tracing::info!(topic = %reader.topic, partition, ?end, "partition reader stopped");
    (reader.topic, partition)
}

struct Reader {
    member: Arc<Member>,
    topic: String,
    partition: u32,
    stream: String,
    owner: String,
    lease: Arc<LeaseClock>,
    stop: CancellationToken,
    /// The last entry this reader acknowledged: where to recreate a vanished group.
    last_acked: Option<String>,
    /// Connection for blocking waits, opened on first need and dropped on error.
    blocking: Option<MultiplexedConnection>,
    /// Consecutive failed commands, for the backoff.
    failures: u32,
}

/// What a fenced read found.
enum Read {
    Entries(Vec<Entry>),
    /// Nothing new; `tail` is the group's last delivered id.
    Idle {
        tail: String,
    },
    LeaseLost,
}

impl Reader {
    /// Claims every pending entry of the group, whoever it was delivered to, and processes
    /// them in id order: the records a dead or departed owner had read but not finished.
    async fn take_over(&mut self) -> Result<(), End> {
        let mut cursor = String::from("0-0");
        loop {
            self.check()?;
            let (next, entries) = match self.claim(&cursor).await {
                Ok(Some(claimed)) => {
                    self.failures = 0;
                    claimed
                }
                Ok(None) => return Err(End::LeaseLost),
                Err(failure) => {
                    self.recover(failure).await?;
                    continue;
                }
            };
            for entry in entries {
                self.handle(entry).await?;
            }
            if next == "0-0" {
                break;
            }
            cursor = next;
        }
        if let Err(error) = self
            .member
            .prune_consumers(&self.topic, self.partition)
            .await
        {
            tracing::debug!(%error, "consumers not pruned");
        }
        Ok(())
    }

    /// Reads new entries until stopped.
    async fn follow(&mut self) -> End {
        loop {
            let read = self.read().await;
            if read.is_ok() {
                self.failures = 0;
            }
            let step = match read {
                Ok(Read::Entries(entries)) => self.handle_all(entries).await,
                Ok(Read::Idle { tail }) => self.wait_after(&tail).await,
                Ok(Read::LeaseLost) => Err(End::LeaseLost),
                Err(failure) => self.recover(failure).await,
            };
            if let Err(end) = step.and_then(|()| self.check()) {
                return end;
            }
        }
    }

    async fn handle_all(&mut self, entries: Vec<Entry>) -> Result<(), End> {
        for entry in entries {
            self.handle(entry).await?;
        }
        Ok(())
    }

    /// Stops before the next record once revoked, or once the lease may have passed on: the
    /// records left are pending and go to the next owner.
    fn check(&self) -> Result<(), End> {
        if self.stop.is_cancelled() {
            Err(End::Stopped)
        } else if !self.lease.is_valid() {
            Err(End::LeaseLost)
        } else {
            Ok(())
        }
    }

    async fn handle(&mut self, entry: Entry) -> Result<(), End> {
        self.check()?;
        match entry.message {
            Some(message) => {
                let delivery = Delivery {
                    topic: self.topic.clone(),
                    partition: self.partition,
                    position: Position::StreamId(entry.id.clone()),
                    message,
                    attempt: 1,
                };
                if self
                    .member
                    .processor
                    .process(delivery, &self.stop)
                    .await
                    .is_err()
                {
                    // Stopped mid-record: left pending, so the next owner processes it.
                    return Err(End::Stopped);
                }
            }
            None => tracing::warn!(
                topic = %self.topic,
                partition = self.partition,
                id = %entry.id,
                "record trimmed from the stream before it was processed (raise bus.redis.max_len)"
            ),
        }
        self.ack(&entry.id).await
    }

    /// Acknowledges a finished record, retrying while the lease lasts: moving on would leave
    /// it pending behind later records, and a next owner would replay it out of order.
    async fn ack(&mut self, id: &str) -> Result<(), End> {
        let mut ack = redis::cmd("XACK");
        ack.arg(&self.stream).arg(self.member.group()).arg(id);
        let mut attempt = 0;
        loop {
            match self
                .member
                .redis
                .query::<i64>(&ack, self.member.tuning.command_timeout)
                .await
            {
                Ok(_) => break,
                // The group vanished with its pending list: recreating it after this record
                // is what acknowledging it would have achieved.
                Err(failure) if failure.code() == Some("NOGROUP") => {
                    if self.create_group(id).await.is_ok() {
                        break;
                    }
                }
                Err(failure) => {
                    tracing::warn!(error = %failure, id, "cannot acknowledge; retrying");
                }
            }
            if !self.lease.is_valid() {
                return Err(End::LeaseLost);
            }
            attempt += 1;
            tokio::time::sleep(OUTAGE_BACKOFF.backoff(attempt)).await;
        }
        self.last_acked = Some(id.to_owned());
        Ok(())
    }

    /// `Some((next cursor, entries))`, or `None` if the lease is not ours.
    async fn claim(&self, cursor: &str) -> Result<Option<(String, Vec<Entry>)>, Failure> {
        let mut claim = scripts::CLAIM.key(&self.owner);
        claim
            .key(&self.stream)
            .arg(&self.member.id)
            .arg(self.member.group())
            .arg(cursor)
            .arg(self.member.tuning.read_count);
        let reply: Value = self
            .member
            .redis
            .script(&claim, self.member.tuning.command_timeout)
            .await?;
        let mut parts = match reply {
            Value::Nil => return Ok(None),
            Value::Array(parts) => parts.into_iter(),
            _ => return Err(Failure::Unexpected("XAUTOCLAIM reply")),
        };
        let next = parts.next().and_then(codec::string);
        let entries = parts.next().and_then(codec::decode_entries);
        let (Some(next), Some(entries)) = (next, entries) else {
            return Err(Failure::Unexpected("XAUTOCLAIM reply"));
        };
        // Redis 7 drops entries trimmed while pending and lists their ids here.
        if let Some(Value::Array(deleted)) = parts.next()
            && !deleted.is_empty()
        {
            tracing::warn!(
                topic = %self.topic,
                partition = self.partition,
                lost = deleted.len(),
                "pending records trimmed from the stream before they were processed \
                 (raise bus.redis.max_len)"
            );
        }
        Ok(Some((next, entries)))
    }

    async fn read(&self) -> Result<Read, Failure> {
        let mut read = scripts::READ.key(&self.owner);
        read.key(&self.stream)
            .arg(&self.member.id)
            .arg(self.member.group())
            .arg(self.member.tuning.read_count);
        let reply: Value = self
            .member
            .redis
            .script(&read, self.member.tuning.command_timeout)
            .await?;
        let mut parts = match reply {
            Value::Nil => return Ok(Read::LeaseLost),
            Value::Array(parts) if parts.len() == 2 => parts.into_iter(),
            _ => return Err(Failure::Unexpected("fenced read reply")),
        };
        let tail = parts.next().and_then(codec::string);
        let entries = parts.next().and_then(codec::decode_entries);
        match (tail, entries) {
            (Some(tail), Some(entries)) if entries.is_empty() => Ok(Read::Idle { tail }),
            (Some(_), Some(entries)) => Ok(Read::Entries(entries)),
            _ => Err(Failure::Unexpected("fenced read reply")),
        }
    }

    /// Waits until the stream has an entry after `tail` (or the block time passes, or the
    /// reader is stopped). A plain `XREAD`: it changes nothing in the group, so it needs no
    /// lease check; the fenced read that follows does the reading.
    async fn wait_after(&mut self, tail: &str) -> Result<(), End> {
        let block = self.member.tuning.block;
        let mut wait = redis::cmd("XREAD");
        wait.arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(u64::try_from(block.as_millis()).unwrap_or(u64::MAX))
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(tail);
        let connection = match &mut self.blocking {
            Some(connection) => connection,
            None => match self.member.redis.dedicated().await {
                Ok(connection) => self.blocking.insert(connection),
                Err(failure) => return self.recover(failure).await,
            },
        };
        let deadline = block + self.member.tuning.command_timeout;
        let waited = tokio::select! {
            waited = tokio::time::timeout(deadline, wait.query_async::<Value>(connection)) => waited,
            () = self.stop.cancelled() => return Err(End::Stopped),
        };
        match waited {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => {
                self.blocking = None;
                self.recover(Failure::Redis(error)).await
            }
            Err(_) => {
                self.blocking = None;
                self.recover(Failure::TimedOut(deadline)).await
            }
        }
    }

    /// After a failed command: recreates a vanished group, or waits out an outage.
    async fn recover(&mut self, failure: Failure) -> Result<(), End> {
        if failure.code() == Some("NOGROUP") {
            // Right after the last record this reader finished; with none, where the
            // subscription starts.
            let at = self
                .last_acked
                .clone()
                .unwrap_or_else(|| self.member.start_id().to_owned());
            if self.create_group(&at).await.is_ok() {
                return Ok(());
            }
        } else {
            tracing::warn!(
                topic = %self.topic,
                partition = self.partition,
                error = %BusError::from(failure),
                "redis command failed; retrying"
            );
        }
        self.failures = self.failures.saturating_add(1);
        tokio::select! {
            () = tokio::time::sleep(OUTAGE_BACKOFF.backoff(self.failures)) => Ok(()),
            () = self.stop.cancelled() => Err(End::Stopped),
        }
    }

    async fn create_group(&self, at: &str) -> Result<(), Failure> {
        let created = self
            .member
            .create_group(&self.topic, self.partition, at)
            .await;
        match &created {
            Ok(()) => tracing::warn!(
                topic = %self.topic,
                partition = self.partition,
                at,
                "consumer group was missing; recreated"
            ),
            Err(error) => tracing::warn!(%error, "cannot recreate the consumer group"),
        }
        created
    }
}
