//! Everything the API can answer besides success, mapped to problem+json in one place. REST
//! answers the [`Problem`]; GraphQL puts the same `type`, `status` and `detail` in the error's
//! extensions, so both front ends say the same thing about the same mistake.

use std::time::Duration;

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use switchyard_auth::AuthError;
use switchyard_runtime::problem::Problem;
use switchyard_store::StoreError;

/// How long a caller should wait when the database or the publish queue is the problem.
const RETRY_SOON: Duration = Duration::from_secs(1);

/// Why a request was not served.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No, bad or expired token, or a scope the token lacks.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The tenant's request budget ran out.
    #[error("this tenant made more requests than its budget allows; retry after the delay")]
    RateLimited {
        /// When the next request would pass.
        retry_after: Duration,
    },
    /// The request is malformed or breaks a rule; the text says which field and how.
    #[error("{0}")]
    Invalid(String),
    /// The body is larger than `gateway.max_body_bytes`.
    #[error("the body is over the {limit} byte limit (gateway.max_body_bytes)")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Nothing of that kind and id in the caller's tenant (whether it exists in another
    /// tenant is never revealed).
    #[error("{kind} {id:?} was not found")]
    NotFound {
        /// What was looked for: `event`, `source`, ...
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The write conflicts with what is stored (exists already, or changed meanwhile).
    #[error("{0}")]
    Conflict(String),
    /// Too many publishes are waiting for a commit.
    #[error("too many publishes are waiting to be stored; retry shortly")]
    Overloaded,
    /// The broker did not take a record (a redrive or replay); a retry may work.
    #[error("the broker is unavailable; retry shortly")]
    Bus(#[from] switchyard_bus::BusError),
    /// The database is unreachable or overloaded; a retry may work.
    #[error("the event store is unavailable; retry shortly")]
    Unavailable,
    /// Something on our side that a retry will not fix (a sealing key missing, a stored row
    /// that no longer reads); logged with the detail, answered without it.
    #[error("{0}")]
    Internal(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<switchyard_control::ControlError> for ApiError {
    fn from(error: switchyard_control::ControlError) -> Self {
        match error {
            switchyard_control::ControlError::Invalid { error, .. } => {
                Self::Invalid(format!("{}: {}", error.field, error.message))
            }
            switchyard_control::ControlError::Refused { reason, .. } => Self::Invalid(reason),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    /// A 404 for `kind` `id`.
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            id: id.into(),
        }
    }

    /// The problem document for this error.
    #[must_use]
    pub fn problem(&self) -> Problem {
        let detail = self.to_string();
        match self {
            Self::Auth(error) => error.to_problem(),
            Self::RateLimited { retry_after } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                detail,
            )
            .retry_after(*retry_after),
            Self::Invalid(_) => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "Invalid request",
                detail,
            ),
            Self::TooLarge { .. } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Body too large",
                detail,
            ),
            Self::NotFound { .. } => {
                Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
            }
            Self::Conflict(_) => Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", detail),
            Self::Overloaded => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Overloaded",
                detail,
            )
            .retry_after(RETRY_SOON),
            Self::Store(StoreError::InvalidCursor) => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "Invalid request",
                "cursor: not a cursor this API returned; start again without it",
            ),
            Self::Bus(error) => {
                tracing::warn!(%error, "broker unavailable");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "broker-unavailable",
                    "Broker unavailable",
                    detail,
                )
                .retry_after(RETRY_SOON)
            }
            Self::Unavailable => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unavailable",
                "Database unavailable",
                detail,
            )
            .retry_after(RETRY_SOON),
            Self::Store(error) if error.is_transient() => {
                tracing::warn!(%error, "database unavailable");
                Self::Unavailable.problem()
            }
            Self::Internal(reason) => {
                tracing::error!(%reason, "internal error");
                internal()
            }
            Self::Store(error) => {
                tracing::error!(%error, "store error");
                internal()
            }
        }
    }
}

/// A 5xx that says nothing about our internals (the log has them).
fn internal() -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "the request failed on our side; it has been logged",
    )
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.problem().status()
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Auth(error) => error.to_response(),
            other => other.problem().to_response(),
        }
    }
}

impl async_graphql::ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        let problem = self.problem();
        let status = problem.status().as_u16();
        let kind = problem.kind().to_owned();
        async_graphql::Error::new(self.to_string()).extend_with(|_, extensions| {
            extensions.set("type", kind);
            extensions.set("status", status);
        })
    }
}
