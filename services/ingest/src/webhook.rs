//! `POST /webhooks/{tenant}/{source}`: the one flow of this service, as a sequence of small
//! checks, cheapest first, each of which can turn the request away before the next one
//! costs anything: client budget → source → address → source and tenant budgets → body →
//! signature → dedupe → publish. Only the broker's acknowledgement earns a 202.

use std::{
    net::{IpAddr, Ipv4Addr},
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use actix_web::{
    HttpRequest, HttpResponse,
    http::header::{self, HeaderMap},
    web,
};
use serde::Serialize;
use switchyard_bus::{BusError, Publisher};
use switchyard_control::CaughtUp;
use switchyard_domain::EventId;
use switchyard_signatures::HeaderLookup;
use tracing::Instrument as _;

use crate::{
    body,
    client_ip::ClientIpResolver,
    dedupe::{Claim, Dedupe},
    delivery::{self, Delivery},
    limits::RateLimits,
    outcome,
    rejection::Rejection,
    sources::{Source, SourceCatalog},
};

/// The parts of the flow, each owned once and shared by every HTTP worker.
pub struct Ingest {
    /// Configured sources.
    pub catalog: SourceCatalog,
    /// Client address resolution.
    pub clients: ClientIpResolver,
    /// Request budgets.
    pub limits: RateLimits,
    /// Delivery memory.
    pub dedupe: Dedupe,
    /// Where raw records go.
    pub publisher: Arc<dyn Publisher>,
    /// `<prefix>.ingest.raw`.
    pub topic: String,
    /// Deadline for the whole body.
    pub body_timeout: Duration,
    /// How long a webhook waits for the broker before the sender is told to retry
    /// (`ingest.publish_timeout_ms`). Shorter than the bus's own deadline on purpose: the sender
    /// gets its answer within its timeout while the producer keeps delivering the record,
    /// instead of expiring it (an expired record costs an idempotent Kafka producer an epoch
    /// bump, and the retry is a duplicate with the same event id anyway).
    pub publish_timeout: Duration,
    /// Whether the run-time sources are all known yet: until then an unknown source may be
    /// one created through the API, so its sender is told to retry, not that it is unknown.
    pub config: CaughtUp,
}

/// A 202 body.
#[derive(Debug, Serialize)]
struct Accepted<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    duplicate: bool,
}

/// Registers the route.
pub fn routes(config: &mut web::ServiceConfig, ingest: web::Data<Ingest>) {
    config
        .app_data(ingest)
        .service(web::resource("/webhooks/{tenant}/{source}").route(web::post().to(receive)));
}

async fn receive(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    ingest: web::Data<Ingest>,
) -> HttpResponse {
    let started = Instant::now();
    let (tenant, source) = path.into_inner();
    let client = ingest.client_of(&request);
    let span = tracing::info_span!("webhook", %tenant, %source, %client);

    let found = ingest.catalog.get(&tenant, &source);
    // The client budget comes first so that unknown URLs cost a flood as much as known ones.
    let result = if let Err(limited) = ingest.limits.check_client(client) {
        Err(Rejection::RateLimited(limited))
    } else if let Some(source) = &found {
        ingest
            .accept(source, &request, client, payload)
            .instrument(span.clone())
            .await
    } else if ingest.config.is_caught_up() {
        Err(Rejection::UnknownSource {
            tenant,
            source_id: source,
        })
    } else {
        Err(Rejection::CatchingUp {
            tenant,
            source_id: source,
        })
    };
    let _entered = span.enter();
    outcome::record(found.as_deref(), &result, started.elapsed());
    match result {
        Ok((id, duplicate)) => HttpResponse::Accepted().json(Accepted {
            id: id.as_str(),
            duplicate,
        }),
        Err(rejection) => actix_web::ResponseError::error_response(&rejection),
    }
}

impl Ingest {
    fn client_of(&self, request: &HttpRequest) -> IpAddr {
        let peer = request
            .peer_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |addr| addr.ip());
        let forwarded: Vec<&[u8]> = request
            .headers()
            .get_all("x-forwarded-for")
            .map(header::HeaderValue::as_bytes)
            .collect();
        self.clients.resolve(peer, forwarded.into_iter())
    }

    /// Everything after the source is known. Returns the event id and whether it was a
    /// duplicate.
    async fn accept(
        &self,
        source: &Source,
        request: &HttpRequest,
        client: IpAddr,
        payload: web::Payload,
    ) -> Result<(EventId, bool), Rejection> {
        if !source.allows(client) {
            return Err(Rejection::IpNotAllowed(client));
        }
        // After the allowlist, so a sender that may not post learns nothing of the state.
        if source.paused {
            return Err(Rejection::Paused {
                tenant: source.tenant.to_string(),
                source_id: source.id.to_string(),
            });
        }
        self.limits
            .check_source(source.limiter())
            .and_then(|()| self.limits.check_tenant(&source.tenant))
            .map_err(Rejection::RateLimited)?;

        let headers = RequestHeaders(request.headers());
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        let body = body::read(payload, declared, source.max_body_bytes, self.body_timeout).await?;
        source.verifier.verify(&headers, &body, SystemTime::now())?;

        let delivery_id = delivery::delivery_id(source, &headers, &body);
        let event_id = delivery::event_id(source, delivery_id.as_deref());
        if delivery_id.is_some() {
            // A claim outlives a publish that may still land after we gave up on it.
            match self.dedupe.claim(&event_id, self.publish_timeout * 2).await {
                Claim::New => {}
                Claim::Duplicate => return Ok((event_id, true)),
                Claim::InFlight => return Err(Rejection::InFlight),
            }
        }
        let delivery = Delivery {
            source,
            body,
            delivery_id: delivery_id.as_deref(),
            event_id: &event_id,
            client,
            received_at: SystemTime::now(),
            traceparent: switchyard_runtime::trace_context::current().map(|t| t.to_string()),
        };
        let published = self.publish(delivery.to_message(&headers)).await;
        if delivery_id.is_some() {
            match published {
                Ok(()) => self.dedupe.confirm(&event_id).await,
                Err(_) => self.dedupe.release(&event_id).await,
            }
        }
        published.map(|()| (event_id, false))
    }

    async fn publish(&self, message: switchyard_domain::Message) -> Result<(), Rejection> {
        let publish = self.publisher.publish(&self.topic, message);
        match tokio::time::timeout(self.publish_timeout, publish).await {
            Ok(Ok(_ack)) => Ok(()),
            Ok(Err(BusError::Rejected { .. })) => Err(Rejection::Refused),
            Ok(Err(error)) => {
                tracing::warn!(%error, "raw webhook not stored; the sender is told to retry");
                Err(Rejection::Unavailable)
            }
            Err(_) => {
                tracing::warn!(timeout = ?self.publish_timeout, "broker did not acknowledge in time; the sender is told to retry");
                Err(Rejection::Unavailable)
            }
        }
    }
}

/// Request headers as the signature schemes read them.
struct RequestHeaders<'a>(&'a HeaderMap);

impl HeaderLookup for RequestHeaders<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(header::HeaderValue::as_bytes)
    }
}
