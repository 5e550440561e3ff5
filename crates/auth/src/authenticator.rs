//! The one entry point: settings in, verified principals out.

use std::{fmt, sync::Arc, time::Duration};

use jsonwebtoken::{Algorithm, DecodingKey};
use secrecy::ExposeSecret;
use switchyard_runtime::settings::AuthSettings;
use tokio_util::sync::CancellationToken;

use crate::{
    CLOCK_LEEWAY, JWKS_FETCH_TIMEOUT, JWKS_MIN_REFETCH_INTERVAL, JWKS_REFRESH_INTERVAL,
    MIN_HS256_SECRET_BYTES,
    error::AuthError,
    jwks::{Jwks, JwksError},
    principal::Principal,
    token::peek_header,
    verification::{ClaimRules, VerificationKey},
};

/// Timings of the authenticator. [`Tuning::default`] is what services run with; tests shorten
/// the intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Clock skew tolerated on `exp` and `nbf`.
    pub clock_leeway: Duration,
    /// How often the background task refetches the JWKS.
    pub jwks_refresh_interval: Duration,
    /// The least time between two fetches caused by unknown `kid`s, and the retry delay after
    /// a failed background refresh.
    pub jwks_min_refetch_interval: Duration,
    /// Timeout of one JWKS fetch (connect, headers and body).
    pub jwks_fetch_timeout: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            clock_leeway: CLOCK_LEEWAY,
            jwks_refresh_interval: JWKS_REFRESH_INTERVAL,
            jwks_min_refetch_interval: JWKS_MIN_REFETCH_INTERVAL,
            jwks_fetch_timeout: JWKS_FETCH_TIMEOUT,
        }
    }
}

/// `[auth]` cannot be used as configured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// Neither a secret nor a JWKS URL.
    #[error("[auth] is not configured: set auth.jwt_hs256_secret or auth.jwks_url")]
    NotConfigured,
    /// Both a secret and a JWKS URL.
    #[error("[auth]: set either jwt_hs256_secret or jwks_url, not both (the algorithm is pinned)")]
    BothConfigured,
    /// The HS256 secret is too short.
    #[error("auth.jwt_hs256_secret must be at least {min} bytes for HS256", min = MIN_HS256_SECRET_BYTES)]
    SecretTooShort,
    /// The JWKS URL is neither `http` nor `https`.
    #[error("auth.jwks_url must be an http or https URL")]
    UnsupportedJwksUrl,
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client for auth.jwks_url")]
    HttpClient(#[source] reqwest::Error),
    /// The first fetch of the JWKS failed.
    #[error("could not load the key set from auth.jwks_url")]
    Jwks(#[source] JwksError),
}

enum Keys {
    Hs256(VerificationKey),
    Jwks(Jwks),
}

/// Verifies bearer JWTs and turns them into [`Principal`]s. Cheap to clone; clones share the
/// key set.
///
/// The algorithm is pinned: HS256 with `auth.jwt_hs256_secret`, or for `auth.jwks_url` the
/// algorithm of the key the token's `kid` names. The token's own `alg` header must match it
/// and never chooses it, so `alg: none` and HS256 signed with a public key are refused.
#[derive(Clone)]
pub struct Authenticator {
    keys: Arc<Keys>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match &*self.keys {
            Keys::Hs256(_) => "hs256",
            Keys::Jwks(_) => "jwks",
        };
        f.debug_struct("Authenticator")
            .field("mode", &mode)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Builds the authenticator from `[auth]`; with a JWKS URL it fetches the key set first
    /// and fails if it cannot (the service cannot verify any token without it).
    pub async fn new(settings: &AuthSettings) -> Result<Self, SetupError> {
        Self::with_tuning(settings, Tuning::default()).await
    }

    /// [`Authenticator::new`] with other timings.
    pub async fn with_tuning(settings: &AuthSettings, tuning: Tuning) -> Result<Self, SetupError> {
        let rules = ClaimRules::new(
            settings.issuer.as_deref(),
            settings.audience.as_deref(),
            tuning.clock_leeway,
        );
        let secret = settings.jwt_hs256_secret.expose_secret();
        let keys = match (&settings.jwks_url, secret.is_empty()) {
            (Some(_), false) => return Err(SetupError::BothConfigured),
            (None, true) => return Err(SetupError::NotConfigured),
            (None, false) => {
                if secret.len() < MIN_HS256_SECRET_BYTES {
                    return Err(SetupError::SecretTooShort);
                }
                let key = DecodingKey::from_secret(secret.as_bytes());
                Keys::Hs256(VerificationKey::new(Algorithm::HS256, key, &rules))
            }
            (Some(url), true) => {
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(SetupError::UnsupportedJwksUrl);
                }
                if url.scheme() == "http" && !is_loopback(url) {
                    // Allowed for in-cluster IdPs behind a mesh, but whoever can alter this
                    // response can mint tokens: say so once at start.
                    tracing::warn!(url = %url, "auth.jwks_url is plain http; use https unless the network is trusted");
                }
                Keys::Jwks(Jwks::load(url.clone(), rules, &tuning).await?)
            }
        };
        Ok(Self {
            keys: Arc::new(keys),
        })
    }

    /// Verifies `token` (without the `Bearer ` prefix; see [`crate::bearer`]) and returns who
    /// it speaks for.
    ///
    /// Checks, in order: size ([`crate::MAX_TOKEN_BYTES`]) and shape, unsigned tokens, the key
    /// (by `kid` for a JWKS, refreshing the set once for an unknown `kid`), the pinned
    /// algorithm, the signature, `exp` (required), `nbf`, `iss` and `aud` (when configured),
    /// then the `tenant`, `sub` and `scope`/`scp` claims. It awaits only when an unknown `kid`
    /// makes it refetch the key set.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let header = peek_header(token)?;
        match &*self.keys {
            Keys::Hs256(key) => key.verify(token, &header),
            Keys::Jwks(jwks) => jwks
                .key_for(header.kid.as_deref())
                .await?
                .verify(token, &header),
        }
    }

    /// Refetches the JWKS now (a no-op for HS256). On failure the last good set stays in use.
    pub async fn refresh_keys(&self) -> Result<(), JwksError> {
        match &*self.keys {
            Keys::Hs256(_) => Ok(()),
            Keys::Jwks(jwks) => jwks.refresh().await.map(drop),
        }
    }

    /// Keeps the JWKS fresh until `stop` fires (returns at once for HS256). Run it as a tracked
    /// task of the service:
    ///
    /// ```no_run
    /// # async fn run(settings: switchyard_runtime::settings::AuthSettings) -> Result<(), switchyard_auth::SetupError> {
    /// let shutdown = switchyard_runtime::Shutdown::new();
    /// let auth = switchyard_auth::Authenticator::new(&settings).await?;
    /// shutdown.spawn({
    ///     let auth = auth.clone();
    ///     let stop = shutdown.token();
    ///     async move { auth.keep_keys_fresh(stop).await }
    /// });
    /// # Ok(())
    /// # }
    /// ```
    pub async fn keep_keys_fresh(&self, stop: CancellationToken) {
        if let Keys::Jwks(jwks) = &*self.keys {
            jwks.keep_fresh(stop).await;
        }
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
