//! Issuing HS256 tokens, for `switchyard token`, `switchyard dev` and tests. Deployments with
//! a JWKS get their tokens from their identity provider instead.

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use switchyard_domain::TenantId;
use switchyard_runtime::settings::AuthSettings;

use crate::{MIN_HS256_SECRET_BYTES, scope::Scopes};

/// What a minted token says: tenant, scopes, optional subject, lifetime, and the issuer and
/// audience a deployment checks.
///
/// ```
/// use std::time::Duration;
///
/// use secrecy::SecretString;
/// use switchyard_auth::{Scope, Scopes, TokenSpec, mint_hs256};
/// use switchyard_domain::TenantId;
///
/// let secret = SecretString::from("an HS256 secret of at least 32 bytes!");
/// let spec = TokenSpec::new(
///     TenantId::parse("acme")?,
///     Scopes::from(Scope::EventsRead),
///     Duration::from_secs(3600),
/// )
/// .subject("user-42");
/// let token = mint_hs256(&secret, &spec)?;
/// assert_eq!(token.split('.').count(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpec {
    tenant: TenantId,
    scopes: Scopes,
    subject: Option<String>,
    ttl: Duration,
    issuer: Option<String>,
    audience: Option<String>,
}

impl TokenSpec {
    /// A token for `tenant` granting `scopes`, valid for `ttl` from when it is minted.
    #[must_use]
    pub fn new(tenant: TenantId, scopes: Scopes, ttl: Duration) -> Self {
        Self {
            tenant,
            scopes,
            subject: None,
            ttl,
            issuer: None,
            audience: None,
        }
    }

    /// Sets `sub`.
    #[must_use]
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets `iss`.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Sets `aud`.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Takes `iss` and `aud` from `[auth]` where set, so the token passes this deployment's
    /// checks.
    #[must_use]
    pub fn for_settings(mut self, settings: &AuthSettings) -> Self {
        let configured = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        if let Some(issuer) = configured(&settings.issuer) {
            self.issuer = Some(issuer);
        }
        if let Some(audience) = configured(&settings.audience) {
            self.audience = Some(audience);
        }
        self
    }
}

/// A token could not be minted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// The secret is shorter than [`MIN_HS256_SECRET_BYTES`].
    #[error("the HS256 secret must be at least {min} bytes", min = MIN_HS256_SECRET_BYTES)]
    SecretTooShort,
    /// A zero or absurd lifetime.
    #[error("the token lifetime must be between 1 second and 10 years")]
    InvalidTtl,
    /// Encoding failed.
    #[error("the token could not be encoded")]
    Encode(#[source] jsonwebtoken::errors::Error),
}

/// Ten years: beyond this a "lifetime" is a typo.
const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

#[derive(Serialize)]
struct MintedClaims<'a> {
    tenant: &'a str,
    #[serde(skip_serializing_if = "String::is_empty")]
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    iat: i64,
    exp: i64,
}

/// Signs `spec` with HS256 under `secret` (the `auth.jwt_hs256_secret` of the deployment).
pub fn mint_hs256(secret: &SecretString, spec: &TokenSpec) -> Result<String, MintError> {
    let secret = secret.expose_secret();
    if secret.len() < MIN_HS256_SECRET_BYTES {
        return Err(MintError::SecretTooShort);
    }
    if spec.ttl < Duration::from_secs(1) || spec.ttl > MAX_TTL {
        return Err(MintError::InvalidTtl);
    }
    let now = Utc::now().timestamp();
    let ttl = i64::try_from(spec.ttl.as_secs()).map_err(|_| MintError::InvalidTtl)?;
    let claims = MintedClaims {
        tenant: spec.tenant.as_str(),
        scope: spec.scopes.to_string(),
        sub: spec.subject.as_deref(),
        iss: spec.issuer.as_deref(),
        aud: spec.audience.as_deref(),
        iat: now,
        exp: now + ttl,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(MintError::Encode)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(ttl: Duration) -> TokenSpec {
        TokenSpec::new(TenantId::parse("acme").unwrap(), Scopes::NONE, ttl)
    }

    #[test]
    fn short_secrets_and_bad_lifetimes_are_refused() {
        let short = SecretString::from("too short");
        assert!(matches!(
            mint_hs256(&short, &spec(Duration::from_secs(60))),
            Err(MintError::SecretTooShort)
        ));
        let secret = SecretString::from("0123456789abcdef0123456789abcdef");
        assert!(matches!(
            mint_hs256(&secret, &spec(Duration::ZERO)),
            Err(MintError::InvalidTtl)
        ));
        assert!(matches!(
            mint_hs256(&secret, &spec(MAX_TTL + Duration::from_secs(1))),
            Err(MintError::InvalidTtl)
        ));
    }

    #[test]
    fn issuer_and_audience_come_from_settings_when_set() {
        let settings = AuthSettings {
            issuer: Some("https://issuer".into()),
            audience: Some(String::new()),
            ..AuthSettings::default()
        };
        let spec = spec(Duration::from_secs(60))
            .audience("kept")
            .for_settings(&settings);
        assert_eq!(spec.issuer.as_deref(), Some("https://issuer"));
        assert_eq!(spec.audience.as_deref(), Some("kept"));
    }
}
