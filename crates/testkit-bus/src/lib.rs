//! Test support on the bus, for the services' integration tests: [`TopicReader`] reads
//! everything a service wrote to a topic, decoded, through a consumer group of its own.
//!
//! A crate of its own rather than part of `switchyard-testkit` because the bus's own tests
//! use the testkit: the testkit cannot depend on the bus.

#![allow(clippy::expect_used)] // test support: a broken reader must fail the test loudly

use std::{fmt::Debug, sync::Arc, time::Duration};

use switchyard_bus::{Bus, Delivery, HandlerError, RetryPolicy, StartFrom, Subscription};
use switchyard_domain::Message;
use switchyard_testkit::unique_name;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Records a reader keeps before its consumer waits for the test to take them.
const BUFFER: usize = 65_536;

/// Every record of one topic from its start, decoded, read by a consumer group of its own.
/// Stops reading when dropped.
pub struct TopicReader<T> {
    records: mpsc::Receiver<T>,
    stop: CancellationToken,
    topic: String,
}

impl TopicReader<Message> {
    /// Reads `topic`'s records as they are.
    pub fn messages(bus: &Bus, topic: impl Into<String>) -> Self {
        Self::start(bus, topic, |message| Ok(message.clone()))
    }
}

impl<T: Send + 'static> TopicReader<T> {
    /// Reads `topic`, decoding each record with `decode`. A record that does not decode fails
    /// the test (the panic names its position); it is never skipped.
    pub fn start(
        bus: &Bus,
        topic: impl Into<String>,
        decode: fn(&Message) -> Result<T, String>,
    ) -> Self {
        let topic = topic.into();
        let (tx, records) = mpsc::channel(BUFFER);
        let stop = CancellationToken::new();
        let subscription = Subscription {
            group: unique_name("reader"),
            topics: vec![topic.clone()],
            retry: RetryPolicy::default(),
            dlq_topic: unique_name("reader-dlq"),
            start: StartFrom::Earliest,
        };
        let handler = move |delivery: Delivery| {
            let tx = tx.clone();
            async move {
                let decoded = decode(&delivery.message)
                    .unwrap_or_else(|e| panic!("undecodable record at {}: {e}", delivery.position));
                tx.send(decoded)
                    .await
                    .map_err(|e| HandlerError::Retry(e.to_string()))
            }
        };
        let subscriber = bus.subscriber.clone();
        let token = stop.clone();
        tokio::spawn(async move { subscriber.run(subscription, Arc::new(handler), token).await });
        Self {
            records,
            stop,
            topic,
        }
    }

    /// The next record, waiting up to 30 s.
    pub async fn next(&mut self) -> T {
        self.next_within(Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no record on {} within 30 s", self.topic))
    }

    /// The next record if one arrives within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<T> {
        tokio::time::timeout(wait, self.records.recv())
            .await
            .ok()
            .flatten()
    }

    /// Asserts nothing more arrives within `quiet`.
    pub async fn expect_no_more(&mut self, quiet: Duration)
    where
        T: Debug,
    {
        if let Some(record) = self.next_within(quiet).await {
            panic!("unexpected record on {}: {record:?}", self.topic);
        }
    }

    /// Collects records until `done` holds for what arrived, or fails after `within` with
    /// what did.
    pub async fn until(&mut self, within: Duration, done: impl Fn(&[T]) -> bool) -> Vec<T>
    where
        T: Debug,
    {
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = Vec::new();
        while !done(&seen) {
            match tokio::time::timeout_at(deadline, self.records.recv()).await {
                Ok(Some(record)) => seen.push(record),
                Ok(None) => panic!("reader of {} stopped", self.topic),
                Err(_) => panic!(
                    "{}: condition not met within {within:?}; {} record(s): {seen:#?}",
                    self.topic,
                    seen.len()
                ),
            }
        }
        seen
    }

    /// Whatever arrives until nothing has for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<T> {
        let mut seen = Vec::new();
        while let Some(record) = self.next_within(quiet).await {
            seen.push(record);
        }
        seen
    }
}

impl<T> Drop for TopicReader<T> {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
