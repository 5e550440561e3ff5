//! The REST front end (DESIGN §5 "gateway"): thin handlers that extract the caller and the
//! input, call [`Api`], and answer JSON. Bodies and query strings that do not parse are
//! answered with problem+json that names the field, like every other refusal.

use std::{future::Future, pin::Pin};

use actix_web::{
    FromRequest, HttpMessage, HttpRequest, HttpResponse,
    body::MessageBody,
    dev::{Payload, ServiceRequest, ServiceResponse},
    error::{JsonPayloadError, QueryPayloadError},
    http::header::{self, HeaderName, HeaderValue},
    middleware::Next,
    web,
};
use switchyard_auth::Principal;

use crate::{
    api::Api,
    error::ApiError,
    model::{
        DeadLetterPageView, DeadLetterQuery, DeadLetterView, DeliveryView, EndpointInput,
        EndpointView, EndpointWithSecret, EventPageView, EventQuery, EventView, Page, PageQuery,
        PublishRequest, Published, ReplayInput, ReplayView, SourceInput, SourceView,
        SourceWithSecret,
    },
};

/// The request header carrying an idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The authenticated caller of a request, with one request of its tenant's budget spent.
pub struct Caller(pub Principal);

/// What is left of the caller's budget, for the `RateLimit-*` headers.
#[derive(Clone, Copy)]
struct Remaining(u32);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let api = request
                .app_data::<web::Data<Api>>()
                .ok_or(ApiError::Unavailable)?
                .clone();
            let (principal, remaining) = api.access.admit(&request).await?;
            request.extensions_mut().insert(Remaining(remaining));
            Ok(Self(principal))
        })
    }
}

/// Mounts the `/v1` routes with their body and query error handling, and the web console
/// (`/console/`: public pages that call this API with the operator's token).
pub fn routes(config: &mut web::ServiceConfig, api: &web::Data<Api>) {
    let limit = api.settings().max_body_bytes;
    config.configure(switchyard_console::routes);
    config.service(
        web::scope("/v1")
            .app_data(
                web::JsonConfig::default()
                    .limit(limit)
                    .error_handler(|error, _| json_error(error).into()),
            )
            .app_data(
                web::QueryConfig::default().error_handler(|error, _| query_error(error).into()),
            )
            .wrap(actix_web::middleware::from_fn(rate_limit_headers))
            .route("/events", web::post().to(publish))
            .route("/events", web::get().to(search))
            .route("/events/{id}", web::get().to(event))
            .route("/events/{id}/deliveries", web::get().to(deliveries))
            .route("/sources", web::get().to(list_sources))
            .route("/sources", web::post().to(create_source))
            .route("/sources/{id}", web::get().to(source))
            .route("/sources/{id}", web::put().to(replace_source))
            .route("/sources/{id}", web::delete().to(delete_source))
            .route(
                "/sources/{id}/rotate-secret",
                web::post().to(rotate_source_secret),
            )
            .route("/endpoints", web::get().to(list_endpoints))
            .route("/endpoints", web::post().to(create_endpoint))
            .route("/endpoints/{id}", web::get().to(endpoint))
            .route("/endpoints/{id}", web::put().to(replace_endpoint))
            .route("/endpoints/{id}", web::delete().to(delete_endpoint))
            .route(
                "/endpoints/{id}/rotate-secret",
                web::post().to(rotate_endpoint_secret),
            )
            .route("/endpoints/{id}/replay", web::post().to(replay))
            .route("/dlq", web::get().to(dead_letters))
            .route("/dlq/{id}/redrive", web::post().to(redrive)),
    );
}

/// The version an `If-Match` header asks for: `"3"`, `W/"3"` or `3`. `*` (any) is no
/// condition.
fn if_match(request: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let Some(value) = request.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::Invalid("If-Match: must be ASCII".into()))?
        .trim();
    if text == "*" {
        return Ok(None);
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| {
            ApiError::Invalid(format!(
                "If-Match: {text:?} is not a version this API sent as ETag"
            ))
        })
}

/// `200` (or `201` when `created`) with `body` and the version as `ETag`.
fn versioned(created: bool, version: i64, body: &impl serde::Serialize) -> HttpResponse {
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, format!("\"{version}\"")))
        .json(body)
}

fn json_error(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::TooLarge { limit },
        JsonPayloadError::ContentType => {
            ApiError::Invalid("the body must be JSON (Content-Type: application/json)".into())
        }
        JsonPayloadError::Deserialize(error) => ApiError::Invalid(format!("body: {error}")),
        other => ApiError::Invalid(format!("body: {other}")),
    }
}

