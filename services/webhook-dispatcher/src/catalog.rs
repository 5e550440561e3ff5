//! The endpoints the dispatcher delivers to, and each one's health.
//!
//! Reads are lock-free (an [`ArcSwap`] of an immutable index), because every event looks up
//! its tenant's endpoints; changes (static configuration today, the gateway's run-time
//! changes tomorrow) swap in a new index. An endpoint's health — circuit breaker, request
//! slots, how long it has been failing, whether it was disabled — is kept apart from its
//! configuration, so changing an endpoint's filter does not forget that it is down.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use switchyard_control::{Apply, ConfigChange, ControlError, Kind, Sealer};
use switchyard_domain::{EndpointId, EventType, EventTypePattern, TenantId};
use switchyard_runtime::settings::{DispatcherSettings, EndpointSettings};
use switchyard_signatures::{KeyError, Signer};
use tokio::sync::Semaphore;
use url::Url;

use crate::{breaker::Breaker, metrics::EndpointMetrics};

/// One endpoint's configuration.
#[derive(Debug)]
pub struct EndpointConfig {
    /// Owning tenant.
    pub tenant: TenantId,
    /// Id within the tenant.
    pub id: EndpointId,
    /// Where deliveries are POSTed.
    pub url: Url,
    /// The current secret's signer first, then those being rotated out.
    pub signers: Vec<Signer>,
    /// Event types delivered.
    pub event_types: Vec<EventTypePattern>,
    /// Receives nothing while paused.
    pub paused: bool,
}

impl EndpointConfig {
    /// Builds the configuration of `[[endpoints]]` entry `settings`.
    pub fn from_settings(settings: &EndpointSettings) -> Result<Self, KeyError> {
        let signers = std::iter::once(&settings.secret)
            .chain(&settings.previous_secrets)
            .map(Signer::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            tenant: settings.tenant.clone(),
            id: settings.id.clone(),
            url: settings.url.clone(),
            signers,
            event_types: settings.event_types.clone(),
            paused: settings.paused,
        })
    }

    /// A configuration with one secret, for tests and tools.
    pub fn new(
        tenant: TenantId,
        id: EndpointId,
        url: Url,
        secret: &SecretString,
        event_types: Vec<EventTypePattern>,
    ) -> Result<Self, KeyError> {
        Ok(Self {
            tenant,
            id,
            url,
            signers: vec![Signer::new(secret)?],
            event_types,
            paused: false,
        })
    }

    fn wants(&self, event_type: &EventType) -> bool {
        self.event_types.iter().any(|p| p.matches(event_type))
    }
}

/// How an endpoint is doing, shared by every delivery to it in this replica.
#[derive(Debug)]
pub struct Health {
    /// Opens after consecutive failures.
    pub breaker: Breaker,
    /// Requests in flight at once.
    pub slots: Arc<Semaphore>,
    /// Its counters.
    pub metrics: EndpointMetrics,
    failing_since: Mutex<Option<SystemTime>>,
    disabled: Mutex<Option<String>>,
}

impl Health {
    fn new(settings: &DispatcherSettings, tenant: &TenantId, id: &EndpointId) -> Self {
        let timeout = Duration::from_millis(settings.timeout_ms);
        Self {
            breaker: Breaker::new(
                settings.breaker_failures,
                Duration::from_secs(settings.breaker_cooldown_secs),
                // A probe gets its full timeout plus some slack before another may go.
                timeout + timeout / 2,
            ),
            slots: Arc::new(Semaphore::new(
                usize::try_from(settings.endpoint_concurrency).unwrap_or(1),
            )),
            metrics: EndpointMetrics::new(tenant, id.as_str()),
            failing_since: Mutex::new(None),
            disabled: Mutex::new(None),
        }
    }

    /// Records a success: the endpoint is no longer failing.
    pub fn succeeded(&self) {
        self.breaker.succeeded();
        *lock(&self.failing_since) = None;
    }

    /// Records a failure at `now`; returns since when the endpoint has failed without a
    /// success in between.
    pub fn failed(&self, now: SystemTime) -> SystemTime {
        *lock(&self.failing_since).get_or_insert(now)
    }

    /// Why the endpoint was disabled, if it was.
    pub fn disabled(&self) -> Option<String> {
        lock(&self.disabled).clone()
    }

