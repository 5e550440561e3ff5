//! What the API takes and returns. One set of types serves REST (serde, with the OpenAPI
//! schema derived from them) and GraphQL (the same structs as objects and inputs), so the two
//! cannot drift apart.

use async_graphql::{InputObject, InputValueResult, Scalar, ScalarType, SimpleObject, Value};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::{Event, wire::DeliveryAttempt, wire::delivery_attempt::Outcome};
use utoipa::{IntoParams, ToSchema};

/// Any JSON value (an event's data).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct Json(pub serde_json::Value);

/// Any JSON value.
#[Scalar(name = "JSON")]
impl ScalarType for Json {
    fn parse(value: Value) -> InputValueResult<Self> {
        Ok(Self(value.into_json()?))
    }

    fn to_value(&self) -> Value {
        Value::from_json(self.0.clone()).unwrap_or(Value::Null)
    }
}

/// An event to publish (`POST /v1/events`, GraphQL `publish`).
#[derive(Debug, Clone, Deserialize, ToSchema, InputObject)]
#[serde(deny_unknown_fields)]
#[graphql(name = "PublishInput")]
pub struct PublishRequest {
    /// Event type, dot-separated segments of letters, digits, `-` and `_`: `order.created`.
    #[serde(rename = "type")]
    #[graphql(name = "type")]
    pub event_type: String,
    /// What the event is about (an order id, a user id); live clients and searches filter on
    /// it.
    #[serde(default)]
    pub subject: Option<String>,
    /// The payload, any JSON (null when absent).
    #[serde(default)]
    #[graphql(default)]
    pub data: Json,
}

/// A publish accepted: stored in the outbox, published to the events topic shortly.
#[derive(Debug, Clone, Serialize, ToSchema, SimpleObject)]
pub struct Published {
    /// The event id. The same `Idempotency-Key` always gets the same id.
    pub id: String,
    /// True when an earlier request with this `Idempotency-Key` already published it; nothing
    /// was published again.
    pub duplicate: bool,
}

/// An event: a CloudEvent in JSON structured mode.
#[derive(Debug, Clone, Serialize, ToSchema, SimpleObject)]
#[graphql(name = "Event", complex)]
pub struct EventView {
    /// Always `1.0`.
    pub specversion: String,
    /// Unique per tenant.
    pub id: String,
    /// Where it came from: `/<tenant>/<source>` for webhooks, `/<tenant>/api` for publishes.
    pub source: String,
    /// Its type.
    #[serde(rename = "type")]
    #[graphql(name = "type")]
    pub event_type: String,
    /// What it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// When it happened.
    pub time: DateTime<Utc>,
    /// The tenant (a CloudEvents extension).
    pub tenant: String,
    /// Media type of the data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datacontenttype: Option<String>,
    /// The data, when it is JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Json>,
    /// The data in base64, when it is not JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
}

impl From<&Event> for EventView {
    fn from(event: &Event) -> Self {
        let json = serde_json::from_slice::<serde_json::Value>(event.data()).ok();
        let data_base64 = json.is_none().then(|| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(event.data())
        });
        Self {
            specversion: "1.0".into(),
            id: event.id().to_string(),
            source: event.source().to_owned(),
            event_type: event.event_type().to_string(),
            subject: event.subject().map(str::to_owned),
            time: event.time(),
            tenant: event.tenant().to_string(),
            datacontenttype: event.data_content_type().map(str::to_owned),
            data: json.map(Json),
            data_base64,
        }
    }
}

/// Which events a search returns (`GET /v1/events`, GraphQL `events`).
#[derive(Debug, Clone, Default, Deserialize, IntoParams, InputObject)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
#[graphql(name = "EventQuery")]
pub struct EventQuery {
    /// An event type, or a pattern with `*` segments: `razorpay.payment.*`.
    #[serde(rename = "type", default)]
    #[param(rename = "type")]
    #[graphql(name = "type")]
    pub event_type: Option<String>,
    /// Exactly this subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// Events at or after this time (RFC 3339).
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// Events before this time (RFC 3339).
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// Page size, 1 to 1000 (default 100).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// `newest` (default) or `oldest` first.
    #[serde(default)]
    pub order: Option<String>,
}

