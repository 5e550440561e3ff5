//! The issuer's key set: fetched at start, refreshed in the background and on an unknown
//! `kid` (rate-limited), and kept when a refresh fails.

use std::{sync::Arc, time::Duration};

use arc_swap::ArcSwap;
use reqwest::header::ACCEPT;
use tokio::{sync::Mutex, time::Instant};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{
    JWKS_MAX_BYTES, Tuning, error::AuthError, key_set::KeySet, verification::ClaimRules,
    verification::VerificationKey,
};

/// Why the key set could not be (re)loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The request failed: connection, TLS, timeout.
    #[error("the JWKS request failed")]
    Request(#[source] reqwest::Error),
    /// The server answered with a non-success status.
    #[error("the JWKS URL answered HTTP {0}")]
    Status(u16),
    /// The document is larger than [`JWKS_MAX_BYTES`].
    #[error("the JWKS document is larger than {max} bytes", max = JWKS_MAX_BYTES)]
    TooLarge,
    /// The document is not JSON with a `keys` array.
    #[error("the JWKS document is not a JSON object with a `keys` array")]
    Parse(#[source] serde_json::Error),
    /// No key in the document can verify tokens.
    #[error("the JWKS document holds no usable signature key ({skipped} skipped)")]
    NoUsableKey {
        /// Keys that were present but unusable.
        skipped: usize,
    },
}

struct RefreshState {
    last_attempt: Instant,
    last_ok: bool,
}

/// The cached key set and what it takes to refresh it.
pub(crate) struct Jwks {
    url: Url,
    client: reqwest::Client,
    rules: ClaimRules,
    refresh_interval: Duration,
    min_refetch_interval: Duration,
    current: ArcSwap<KeySet>,
    /// Held during a fetch, so concurrent unknown-`kid` requests share one fetch.
    refresh: Mutex<RefreshState>,
}

impl Jwks {
    /// Fetches the set once; an error here means the service cannot verify any token.
    pub(crate) async fn load(
        url: Url,
        rules: ClaimRules,
        tuning: &Tuning,
    ) -> Result<Self, crate::SetupError> {
        let client = reqwest::Client::builder()
            .timeout(tuning.jwks_fetch_timeout)
            .connect_timeout(tuning.jwks_fetch_timeout)
            .user_agent(concat!("switchyard-auth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(crate::SetupError::HttpClient)?;
        let set = fetch(&client, &url, &rules)
            .await
            .map_err(crate::SetupError::Jwks)?;
        tracing::info!(url = %url, keys = set.len(), "JWKS loaded");
        Ok(Self {
            url,
            client,
            rules,
            refresh_interval: tuning.jwks_refresh_interval,
            min_refetch_interval: tuning.jwks_min_refetch_interval,
            current: ArcSwap::from_pointee(set),
            // The load counts as an attempt: a `kid` unknown right after a fresh load is more
            // likely bogus than new.
            refresh: Mutex::new(RefreshState {
                last_attempt: Instant::now(),
                last_ok: true,
            }),
        })
    }

    /// The key for a token's `kid`. An unknown `kid` triggers one refresh unless one was
    /// attempted within the minimum refetch interval, so a flood of made-up `kid`s costs the
    /// identity provider at most one request per interval.
    pub(crate) async fn key_for(
        &self,
        kid: Option<&str>,
    ) -> Result<Arc<VerificationKey>, AuthError> {
        let Some(kid) = kid else {
            return self.current.load().sole().ok_or(AuthError::UnknownKey);
        };
        if let Some(key) = self.current.load().get(kid) {
            return Ok(key);
        }
        let mut state = self.refresh.lock().await;
        // Another request may have refreshed while this one waited for the lock.
        if let Some(key) = self.current.load().get(kid) {
            return Ok(key);
        }
        if state.last_attempt.elapsed() >= self.min_refetch_interval {
            // A failure is logged inside and reflected in `last_ok` below.
            let _ = self.refresh_locked(&mut state).await;
        }
        match self.current.load().get(kid) {
            Some(key) => Ok(key),
            // We cannot tell a new key from a bogus one while the IdP is unreachable.
            None if !state.last_ok => Err(AuthError::KeysUnavailable),
            None => Err(AuthError::UnknownKey),
        }
    }

    /// Fetches the set now, whatever the rate limit, and keeps the old one on failure.
    pub(crate) async fn refresh(&self) -> Result<usize, JwksError> {
        let mut state = self.refresh.lock().await;
        self.refresh_locked(&mut state).await
    }

    async fn refresh_locked(&self, state: &mut RefreshState) -> Result<usize, JwksError> {
        state.last_attempt = Instant::now();
        match fetch(&self.client, &self.url, &self.rules).await {
            Ok(set) => {
                let keys = set.len();
                self.current.store(Arc::new(set));
                state.last_ok = true;
                tracing::debug!(url = %self.url, keys, "JWKS refreshed");
                Ok(keys)
            }
            Err(error) => {
                state.last_ok = false;
                tracing::warn!(
                    url = %self.url,
                    error = %ErrorChain(&error),
                    "JWKS refresh failed; keeping the last good key set"
                );
                Err(error)
            }
        }
    }

    /// Refreshes every refresh interval (sooner, after the minimum refetch interval, when the
    /// last attempt failed) until `stop` fires.
    pub(crate) async fn keep_fresh(&self, stop: CancellationToken) {
        let mut wait = self.refresh_interval;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            tokio::select! {
                () = stop.cancelled() => return,
                result = self.refresh() => {
                    wait = match result {
                        Ok(_) => self.refresh_interval,
                        Err(_) => self.min_refetch_interval,
                    };
                }
            }
        }
    }
}

async fn fetch(
    client: &reqwest::Client,
    url: &Url,
    rules: &ClaimRules,
) -> Result<KeySet, JwksError> {
    let mut response = client
        .get(url.clone())
        .header(ACCEPT, "application/json, application/jwk-set+json")
        .send()
        .await
        .map_err(JwksError::Request)?;
    let status = response.status();
    if !status.is_success() {
        return Err(JwksError::Status(status.as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|len| len > JWKS_MAX_BYTES as u64)
    {
        return Err(JwksError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(JwksError::Request)? {
        if body.len() + chunk.len() > JWKS_MAX_BYTES {
            return Err(JwksError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    KeySet::parse(&body, rules)
}

/// An error with its causes, for one log line.
struct ErrorChain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