    /// Disables the endpoint; returns false if it already was.
    pub fn disable(&self, reason: String) -> bool {
        let mut disabled = lock(&self.disabled);
        if disabled.is_some() {
            return false;
        }
        *disabled = Some(reason);
        true
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An endpoint: its configuration and its health.
#[derive(Debug)]
pub struct Endpoint {
    /// What the endpoint is.
    pub config: EndpointConfig,
    /// How it is doing.
    pub health: Arc<Health>,
}

impl Endpoint {
    /// Whether deliveries may go to it now: not paused, not disabled.
    #[must_use]
    pub fn active(&self) -> bool {
        !self.config.paused && self.health.disabled().is_none()
    }
}

type Index = HashMap<TenantId, Vec<Arc<Endpoint>>>;

/// See the module documentation.
pub struct Catalog {
    index: ArcSwap<Index>,
    settings: DispatcherSettings,
    /// Serialises changes, so two concurrent changes cannot lose one another.
    writer: Mutex<()>,
}

impl Catalog {
    /// A catalog of the configured `[[endpoints]]`.
    pub fn from_settings(
        endpoints: &[EndpointSettings],
        settings: &DispatcherSettings,
    ) -> Result<Self, (String, KeyError)> {
        let catalog = Self {
            index: ArcSwap::from_pointee(Index::new()),
            settings: settings.clone(),
            writer: Mutex::new(()),
        };
        for endpoint in endpoints {
            let config = EndpointConfig::from_settings(endpoint)
                .map_err(|e| (format!("{}/{}", endpoint.tenant, endpoint.id), e))?;
            catalog.upsert(config);
        }
        Ok(catalog)
    }

    /// The active endpoints of `tenant` that want `event_type`.
    pub fn matching(&self, tenant: &TenantId, event_type: &EventType) -> Vec<Arc<Endpoint>> {
        self.index.load().get(tenant).map_or_else(Vec::new, |all| {
            all.iter()
                .filter(|e| e.active() && e.config.wants(event_type))
                .cloned()
                .collect()
        })
    }

    /// Endpoint `id` of `tenant`, active or not.
    pub fn get(&self, tenant: &TenantId, id: &str) -> Option<Arc<Endpoint>> {
        self.index
            .load()
            .get(tenant)?
            .iter()
            .find(|e| e.config.id.as_str() == id)
            .cloned()
    }

    /// Adds an endpoint or replaces its configuration. A replaced endpoint keeps its breaker
    /// and failure clock but is enabled again: changing an endpoint is how it is repaired.
    pub fn upsert(&self, config: EndpointConfig) {
        self.replace(config, true);
    }

    /// Replaces an endpoint's configuration and keeps its health, disabled or not: for
    /// changes that are not the operator's (a previous secret expiring).
    pub fn refresh(&self, config: EndpointConfig) {
        self.replace(config, false);
    }

    fn replace(&self, config: EndpointConfig, enable: bool) {
        let _writer = lock(&self.writer);
        let mut index = Index::clone(&self.index.load());
        let endpoints = index.entry(config.tenant.clone()).or_default();
        let health = match endpoints.iter().position(|e| e.config.id == config.id) {
            Some(i) => {
                let old = endpoints.remove(i);
                if enable {
                    *lock(&old.health.disabled) = None;
                }
                old.health.clone()
            }
            None => Arc::new(Health::new(&self.settings, &config.tenant, &config.id)),
        };
        endpoints.push(Arc::new(Endpoint { config, health }));
        self.index.store(Arc::new(index));
    }

    /// Removes an endpoint; deliveries still waiting for it end as skipped.
    pub fn remove(&self, tenant: &TenantId, id: &str) -> bool {
        let _writer = lock(&self.writer);
        let mut index = Index::clone(&self.index.load());
        let Some(endpoints) = index.get_mut(tenant) else {
            return false;
        };
        let before = endpoints.len();
        endpoints.retain(|e| e.config.id.as_str() != id);
        let removed = endpoints.len() != before;
        if endpoints.is_empty() {
            index.remove(tenant);
        }
        self.index.store(Arc::new(index));
        removed
    }

    /// Every endpoint, for the gauges.
    pub fn all(&self) -> Vec<Arc<Endpoint>> {
        self.index.load().values().flatten().cloned().collect()
    }
}

/// Takes the endpoint changes of the config topic into the catalog.
pub struct FollowEndpoints(pub Arc<Catalog>);

impl FollowEndpoints {
    fn config(
        change: &ConfigChange,
        sealer: &Sealer,
        now: DateTime<Utc>,
    ) -> Result<Option<EndpointConfig>, ControlError> {
        let ConfigChange::EndpointUpserted { spec, .. } = change else {
            return Ok(None);
        };
        let settings = spec.to_settings(sealer, now)?;
        EndpointConfig::from_settings(&settings)
            .map(Some)
            .map_err(|error| ControlError::Refused {
                entity: format!("endpoint {}/{}", spec.tenant, spec.id),
                reason: error.to_string(),
            })
    }
}

impl Apply for FollowEndpoints {
    fn kind(&self) -> Kind {
        Kind::Endpoint
    }

    fn apply(
        &self,
        change: &ConfigChange,
        sealer: &Sealer,
        now: DateTime<Utc>,
    ) -> Result<(), ControlError> {
        if let ConfigChange::EndpointDeleted { tenant, id, .. } = change {
            self.0.remove(tenant, id.as_str());
        } else if let Some(config) = Self::config(change, sealer, now)? {
            self.0.upsert(config);
        }
        Ok(())
    }

    fn refresh(
        &self,
        change: &ConfigChange,
        sealer: &Sealer,
        now: DateTime<Utc>,
    ) -> Result<(), ControlError> {
        if let Some(config) = Self::config(change, sealer, now)? {
            self.0.refresh(config);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(tenant: &str, id: &str, types: &[&str]) -> EndpointConfig {
        EndpointConfig::new(
            TenantId::parse(tenant).unwrap_or_else(|e| panic!("{e}")),
            EndpointId::parse(id).unwrap_or_else(|e| panic!("{e}")),
            Url::parse("https://hooks.example/x").unwrap_or_else(|e| panic!("{e}")),
            &SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            types
                .iter()
                .map(|t| EventTypePattern::parse(t).unwrap_or_else(|e| panic!("{e}")))
                .collect(),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn ids(endpoints: &[Arc<Endpoint>]) -> Vec<&str> {
        let mut ids: Vec<&str> = endpoints.iter().map(|e| e.config.id.as_str()).collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn matching_is_scoped_by_tenant_and_type_and_skips_inactive_endpoints() {
        let catalog = Catalog::from_settings(&[], &DispatcherSettings::default())
            .unwrap_or_else(|(k, e)| panic!("{k}: {e}"));
        catalog.upsert(config("acme", "payments", &["razorpay.payment.*"]));
        catalog.upsert(config("acme", "all", &["*"]));
        catalog.upsert(config("globex", "all", &["*"]));
        let acme = TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
        let captured =
            EventType::parse("razorpay.payment.captured").unwrap_or_else(|e| panic!("{e}"));
        let push = EventType::parse("github.push").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ids(&catalog.matching(&acme, &captured)),
            ["all", "payments"]
        );
        assert_eq!(ids(&catalog.matching(&acme, &push)), ["all"]);

        let all = catalog
            .get(&acme, "all")
            .unwrap_or_else(|| panic!("missing"));
        assert!(all.health.disable("410 Gone".into()));
        assert!(!all.health.disable("again".into()), "disabled once");
        assert_eq!(ids(&catalog.matching(&acme, &push)), Vec::<&str>::new());

        // Changing the endpoint enables it again and keeps its health record.
        catalog.upsert(config("acme", "all", &["github.*"]));
        let changed = catalog
            .get(&acme, "all")
            .unwrap_or_else(|| panic!("missing"));
        assert!(Arc::ptr_eq(&changed.health, &all.health));
        assert_eq!(ids(&catalog.matching(&acme, &push)), ["all"]);
        assert_eq!(ids(&catalog.matching(&acme, &captured)), ["payments"]);

        assert!(catalog.remove(&acme, "payments"));
        assert!(!catalog.remove(&acme, "payments"));
        assert_eq!(ids(&catalog.matching(&acme, &captured)), Vec::<&str>::new());
    }

    #[test]
    fn the_failure_clock_starts_at_the_first_failure_and_stops_at_a_success() {
        let health = Health::new(
            &DispatcherSettings::default(),
            &TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
            &EndpointId::parse("orders").unwrap_or_else(|e| panic!("{e}")),
        );
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(health.failed(t0), t0);
        assert_eq!(health.failed(t0 + Duration::from_secs(60)), t0);
        health.succeeded();
        let t1 = t0 + Duration::from_secs(120);
        assert_eq!(health.failed(t1), t1);
    }
}