fn query_error(error: QueryPayloadError) -> ApiError {
    match error {
        QueryPayloadError::Deserialize(error) => ApiError::Invalid(format!("query: {error}")),
        other => ApiError::Invalid(format!("query: {other}")),
    }
}

/// States the tenant's budget on every answer to an authenticated request (the IETF
/// RateLimit header fields), so clients can pace themselves before they hit `429`.
async fn rate_limit_headers(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let budget = request
        .app_data::<web::Data<Api>>()
        .map(|api| api.access.budget());
    let mut response = next.call(request).await?;
    let remaining = response.request().extensions().get::<Remaining>().copied();
    if let (Some(budget), Some(Remaining(remaining))) = (budget, remaining) {
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        };
        set("ratelimit-limit", budget.burst.to_string());
        set("ratelimit-remaining", remaining.to_string());
        set(
            "ratelimit-policy",
            format!("{};w=1;burst={}", budget.per_sec, budget.burst),
        );
    }
    Ok(response)
}

/// Publish an event.
///
/// Stored in the outbox in one database transaction and published to the events topic by
/// the outbox relay. With an `Idempotency-Key`, a retried request answers the same id and
/// publishes nothing again.
#[utoipa::path(
    post, path = "/v1/events", tag = "events",
    request_body = PublishRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key always names the same event")),
    responses(
        (status = 202, description = "Stored; it will be published", body = Published),
        (status = 400, description = "Malformed body or invalid field", content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token"),
        (status = 403, description = "The token lacks `events:write`"),
        (status = 413, description = "Body over `gateway.max_body_bytes`"),
        (status = 429, description = "Tenant budget spent; see `Retry-After`"),
        (status = 503, description = "Store unavailable; retry (safe with an Idempotency-Key)"),
    ),
    security(("bearer" = []))
)]
async fn publish(
    Caller(caller): Caller,
    request: HttpRequest,
    api: web::Data<Api>,
    body: web::Json<PublishRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = match request.headers().get(IDEMPOTENCY_KEY) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::Invalid("Idempotency-Key: must be visible ASCII".into()))?,
        ),
    };
    let published = api.publish(&caller, body.into_inner(), key).await?;
    Ok(HttpResponse::Accepted().json(published))
}

/// Search events.
///
/// Newest first by default; pages are cursor-based and never skip or repeat an event.
#[utoipa::path(
    get, path = "/v1/events", tag = "events",
    params(EventQuery),
    responses(
        (status = 200, description = "One page", body = EventPageView),
        (status = 400, description = "Invalid filter or cursor"),
        (status = 401, description = "Missing, invalid or expired token"),
        (status = 403, description = "The token lacks `events:read`"),
    ),
    security(("bearer" = []))
)]
async fn search(
    Caller(caller): Caller,
    api: web::Data<Api>,
    query: web::Query<EventQuery>,
) -> Result<web::Json<EventPageView>, ApiError> {
    Ok(web::Json(api.search(&caller, query.into_inner()).await?))
}

/// Get one event.
#[utoipa::path(
    get, path = "/v1/events/{id}", tag = "events",
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, description = "The event as a CloudEvent", body = EventView),
        (status = 404, description = "No such event in the caller's tenant"),
    ),
    security(("bearer" = []))
)]
async fn event(
    Caller(caller): Caller,
    api: web::Data<Api>,
    id: web::Path<String>,
) -> Result<web::Json<EventView>, ApiError> {
    Ok(web::Json(api.event(&caller, &id).await?))
}

/// Every delivery attempt of one event, oldest first.
#[utoipa::path(
    get, path = "/v1/events/{id}/deliveries", tag = "events",
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, description = "The attempts", body = [DeliveryView]),
        (status = 404, description = "No such event in the caller's tenant"),
    ),
    security(("bearer" = []))
)]
async fn deliveries(
    Caller(caller): Caller,
    api: web::Data<Api>,
    id: web::Path<String>,
) -> Result<web::Json<Vec<DeliveryView>>, ApiError> {
    Ok(web::Json(api.deliveries(&caller, &id).await?))
}

/// A source's new secret, when the provider issued it.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSourceSecret {
    /// The provider-issued secret; generated (and returned once) when absent.
    #[serde(default)]
    pub secret: Option<String>,
}

