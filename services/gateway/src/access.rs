//! Who is calling and whether they may call now: the bearer token becomes a [`Principal`]
//! (its tenant scopes everything that follows), and the tenant's request budget (GCRA, via
//! governor) is spent. REST and GraphQL both go through [`Access::admit`].

use std::{num::NonZeroU32, time::Duration};

use actix_web::{HttpRequest, http::header};
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};
use switchyard_auth::{AuthError, Authenticator, Principal, bearer};
use switchyard_domain::TenantId;
use switchyard_runtime::settings::GatewaySettings;

use crate::error::ApiError;

type TenantLimiter = RateLimiter<
    TenantId,
    DefaultKeyedStateStore<TenantId>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// Token verification and per-tenant budgets.
pub struct Access {
    auth: Authenticator,
    tenants: TenantLimiter,
    clock: DefaultClock,
    limit: Budget,
}

/// A tenant's budget as the `RateLimit-*` headers state it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Requests per second.
    pub per_sec: u32,
    /// Requests at once above the rate.
    pub burst: u32,
}

impl Access {
    /// Verifies tokens with `auth` and meters tenants per `settings`.
    #[must_use]
    pub fn new(auth: Authenticator, settings: &GatewaySettings) -> Self {
        let per_sec = NonZeroU32::new(settings.rate_limit_per_sec).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.rate_limit_burst).unwrap_or(NonZeroU32::MIN);
        Self {
            auth,
            tenants: RateLimiter::keyed(Quota::per_second(per_sec).allow_burst(burst))
                .with_middleware::<StateInformationMiddleware>(),
            clock: DefaultClock::default(),
            limit: Budget {
                per_sec: per_sec.get(),
                burst: burst.get(),
            },
        }
    }

    /// The budget every tenant has.
    #[must_use]
    pub fn budget(&self) -> Budget {
        self.limit
    }

    /// The caller of `request`: a valid bearer token whose tenant still has budget, and
    /// how many requests that budget has left.
    pub async fn admit(&self, request: &HttpRequest) -> Result<(Principal, u32), ApiError> {
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .ok_or(AuthError::MissingToken)?;
        self.admit_token(token).await
    }

    /// The caller holding `token` (a GraphQL subscription's `connection_init`), with one
    /// request of its tenant's budget spent.
    pub async fn admit_token(&self, token: &str) -> Result<(Principal, u32), ApiError> {
        let principal = self.auth.authenticate(token).await?;
        let remaining = self.spend(principal.tenant())?;
        Ok((principal, remaining))
    }

    /// Spends one request of `tenant`'s budget; what is left of it.
    pub fn spend(&self, tenant: &TenantId) -> Result<u32, ApiError> {
        match self.tenants.check_key(tenant) {
            Ok(state) => Ok(state.remaining_burst_capacity()),
            Err(not_until) => {
                metrics::counter!("switchyard_gateway_rate_limited_total").increment(1);
                Err(ApiError::RateLimited {
                    retry_after: not_until
                        .wait_time_from(self.clock.now())
                        .max(Duration::from_millis(1)),
                })
            }
        }
    }

    /// Forgets tenants whose budget is full again; run periodically so the map holds only
    /// active tenants.
    pub fn sweep(&self) {
        self.tenants.retain_recent();
        self.tenants.shrink_to_fit();
    }

    /// The verifier, for refreshing its keys.
    #[must_use]
    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }
}
