//! A partition's durable consumer: created on first use, rewound to its first unacknowledged
//! record when deliveries are outstanding (see the module documentation of `nats`).

use async_nats::jetstream::{
    self, ErrorCode,
    consumer::{AckPolicy, DeliverPolicy, PullConsumer, ReplayPolicy, pull},
    stream::ConsumerErrorKind,
};

use super::{Config, names, partition::Reader, unavailable, within};
use crate::{BusError, StartFrom};

impl Reader {
    fn consumer_name(&self) -> String {
        names::consumer(&self.shared.processor.subscription().group, self.partition)
    }

    fn stream_name(&self) -> String {
        names::stream(&self.topic)
    }

    /// Opens the consumer, creating it on first use and rewinding it when records were
    /// handed out that nobody acknowledged.
    pub(super) async fn open(&self) -> Result<PullConsumer, BusError> {
        let (name, stream) = (self.consumer_name(), self.stream_name());
        let found = within(
            self.shared.op_timeout,
            self.shared
                .js
                .get_consumer_from_stream::<pull::Config, _, _>(&name, &stream),
        )
        .await?;
        match found {
            Ok(consumer) => {
                let info = consumer.cached_info();
                #[allow(clippy::cast_precision_loss)]
                self.lag
                    .set((info.num_pending + info.num_ack_pending as u64) as f64);
                let unfinished = info.num_ack_pending > 0 || info.num_waiting > 0;
                if !unfinished && self.config_matches(&info.config) {
                    return Ok(consumer);
                }
                let start = info.ack_floor.stream_sequence + 1;
                tracing::info!(
                    topic = %self.topic, partition = self.partition, start,
                    unacknowledged = info.num_ack_pending, waiting = info.num_waiting,
                    "rewinding the consumer to its first unacknowledged record"
                );
                self.rewind(start).await
            }
            Err(e) if is_not_found(e.kind()) => {
                let cursor = within(
                    self.shared.op_timeout,
                    self.shared.cursors.get(&self.cursor_key),
                )
                .await?
                .map_err(|e| unavailable("reading the rewind cursor", e))?
                .and_then(|v| std::str::from_utf8(&v).ok()?.parse::<u64>().ok());
                let policy = match (cursor, self.shared.processor.subscription().start) {
                    (Some(start_sequence), _) => DeliverPolicy::ByStartSequence { start_sequence },
                    (None, StartFrom::Earliest) => DeliverPolicy::All,
                    (None, StartFrom::Latest) => DeliverPolicy::New,
                };
                let consumer = self.create(policy).await?;
                if cursor.is_some() {
                    self.clear_cursor().await;
                }
                Ok(consumer)
            }
            Err(e) => Err(unavailable("consumer info", e)),
        }
    }

    /// Deletes the consumer and creates it again at `start`. The cursor keeps `start` while
    /// no consumer exists, so a crash in between resumes from it.
    async fn rewind(&self, start: u64) -> Result<PullConsumer, BusError> {
        let op = self.shared.op_timeout;
        within(
            op,
            self.shared
                .cursors
                .put(&self.cursor_key, start.to_string().into()),
        )
        .await?
        .map_err(|e| unavailable("writing the rewind cursor", e))?;
        let deleted = within(
            op,
            self.shared
                .js
                .delete_consumer_from_stream(self.consumer_name(), self.stream_name()),
        )
        .await?;
        if let Err(e) = deleted
            && !is_not_found(e.kind())
        {
            return Err(unavailable("deleting the consumer", e));
        }
        let consumer = self
            .create(DeliverPolicy::ByStartSequence {
                start_sequence: start,
            })
            .await?;
        self.clear_cursor().await;
        Ok(consumer)
    }

    async fn clear_cursor(&self) {
        let cleared = within(
            self.shared.op_timeout,
            self.shared.cursors.purge(&self.cursor_key),
        )
        .await;
        if !matches!(cleared, Ok(Ok(()))) {
            // Harmless while the consumer exists: the cursor is read only when it does not.
            tracing::debug!(key = %self.cursor_key, "rewind cursor not cleared");
        }
    }

    fn consumer_config(&self, deliver_policy: DeliverPolicy) -> pull::Config {
        consumer_config(
            &self.shared.config,
            &self.shared.processor.subscription().group,
            &self.topic,
            self.partition,
            deliver_policy,
        )
    }

    /// Whether an existing consumer was made with today's settings.
    fn config_matches(&self, existing: &jetstream::consumer::Config) -> bool {
        let wanted = self.consumer_config(DeliverPolicy::All);
        existing.ack_wait == wanted.ack_wait
            && existing.max_deliver == wanted.max_deliver
            && existing.max_ack_pending == wanted.max_ack_pending
            && existing.filter_subject == wanted.filter_subject
            && existing.inactive_threshold == wanted.inactive_threshold
    }

    async fn create(&self, policy: DeliverPolicy) -> Result<PullConsumer, BusError> {
        within(
            self.shared.op_timeout,
            self.shared
                .js
                .create_consumer_on_stream(self.consumer_config(policy), self.stream_name()),
        )
        .await?
        .map_err(|e| unavailable("creating the consumer", e))
    }
}

/// The durable consumer of `group` on one partition of `topic`.
pub(super) fn consumer_config(
    config: &Config,
    group: &str,
    topic: &str,
    partition: u32,
    deliver_policy: DeliverPolicy,
) -> pull::Config {
    pull::Config {
        durable_name: Some(names::consumer(group, partition)),
        description: Some(format!(
            "Switchyard group {group}, topic {topic} partition {partition}"
        )),
        deliver_policy,
        ack_policy: AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        max_deliver: config.max_deliver,
        max_ack_pending: i64::try_from(config.fetch_batch).unwrap_or(i64::MAX),
        filter_subject: names::subject(topic, partition),
        replay_policy: ReplayPolicy::Instant,
        inactive_threshold: config.group_retention,
        ..pull::Config::default()
    }
}

pub(super) fn is_not_found(kind: ConsumerErrorKind) -> bool {
    matches!(kind, ConsumerErrorKind::JetStream(e) if e.error_code() == ErrorCode::CONSUMER_NOT_FOUND)
}
