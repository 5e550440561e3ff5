//! Every way a webhook is turned away, mapped once to its status and problem+json body.
//!
//! Each rejection tells the sender what to fix (or that it should retry) without revealing
//! what we expected: no secrets, no expected signatures, nothing about our internals.

use std::time::Duration;

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use switchyard_runtime::problem::Problem;
use switchyard_signatures::SignatureError;

use crate::{body::BodyError, limits::Limited};

/// What a sender to a paused source is told to wait before retrying.
const PAUSED_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Catching up with the config topic takes seconds.
const LOADING_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Why a webhook was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// No such tenant or source.
    #[error("no source {source_id} is configured for tenant {tenant}")]
    UnknownSource {
        /// Tenant from the URL.
        tenant: String,
        /// Source from the URL.
        source_id: String,
    },
    /// No such source yet, while the run-time sources are still being loaded (a restarted
    /// replica): it may be one created through the API, so the sender should retry.
    #[error(
        "no source {source_id} is known for tenant {tenant} yet; sources are still loading, retry shortly"
    )]
    CatchingUp {
        /// Tenant from the URL.
        tenant: String,
        /// Source from the URL.
        source_id: String,
    },
    /// The source is paused; the sender should keep the webhook and retry.
    #[error("source {source_id} of tenant {tenant} is paused; retry later")]
    Paused {
        /// Tenant from the URL.
        tenant: String,
        /// Source from the URL.
        source_id: String,
    },
    /// The client address is outside the source's allowlist.
    #[error("requests from {0} are not allowed for this source")]
    IpNotAllowed(std::net::IpAddr),
    /// A request budget ran out.
    #[error("too many requests for this {}; retry after the indicated delay", .0.scope.as_str())]
    RateLimited(Limited),
    /// The body is too large, slow or broken.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// The signature does not prove the sender holds the secret.
    #[error("signature rejected: {0}")]
    Signature(#[from] SignatureError),
    /// The same delivery is being accepted by another request right now.
    #[error("this delivery is being accepted by another request; retry shortly")]
    InFlight,
    /// The broker did not acknowledge the record in time.
    #[error("the event could not be stored right now; retry later")]
    Unavailable,
    /// The broker refused the record for good (e.g. larger than it accepts).
    #[error("the event could not be stored")]
    Refused,
}

impl Rejection {
    /// Metric label of the outcome.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownSource { .. } => "unknown_source",
            Self::CatchingUp { .. } => "sources_loading",
            Self::Paused { .. } => "source_paused",
            Self::IpNotAllowed(_) => "ip_not_allowed",
            Self::RateLimited(_) => "rate_limited",
            Self::Body(BodyError::TooLarge { .. }) => "too_large",
            Self::Body(BodyError::Timeout(_)) => "body_timeout",
            Self::Body(BodyError::Broken(_)) => "body_broken",
            Self::Signature(SignatureError::Missing { .. }) => "signature_missing",
            Self::Signature(
                SignatureError::Expired { .. } | SignatureError::FromTheFuture { .. },
            ) => "signature_expired",
            Self::Signature(_) => "signature_invalid",
            Self::InFlight => "in_flight",
            Self::Unavailable => "broker_unavailable",
            Self::Refused => "broker_refused",
        }
    }

    fn problem(&self) -> Problem {
        let detail = self.to_string();
        match self {
            Self::UnknownSource { .. } => Problem::new(
                StatusCode::NOT_FOUND,
                "unknown-source",
                "Unknown source",
                detail,
            ),
            Self::CatchingUp { .. } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "sources-loading",
                "Sources still loading",
                detail,
            )
            .retry_after(LOADING_RETRY_AFTER),
            // 503, not 404 or 409: providers retry a 5xx, so nothing sent while a source is
            // paused is lost, and a 4xx makes some of them disable the webhook.
            Self::Paused { .. } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "source-paused",
                "Source paused",
                detail,
            )
            .retry_after(PAUSED_RETRY_AFTER),
            Self::IpNotAllowed(_) => Problem::new(
                StatusCode::FORBIDDEN,
                "ip-not-allowed",
                "Source address not allowed",
                detail,
            ),
            Self::RateLimited(limited) => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                detail,
            )
            .retry_after(limited.retry_after),
            Self::Body(BodyError::TooLarge { .. }) => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Body too large",
                detail,
            ),
            Self::Body(BodyError::Timeout(_)) => Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "body-timeout",
                "Body not received in time",
                detail,
            ),
            Self::Body(BodyError::Broken(_)) => Problem::new(
                StatusCode::BAD_REQUEST,
                "body-unreadable",
                "Body could not be read",
                detail,
            ),
            Self::Signature(_) => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-signature",
                "Invalid signature",
                detail,
            ),
            Self::InFlight => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "delivery-in-flight",
                "Delivery in flight",
                detail,
            )
            .retry_after(Duration::from_secs(1)),
            Self::Unavailable => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "broker-unavailable",
                "Temporarily unavailable",
                detail,
            )
            .retry_after(Duration::from_secs(5)),
            Self::Refused => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "not-stored",
                "Not stored",
                detail,
            ),
        }
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        self.problem().status()
    }

    fn error_response(&self) -> HttpResponse {
        self.problem().to_response()
    }
}
