//! Getting events to where they failed to go: the DLQ, stored for tenants to list and
//! redrive, and replays of a time range to one endpoint.
//!
//! Redelivery to one endpoint never goes back through `<prefix>.events`: that would hand the
//! event to every consumer again (the audit store, browsers, every other endpoint). It goes
//! to the dispatcher's first retry topic as a delivery of attempt 1 due now
//! ([`switchyard_domain::redelivery`]), so only that endpoint receives it, with a fresh retry
//! schedule. Any other dead letter is republished to the topic it belongs on, without its
//! `dlq-*` headers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchyard_auth::{Principal, Scope};
use switchyard_bus::{BatchHandler, Delivery, HandlerError};
use switchyard_control::EndpointSpec;
use switchyard_domain::{EndpointId, Message, redelivery};
use switchyard_store::{
    DeadLetterCursor, DeadLetterFilter, EventFilter, MAX_PAGE_SIZE, NewDeadLetter, Order,
};

use crate::{
    api::{Api, DEFAULT_PAGE, StoreSlot},
    error::ApiError,
    model::{DeadLetterPageView, DeadLetterQuery, DeadLetterView, ReplayInput, ReplayView},
};

/// Stores every record of `<prefix>.dlq` (group `gateway.dlq`, shared by the replicas).
/// Idempotent by DLQ position, so a batch consumed twice is stored once. It never rejects a
/// record: one it cannot store is retried until the database is back.
pub struct DeadLetterSink {
    /// Where they go.
    pub store: StoreSlot,
}

#[async_trait]
impl BatchHandler for DeadLetterSink {
    async fn handle_batch(&self, batch: &[Delivery]) -> Result<Vec<(usize, String)>, HandlerError> {
        let store = self
            .store
            .get()
            .ok_or_else(|| HandlerError::Retry("the database is not open yet".into()))?;
        let now = Utc::now();
        let letters: Vec<NewDeadLetter> = batch
            .iter()
            .map(|d| {
                let position = format!("{}@{}", d.partition, d.position);
                NewDeadLetter::from_record(position, &d.message, now)
            })
            .collect();
        let stored = store
            .insert_dead_letters(&letters)
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))?;
        metrics::counter!("switchyard_gateway_dead_letters_stored_total").increment(stored);
        Ok(Vec::new())
    }
}

fn unix_millis(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

impl Api {
    /// The caller's dead letters, newest first.
    pub async fn dead_letters(
        &self,
        caller: &Principal,
        query: DeadLetterQuery,
    ) -> Result<DeadLetterPageView, ApiError> {
        caller.require(Scope::Admin)?;
        let limit = query.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(ApiError::Invalid(format!(
                "limit: must be between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        let cursor = query
            .cursor
            .as_deref()
            .map(DeadLetterCursor::decode)
            .transpose()?;
        let filter = DeadLetterFilter {
            topic: query.topic,
            endpoint: query.endpoint,
            redriven: query.redriven,
        };
        let page = self
            .store()?
            .list_dead_letters(caller.tenant(), &filter, limit, cursor.as_ref())
            .await?;
        Ok(DeadLetterPageView {
            data: page.dead_letters.iter().map(DeadLetterView::from).collect(),
            next_cursor: page.next_cursor.map(|c| c.encode()),
        })
    }

    /// Sends dead letter `id` again: a failed delivery to its endpoint only, anything else to
    /// the topic it belongs on. Marked redriven once the broker has it.
    pub async fn redrive(&self, caller: &Principal, id: &str) -> Result<DeadLetterView, ApiError> {
        caller.require(Scope::Admin)?;
        let tenant = caller.tenant();
        let store = self.store()?;
        let letter = store
            .get_dead_letter(tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("dead letter", id))?;
        let record = letter.original_record();
        let (topic, record) = match &letter.endpoint {
            Some(endpoint) => (
                self.topics.delivery_retry(redelivery::FIRST_STAGE),
                redelivery::schedule(&record, endpoint, 1, unix_millis(Utc::now())),
            ),
            None if letter
                .topic
                .starts_with(&format!("{}.", self.topics.prefix())) =>
            {
                (letter.topic.clone(), record)
            }
            None => {
                return Err(ApiError::Conflict(format!(
                    "dead letter {id} belongs on {:?}, which is not one of this deployment's topics; it cannot be redriven",
                    letter.topic
                )));
            }
        };
        self.bus.publisher.publish(&topic, record).await?;
        let letter = store
            .mark_redriven(tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("dead letter", id))?;
        metrics::counter!("switchyard_gateway_redriven_total").increment(1);
        Ok(DeadLetterView::from(&letter))
    }

    /// Delivers the caller's stored events of `[since, until)` that endpoint `id` subscribes
    /// to again, to that endpoint only, oldest first, at most `gateway.max_replay` of them.
    pub async fn replay(
        &self,
        caller: &Principal,
        id: &str,
        input: ReplayInput,
    ) -> Result<ReplayView, ApiError> {
        caller.require(Scope::Admin)?;
        let tenant = caller.tenant();
        let until = input.until.unwrap_or_else(Utc::now);
        if input.since >= until {
            return Err(ApiError::Invalid("since: must be before until".into()));
        }
        let store = self.store()?;
        let endpoint_id = EndpointId::parse(id).map_err(|_| ApiError::not_found("endpoint", id))?;
        let row = store
            .get_endpoint(tenant, &endpoint_id)
            .await?
            .ok_or_else(|| ApiError::not_found("endpoint", id))?;
        let spec: EndpointSpec = serde_json::from_value(row.spec)
            .map_err(|e| ApiError::Internal(format!("stored endpoint {tenant}/{id}: {e}")))?;
        let filter = EventFilter {
            since: Some(input.since),
            until: Some(until),
            order: Order::OldestFirst,
            ..EventFilter::default()
        };
        let limit = self.settings().max_replay;
        let topic = self.topics.delivery_retry(redelivery::FIRST_STAGE);
        let due = unix_millis(Utc::now());
        let mut scheduled = 0_u32;
        let mut cursor = None;
        loop {
            let page = store
                .list_events(tenant, &filter, MAX_PAGE_SIZE, cursor.as_ref())
                .await?;
            let mut records: Vec<Message> = Vec::new();
            for event in &page.events {
                if !spec
                    .event_types
                    .iter()
                    .any(|p| p.matches(event.event_type()))
                {
                    continue;
                }
                if scheduled == limit {
                    self.bus.publisher.publish_batch(&topic, records).await?;
                    return Ok(ReplayView {
                        scheduled,
                        truncated: true,
                        resume_since: Some(event.time()),
                    });
                }
                records.push(redelivery::schedule(&event.to_binary(), id, 1, due));
                scheduled += 1;
            }
            if !records.is_empty() {
                self.bus.publisher.publish_batch(&topic, records).await?;
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        metrics::counter!("switchyard_gateway_replayed_total").increment(u64::from(scheduled));
        Ok(ReplayView {
            scheduled,
            truncated: false,
            resume_since: None,
        })
    }
}

/// The group that stores the DLQ, shared by every gateway replica.
pub const DLQ_GROUP: &str = "gateway.dlq";
