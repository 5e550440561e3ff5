//! The GraphQL front end at `/graphql`: the same operations as REST through the same
//! [`Api`], with the caller authenticated (and its budget spent) once per request before the
//! query runs. `GET /graphql` serves GraphiQL. Depth and complexity are limited
//! (`gateway.graphql_max_depth`, `gateway.graphql_max_complexity`) so one query cannot make
//! the store do unbounded work.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::{
    ComplexObject, Context, ErrorExtensions as _, Object, Result, Schema, http::GraphiQLSource,
};
use async_graphql_actix_web::{GraphQLRequest, GraphQLResponse, GraphQLSubscription};
use futures::{Stream, StreamExt as _};
use switchyard_auth::{Principal, Scope};
use switchyard_domain::EventTypePattern;

use crate::{
    api::Api,
    error::ApiError,
    live::{Item, Live, Selection},
    model::{
        DeadLetterPageView, DeadLetterQuery, DeadLetterView, DeliveryView, EndpointInput,
        EndpointView, EndpointWithSecret, EventPageView, EventQuery, EventView, Page, PageQuery,
        PublishRequest, Published, ReplayInput, ReplayView, SourceInput, SourceView,
        SourceWithSecret,
    },
};

/// The schema type.
pub type ApiSchema = Schema<Query, Mutation, Subscription>;

/// Builds the schema over `api`, with live events from `live`.
#[must_use]
pub fn schema(api: Arc<Api>, live: Live) -> ApiSchema {
    let settings = api.settings().clone();
    Schema::build(Query, Mutation, Subscription)
        .data(api)
        .data(live)
        .limit_depth(settings.graphql_max_depth)
        .limit_complexity(settings.graphql_max_complexity)
        .finish()
}

fn api<'a>(ctx: &Context<'a>) -> Result<&'a Arc<Api>> {
    ctx.data::<Arc<Api>>()
}

fn caller<'a>(ctx: &Context<'a>) -> Result<&'a Principal> {
    ctx.data::<Principal>()
}

/// Reads.
pub struct Query;

#[Object]
impl Query {
    /// One page of events, newest first unless `order: "oldest"`.
    async fn events(&self, ctx: &Context<'_>, query: Option<EventQuery>) -> Result<EventPageView> {
        api(ctx)?
            .search(caller(ctx)?, query.unwrap_or_default())
            .await
            .map_err(|e| e.extend())
    }

    /// One event, or null when the caller's tenant has none with this id.
    async fn event(&self, ctx: &Context<'_>, id: String) -> Result<Option<EventView>> {
        found(api(ctx)?.event(caller(ctx)?, &id).await)
    }

    /// The tenant's sources, by id (admin).
    async fn sources(
        &self,
        ctx: &Context<'_>,
        page: Option<PageQuery>,
    ) -> Result<Page<SourceView>> {
        api(ctx)?
            .list_sources(caller(ctx)?, &page.unwrap_or_default())
            .await
            .map_err(|e| e.extend())
    }

    /// One source, or null (admin).
    async fn source(&self, ctx: &Context<'_>, id: String) -> Result<Option<SourceView>> {
        found(api(ctx)?.source(caller(ctx)?, &id).await)
    }

    /// The tenant's endpoints, by id (admin).
    async fn endpoints(
        &self,
        ctx: &Context<'_>,
        page: Option<PageQuery>,
    ) -> Result<Page<EndpointView>> {
        api(ctx)?
            .list_endpoints(caller(ctx)?, &page.unwrap_or_default())
            .await
            .map_err(|e| e.extend())
    }

    /// One endpoint, or null (admin).
    async fn endpoint(&self, ctx: &Context<'_>, id: String) -> Result<Option<EndpointView>> {
        found(api(ctx)?.endpoint(caller(ctx)?, &id).await)
    }

    /// Dead letters, newest first (admin).
    async fn dead_letters(
        &self,
        ctx: &Context<'_>,
        query: Option<DeadLetterQuery>,
    ) -> Result<DeadLetterPageView> {
        api(ctx)?
            .dead_letters(caller(ctx)?, query.unwrap_or_default())
            .await
            .map_err(|e| e.extend())
    }
}

