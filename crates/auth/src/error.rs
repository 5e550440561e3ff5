//! Why a request was not authenticated, in the caller's terms, and how that maps to HTTP.

use std::time::Duration;

use actix_web::http::StatusCode;
use switchyard_runtime::problem::Problem;

use crate::{JWKS_MIN_REFETCH_INTERVAL, MAX_TOKEN_BYTES, scope::Scope};

/// A request's token was refused, or it lacks a scope.
///
/// Messages tell the caller what to fix and never echo the token, a secret or a key. Map it
/// once at the HTTP edge with [`AuthError::to_problem`] (and [`AuthError::www_authenticate`]
/// for the `WWW-Authenticate` header).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No token was sent.
    #[error(
        "no bearer token: send `Authorization: Bearer <token>` (browsers on /v1/ws and /v1/sse may use `?token=`)"
    )]
    MissingToken,
    /// The token is not a well-formed signed JWT.
    #[error("the token is not a valid JWT: {reason}")]
    Malformed {
        /// What is wrong with its shape.
        reason: &'static str,
    },
    /// The token is longer than [`MAX_TOKEN_BYTES`]; refused before any decoding.
    #[error("the token is longer than {max} bytes", max = MAX_TOKEN_BYTES)]
    TooLong,
    /// The token carries `alg: none` or no signature.
    #[error("unsigned tokens (`alg: none` or an empty signature) are refused")]
    Unsigned,
    /// The token's `alg` header is not the algorithm pinned for its key.
    #[error("the token's `alg` header must be {expected}: the algorithm is pinned by the key")]
    AlgorithmNotAllowed {
        /// The only algorithm accepted for this key.
        expected: &'static str,
    },
    /// The signature does not verify with the key.
    #[error("the token's signature does not verify: it was signed with another key or altered")]
    BadSignature,
    /// `exp` has passed.
    #[error("the token has expired: get a new one")]
    Expired,
    /// `nbf` is still in the future.
    #[error("the token is not valid yet (`nbf` is in the future): check the issuer's clock")]
    NotYetValid,
    /// A claim this deployment requires is absent (or of a type it cannot be read as).
    #[error("the token lacks the required `{claim}` claim, or it has the wrong type")]
    MissingClaim {
        /// The claim's name.
        claim: &'static str,
    },
    /// A claim has the wrong JSON type or an impossible value.
    #[error("the token's `{claim}` claim has the wrong type or value")]
    InvalidClaim {
        /// The claim's name.
        claim: &'static str,
    },
    /// `iss` is not the configured issuer.
    #[error("the token was issued by another issuer: `iss` must match the configured issuer")]
    WrongIssuer,
    /// `aud` does not name the configured audience.
    #[error("the token is meant for another audience: `aud` must include the configured audience")]
    WrongAudience,
    /// The token names a key (`kid`) the issuer's key set does not hold.
    #[error(
        "the token's key id (`kid`) is not in the issuer's key set: get a new token (a token without `kid` is accepted only while the set holds one key)"
    )]
    UnknownKey,
    /// The token has no `tenant` claim.
    #[error("the token has no `tenant` claim: ask for a token issued for a tenant")]
    MissingTenant,
    /// The `tenant` claim is not a valid tenant id.
    #[error("the token's `tenant` claim is not a valid tenant id: it {rule}")]
    InvalidTenant {
        /// The rule it broke.
        rule: &'static str,
    },
    /// The token is valid but does not grant the scope the request needs.
    #[error("the token lacks the `{scope}` scope this request needs")]
    MissingScope {
        /// The scope that was needed.
        scope: Scope,
    },
    /// The issuer's key set could not be fetched, so the token cannot be checked now.
    #[error("the token's signing keys cannot be fetched right now: retry later")]
    KeysUnavailable,
}

