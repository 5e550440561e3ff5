//! Partitioned, append-only in-memory logs.

use std::{collections::VecDeque, sync::Mutex, time::SystemTime};

use switchyard_domain::Message;
use tokio::sync::watch;

use super::{RETENTION, lock};

/// One topic: a fixed number of partition logs.
pub(super) struct TopicLog {
    partitions: Vec<PartitionLog>,
}

struct PartitionLog {
    records: Mutex<Records>,
    /// The next offset to be written; readers wait on it for new records.
    end: watch::Sender<u64>,
}

#[derive(Default)]
struct Records {
    /// Offset of `entries[0]`.
    base: u64,
    entries: VecDeque<Message>,
    /// Append time of each entry, for seeking by time (non-decreasing).
    times: VecDeque<SystemTime>,
}

impl TopicLog {
    pub(super) fn new(partitions: u32) -> Self {
        Self {
            partitions: (0..partitions)
                .map(|_| PartitionLog {
                    records: Mutex::default(),
                    end: watch::Sender::new(0),
                })
                .collect(),
        }
    }

    pub(super) fn partitions(&self) -> u32 {
        u32::try_from(self.partitions.len()).unwrap_or(u32::MAX)
    }

    /// Appends to `partition` and returns the record's offset.
    pub(super) fn append(&self, partition: u32, message: Message) -> u64 {
        let log = &self.partitions[partition as usize];
        let mut records = lock(&log.records);
        let offset = records.base + records.entries.len() as u64;
        records.entries.push_back(message);
        let now = SystemTime::now();
        let now = records.times.back().map_or(now, |last| now.max(*last));
        records.times.push_back(now);
        if records.entries.len() > RETENTION {
            records.entries.pop_front();
            records.times.pop_front();
            records.base += 1;
        }
        drop(records);
        log.end.send_replace(offset + 1);
        offset
    }

    /// The first offset in `partition` appended at or after `time` (the end if none).
    pub(super) fn offset_at(&self, partition: u32, time: SystemTime) -> u64 {
        let records = lock(&self.partitions[partition as usize].records);
        let index = records.times.partition_point(|appended| *appended < time);
        records.base + index as u64
    }

    /// The next offset to be written in `partition`.
    pub(super) fn end(&self, partition: u32) -> u64 {
        *self.partitions[partition as usize].end.borrow()
    }

    fn get(log: &PartitionLog, offset: u64) -> Option<(u64, Message)> {
        let records = lock(&log.records);
        let at = offset.max(records.base);
        let index = usize::try_from(at - records.base).ok()?;
        records
            .entries
            .get(index)
            .map(|message| (at, message.clone()))
    }

    /// The record at `offset` or, if it has been dropped by retention, the oldest one kept;
    /// waits until one exists. Returns the offset actually read.
    pub(super) async fn read(&self, partition: u32, offset: u64) -> (u64, Message) {
        let log = &self.partitions[partition as usize];
        // Fast path: a consumer that is behind finds its record without registering a waiter.
        if let Some(found) = Self::get(log, offset) {
            return found;
        }
        let mut end = log.end.subscribe();
        loop {
            if let Some(found) = Self::get(log, offset) {
                return found;
            }
            // The sender lives as long as the log, so this only fails if the log is dropped.
            if end.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