/// `Ok(None)` for a 404, so a missing entity is `null` as GraphQL clients expect.
fn found<T>(result: std::result::Result<T, ApiError>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ApiError::NotFound { .. }) => Ok(None),
        Err(error) => Err(error.extend()),
    }
}

#[ComplexObject]
impl EventView {
    /// Every attempt to deliver this event, oldest first.
    async fn deliveries(&self, ctx: &Context<'_>) -> Result<Vec<DeliveryView>> {
        api(ctx)?
            .deliveries(caller(ctx)?, &self.id)
            .await
            .map_err(|e| e.extend())
    }
}

/// Writes.
pub struct Mutation;

#[Object]
impl Mutation {
    /// Publishes an event through the outbox; `idempotencyKey` makes a retry safe.
    async fn publish(
        &self,
        ctx: &Context<'_>,
        input: PublishRequest,
        idempotency_key: Option<String>,
    ) -> Result<Published> {
        api(ctx)?
            .publish(caller(ctx)?, input, idempotency_key.as_deref())
            .await
            .map_err(|e| e.extend())
    }

    /// Creates a source; a generated secret is in the answer, this once (admin).
    async fn create_source(
        &self,
        ctx: &Context<'_>,
        input: SourceInput,
    ) -> Result<SourceWithSecret> {
        api(ctx)?
            .create_source(caller(ctx)?, input)
            .await
            .map_err(|e| e.extend())
    }

    /// Creates or replaces a source, at `ifVersion` when given (admin).
    async fn replace_source(
        &self,
        ctx: &Context<'_>,
        id: String,
        input: SourceInput,
        if_version: Option<i64>,
    ) -> Result<SourceWithSecret> {
        api(ctx)?
            .replace_source(caller(ctx)?, &id, input, if_version)
            .await
            .map(|(source, _)| source)
            .map_err(|e| e.extend())
    }

    /// Rotates a source's secret (admin).
    async fn rotate_source_secret(
        &self,
        ctx: &Context<'_>,
        id: String,
        secret: Option<String>,
    ) -> Result<SourceWithSecret> {
        api(ctx)?
            .rotate_source_secret(caller(ctx)?, &id, secret)
            .await
            .map_err(|e| e.extend())
    }

    /// Deletes a source; true when it existed (admin).
    async fn delete_source(&self, ctx: &Context<'_>, id: String) -> Result<bool> {
        Ok(found(api(ctx)?.delete_source(caller(ctx)?, &id).await)?.is_some())
    }

    /// Creates an endpoint; its secret is in the answer, this once (admin).
    async fn create_endpoint(
        &self,
        ctx: &Context<'_>,
        input: EndpointInput,
    ) -> Result<EndpointWithSecret> {
        api(ctx)?
            .create_endpoint(caller(ctx)?, input)
            .await
            .map_err(|e| e.extend())
    }

    /// Creates or replaces an endpoint, at `ifVersion` when given (admin).
    async fn replace_endpoint(
        &self,
        ctx: &Context<'_>,
        id: String,
        input: EndpointInput,
        if_version: Option<i64>,
    ) -> Result<EndpointView> {
        api(ctx)?
            .replace_endpoint(caller(ctx)?, &id, input, if_version)
            .await
            .map(|(endpoint, _)| endpoint)
            .map_err(|e| e.extend())
    }

