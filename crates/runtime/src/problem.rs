//! RFC 9457 problem details, the one error body every Switchyard HTTP API answers with.
//!
//! Each service maps its own error enum to a [`Problem`] in one place; the `type` is a stable
//! identifier clients can match on (`urn:switchyard:problem:<slug>`, listed in
//! `docs/problems.md`), `detail` tells the caller what to fix, and 5xx bodies say nothing
//! about our internals.

use std::time::Duration;

use actix_web::{
    HttpResponse,
    http::{StatusCode, header},
};
use serde::Serialize;

/// Media type of problem bodies.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// One problem answer.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: String,
    #[serde(skip)]
    retry_after: Option<Duration>,
}

impl Problem {
    /// A problem of type `urn:switchyard:problem:<slug>`.
    #[must_use]
    pub fn new(
        status: StatusCode,
        slug: &str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: format!("urn:switchyard:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// Adds `Retry-After`, rounded up to whole seconds (at least 1).
    #[must_use]
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The `type` identifier.
    #[must_use]
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The answer: status, `Retry-After` when set, and the JSON body.
    #[must_use]
    pub fn to_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status());
        response.content_type(CONTENT_TYPE);
        if let Some(after) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, retry_after_secs(after).to_string()));
        }
        response.json(self)
    }
}

/// Whole seconds for `Retry-After`: rounded up, never 0 (0 invites an immediate retry storm).
#[must_use]
pub fn retry_after_secs(after: Duration) -> u64 {
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody as _;

    use super::*;

    #[test]
    fn a_problem_answers_with_its_status_type_and_retry_after() {
        let problem = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "broker-unavailable",
            "Broker unavailable",
            "retry later",
        )
        .retry_after(Duration::from_millis(1_200));
        let response = problem.to_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "2");
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            CONTENT_TYPE
        );
        let body = response.into_body().try_into_bytes().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["type"], "urn:switchyard:problem:broker-unavailable");
        assert_eq!(json["status"], 503);
        assert_eq!(json["detail"], "retry later");
    }

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_secs(Duration::from_millis(3_001)), 4);
    }
}