/// List sources.
#[utoipa::path(
    get, path = "/v1/sources", tag = "sources", params(PageQuery),
    responses((status = 200, description = "One page, by id", body = Page<SourceView>), (status = 403, description = "The token lacks `admin`")),
    security(("bearer" = []))
)]
async fn list_sources(
    Caller(caller): Caller,
    api: web::Data<Api>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<SourceView>>, ApiError> {
    Ok(web::Json(api.list_sources(&caller, &query).await?))
}

/// Create a source.
///
/// Without `secret`, one is generated and returned in this answer only. Ingest accepts its
/// webhooks within seconds.
#[utoipa::path(
    post, path = "/v1/sources", tag = "sources", request_body = SourceInput,
    responses(
        (status = 201, description = "Created", body = SourceWithSecret),
        (status = 400, description = "Invalid field"),
        (status = 409, description = "A source with this id exists"),
    ),
    security(("bearer" = []))
)]
async fn create_source(
    Caller(caller): Caller,
    api: web::Data<Api>,
    body: web::Json<SourceInput>,
) -> Result<HttpResponse, ApiError> {
    let created = api.create_source(&caller, body.into_inner()).await?;
    Ok(versioned(true, created.source.version, &created))
}

/// Get a source (never its secrets).
#[utoipa::path(
    get, path = "/v1/sources/{id}", tag = "sources", params(("id" = String, Path)),
    responses((status = 200, description = "The source; ETag is its version", body = SourceView), (status = 404, description = "No such source")),
    security(("bearer" = []))
)]
async fn source(
    Caller(caller): Caller,
    api: web::Data<Api>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let source = api.source(&caller, &id).await?;
    Ok(versioned(false, source.version, &source))
}

/// Create or replace a source.
///
/// Its secrets stay unless `secret` is given. With `If-Match: "<version>"` it is replaced
/// only at that version.
#[utoipa::path(
    put, path = "/v1/sources/{id}", tag = "sources", request_body = SourceInput,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag read")),
    responses(
        (status = 200, description = "Replaced", body = SourceWithSecret),
        (status = 201, description = "Created", body = SourceWithSecret),
        (status = 409, description = "Changed since the ETag was read"),
    ),
    security(("bearer" = []))
)]
async fn replace_source(
    Caller(caller): Caller,
    request: HttpRequest,
    api: web::Data<Api>,
    id: web::Path<String>,
    body: web::Json<SourceInput>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&request)?;
    let (source, created) = api
        .replace_source(&caller, &id, body.into_inner(), expected)
        .await?;
    Ok(versioned(created, source.source.version, &source))
}

/// Delete a source; ingest answers 404 for it within seconds.
#[utoipa::path(
    delete, path = "/v1/sources/{id}", tag = "sources", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such source")),
    security(("bearer" = []))
)]
async fn delete_source(
    Caller(caller): Caller,
    api: web::Data<Api>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    api.delete_source(&caller, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate a source's secret.
///
/// The new secret (given, or generated and returned once) verifies beside the newest
/// previous one until the next rotation.
#[utoipa::path(
    post, path = "/v1/sources/{id}/rotate-secret", tag = "sources", request_body = RotateSourceSecret,
    params(("id" = String, Path)),
    responses((status = 200, description = "Rotated", body = SourceWithSecret), (status = 404, description = "No such source")),
    security(("bearer" = []))
)]
async fn rotate_source_secret(
    Caller(caller): Caller,
    api: web::Data<Api>,
    id: web::Path<String>,
    body: Option<web::Json<RotateSourceSecret>>,
) -> Result<HttpResponse, ApiError> {
    let secret = body.and_then(|b| b.into_inner().secret);
    let rotated = api.rotate_source_secret(&caller, &id, secret).await?;
    Ok(versioned(false, rotated.source.version, &rotated))
}

/// List endpoints.
#[utoipa::path(
    get, path = "/v1/endpoints", tag = "endpoints", params(PageQuery),
    responses((status = 200, description = "One page, by id", body = Page<EndpointView>), (status = 403, description = "The token lacks `admin`")),
    security(("bearer" = []))
)]
async fn list_endpoints(
    Caller(caller): Caller,
    api: web::Data<Api>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<EndpointView>>, ApiError> {
    Ok(web::Json(api.list_endpoints(&caller, &query).await?))
}

/// Create an endpoint.
///
/// Its signing secret (`whsec_…`) is generated and returned in this answer only. It receives
/// the events published after the dispatcher has it, within seconds.
#[utoipa::path(
    post, path = "/v1/endpoints", tag = "endpoints", request_body = EndpointInput,
    responses(
        (status = 201, description = "Created", body = EndpointWithSecret),
        (status = 400, description = "Invalid field (e.g. not https)"),
        (status = 409, description = "An endpoint with this id exists"),
    ),
    security(("bearer" = []))
)]
async fn create_endpoint(
    Caller(caller): Caller,
    api: web::Data<Api>,
    body: web::Json<EndpointInput>,
) -> Result<HttpResponse, ApiError> {
    let created = api.create_endpoint(&caller, body.into_inner()).await?;
    Ok(versioned(true, created.endpoint.version, &created))
}

