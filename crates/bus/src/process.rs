//! What happens to a consumed record, the same on every backend: run the handler, retry with
//! backoff, dead-letter what keeps failing, and only then let the backend acknowledge.

use std::{collections::HashMap, sync::Arc};

use switchyard_domain::Message;
use switchyard_runtime::trace_context;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::{
    BatchHandler, BusError, Delivery, Handler, HandlerError, Publisher, Subscription, subscription,
    telemetry::{ConsumeCounters, Consumed},
};

/// Header naming why a record was dead-lettered.
pub const DLQ_REASON: &str = "dlq-reason";
/// Header naming the topic the record came from.
pub const DLQ_TOPIC: &str = "dlq-topic";
/// Header counting handler attempts before dead-lettering.
pub const DLQ_ATTEMPTS: &str = "dlq-attempts";
/// Header naming the consumer group that gave up on the record.
pub const DLQ_GROUP: &str = "dlq-group";
/// Header with the record's partition and position in its original topic.
pub const DLQ_ORIGIN: &str = "dlq-origin";

/// Longest `dlq-reason` kept: the reason is for a person, and a record's headers are not the
/// place for a whole error chain.
const MAX_REASON_BYTES: usize = 1024;

/// Why and from where a record is dead-lettered: the `dlq-*` headers every DLQ record carries,
/// whoever writes it (a consumer giving up, the outbox relay, the webhook dispatcher), so the
/// gateway can show and redrive them alike.
#[derive(Debug, Clone, Copy)]
pub struct DeadLetter<'a> {
    /// Why, for a person (cut to 1 KiB on a character boundary).
    pub reason: &'a str,
    /// The topic the record belongs on (where a redrive sends it).
    pub topic: &'a str,
    /// Attempts made before giving up.
    pub attempts: u32,
    /// Who gave up: a consumer group or a service.
    pub group: &'a str,
    /// Where the record was: `<partition>@<position>`, or the writer's own locator.
    pub origin: &'a str,
}

impl DeadLetter<'_> {
    /// `message` with the `dlq-*` headers set.
    #[must_use]
    pub fn mark(&self, mut message: Message) -> Message {
        let headers = &mut message.headers;
        headers.insert(
            DLQ_REASON,
            truncate(self.reason, MAX_REASON_BYTES).to_owned(),
        );
        headers.insert(DLQ_TOPIC, self.topic.to_owned());
        headers.insert(DLQ_ATTEMPTS, self.attempts.to_string());
        headers.insert(DLQ_GROUP, self.group.to_owned());
        headers.insert(DLQ_ORIGIN, self.origin.to_owned());
        message
    }
}

/// The outcome that lets the backend acknowledge.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Done {
    /// Handled successfully.
    Handled,
    /// Dead-lettered (and acknowledged by the DLQ's broker).
    DeadLettered,
}

/// The group's handler: per record, or per run of records.
pub(crate) enum Work {
    /// One record at a time.
    One(Arc<dyn Handler>),
    /// Up to this many consecutive records of a partition at a time.
    Batch(Arc<dyn BatchHandler>, usize),
}

/// Runs a group's handler over records with the group's retry policy.
pub(crate) struct Processor {
    backend: &'static str,
    subscription: Subscription,
    /// Handles single records (a batch handler fed one record, for batch handlers).
    one: Arc<dyn Handler>,
    /// The batch handler and its batch size, when there is one.
    batch: Option<(Arc<dyn BatchHandler>, usize)>,
    dlq: Arc<dyn Publisher>,
    counters: HashMap<String, ConsumeCounters>,
}

impl Processor {
    pub(crate) fn new(
        backend: &'static str,
        subscription: Subscription,
        handler: Arc<dyn Handler>,
        dlq: Arc<dyn Publisher>,
    ) -> Self {
        Self::with_work(backend, subscription, Work::One(handler), dlq)
    }