    /// Rotates an endpoint's signing secret (admin).
    async fn rotate_endpoint_secret(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> Result<EndpointWithSecret> {
        api(ctx)?
            .rotate_endpoint_secret(caller(ctx)?, &id)
            .await
            .map_err(|e| e.extend())
    }

    /// Deletes an endpoint; true when it existed (admin).
    async fn delete_endpoint(&self, ctx: &Context<'_>, id: String) -> Result<bool> {
        Ok(found(api(ctx)?.delete_endpoint(caller(ctx)?, &id).await)?.is_some())
    }

    /// Redelivers a time range to one endpoint (admin).
    async fn replay(
        &self,
        ctx: &Context<'_>,
        endpoint: String,
        input: ReplayInput,
    ) -> Result<ReplayView> {
        api(ctx)?
            .replay(caller(ctx)?, &endpoint, input)
            .await
            .map_err(|e| e.extend())
    }

    /// Sends a dead letter again (admin).
    async fn redrive(&self, ctx: &Context<'_>, id: String) -> Result<DeadLetterView> {
        api(ctx)?
            .redrive(caller(ctx)?, &id)
            .await
            .map_err(|e| e.extend())
    }
}

/// Live events.
pub struct Subscription;

#[async_graphql::Subscription]
impl Subscription {
    /// The caller's events as they are published, filtered by type patterns and subject,
    /// until the token expires. A subscriber that falls behind gets an error item saying how
    /// many it missed (fetch them with the `events` query) and goes on.
    async fn events(
        &self,
        ctx: &Context<'_>,
        types: Option<Vec<String>>,
        subject: Option<String>,
    ) -> Result<impl Stream<Item = Result<EventView>> + use<>> {
        let caller = caller(ctx)?;
        caller
            .require(Scope::EventsRead)
            .map_err(|e| ApiError::from(e).extend())?;
        let types = types
            .unwrap_or_default()
            .iter()
            .map(|t| EventTypePattern::parse(t))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| ApiError::Invalid(format!("types: {e}")).extend())?;
        let left = (caller.expires_at() - chrono::Utc::now())
            .to_std()
            .unwrap_or_default();
        let selection = Selection {
            tenant: caller.tenant().clone(),
            types,
            subject,
            until: tokio::time::Instant::now() + left,
        };
        let stream = ctx.data::<Live>()?.subscribe(selection);
        Ok(stream.map(live_item))
    }
}

fn live_item(item: Item) -> Result<EventView> {
    match item {
        Item::Event(event) => Ok(*event),
        Item::Missed(missed) => Err(async_graphql::Error::new(format!(
            "this subscription fell {missed} events behind; fetch them with the events query"
        ))),
    }
}

/// `GET /graphql/ws`: a `graphql-transport-ws` (or legacy `graphql-ws`) connection. The token
/// is the upgrade request's `Authorization` header or `connection_init`'s `token` (browsers
/// cannot set headers on a WebSocket); the connection is refused without a valid one.
pub async fn subscribe(
    schema: web::Data<ApiSchema>,
    api: web::Data<Api>,
    request: HttpRequest,
    payload: web::Payload,
) -> std::result::Result<HttpResponse, actix_web::Error> {
    let header = match api.access.admit(&request).await {
        Ok((principal, _)) => Some(principal),
        Err(ApiError::Auth(switchyard_auth::AuthError::MissingToken)) => None,
        Err(error) => return Err(error.into()),
    };
    let api = api.into_inner();
    GraphQLSubscription::new(Schema::clone(&schema))
        .on_connection_init(move |init: serde_json::Value| async move {
            let principal = match header {
                Some(principal) => principal,
                None => {
                    let token = init
                        .get("token")
                        .or_else(|| init.get("authorization"))
                        .or_else(|| init.get("Authorization"))
                        .and_then(serde_json::Value::as_str)
                        .map(|t| switchyard_auth::bearer(t).unwrap_or(t))
                        .ok_or_else(|| {
                            async_graphql::Error::new(
                                "connection_init needs {\"token\": \"<JWT>\"}",
                            )
                        })?;
                    api.access
                        .admit_token(token)
                        .await
                        .map_err(|e| e.extend())?
                        .0
                }
            };
            let mut data = async_graphql::Data::default();
            data.insert(principal);
            Ok(data)
        })
        .start(&request, payload)
}

/// `POST /graphql`: authenticates, then executes with the caller in the context.
pub async fn execute(
    schema: web::Data<ApiSchema>,
    api: web::Data<Api>,
    http: HttpRequest,
    request: GraphQLRequest,
) -> std::result::Result<GraphQLResponse, ApiError> {
    let (principal, _) = api.access.admit(&http).await?;
    Ok(schema
        .execute(request.into_inner().data(principal))
        .await
        .into())
}

/// `GET /graphql`: the GraphiQL IDE.
pub async fn graphiql() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .subscription_endpoint("/graphql/ws")
                .finish(),
        )
}
