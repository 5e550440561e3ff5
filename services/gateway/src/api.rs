//! The service layer under both front ends: every operation the API offers, given the caller
//! it runs for. Scopes are checked and the tenant is applied here, never in a handler, so
//! REST and GraphQL cannot differ in what they allow.

use std::sync::{Arc, OnceLock};

use chrono::Utc;
use switchyard_auth::{Principal, Scope};
use switchyard_bus::Bus;
use switchyard_control::Sealer;
use switchyard_domain::{Event, EventId, EventType, EventTypePattern, Topics};
use switchyard_runtime::{settings::GatewaySettings, trace_context};
use switchyard_store::{Cursor, EventFilter, MAX_PAGE_SIZE, Order, Store, outbox::EnqueueOutcome};

use crate::{
    access::Access,
    error::ApiError,
    model::{DeliveryView, EventPageView, EventQuery, EventView, PublishRequest, Published},
    publish::Publisher,
};

/// Longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Longest subject accepted.
pub const MAX_SUBJECT: usize = 1_024;
/// Page size when none is asked for.
pub const DEFAULT_PAGE: u32 = 100;

/// The store once it is open: the API serves (with `503`) before PostgreSQL is reachable,
/// so probes and health checks work while it waits.
pub type StoreSlot = Arc<OnceLock<Store>>;

/// What the handlers share.
pub struct Api {
    /// Token verification and budgets.
    pub access: Access,
    store: StoreSlot,
    publisher: Publisher,
    pub(crate) sealer: Sealer,
    pub(crate) bus: Bus,
    pub(crate) topics: Topics,
    settings: GatewaySettings,
}

/// What [`Api::new`] is made of.
pub struct Parts {
    /// Token verification and budgets.
    pub access: Access,
    /// The store, once open.
    pub store: StoreSlot,
    /// The outbox writer.
    pub publisher: Publisher,
    /// Seals the secrets of sources and endpoints.
    pub sealer: Sealer,
    /// For replays and redrives.
    pub bus: Bus,
    /// Topic names.
    pub topics: Topics,
    /// `[gateway]`.
    pub settings: GatewaySettings,
}

impl Api {
    /// The API over its parts.
    #[must_use]
    pub fn new(parts: Parts) -> Self {
        let Parts {
            access,
            store,
            publisher,
            sealer,
            bus,
            topics,
            settings,
        } = parts;
        Self {
            access,
            store,
            publisher,
            sealer,
            bus,
            topics,
            settings,
        }
    }

    pub(crate) fn store(&self) -> Result<&Store, ApiError> {
        self.store.get().ok_or(ApiError::Unavailable)
    }

    /// The settings it runs with.
    #[must_use]
    pub fn settings(&self) -> &GatewaySettings {
        &self.settings
    }

    /// Publishes an event for the caller's tenant through the outbox. With an
    /// `idempotency_key`, the event id is derived from it, so a retried request answers the
    /// same id and publishes nothing new.
    pub async fn publish(
        &self,
        caller: &Principal,
        request: PublishRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Published, ApiError> {
        caller.require(Scope::EventsWrite)?;
        let event_type = EventType::parse(&request.event_type)
            .map_err(|e| ApiError::Invalid(format!("type: {e}")))?;
        if let Some(subject) = &request.subject
            && (subject.is_empty() || subject.len() > MAX_SUBJECT)
        {
            return Err(ApiError::Invalid(format!(
                "subject: must be 1 to {MAX_SUBJECT} characters long"
            )));
        }
        let tenant = caller.tenant();
        let id = match idempotency_key {
            None => EventId::generate(),
            Some(key) => {
                if key.is_empty()
                    || key.len() > MAX_IDEMPOTENCY_KEY
                    || !key.bytes().all(|b| b.is_ascii_graphic())
                {
                    return Err(ApiError::Invalid(format!(
                        "Idempotency-Key: must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
                    )));
                }
                EventId::derive(&[b"api", tenant.as_str().as_bytes(), key.as_bytes()])
            }
        };
        let data = serde_json::to_vec(&request.data.0)
            .map_err(|e| ApiError::Invalid(format!("data: {e}")))?;
        let event = Event::builder(tenant.clone(), id, format!("/{tenant}/api"), event_type)
            .time(Utc::now())
            .subject(request.subject)
            .data(Some("application/json".into()), data)
            .traceparent(trace_context::current())
            .build()
            .map_err(|e| ApiError::Invalid(e.to_string()))?;
        let id = event.id().to_string();
        let outcome = self.publisher.publish(event).await?;
        let duplicate = outcome == EnqueueOutcome::AlreadyEnqueued;
        metrics::counter!(
            "switchyard_gateway_published_total",
            "result" => if duplicate { "duplicate" } else { "new" }
        )
        .increment(1);
        Ok(Published { id, duplicate })
    }

    /// One page of the caller's events matching `query`.
    pub async fn search(
        &self,
        caller: &Principal,
        query: EventQuery,
    ) -> Result<EventPageView, ApiError> {
        caller.require(Scope::EventsRead)?;
        let event_type = query
            .event_type
            .as_deref()
            .map(EventTypePattern::parse)
            .transpose()
            .map_err(|e| ApiError::Invalid(format!("type: {e}")))?;
        let order = match query.order.as_deref() {
            None | Some("newest") => Order::NewestFirst,
            Some("oldest") => Order::OldestFirst,
            Some(other) => {
                return Err(ApiError::Invalid(format!(
                    "order: {other:?} is not newest or oldest"
                )));
            }
        };
        if let (Some(since), Some(until)) = (query.since, query.until)
            && since >= until
        {
            return Err(ApiError::Invalid("since: must be before until".into()));
        }
        let limit = query.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(ApiError::Invalid(format!(
                "limit: must be between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        let cursor = query.cursor.as_deref().map(Cursor::decode).transpose()?;
        let filter = EventFilter {
            event_type,
            subject: query.subject,
            since: query.since,
            until: query.until,
            order,
        };
        let page = self
            .store()?
            .list_events(caller.tenant(), &filter, limit, cursor.as_ref())
            .await?;
        Ok(EventPageView {
            data: page.events.iter().map(EventView::from).collect(),
            next_cursor: page.next_cursor.map(|c| c.encode()),
        })
    }

    /// The caller's event `id`.
    pub async fn event(&self, caller: &Principal, id: &str) -> Result<EventView, ApiError> {
        caller.require(Scope::EventsRead)?;
        let event_id = EventId::parse(id).map_err(|_| ApiError::not_found("event", id))?;
        self.store()?
            .get_event(caller.tenant(), &event_id)
            .await?
            .as_ref()
            .map(EventView::from)
            .ok_or_else(|| ApiError::not_found("event", id))
    }

    /// Every attempt to deliver the caller's event `id`, oldest first. An event that is not
    /// stored (yet) is a 404, so an empty list always means "stored, not delivered".
    pub async fn deliveries(
        &self,
        caller: &Principal,
        id: &str,
    ) -> Result<Vec<DeliveryView>, ApiError> {
        caller.require(Scope::EventsRead)?;
        let event_id = EventId::parse(id).map_err(|_| ApiError::not_found("event", id))?;
        let tenant = caller.tenant();
        if self.store()?.get_event(tenant, &event_id).await?.is_none() {
            return Err(ApiError::not_found("event", id));
        }
        let attempts = self.store()?.list_deliveries(tenant, &event_id).await?;
        Ok(attempts.iter().map(DeliveryView::from).collect())
    }
}