    pub(crate) fn with_work(
        backend: &'static str,
        subscription: Subscription,
        work: Work,
        dlq: Arc<dyn Publisher>,
    ) -> Self {
        let counters = subscription
            .topics
            .iter()
            .map(|topic| {
                (
                    topic.clone(),
                    ConsumeCounters::new(backend, topic, &subscription.group),
                )
            })
            .collect();
        let (one, batch): (Arc<dyn Handler>, _) = match work {
            Work::One(handler) => (handler, None),
            Work::Batch(handler, max) => (
                Arc::new(subscription::OneByOne(handler.clone())),
                Some((handler, max.max(1))),
            ),
        };
        Self {
            backend,
            subscription,
            one,
            batch,
            dlq,
            counters,
        }
    }

    /// Most records [`Processor::process_batch`] takes at once (1 for per-record handlers).
    pub(crate) fn max_batch(&self) -> usize {
        self.batch.as_ref().map_or(1, |(_, max)| *max)
    }

    /// Waits out the backoff after failed attempt `attempt`; `Err(Closed)` if `stop` fires.
    async fn back_off(&self, attempt: u32, stop: &CancellationToken) -> Result<(), BusError> {
        tokio::select! {
            () = tokio::time::sleep(self.subscription.retry.backoff(attempt)) => Ok(()),
            () = stop.cancelled() => Err(BusError::Closed),
        }
    }

    fn count(&self, topic: &str, what: Consumed) {
        if let Some(counters) = self.counters.get(topic) {
            counters.record(what);
        }
    }

    pub(crate) fn subscription(&self) -> &Subscription {
        &self.subscription
    }

    /// Processes one record. `Err(Closed)` means `stop` fired before the record was finished:
    /// do not acknowledge it, so the group delivers it again. A handler call that has started
    /// is always allowed to finish.
    pub(crate) async fn process(
        &self,
        mut delivery: Delivery,
        stop: &CancellationToken,
    ) -> Result<Done, BusError> {
        let span = tracing::info_span!(
            "bus.handle",
            backend = self.backend,
            topic = %delivery.topic,
            partition = delivery.partition,
            position = %delivery.position,
            group = %self.subscription.group,
        );
        let upstream =
            trace_context::extract(&delivery.message.headers, "ce_traceparent").or_else(|| {
                trace_context::extract(&delivery.message.headers, trace_context::TRACEPARENT_HEADER)
            });
        if let Some(parent) = upstream {
            trace_context::set_parent(&span, &parent);
        }
        let retry = self.subscription.retry;
        async move {
            self.count(&delivery.topic, Consumed::Received);
            let mut attempt = 1;
            loop {
                delivery.attempt = attempt;
                let reason = match self.one.handle(&delivery).await {
                    Ok(()) => {
                        self.count(&delivery.topic, Consumed::Acked);
                        return Ok(Done::Handled);
                    }
                    Err(HandlerError::Reject(reason)) => reason,
                    Err(HandlerError::Retry(reason)) if attempt >= retry.max_attempts.max(1) => {
                        reason
                    }
                    Err(HandlerError::Retry(reason)) => {
                        self.count(&delivery.topic, Consumed::Retried);
                        tracing::warn!(attempt, %reason, "handler failed; retrying");
                        self.back_off(attempt, stop).await?;
                        attempt += 1;
                        continue;
                    }
                };
                self.dead_letter(&delivery, &reason, stop).await?;
                return Ok(Done::DeadLettered);
            }
        }
        .instrument(span)
        .await
    }