/// One page of a search.
#[derive(Debug, Clone, Serialize, ToSchema, SimpleObject)]
#[graphql(name = "EventPage")]
pub struct EventPageView {
    /// The events.
    pub data: Vec<EventView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One attempt to deliver an event to an endpoint.
#[derive(Debug, Clone, Serialize, ToSchema, SimpleObject)]
#[graphql(name = "DeliveryAttempt")]
pub struct DeliveryView {
    /// Unique id of the attempt.
    pub attempt_id: String,
    /// The event.
    pub event_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// Where it was sent.
    pub url: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// `succeeded`, `retrying`, `exhausted` or `skipped`.
    pub outcome: String,
    /// The endpoint's HTTP status; 0 when none came back.
    pub response_status: u32,
    /// What went wrong, if anything.
    pub error: String,
    /// When the attempt was made.
    pub attempted_at: Option<DateTime<Utc>>,
    /// How long it took.
    pub duration_ms: u32,
    /// When the next attempt is due (`retrying` only).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl From<&DeliveryAttempt> for DeliveryView {
    fn from(attempt: &DeliveryAttempt) -> Self {
        let outcome = match attempt.outcome() {
            Outcome::Succeeded => "succeeded",
            Outcome::Retrying => "retrying",
            Outcome::Exhausted => "exhausted",
            Outcome::Skipped => "skipped",
            Outcome::Unspecified => "unspecified",
        };
        let time = |t: Option<&prost_types::Timestamp>| {
            t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        };
        Self {
            attempt_id: attempt.attempt_id.clone(),
            event_id: attempt.event_id.clone(),
            endpoint_id: attempt.endpoint_id.clone(),
            url: attempt.url.clone(),
            attempt: attempt.attempt,
            outcome: outcome.to_owned(),
            response_status: attempt.response_status,
            error: attempt.error.clone(),
            attempted_at: time(attempt.attempted_at.as_ref()),
            duration_ms: attempt.duration_ms,
            next_attempt_at: time(attempt.next_attempt_at.as_ref()),
        }
    }
}

/// A source to create or replace (`POST /v1/sources`, `PUT /v1/sources/{id}`): the fields of
/// a `[[sources]]` entry, the tenant being the caller's.
#[derive(Debug, Clone, Deserialize, ToSchema, InputObject)]
#[serde(deny_unknown_fields)]
#[graphql(name = "SourceInput")]
pub struct SourceInput {
    /// Id within the tenant; webhooks are posted to `/webhooks/<tenant>/<id>`. Required on
    /// `POST`; on `PUT` the path's id (a different one here is refused).
    #[serde(default)]
    pub id: Option<String>,
    /// `razorpay`, `stripe`, `github`, `shopify`, `standard-webhooks` or `hmac`.
    pub provider: String,
    /// The signing secret when the provider issues it (Stripe's `whsec_…`); when absent on
    /// create, one is generated and returned once. On `PUT`, replaces the secrets.
    #[serde(default)]
    pub secret: Option<String>,
    /// Networks allowed to post (CIDR); everyone by default.
    #[serde(default)]
    pub allow_ips: Option<Vec<String>>,
    /// Requests per second accepted (default 100).
    #[serde(default)]
    pub rate_limit_per_sec: Option<u32>,
    /// Largest body accepted, in bytes (default 262144).
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
    /// Generic HMAC parameters (`provider = "hmac"`): `{header, encoding, prefix?, id_header?}`.
    #[serde(default)]
    pub hmac: Option<Json>,
    /// Dead-letter events of a type without a registered schema.
    #[serde(default)]
    pub strict: Option<bool>,
    /// Changes to the event data: `{rename?, drop?, subject?, event_type?}`.
    #[serde(default)]
    pub transform: Option<Json>,
    /// Take no webhooks while paused (senders are told to retry later).
    #[serde(default)]
    pub paused: Option<bool>,
}

/// A source as the API shows it: never its secrets.
#[derive(Debug, Clone, Serialize, ToSchema, SimpleObject)]
#[graphql(name = "Source")]
pub struct SourceView {
    /// Its id.
    pub id: String,
    /// Its signature scheme.
    pub provider: String,
    /// Where its webhooks are posted (on ingest).
    pub webhook_path: String,
    /// Whether it is paused.
    pub paused: bool,
    /// How many secrets verify its webhooks (more than one during a rotation).
    pub secrets: u32,
    /// The rest of its settings: allow_ips, rate_limit_per_sec, max_body_bytes, hmac,
    /// strict, transform.
    pub settings: Json,
    /// Rises with every change; send it as `If-Match` to change exactly this version.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A source just created or whose secret was just rotated, with the secret when the gateway
/// generated it: shown this once, never again.
#[derive(Debug, Clone, Serialize, ToSchema, SimpleObject)]
#[graphql(name = "SourceWithSecret")]
pub struct SourceWithSecret {
    /// The source.
    pub source: SourceView,
    /// The generated secret, if one was generated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// An endpoint to create or replace (`POST /v1/endpoints`, `PUT /v1/endpoints/{id}`).
#[derive(Debug, Clone, Deserialize, ToSchema, InputObject)]
#[serde(deny_unknown_fields)]
#[graphql(name = "EndpointInput")]
pub struct EndpointInput {
    /// Id within the tenant. Required on `POST`; on `PUT` the path's id.
    #[serde(default)]
    pub id: Option<String>,
    /// Where events are POSTed: `https://` (plain `http://` only where the operator allows it).
    pub url: String,
    /// Event types delivered, exactly or with `*` segments; every type by default.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// Receive nothing while paused.
    #[serde(default)]
    pub paused: Option<bool>,
}

/// An endpoint as the API shows it: never its secrets.
#[derive(Debug, Clone, Serialize, ToSchema, SimpleObject)]
#[graphql(name = "Endpoint")]
pub struct EndpointView {
    /// Its id.
    pub id: String,
    /// Where events go.
    pub url: String,
    /// Which types it receives.
    pub event_types: Vec<String>,
    /// Whether it is paused.
    pub paused: bool,
    /// When each rotated-out secret stops being signed with.
    pub previous_secrets_expire_at: Vec<DateTime<Utc>>,
    /// Rises with every change; send it as `If-Match` to change exactly this version.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// An endpoint just created or whose secret was just rotated, with its signing secret
/// (`whsec_…`): shown this once, never again.
#[derive(Debug, Clone, Serialize, ToSchema, SimpleObject)]
#[graphql(name = "EndpointWithSecret")]
pub struct EndpointWithSecret {
    /// The endpoint.
    pub endpoint: EndpointView,
    /// Its signing secret.
    pub secret: String,
}

/// One page of a listing by id.
#[derive(Debug, Clone, Serialize, ToSchema, SimpleObject)]
#[graphql(concrete(name = "SourcePage", params(SourceView)))]
#[graphql(concrete(name = "EndpointPage", params(EndpointView)))]
pub struct Page<T: async_graphql::OutputType> {
    /// The entries, by id.
    pub data: Vec<T>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Where a listing by id starts (`GET /v1/sources`, `GET /v1/endpoints`).
#[derive(Debug, Clone, Default, Deserialize, IntoParams, InputObject)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
#[graphql(name = "PageQuery")]
pub struct PageQuery {
    /// Page size, 1 to 1000 (default 100).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
}

/// A time range to redeliver (`POST /v1/endpoints/{id}/replay`).
#[derive(Debug, Clone, Deserialize, ToSchema, InputObject)]
#[serde(deny_unknown_fields)]
#[graphql(name = "ReplayInput")]
pub struct ReplayInput {
    /// Events at or after this time.
    pub since: DateTime<Utc>,
    /// Events before this time (default: now).
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

/// What a replay scheduled.
#[derive(Debug, Clone, Serialize, ToSchema, SimpleObject)]
#[graphql(name = "Replay")]
pub struct ReplayView {
    /// Events scheduled for redelivery to the endpoint.
    pub scheduled: u32,
    /// True when the range held more than one replay takes (`gateway.max_replay`); replay
    /// the rest from `resume_since`.
    pub truncated: bool,
    /// Where to continue when truncated.
    pub resume_since: Option<DateTime<Utc>>,
}

/// Which dead letters a listing returns (`GET /v1/dlq`).
#[derive(Debug, Clone, Default, Deserialize, IntoParams, InputObject)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
#[graphql(name = "DeadLetterQuery")]
pub struct DeadLetterQuery {
    /// Only those that belong on this topic (e.g. `switchyard.events`).
    #[serde(default)]
    pub topic: Option<String>,
    /// Only failed deliveries to this endpoint.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// `false`: not redriven yet; `true`: redriven at least once.
    #[serde(default)]
    pub redriven: Option<bool>,
    /// Page size, 1 to 1000 (default 100).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A record no consumer could handle, newest first.
#[derive(Debug, Clone, Serialize, ToSchema, SimpleObject)]
#[graphql(name = "DeadLetter")]
pub struct DeadLetterView {
    /// Its id (redrive with it).
    pub id: String,
    /// The topic it belongs on.
    pub topic: String,
    /// Why it was given up on.
    pub reason: String,
    /// Attempts made.
    pub attempts: u32,
    /// The consumer group that gave up.
    pub group: String,
    /// The endpoint whose delivery gave up, for failed deliveries.
    pub endpoint: Option<String>,
    /// The event id, when the record is an event.
    pub event_id: Option<String>,
    /// The event type, when the record is an event.
    pub event_type: Option<String>,
    /// When it was dead-lettered.
    pub dead_lettered_at: DateTime<Utc>,
    /// When it was last redriven.
    pub redriven_at: Option<DateTime<Utc>>,
    /// How many times it was redriven.
    pub redrive_count: u32,
    /// The record's value, when it is JSON.
    pub payload: Option<Json>,
    /// The record's value in base64, when it is not JSON.
    pub payload_base64: Option<String>,
}

impl From<&switchyard_store::DeadLetter> for DeadLetterView {
    fn from(letter: &switchyard_store::DeadLetter) -> Self {
        use base64::Engine as _;
        let json = serde_json::from_slice::<serde_json::Value>(&letter.payload).ok();
        let header = |name| letter.headers.get_str(name).map(str::to_owned);
        Self {
            id: letter.id.clone(),
            topic: letter.topic.clone(),
            reason: letter.reason.clone(),
            attempts: letter.attempts,
            group: letter.group.clone(),
            endpoint: letter.endpoint.clone(),
            event_id: header("ce_id"),
            event_type: header("ce_type"),
            dead_lettered_at: letter.dead_lettered_at,
            redriven_at: letter.redriven_at,
            redrive_count: letter.redrive_count,
            payload_base64: json
                .is_none()
                .then(|| base64::engine::general_purpose::STANDARD.encode(&letter.payload)),
            payload: json.map(Json),
        }
    }
}

/// One page of dead letters.
#[derive(Debug, Clone, Serialize, ToSchema, SimpleObject)]
#[graphql(name = "DeadLetterPage")]
pub struct DeadLetterPageView {
    /// Newest first.
    pub data: Vec<DeadLetterView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}