impl AuthError {
    /// The HTTP status: `401` for every problem with the token, `403` for a missing scope,
    /// `503` when the key set cannot be fetched (the client should retry).
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingScope { .. } => StatusCode::FORBIDDEN,
            Self::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The stable problem slug (`urn:switchyard:problem:<slug>`): `missing-token`,
    /// `invalid-token`, `insufficient-scope` or `auth-unavailable`.
    #[must_use]
    pub fn problem_slug(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing-token",
            Self::MissingScope { .. } => "insufficient-scope",
            Self::KeysUnavailable => "auth-unavailable",
            _ => "invalid-token",
        }
    }

    /// A short title for people.
    #[must_use]
    pub fn title(&self) -> &'static str {
        match self {
            Self::MissingToken => "Bearer token required",
            Self::MissingScope { .. } => "Insufficient scope",
            Self::KeysUnavailable => "Authentication temporarily unavailable",
            _ => "Invalid bearer token",
        }
    }

    /// How long a client should wait before retrying, for the errors a retry can fix.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        matches!(self, Self::KeysUnavailable).then_some(JWKS_MIN_REFETCH_INTERVAL)
    }

    /// The RFC 9457 answer: status, slug, title, this error's message as `detail`, and
    /// `Retry-After` where a retry helps.
    #[must_use]
    pub fn to_problem(&self) -> Problem {
        let problem = Problem::new(
            self.status(),
            self.problem_slug(),
            self.title(),
            self.to_string(),
        );
        match self.retry_after() {
            Some(after) => problem.retry_after(after),
            None => problem,
        }
    }

    /// The whole answer: [`AuthError::to_problem`] with its `WWW-Authenticate` challenge, so
    /// every service refuses a token the same way.
    #[must_use]
    pub fn to_response(&self) -> actix_web::HttpResponse {
        let mut response = self.to_problem().to_response();
        if let Some(challenge) = self.www_authenticate()
            && let Ok(value) = actix_web::http::header::HeaderValue::from_str(&challenge)
        {
            response
                .headers_mut()
                .insert(actix_web::http::header::WWW_AUTHENTICATE, value);
        }
        response
    }

    /// The `WWW-Authenticate` value (RFC 6750 §3) for `401` and `403` answers; `None` for
    /// `503`, which is not a challenge.
    #[must_use]
    pub fn www_authenticate(&self) -> Option<String> {
        match self {
            Self::MissingToken => Some(r#"Bearer realm="switchyard""#.to_owned()),
            Self::MissingScope { scope } => Some(format!(
                r#"Bearer realm="switchyard", error="insufficient_scope", scope="{scope}""#
            )),
            Self::KeysUnavailable => None,
            _ => Some(r#"Bearer realm="switchyard", error="invalid_token""#.to_owned()),
        }
    }
}

/// Maps the JWT library's verdict to ours, never passing its text through (it can name
/// internals and is not phrased for the caller).
pub(crate) fn from_jwt(error: &jsonwebtoken::errors::Error) -> AuthError {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => match standard_claim(claim) {
            Some(claim) => AuthError::MissingClaim { claim },
            None => AuthError::Malformed {
                reason: "a required claim is missing",
            },
        },
        ErrorKind::InvalidClaimFormat(claim) => match standard_claim(claim) {
            Some(claim) => AuthError::InvalidClaim { claim },
            None => AuthError::Malformed {
                reason: "a claim has the wrong type",
            },
        },
        ErrorKind::Base64(_) => AuthError::Malformed {
            reason: "a part is not base64url",
        },
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => AuthError::Malformed {
            reason: "the header or payload is not a JSON object",
        },
        // The algorithm was checked against the key before the library saw the token, so
        // these mean the same: the token's `alg` does not fit the key.
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            AuthError::AlgorithmNotAllowed {
                expected: "the key's algorithm",
            }
        }
        _ => AuthError::Malformed {
            reason: "it could not be decoded",
        },
    }
}

fn standard_claim(name: &str) -> Option<&'static str> {
    ["exp", "nbf", "iss", "aud", "sub"]
        .into_iter()
        .find(|claim| *claim == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_separate_authentication_authorization_and_outage() {
        assert_eq!(AuthError::Expired.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(AuthError::MissingToken.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            AuthError::MissingScope {
                scope: Scope::Admin
            }
            .status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            AuthError::KeysUnavailable.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[test]
    fn the_problem_carries_slug_detail_and_retry_after() {
        let problem = AuthError::KeysUnavailable.to_problem();
        assert_eq!(problem.kind(), "urn:switchyard:problem:auth-unavailable");
        assert_eq!(problem.status(), StatusCode::SERVICE_UNAVAILABLE);
        let problem = AuthError::MissingScope {
            scope: Scope::EventsWrite,
        }
        .to_problem();
        assert_eq!(problem.kind(), "urn:switchyard:problem:insufficient-scope");
    }

    #[test]
    fn the_challenge_names_the_missing_scope() {
        assert_eq!(
            AuthError::MissingScope {
                scope: Scope::EventsWrite
            }
            .www_authenticate()
            .as_deref(),
            Some(r#"Bearer realm="switchyard", error="insufficient_scope", scope="events:write""#)
        );
        assert_eq!(AuthError::KeysUnavailable.www_authenticate(), None);
        assert_eq!(
            AuthError::BadSignature.www_authenticate().as_deref(),
            Some(r#"Bearer realm="switchyard", error="invalid_token""#)
        );
    }

    #[test]
    fn messages_say_what_to_fix() {
        assert_eq!(
            AuthError::MissingScope {
                scope: Scope::EventsRead
            }
            .to_string(),
            "the token lacks the `events:read` scope this request needs"
        );
        assert!(AuthError::TooLong.to_string().contains("8192 bytes"));
    }
}