    /// Processes consecutive records of one partition as one batch (see [`BatchHandler`]).
    /// `Err(Closed)` means `stop` fired before the batch was finished: acknowledge none of it.
    pub(crate) async fn process_batch(
        &self,
        mut batch: Vec<Delivery>,
        stop: &CancellationToken,
    ) -> Result<(), BusError> {
        let Some((handler, _)) = &self.batch else {
            for delivery in batch {
                self.process(delivery, stop).await?;
            }
            return Ok(());
        };
        let Some(first) = batch.first() else {
            return Ok(());
        };
        let span = tracing::info_span!(
            "bus.handle_batch",
            backend = self.backend,
            topic = %first.topic,
            partition = first.partition,
            first = %first.position,
            records = batch.len(),
            group = %self.subscription.group,
        );
        let retry = self.subscription.retry;
        async move {
            for delivery in &batch {
                self.count(&delivery.topic, Consumed::Received);
            }
            let mut attempt = 1;
            let rejected = loop {
                batch.iter_mut().for_each(|d| d.attempt = attempt);
                match handler.handle_batch(&batch).await {
                    Ok(rejected) => break rejected,
                    Err(HandlerError::Retry(reason)) if attempt < retry.max_attempts.max(1) => {
                        for delivery in &batch {
                            self.count(&delivery.topic, Consumed::Retried);
                        }
                        tracing::warn!(attempt, %reason, "batch handler failed; retrying");
                        self.back_off(attempt, stop).await?;
                        attempt += 1;
                    }
                    Err(HandlerError::Retry(reason) | HandlerError::Reject(reason)) => {
                        break batch
                            .iter()
                            .enumerate()
                            .map(|(i, _)| (i, reason.clone()))
                            .collect();
                    }
                }
            };
            let mut dead = vec![false; batch.len()];
            for (index, reason) in rejected {
                if let Some(delivery) = batch.get(index) {
                    self.dead_letter(delivery, &reason, stop).await?;
                    dead[index] = true;
                }
            }
            for (delivery, dead) in batch.iter().zip(dead) {
                if !dead {
                    self.count(&delivery.topic, Consumed::Acked);
                }
            }
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// Publishes the record to the DLQ, retrying a broker outage until it succeeds or `stop`
    /// fires: acknowledging a record that is neither handled nor dead-lettered would lose it.
    async fn dead_letter(
        &self,
        delivery: &Delivery,
        reason: &str,
        stop: &CancellationToken,
    ) -> Result<(), BusError> {
        let origin = format!("{}@{}", delivery.partition, delivery.position);
        let message = DeadLetter {
            reason,
            topic: &delivery.topic,
            attempts: delivery.attempt,
            group: &self.subscription.group,
            origin: &origin,
        }
        .mark(delivery.message.clone());
        let mut attempt = 1;
        loop {
            match self
                .dlq
                .publish(&self.subscription.dlq_topic, message.clone())
                .await
            {
                Ok(_) => {
                    self.count(&delivery.topic, Consumed::DeadLettered);
                    tracing::warn!(%reason, attempts = delivery.attempt, "record dead-lettered");
                    return Ok(());
                }
                Err(error) => {
                    tracing::error!(%error, "cannot publish to the DLQ; holding the record");
                    self.back_off(attempt, stop).await?;
                    attempt = attempt.saturating_add(1);
                }
            }
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_keeps_whole_characters() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        // "é" is two bytes: cutting inside it drops it whole.
        assert_eq!(truncate("aé", 2), "a");
    }

    #[test]
    fn a_dead_letter_carries_every_dlq_header() {
        let marked = DeadLetter {
            reason: &"x".repeat(5_000),
            topic: "t",
            attempts: 3,
            group: "g",
            origin: "2@17",
        }
        .mark(Message::default());
        let header = |name| marked.headers.get_str(name).map(str::len);
        assert_eq!(header(DLQ_REASON), Some(MAX_REASON_BYTES));
        assert_eq!(marked.headers.get_str(DLQ_TOPIC), Some("t"));
        assert_eq!(marked.headers.get_str(DLQ_ATTEMPTS), Some("3"));
        assert_eq!(marked.headers.get_str(DLQ_GROUP), Some("g"));
        assert_eq!(marked.headers.get_str(DLQ_ORIGIN), Some("2@17"));
    }
}
