//! The delivery engine: turns events and due retries into HTTP attempts and records what
//! became of each delivery.
//!
//! A delivery (one event for one endpoint) ends in exactly one terminal state: delivered
//! (`SUCCEEDED`), dead-lettered after the last retry (`EXHAUSTED`, plus the DLQ record and a
//! `switchyard.delivery.exhausted` event), or stopped because its endpoint was disabled,
//! paused or deleted (`SKIPPED`). Between attempts it waits on a retry topic.
//!
//! Isolation: a partition waits for an attempt at most `inline_wait`. An attempt still
//! running then is handed over: its next attempt is scheduled on the retry topic right away
//! (due after the attempt's timeout plus the schedule's wait, so it cannot overtake it) and
//! the attempt finishes in the background. If it succeeds, this replica remembers, and the
//! scheduled retry is dropped when it falls due; after a crash it is sent again — at least
//! once, never lost. Endpoint slots and the circuit breaker keep a dead or slow endpoint
//! from taking more than its share meanwhile.

use std::{
    collections::{HashSet, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

use bytes::Bytes;
use futures::future::join_all;
use prost::Message as _;
use switchyard_bus::{DeadLetter, Delivery, HandlerError, Publisher};
use switchyard_domain::{
    Event, EventId, EventType, Message, TenantId, Topics,
    wire::{DELIVERY_ATTEMPT_CONTENT_TYPE, DeliveryAttempt, delivery_attempt::Outcome as Recorded},
};
use switchyard_runtime::{Shutdown, settings::DispatcherSettings};
use tokio_util::task::TaskTracker;

use crate::{
    breaker::Admission,
    catalog::{Catalog, Endpoint},
    metrics::{self, Terminal},
    retry::{self, Pending, Schedule},
    sender::{Failure, Outcome, Sender},
};

/// Type of the event announcing a delivery that used up its retries.
pub const DELIVERY_EXHAUSTED: &str = "switchyard.delivery.exhausted";
/// Type of the event announcing a disabled endpoint.
pub const ENDPOINT_DISABLED: &str = "switchyard.endpoint.disabled";
/// `source` of the events the dispatcher publishes.
pub const SOURCE: &str = "/switchyard/webhook-dispatcher";
/// Header on DLQ records: the endpoint the delivery was for.
pub const DLQ_ENDPOINT: &str = "dlq-endpoint";

/// Deliveries finished by handed-over attempts, remembered so their scheduled retry is not
/// sent again. Bounded: the oldest are forgotten first (a forgotten one is merely sent
/// twice).
struct Recent {
    capacity: usize,
    inner: Mutex<RecentSet>,
}

/// `(event id, endpoint id)` pairs, and their insertion order for eviction.
type Delivered = (String, String);
type RecentSet = (HashSet<Delivered>, VecDeque<Delivered>);

impl Recent {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecentSet> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn insert(&self, key: (String, String)) {
        let mut inner = self.lock();
        let (set, order) = &mut *inner;
        if set.insert(key.clone()) {
            order.push_back(key);
            if order.len() > self.capacity
                && let Some(old) = order.pop_front()
            {
                set.remove(&old);
            }
        }
    }

    fn take(&self, key: &(String, String)) -> bool {
        self.lock().0.remove(key)
    }
}

/// Records to publish once a batch's attempts are done, before its offsets are stored.
#[derive(Default)]
struct Outputs {
    attempts: Vec<Message>,
    /// `(retry number, record)`.
    retries: Vec<(u32, Message)>,
    dead: Vec<Message>,
    events: Vec<Message>,
}

impl Outputs {
    fn merge(&mut self, other: Self) {
        self.attempts.extend(other.attempts);
        self.retries.extend(other.retries);
        self.dead.extend(other.dead);
        self.events.extend(other.events);
    }

    fn is_empty(&self) -> bool {
        self.attempts.is_empty()
            && self.retries.is_empty()
            && self.dead.is_empty()
            && self.events.is_empty()
    }
}

/// One delivery's next step.
struct Job {
    record: Message,
    event: Arc<Event>,
    /// The request body: the event in structured mode, encoded once for all its endpoints.
    body: Bytes,
    endpoint: Arc<Endpoint>,
    attempt: u32,
}

/// See the module documentation.
pub struct Dispatcher {
    catalog: Arc<Catalog>,
    sender: Sender,
    schedule: Schedule,
    publisher: Arc<dyn Publisher>,
    topics: Topics,
    inline_wait: Duration,
    timeout: Duration,
    disable_after: Option<Duration>,
    recent: Recent,
    background: TaskTracker,
    shutdown: Shutdown,
}

impl Dispatcher {
    /// A dispatcher over `catalog`, publishing through `publisher`.
    #[must_use]
    pub fn new(
        catalog: Arc<Catalog>,
        sender: Sender,
        settings: &DispatcherSettings,
        publisher: Arc<dyn Publisher>,
        topics: Topics,
        shutdown: Shutdown,
    ) -> Self {
        Self {
            catalog,
            sender,
            schedule: Schedule::new(&settings.retry_schedule, settings.retry_jitter),
            publisher,
            topics,
            inline_wait: Duration::from_millis(settings.inline_wait_ms),
            timeout: Duration::from_millis(settings.timeout_ms),
            disable_after: (settings.disable_after_secs > 0)
                .then(|| Duration::from_secs(settings.disable_after_secs)),
            recent: Recent::new(100_000),
            background: TaskTracker::new(),
            shutdown,
        }
    }

    /// The retry topics this dispatcher reads and writes. The first exists even with a
    /// schedule of no retries: the gateway's replays and redrives arrive there
    /// (`switchyard_domain::redelivery::FIRST_STAGE`).
    #[must_use]
    pub fn retry_topics(&self) -> Vec<String> {
        (1..=self
            .schedule
            .retries()
            .max(switchyard_domain::redelivery::FIRST_STAGE))
            .map(|n| self.topics.delivery_retry(n))
            .collect()
    }

    /// The catalog of endpoints.
    #[must_use]
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// Waits (up to `limit`) for handed-over attempts to finish and record themselves.
    pub async fn drain(&self, limit: Duration) {
        self.background.close();
        if tokio::time::timeout(limit, self.background.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                unfinished = self.background.len(),
                "handed-over attempts still running at shutdown; their retries are scheduled"
            );
        }
    }

    /// Handles a batch of one partition of the events topic or of a retry topic. Returns
    /// the indexes of records that cannot be read, with the reason, for the DLQ.
    pub async fn handle(
        self: &Arc<Self>,
        batch: &[Delivery],
    ) -> Result<Vec<(usize, String)>, HandlerError> {
        let mut rejected = Vec::new();
        let mut outputs = Outputs::default();
        let retry_stage = batch
            .first()
            .is_some_and(|d| d.topic != self.topics.events());
        let mut due: Vec<(SystemTime, usize, Job)> = Vec::new();
        for (index, delivery) in batch.iter().enumerate() {
            let event = match Event::from_message(&delivery.message) {
                Ok(event) => Arc::new(event),
                Err(error) => {
                    rejected.push((index, format!("not a CloudEvent: {error}")));
                    continue;
                }
            };
            if retry_stage {
                match retry::decode(&delivery.message) {
                    Ok(pending) => {
                        if let Some(job) =
                            self.resume(&delivery.message, &event, &pending, &mut outputs)
                        {
                            due.push((pending.due, index, job));
                        }
                    }
                    Err(error) => rejected.push((index, error.to_string())),
                }
            } else {
                self.observe(&event);
                let mut body = None;
                for endpoint in self.catalog.matching(event.tenant(), event.event_type()) {
                    if loops_back(&event, &endpoint) {
                        continue;
                    }
                    let body = body
                        .get_or_insert_with(|| Bytes::from(event.to_structured_json()))
                        .clone();
                    due.push((
                        SystemTime::UNIX_EPOCH,
                        index,
                        Job {
                            record: delivery.message.clone(),
                            event: event.clone(),
                            body,
                            endpoint,
                            attempt: 1,
                        },
                    ));
                }
            }
        }
        // Records of a retry topic fall due in about the order they were written; sorting
        // the batch absorbs the jitter between neighbours.
        due.sort_by_key(|(at, index, _)| (*at, *index));
        let mut running = Vec::with_capacity(due.len());
        for (at, _, job) in due {
            if let Ok(wait) = at.duration_since(SystemTime::now()) {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = self.shutdown.triggered() => {
                        return Err(HandlerError::Retry("shutting down before a retry fell due".into()));
                    }
                }
            }
            // Spawned, not just collected: an attempt starts when its record falls due,
            // while the batch goes on waiting for the next one.
            let this = self.clone();
            running.push(tokio::spawn(async move { this.run(job).await }));
        }
        for done in join_all(running).await {
            match done {
                Ok(done) => outputs.merge(done),
                Err(error) => {
                    return Err(HandlerError::Retry(format!(
                        "a delivery task failed: {error}"
                    )));
                }
            }
        }
        self.publish(outputs).await?;
        Ok(rejected)
    }

    /// A retry record that fell due: the job to run, or `None` when the delivery ends here.
    fn resume(
        &self,
        record: &Message,
        event: &Arc<Event>,
        pending: &Pending,
        outputs: &mut Outputs,
    ) -> Option<Job> {
        let endpoint = self.catalog.get(event.tenant(), &pending.endpoint);
        match &endpoint {
            Some(endpoint) => endpoint.health.metrics.retry_taken(),
            None => metrics::retry_taken_for_deleted(event.tenant(), &pending.endpoint),
        }
        let key = (event.id().as_str().to_owned(), pending.endpoint.clone());
        if self.recent.take(&key) {
            // A handed-over attempt delivered it after this retry was scheduled.
            return None;
        }
        let Some(endpoint) = endpoint else {
            metrics::skipped_for_deleted(event.tenant(), &pending.endpoint);
            outputs.attempts.push(self.skipped_record(
                event,
                &pending.endpoint,
                "",
                pending.attempt,
                "endpoint deleted",
            ));
            return None;
        };
        if let Some(reason) = inactive(&endpoint) {
            endpoint.health.metrics.finished(Terminal::Skipped);
            outputs.attempts.push(self.skipped_record(
                event,
                &pending.endpoint,
                endpoint.config.url.as_str(),
                pending.attempt,
                &reason,
            ));
            return None;
        }
        Some(Job {
            record: strip_schedule(record),
            event: event.clone(),
            body: Bytes::from(event.to_structured_json()),
            endpoint,
            attempt: pending.attempt,
        })
    }

    /// Learns from the dispatcher's own announcements on the events topic: an endpoint
    /// disabled by another replica is disabled here too.
    fn observe(&self, event: &Event) {
        if event.event_type().as_str() != ENDPOINT_DISABLED || event.source() != SOURCE {
            return;
        }
        if let Some(endpoint) = event
            .subject()
            .and_then(|id| self.catalog.get(event.tenant(), id))
            && endpoint
                .health
                .disable("disabled by another replica".into())
        {
            tracing::info!(tenant = %event.tenant(), endpoint = %endpoint.config.id, "endpoint disabled elsewhere");
        }
    }

    async fn run(self: &Arc<Self>, job: Job) -> Outputs {
        let endpoint = job.endpoint.clone();
        if endpoint.health.breaker.admit(Instant::now()) == Admission::Refused {
            let outcome = Outcome::not_sent(
                Failure::CircuitOpen,
                "not sent: the endpoint's circuit is open after consecutive failures".into(),
            );
            return self.conclude(&job, &outcome, None).0;
        }
        let deadline = tokio::time::Instant::now() + self.inline_wait;
        let slot = tokio::select! {
            slot = endpoint.health.slots.clone().acquire_owned() => slot.ok(),
            () = tokio::time::sleep_until(deadline), if self.schedule.retries() > 0 => None,
        };
        let Some(slot) = slot else {
            // Every slot stayed busy for longer than a partition may wait: try again at the
            // next retry's time without using up an attempt.
            endpoint.health.metrics.deferred(true);
            let stage = job.attempt.saturating_sub(1).max(1);
            let wait = self
                .schedule
                .delay_before(stage + 1)
                .unwrap_or(self.inline_wait);
            return self.schedule_retry(&job, stage, job.attempt, SystemTime::now() + wait);
        };
        let body = job.body.clone();
        let sender = self.sender.clone();
        let target = endpoint.clone();
        let msg_id = job.event.id().as_str().to_owned();
        let mut attempt = tokio::spawn(async move {
            let outcome = sender
                .send(&target.config.url, &msg_id, &target.config.signers, body)
                .await;
            drop(slot);
            outcome
        });
        let last = job.attempt >= self.schedule.attempts();
        let joined = if last {
            // Nothing to hand over to: the last attempt is waited for (at most its timeout).
            attempt.await
        } else {
            tokio::select! {
                joined = &mut attempt => joined,
                () = tokio::time::sleep_until(deadline) => return self.hand_over(job, attempt),
            }
        };
        let outcome = joined.unwrap_or_else(|error| {
            Outcome::not_sent(Failure::Other, format!("attempt task failed: {error}"))
        });
        self.conclude(&job, &outcome, None).0
    }

    fn schedule_retry(&self, job: &Job, stage: u32, attempt: u32, due: SystemTime) -> Outputs {
        let endpoint = &job.endpoint.config;
        job.endpoint.health.metrics.retry_scheduled();
        let mut outputs = Outputs::default();
        outputs.retries.push((
            stage,
            retry::encode(
                &job.record,
                &Pending {
                    endpoint: endpoint.id.as_str().to_owned(),
                    attempt,
                    due,
                },
            ),
        ));
        outputs
    }

    /// Schedules the next attempt now and lets this one finish in the background.
    fn hand_over(self: &Arc<Self>, job: Job, attempt: tokio::task::JoinHandle<Outcome>) -> Outputs {
        job.endpoint.health.metrics.deferred(false);
        let next = job.attempt + 1;
        // Due only after this attempt has certainly ended, so the two never overlap.
        let due =
            SystemTime::now() + self.timeout + self.schedule.delay_before(next).unwrap_or_default();
        let outputs = self.schedule_retry(&job, job.attempt, next, due);
        let this = self.clone();
        self.background.spawn(async move {
            let outcome = attempt.await.unwrap_or_else(|error| {
                Outcome::not_sent(Failure::Other, format!("attempt task failed: {error}"))
            });
            let (outputs, finished) = this.conclude(&job, &outcome, Some(due));
            if finished {
                this.recent.insert((
                    job.event.id().as_str().to_owned(),
                    job.endpoint.config.id.as_str().to_owned(),
                ));
            }
            if let Err(error) = this.publish(outputs).await {
                tracing::warn!(%error, "cannot record a handed-over attempt");
            }
        });
        outputs
    }

    /// What follows from an attempt's outcome: its record, and a retry, a dead letter or
    /// announcements. `scheduled` is the next attempt's time when it is already scheduled.
    /// Also returns whether the delivery ended here.
    fn conclude(
        &self,
        job: &Job,
        outcome: &Outcome,
        scheduled: Option<SystemTime>,
    ) -> (Outputs, bool) {
        let endpoint = &job.endpoint;
        let tenant = &endpoint.config.tenant;
        let id = endpoint.config.id.as_str();
        let mut outputs = Outputs::default();
        let now = SystemTime::now();
        let metrics = &endpoint.health.metrics;
        metrics.attempted(outcome);
        let Some((failure, reason)) = outcome.failure.clone() else {
            endpoint.health.succeeded();
            outputs
                .attempts
                .push(self.attempt_record(job, Recorded::Succeeded, outcome, None, ""));
            metrics.finished(Terminal::Succeeded);
            return (outputs, true);
        };
        if failure != Failure::CircuitOpen && endpoint.health.breaker.failed(Instant::now()) {
            tracing::warn!(%tenant, endpoint = id, %reason, "circuit opened");
        }
        let failing_since = endpoint.health.failed(now);
        let disable = if failure == Failure::Gone {
            Some("the endpoint answered 410 Gone".to_owned())
        } else {
            self.disable_after
                .filter(|limit| now.duration_since(failing_since).is_ok_and(|d| d >= *limit))
                .map(|limit| format!("the endpoint failed every attempt for {}s", limit.as_secs()))
        };
        if let Some(why) = disable {
            self.disable(job, &why, &mut outputs);
            let note = format!("{reason}; delivery stopped: {why}, endpoint disabled");
            outputs.attempts.push(self.attempt_record(
                job,
                Recorded::Skipped,
                outcome,
                None,
                &note,
            ));
            metrics.finished(Terminal::Skipped);
            return (outputs, true);
        }
        if let Some(due) = scheduled {
            outputs.attempts.push(self.attempt_record(
                job,
                Recorded::Retrying,
                outcome,
                Some(due),
                &reason,
            ));
            return (outputs, false);
        }
        let next = job.attempt + 1;
        if let Some(wait) = self.schedule.delay_before(next) {
            let due = now + wait;
            outputs.merge(self.schedule_retry(job, job.attempt, next, due));
            outputs.attempts.push(self.attempt_record(
                job,
                Recorded::Retrying,
                outcome,
                Some(due),
                &reason,
            ));
            return (outputs, false);
        }
        outputs.attempts.push(self.attempt_record(
            job,
            Recorded::Exhausted,
            outcome,
            None,
            &reason,
        ));
        outputs.dead.push(self.dead_letter(job, &reason));
        outputs.events.extend(self.announce(
            tenant,
            DELIVERY_EXHAUSTED,
            &[
                b"exhausted",
                job.event.id().as_str().as_bytes(),
                id.as_bytes(),
            ],
            id,
            &serde_json::json!({
                "event_id": job.event.id().as_str(),
                "event_type": job.event.event_type().as_str(),
                "endpoint_id": id,
                "url": endpoint.config.url.as_str(),
                "attempts": job.attempt,
                "last_status": outcome.status,
                "last_error": reason,
            }),
        ));
        metrics.finished(Terminal::Exhausted);
        tracing::warn!(%tenant, endpoint = id, event = %job.event.id(), %reason, "delivery exhausted its retries");
        (outputs, true)
    }

    fn disable(&self, job: &Job, why: &str, outputs: &mut Outputs) {
        let endpoint = &job.endpoint;
        if !endpoint.health.disable(why.to_owned()) {
            return;
        }
        let id = endpoint.config.id.as_str();
        tracing::warn!(tenant = %endpoint.config.tenant, endpoint = id, reason = why, "endpoint disabled");
        let at = retry::unix_millis(SystemTime::now()).to_string();
        outputs.events.extend(self.announce(
            &endpoint.config.tenant,
            ENDPOINT_DISABLED,
            &[b"disabled", id.as_bytes(), at.as_bytes()],
            id,
            &serde_json::json!({
                "endpoint_id": id,
                "url": endpoint.config.url.as_str(),
                "reason": why,
            }),
        ));
    }

    /// An operational event about endpoint `subject`, on the events topic, so the tenant can
    /// subscribe to its own failures.
    fn announce(
        &self,
        tenant: &TenantId,
        event_type: &str,
        id_parts: &[&[u8]],
        subject: &str,
        data: &serde_json::Value,
    ) -> Option<Message> {
        let event_type = EventType::parse(event_type).ok()?;
        let tenant_bytes = tenant.as_str().as_bytes();
        let mut parts = vec![tenant_bytes];
        parts.extend_from_slice(id_parts);
        Event::builder(tenant.clone(), EventId::derive(&parts), SOURCE, event_type)
            .subject(Some(subject.to_owned()))
            .data(Some("application/json".into()), data.to_string())
            .build()
            .map_err(|error| tracing::error!(%error, "cannot build an operational event"))
            .ok()
            .map(|event| event.to_binary())
    }

    fn dead_letter(&self, job: &Job, reason: &str) -> Message {
        let mut message = DeadLetter {
            reason: &format!("delivery exhausted its retries: {reason}"),
            topic: &self.topics.events(),
            attempts: job.attempt,
            group: crate::GROUP,
            origin: &format!("event {}", job.event.id()),
        }
        .mark(job.record.clone());
        message
            .headers
            .insert(DLQ_ENDPOINT, job.endpoint.config.id.as_str().to_owned());
        message
    }

    fn attempt_record(
        &self,
        job: &Job,
        recorded: Recorded,
        outcome: &Outcome,
        next: Option<SystemTime>,
        error: &str,
    ) -> Message {
        attempt_message(
            job.event.tenant(),
            job.event.id(),
            job.event.event_type(),
            job.endpoint.config.id.as_str(),
            job.endpoint.config.url.as_str(),
            job.attempt,
            recorded,
            outcome,
            next,
            error,
        )
    }

    fn skipped_record(
        &self,
        event: &Event,
        endpoint: &str,
        url: &str,
        attempt: u32,
        why: &str,
    ) -> Message {
        let outcome = Outcome::not_sent(Failure::Other, why.to_owned());
        attempt_message(
            event.tenant(),
            event.id(),
            event.event_type(),
            endpoint,
            url,
            attempt,
            Recorded::Skipped,
            &outcome,
            None,
            &format!("delivery stopped: {why}"),
        )
    }

    /// Publishes a batch's records, holding on until the broker takes them: the batch's
    /// offsets are stored only afterwards. Each kind is retried on its own, so a retry
    /// does not publish what already went through twice.
    async fn publish(&self, outputs: Outputs) -> Result<(), HandlerError> {
        if outputs.is_empty() {
            return Ok(());
        }
        let Outputs {
            attempts,
            retries,
            dead,
            events,
        } = outputs;
        let mut by_stage: std::collections::BTreeMap<u32, Vec<Message>> =
            std::collections::BTreeMap::new();
        for (stage, record) in retries {
            by_stage.entry(stage).or_default().push(record);
        }
        let mut groups = vec![
            (self.topics.deliveries(), attempts),
            (self.topics.dlq(), dead),
            (self.topics.events(), events),
        ];
        groups.extend(
            by_stage
                .into_iter()
                .map(|(stage, records)| (self.topics.delivery_retry(stage), records)),
        );
        let results = join_all(
            groups
                .into_iter()
                .filter(|(_, records)| !records.is_empty())
                .map(|(topic, records)| self.publish_until_taken(topic, records)),
        )
        .await;
        results.into_iter().collect()
    }

    async fn publish_until_taken(
        &self,
        topic: String,
        records: Vec<Message>,
    ) -> Result<(), HandlerError> {
        let backoff = switchyard_bus::RetryPolicy::default();
        for attempt in 1.. {
            match self.publisher.publish_batch(&topic, records.clone()).await {
                Ok(_) => return Ok(()),
                Err(error) => {
                    tracing::warn!(%error, topic, attempt, "cannot publish delivery records yet; retrying");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff.backoff(attempt)) => {}
                () = self.shutdown.triggered() => break,
            }
        }
        Err(HandlerError::Retry(format!(
            "shut down before {topic} took the records"
        )))
    }
}