/// Get an endpoint (never its secrets).
#[utoipa::path(
    get, path = "/v1/endpoints/{id}", tag = "endpoints", params(("id" = String, Path)),
    responses((status = 200, description = "The endpoint; ETag is its version", body = EndpointView), (status = 404, description = "No such endpoint")),
    security(("bearer" = []))
)]
async fn endpoint(
    Caller(caller): Caller,
    api: web::Data<Api>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = api.endpoint(&caller, &id).await?;
    Ok(versioned(false, endpoint.version, &endpoint))
}

/// Create or replace an endpoint.
///
/// An existing endpoint keeps its secrets; a new one gets a generated secret, returned once.
#[utoipa::path(
    put, path = "/v1/endpoints/{id}", tag = "endpoints", request_body = EndpointInput,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag read")),
    responses(
        (status = 200, description = "Replaced", body = EndpointView),
        (status = 201, description = "Created", body = EndpointWithSecret),
        (status = 409, description = "Changed since the ETag was read"),
    ),
    security(("bearer" = []))
)]
async fn replace_endpoint(
    Caller(caller): Caller,
    request: HttpRequest,
    api: web::Data<Api>,
    id: web::Path<String>,
    body: web::Json<EndpointInput>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&request)?;
    let (endpoint, secret) = api
        .replace_endpoint(&caller, &id, body.into_inner(), expected)
        .await?;
    let version = endpoint.version;
    Ok(match secret {
        Some(secret) => versioned(true, version, &EndpointWithSecret { endpoint, secret }),
        None => versioned(false, version, &endpoint),
    })
}

/// Delete an endpoint; its pending deliveries end as skipped.
#[utoipa::path(
    delete, path = "/v1/endpoints/{id}", tag = "endpoints", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such endpoint")),
    security(("bearer" = []))
)]
async fn delete_endpoint(
    Caller(caller): Caller,
    api: web::Data<Api>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    api.delete_endpoint(&caller, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate an endpoint's signing secret.
///
/// The new secret is returned once; deliveries carry a signature with the old one too for
/// `gateway.secret_rotation_overlap_secs`.
#[utoipa::path(
    post, path = "/v1/endpoints/{id}/rotate-secret", tag = "endpoints", params(("id" = String, Path)),
    responses((status = 200, description = "Rotated", body = EndpointWithSecret), (status = 404, description = "No such endpoint")),
    security(("bearer" = []))
)]
async fn rotate_endpoint_secret(
    Caller(caller): Caller,
    api: web::Data<Api>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rotated = api.rotate_endpoint_secret(&caller, &id).await?;
    Ok(versioned(false, rotated.endpoint.version, &rotated))
}

/// Redeliver a time range to one endpoint.
///
/// The stored events of `[since, until)` the endpoint subscribes to are delivered to it
/// again (only to it), oldest first, with a fresh retry schedule.
#[utoipa::path(
    post, path = "/v1/endpoints/{id}/replay", tag = "endpoints", request_body = ReplayInput,
    params(("id" = String, Path)),
    responses((status = 202, description = "Scheduled", body = ReplayView), (status = 404, description = "No such endpoint")),
    security(("bearer" = []))
)]
async fn replay(
    Caller(caller): Caller,
    api: web::Data<Api>,
    id: web::Path<String>,
    body: web::Json<ReplayInput>,
) -> Result<HttpResponse, ApiError> {
    let replay = api.replay(&caller, &id, body.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(replay))
}

/// List dead letters, newest first.
#[utoipa::path(
    get, path = "/v1/dlq", tag = "dlq", params(DeadLetterQuery),
    responses((status = 200, description = "One page", body = DeadLetterPageView)),
    security(("bearer" = []))
)]
async fn dead_letters(
    Caller(caller): Caller,
    api: web::Data<Api>,
    query: web::Query<DeadLetterQuery>,
) -> Result<web::Json<DeadLetterPageView>, ApiError> {
    Ok(web::Json(
        api.dead_letters(&caller, query.into_inner()).await?,
    ))
}

/// Redrive a dead letter.
///
/// A failed delivery goes to its endpoint only; anything else back to its topic.
#[utoipa::path(
    post, path = "/v1/dlq/{id}/redrive", tag = "dlq", params(("id" = String, Path)),
    responses((status = 202, description = "Sent again", body = DeadLetterView), (status = 404, description = "No such dead letter")),
    security(("bearer" = []))
)]
async fn redrive(
    Caller(caller): Caller,
    api: web::Data<Api>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let letter = api.redrive(&caller, &id).await?;
    Ok(HttpResponse::Accepted().json(letter))
}
