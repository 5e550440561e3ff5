//! Request budgets per client address, per source and per tenant (GCRA, via governor).
//!
//! Keyed limiters grow with the keys they see, and client addresses are chosen by the
//! client: the per-address limiter forgets idle addresses (a periodic sweep and, when full, an
//! immediate one) and never holds more than `rate_limit_max_clients`. When it is full of
//! active addresses, new addresses pass unmetered rather than evicting active ones: the
//! per-source and per-tenant budgets still bound what gets through. IPv6 clients are metered
//! per /64, since one subscriber is usually handed a whole /64.

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use governor::{
    DefaultDirectRateLimiter, DefaultKeyedRateLimiter, NotUntil, Quota, RateLimiter,
    clock::{Clock, DefaultClock, QuantaInstant},
};
use switchyard_domain::TenantId;

/// Which budget a request exceeded, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// The budget that ran out.
    pub scope: Scope,
    /// When the next request would pass.
    pub retry_after: Duration,
}

/// A budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The calling address.
    Client,
    /// The source posted to.
    Source,
    /// The source's tenant.
    Tenant,
}

impl Scope {
    /// Label for metrics and problem details.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Source => "source",
            Self::Tenant => "tenant",
        }
    }
}

/// The shared per-client and per-tenant budgets (per-source budgets live on each source).
pub struct RateLimits {
    clients: DefaultKeyedRateLimiter<IpAddr>,
    max_clients: usize,
    last_prune: AtomicU64,
    started: Instant,
    tenants: DefaultKeyedRateLimiter<TenantId>,
    clock: DefaultClock,
}

impl RateLimits {
    /// Budgets of `per_client` and `per_tenant` requests per second.
    #[must_use]
    pub fn new(per_client: u32, per_tenant: u32, max_clients: usize) -> Self {
        Self {
            clients: RateLimiter::keyed(quota(per_client)),
            max_clients,
            last_prune: AtomicU64::new(0),
            started: Instant::now(),
            tenants: RateLimiter::keyed(quota(per_tenant)),
            clock: DefaultClock::default(),
        }
    }

    /// Spends one request of `client`'s budget.
    pub fn check_client(&self, client: IpAddr) -> Result<(), Limited> {
        let key = metering_key(client);
        if self.clients.len() >= self.max_clients && !self.make_room() {
            metrics::counter!("switchyard_ingest_rate_limiter_full_total").increment(1);
            return Ok(());
        }
        self.clients
            .check_key(&key)
            .map_err(|not_until| self.limited(Scope::Client, &not_until))
    }

    /// Spends one request of a source's budget.
    pub fn check_source(&self, limiter: &DefaultDirectRateLimiter) -> Result<(), Limited> {
        limiter
            .check()
            .map_err(|not_until| self.limited(Scope::Source, &not_until))
    }

    /// Spends one request of `tenant`'s budget. Tenants are keys from our own
    /// configuration, so this limiter's size is bounded by the number of tenants.
    pub fn check_tenant(&self, tenant: &TenantId) -> Result<(), Limited> {
        self.tenants
            .check_key(tenant)
            .map_err(|not_until| self.limited(Scope::Tenant, &not_until))
    }

    /// Forgets keys whose budget is full again (idle ones); run periodically.
    pub fn sweep(&self) {
        self.clients.retain_recent();
        self.clients.shrink_to_fit();
        self.tenants.retain_recent();
    }

    /// Sweeps the per-client limiter at most once a second; whether there is room now.
    fn make_room(&self) -> bool {
        let now = self.started.elapsed().as_secs() + 1;
        let last = self.last_prune.load(Ordering::Relaxed);
        if now > last
            && self
                .last_prune
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.clients.retain_recent();
        }
        self.clients.len() < self.max_clients
    }

    fn limited(&self, scope: Scope, not_until: &NotUntil<QuantaInstant>) -> Limited {
        Limited {
            scope,
            retry_after: not_until.wait_time_from(self.clock.now()),
        }
    }

    /// Addresses the per-client limiter remembers.
    #[must_use]
    pub fn clients_tracked(&self) -> usize {
        self.clients.len()
    }
}

fn quota(per_second: u32) -> Quota {
    Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN))
}

/// IPv4 addresses are metered alone, IPv6 addresses per /64.
fn metering_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_client_over_its_budget_is_told_when_to_return() {
        let limits = RateLimits::new(2, 100, 10);
        assert!(limits.check_client(ip("198.51.100.1")).is_ok());
        assert!(limits.check_client(ip("198.51.100.1")).is_ok());
        let limited = limits.check_client(ip("198.51.100.1")).unwrap_err();
        assert_eq!(limited.scope, Scope::Client);
        assert!(
            limited.retry_after > Duration::ZERO && limited.retry_after <= Duration::from_secs(1)
        );
        assert!(
            limits.check_client(ip("198.51.100.2")).is_ok(),
            "another client has its own budget"
        );
    }

    #[test]
    fn ipv6_clients_share_a_budget_per_64() {
        let limits = RateLimits::new(1, 100, 10);
        assert!(limits.check_client(ip("2001:db8:1:2::1")).is_ok());
        assert!(limits.check_client(ip("2001:db8:1:2::ffff")).is_err());
        assert!(limits.check_client(ip("2001:db8:1:3::1")).is_ok());
    }

    #[test]
    fn the_client_table_never_grows_past_its_bound() {
        let limits = RateLimits::new(1, 100, 100);
        for i in 0..1_000u32 {
            let client = IpAddr::V4((0x0a00_0000 + i).into());
            // Addresses over the bound pass unmetered rather than evicting active ones.
            let _ = limits.check_client(client);
        }
        assert!(
            limits.clients_tracked() <= 100,
            "{} tracked",
            limits.clients_tracked()
        );
    }

    #[test]
    fn tenants_have_separate_budgets() {
        let limits = RateLimits::new(100, 1, 10);
        let acme: TenantId = "acme".parse().unwrap();
        let globex: TenantId = "globex".parse().unwrap();
        assert!(limits.check_tenant(&acme).is_ok());
        assert_eq!(limits.check_tenant(&acme).unwrap_err().scope, Scope::Tenant);
        assert!(limits.check_tenant(&globex).is_ok());
    }
}
