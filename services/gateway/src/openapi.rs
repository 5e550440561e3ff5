//! `GET /openapi.json`: the OpenAPI 3.1 document, generated from the handlers and the model
//! types themselves, so it cannot fall behind the code. Public: it needs no token.

use actix_web::HttpResponse;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::{model, rest};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchyard gateway",
        description = "Publish events through the outbox, search the event store, see delivery attempts. Every route needs a bearer JWT whose `tenant` claim scopes it; errors are application/problem+json."
    ),
    paths(
        rest::publish, rest::search, rest::event, rest::deliveries,
        rest::list_sources, rest::create_source, rest::source, rest::replace_source,
        rest::delete_source, rest::rotate_source_secret,
        rest::list_endpoints, rest::create_endpoint, rest::endpoint, rest::replace_endpoint,
        rest::delete_endpoint, rest::rotate_endpoint_secret, rest::replay,
        rest::dead_letters, rest::redrive,
    ),
    components(schemas(
        model::PublishRequest,
        model::Published,
        model::EventView,
        model::EventPageView,
        model::DeliveryView,
        model::Json,
        model::SourceInput,
        model::SourceView,
        model::SourceWithSecret,
        model::EndpointInput,
        model::EndpointView,
        model::EndpointWithSecret,
        model::ReplayInput,
        model::ReplayView,
        model::DeadLetterView,
        model::DeadLetterPageView,
        rest::RotateSourceSecret,
    )),
    modifiers(&Bearer),
    tags(
        (name = "events", description = "Publish and search events"),
        (name = "sources", description = "Inbound webhook sources (admin)"),
        (name = "endpoints", description = "Outbound endpoints (admin)"),
        (name = "dlq", description = "Dead letters and redrive (admin)"),
    )
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Serves the document.
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
