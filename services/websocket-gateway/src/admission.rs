//! Everything decided before a stream opens, in one place: the token (header or `?token=`),
//! the `events:read` scope, the filter, the `sub` restriction, the resume point and a
//! connection permit. A refusal is an HTTP answer (problem+json) before any upgrade.

use std::{collections::HashMap, sync::Arc, time::Duration};

use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    http::{StatusCode, header},
};
use switchyard_auth::{AuthError, Authenticator, Principal, Scope, bearer};
use switchyard_runtime::problem::Problem;
use tokio_util::sync::CancellationToken;

use crate::{
    filter::{Filter, FilterError},
    limits::{LimitError, Limits, Permit},
    metrics::{self, Transport},
};

/// How long a client refused for a full replica or a drain should wait.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why a stream was not opened.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No, bad or expired token; or no `events:read` scope.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A bad `types` or `subject`.
    #[error("{0}")]
    Filter(#[from] FilterError),
    /// A bad query string or resume point.
    #[error("{0}")]
    BadRequest(String),
    /// A `sub`-restricted token asked for another subject.
    #[error("this token may only receive its own events (`sub`): omit `subject` or set it to that")]
    SubjectNotAllowed,
    /// `own` was asked for by a token without `sub`.
    #[error("own: only a token with a `sub` claim has events of its own")]
    NoOwner,
    /// A connection limit is reached.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// The replica is shutting down.
    #[error("this server is restarting: reconnect, another replica will answer")]
    Draining,
}

impl Refusal {
    fn problem(&self) -> Problem {
        let detail = self.to_string();
        match self {
            Self::Auth(error) => error.to_problem(),
            Self::Filter(_) | Self::BadRequest(_) => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-stream-request",
                "Invalid stream request",
                detail,
            ),
            Self::SubjectNotAllowed | Self::NoOwner => Problem::new(
                StatusCode::FORBIDDEN,
                "subject-not-allowed",
                "Subject not allowed",
                detail,
            ),
            Self::Limit(LimitError::Tenant(_)) => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-connections",
                "Too many connections",
                detail,
            )
            .retry_after(RETRY_AFTER * 30),
            Self::Limit(LimitError::Replica(_)) | Self::Draining => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "stream-unavailable",
                "Stream unavailable here",
                detail,
            )
            .retry_after(RETRY_AFTER),
        }
    }

    /// The metric label.
    fn label(&self) -> &'static str {
        match self {
            Self::Auth(AuthError::MissingScope { .. })
            | Self::SubjectNotAllowed
            | Self::NoOwner => "forbidden",
            Self::Auth(_) => "unauthorized",
            Self::Filter(_) | Self::BadRequest(_) => "bad_request",
            Self::Limit(LimitError::Tenant(_)) => "tenant_limit",
            Self::Limit(LimitError::Replica(_)) => "replica_limit",
            Self::Draining => "draining",
        }
    }
}

impl ResponseError for Refusal {
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

/// What an admitted stream is.
#[derive(Debug)]
pub struct Admission {
    /// Who connected.
    pub principal: Principal,
    /// What it selected.
    pub filter: Filter,
    /// The last event it saw, when resuming.
    pub since: Option<String>,
    /// Its place in the connection counts.
    pub permit: Permit,
}

/// The checks before a stream opens.
#[derive(Debug, Clone)]
pub struct Gatekeeper {
    /// Token verification.
    pub auth: Authenticator,
    /// Connection counts.
    pub limits: Arc<Limits>,
    /// Pins `sub`-carrying tokens to their own events.
    pub restrict_subject_tokens: bool,
    /// The service's shutdown: no new streams once it fired.
    pub stopping: CancellationToken,
}

impl Gatekeeper {
    /// Admits `request` as a `transport` stream, or says why not.
    pub async fn admit(
        &self,
        request: &HttpRequest,
        transport: Transport,
    ) -> Result<Admission, Refusal> {
        let result = self.check(request, transport).await;
        if let Err(refusal) = &result {
            metrics::refused(refusal.label());
            tracing::info!(
                transport = transport.as_str(),
                reason = %refusal,
                "stream refused"
            );
        }
        result
    }

    async fn check(
        &self,
        request: &HttpRequest,
        transport: Transport,
    ) -> Result<Admission, Refusal> {
        if self.stopping.is_cancelled() {
            return Err(Refusal::Draining);
        }
        let mut query: HashMap<String, String> =
            url::form_urlencoded::parse(request.query_string().as_bytes())
                .into_owned()
                .collect();
        let header_token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer);
        let token = header_token
            .map(str::to_owned)
            .or_else(|| query.remove("token"))
            .ok_or(AuthError::MissingToken)?;
        let principal = self.auth.authenticate(&token).await?;
        principal.require(Scope::EventsRead)?;

        let filter = Filter::parse(
            query.get("types").map(String::as_str),
            query.get("subject").map(String::as_str),
        )?;
        let own = match query.get("own").map(String::as_str) {
            None | Some("" | "false" | "0") => false,
            Some("true" | "1") => true,
            Some(_) => return Err(Refusal::BadRequest("own: must be true or false".into())),
        };
        let filter = self.scope(filter, own, &principal)?;
        // EventSource sends `Last-Event-ID` on its own reconnects; `?since=` works on both.
        let last_event_id = (transport == Transport::Sse)
            .then(|| request.headers().get("last-event-id"))
            .flatten()
            .map(|v| {
                v.to_str()
                    .map(str::to_owned)
                    .map_err(|_| Refusal::BadRequest("Last-Event-ID must be ASCII".into()))
            })
            .transpose()?;
        let since = last_event_id
            .or_else(|| query.remove("since"))
            .filter(|s| !s.is_empty());
        if since.as_ref().is_some_and(|s| s.len() > 128) {
            return Err(Refusal::BadRequest(
                "since / Last-Event-ID: an event id is at most 128 characters".into(),
            ));
        }
        let permit = self.limits.acquire(principal.tenant(), transport)?;
        Ok(Admission {
            principal,
            filter,
            since,
            permit,
        })
    }

    /// Applies the `sub` claim: with `own`, the filter selects the token's own events (those
    /// whose subject or owner field is its `sub`). With `restrict_subject_tokens`, a token with
    /// `sub` gets only its own events whatever it asks; it may still narrow them to the subject
    /// that is its `sub`.
    pub fn scope(
        &self,
        filter: Filter,
        own: bool,
        principal: &Principal,
    ) -> Result<Filter, Refusal> {
        let sub = principal.subject();
        match (sub, filter.subject()) {
            (None, _) if own => Err(Refusal::NoOwner),
            (Some(_), Some(_)) if own => Err(Refusal::BadRequest(
                "subject and own: ask for one subject or for your own events, not both".into(),
            )),
            (Some(sub), None) if own || self.restrict_subject_tokens => {
                Ok(filter.owned_by(sub.to_owned()))
            }
            (Some(sub), Some(asked)) if self.restrict_subject_tokens && asked != sub => {
                Err(Refusal::SubjectNotAllowed)
            }
            _ => Ok(filter),
        }
    }
}