/// The endpoint's reason for taking no deliveries, if it has one.
fn inactive(endpoint: &Endpoint) -> Option<String> {
    if endpoint.config.paused {
        return Some("endpoint paused".into());
    }
    endpoint
        .health
        .disabled()
        .map(|why| format!("endpoint disabled: {why}"))
}

/// An announcement about an endpoint is never delivered to that endpoint: a dead endpoint
/// subscribed to everything would otherwise be sent an event about each failure, which
/// fails in turn, forever.
fn loops_back(event: &Event, endpoint: &Endpoint) -> bool {
    event.source() == SOURCE && event.subject() == Some(endpoint.config.id.as_str())
}

/// The event record without the retry headers.
fn strip_schedule(record: &Message) -> Message {
    let mut record = record.clone();
    for header in [retry::ENDPOINT, retry::ATTEMPT, retry::DUE] {
        record.headers.remove(header);
    }
    record
}

#[allow(clippy::too_many_arguments)]
fn attempt_message(
    tenant: &TenantId,
    event_id: &EventId,
    event_type: &EventType,
    endpoint: &str,
    url: &str,
    attempt: u32,
    recorded: Recorded,
    outcome: &Outcome,
    next: Option<SystemTime>,
    error: &str,
) -> Message {
    let record = DeliveryAttempt {
        attempt_id: format!("att_{}", uuid::Uuid::now_v7().simple()),
        tenant: tenant.as_str().to_owned(),
        event_id: event_id.as_str().to_owned(),
        event_type: event_type.as_str().to_owned(),
        endpoint_id: endpoint.to_owned(),
        url: url.to_owned(),
        attempt,
        outcome: recorded.into(),
        response_status: outcome.status.map_or(0, u32::from),
        error: error.to_owned(),
        response_body_excerpt: outcome.excerpt.clone(),
        attempted_at: Some(timestamp(outcome.started)),
        duration_ms: u32::try_from(outcome.duration.as_millis()).unwrap_or(u32::MAX),
        next_attempt_at: next.map(timestamp),
    };
    let mut message = Message {
        key: Some(Bytes::copy_from_slice(tenant.as_str().as_bytes())),
        payload: record.encode_to_vec().into(),
        ..Message::default()
    };
    message
        .headers
        .insert("content-type", DELIVERY_ATTEMPT_CONTENT_TYPE);
    message
}

fn timestamp(time: SystemTime) -> prost_types::Timestamp {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    prost_types::Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
    }
}
