//! The table of configured sources, looked up on every request and replaceable while serving.
//!
//! Readers take a snapshot without locking (`arc-swap`), so a gateway-driven change of one
//! source never stalls requests to the others. Each source carries its own verifier and rate
//! limiter; an update that keeps a source's rate keeps its limiter, so a reconfiguration does
//! not hand a sender a fresh burst.

use std::{collections::HashMap, num::NonZeroU32, sync::Arc, time::Duration};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use switchyard_control::{Apply, ConfigChange, ControlError, Kind, Sealer};
use switchyard_domain::{SourceId, TenantId};
use switchyard_runtime::settings::{HmacEncoding, Provider, SourceSettings};
use switchyard_signatures::{Encoding, KeyError, Scheme, Verifier};

/// One inbound source, ready to check requests.
#[derive(Debug)]
pub struct Source {
    /// Owning tenant.
    pub tenant: TenantId,
    /// Source id under the tenant.
    pub id: SourceId,
    /// Signature scheme and payload family.
    pub provider: Provider,
    /// Header naming the delivery id of a generic HMAC sender, lower-cased; empty if none.
    pub id_header: String,
    /// Verifies signatures with the active secrets.
    pub verifier: Verifier,
    /// Networks allowed to post.
    pub allow_ips: Vec<IpNet>,
    /// Largest body accepted.
    pub max_body_bytes: usize,
    /// Takes no webhooks: they are answered `503` with `Retry-After`, so the provider keeps
    /// them and delivers them again after the source is resumed.
    pub paused: bool,
    rate_limit_per_sec: u32,
    limiter: Arc<DefaultDirectRateLimiter>,
    /// `tenant` and `source` metric labels, shared so recording one costs no string copies.
    labels: [metrics::Label; 2],
}

impl Source {
    /// Whether `ip` may post to this source.
    #[must_use]
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        self.allow_ips.iter().any(|net| net.contains(&ip))
    }

    /// Its `tenant` and `source` metric labels.
    #[must_use]
    pub fn metric_labels(&self) -> &[metrics::Label; 2] {
        &self.labels
    }

    /// This source's limiter of requests per second.
    #[must_use]
    pub fn limiter(&self) -> &DefaultDirectRateLimiter {
        &self.limiter
    }
}

/// Why a source cannot be installed.
#[derive(Debug, thiserror::Error)]
#[error("source {tenant}/{source_id}: {reason}")]
pub struct SourceError {
    tenant: TenantId,
    source_id: SourceId,
    reason: KeyError,
}

/// Tenant → source → source; keyed by plain strings so a lookup borrows the URL's segments.
type Table = HashMap<String, HashMap<String, Arc<Source>>>;

/// The live set of sources, shared by every HTTP worker.
#[derive(Clone, Default)]
pub struct SourceCatalog {
    table: Arc<ArcSwap<Table>>,
    tolerance: Duration,
}

impl SourceCatalog {
    /// An empty catalog; timestamps of Stripe and Standard Webhooks signatures may be off by
    /// `tolerance`.
    #[must_use]
    pub fn new(tolerance: Duration) -> Self {
        Self {
            table: Arc::default(),
            tolerance,
        }
    }

    /// A catalog holding `sources`.
    pub fn from_settings(
        sources: &[SourceSettings],
        tolerance: Duration,
    ) -> Result<Self, SourceError> {
        let catalog = Self::new(tolerance);
        for source in sources {
            catalog.upsert(source)?;
        }
        Ok(catalog)
    }

    /// The source behind `POST /webhooks/{tenant}/{source}`.
    #[must_use]
    pub fn get(&self, tenant: &str, source: &str) -> Option<Arc<Source>> {
        self.table.load().get(tenant)?.get(source).cloned()
    }

    /// Adds or replaces a source; requests already past the lookup finish with the old one.
    pub fn upsert(&self, settings: &SourceSettings) -> Result<(), SourceError> {
        let error = |reason| SourceError {
            tenant: settings.tenant.clone(),
            source_id: settings.id.clone(),
            reason,
        };
        let verifier =
            Verifier::new(scheme(settings, self.tolerance), &settings.secrets).map_err(error)?;
        let previous = self.get(settings.tenant.as_str(), settings.id.as_str());
        let limiter = match previous {
            Some(old) if old.rate_limit_per_sec == settings.rate_limit_per_sec => {
                old.limiter.clone()
            }
            _ => Arc::new(per_second(settings.rate_limit_per_sec)),
        };
        let source = Arc::new(Source {
            tenant: settings.tenant.clone(),
            id: settings.id.clone(),
            provider: settings.provider,
            id_header: settings
                .hmac
                .as_ref()
                .map(|hmac| hmac.id_header.to_ascii_lowercase())
                .unwrap_or_default(),
            verifier,
            allow_ips: settings.allow_ips.clone(),
            max_body_bytes: settings.max_body_bytes,
            paused: settings.paused,
            rate_limit_per_sec: settings.rate_limit_per_sec,
            limiter,
            labels: [
                shared_label("tenant", settings.tenant.as_str()),
                shared_label("source", settings.id.as_str()),
            ],
        });
        self.table.rcu(|table| {
            let mut table = Table::clone(table);
            table
                .entry(source.tenant.to_string())
                .or_default()
                .insert(source.id.to_string(), source.clone());
            table
        });
        Ok(())
    }

    /// Removes a source; returns whether it existed.
    pub fn remove(&self, tenant: &TenantId, source: &SourceId) -> bool {
        let mut removed = false;
        self.table.rcu(|table| {
            let mut table = Table::clone(table);
            removed = false;
            if let Some(sources) = table.get_mut(tenant.as_str()) {
                removed = sources.remove(source.as_str()).is_some();
                if sources.is_empty() {
                    table.remove(tenant.as_str());
                }
            }
            table
        });
        removed
    }

    /// Number of sources.
    #[must_use]
    pub fn len(&self) -> usize {
        self.table.load().values().map(HashMap::len).sum()
    }

    /// Whether no source is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Takes the source changes of the config topic into the catalog.
pub struct FollowSources(pub SourceCatalog);

impl Apply for FollowSources {
    fn kind(&self) -> Kind {
        Kind::Source
    }

    fn apply(
        &self,
        change: &ConfigChange,
        sealer: &Sealer,
        _now: DateTime<Utc>,
    ) -> Result<(), ControlError> {
        match change {
            ConfigChange::SourceUpserted { spec, .. } => {
                let settings = spec.to_settings(sealer)?;
                self.0
                    .upsert(&settings)
                    .map_err(|error| ControlError::Refused {
                        entity: format!("source {}/{}", spec.tenant, spec.id),
                        reason: error.reason.to_string(),
                    })
            }
            ConfigChange::SourceDeleted { tenant, id, .. } => {
                self.0.remove(tenant, id);
                Ok(())
            }
            ConfigChange::EndpointUpserted { .. } | ConfigChange::EndpointDeleted { .. } => Ok(()),
        }
    }
}

fn shared_label(key: &'static str, value: &str) -> metrics::Label {
    metrics::Label::new(
        key,
        metrics::SharedString::from_shared(Arc::<str>::from(value)),
    )
}

/// A limiter of `rate` requests per second that allows a burst of one second's worth.
pub(crate) fn per_second(rate: u32) -> DefaultDirectRateLimiter {
    RateLimiter::direct(Quota::per_second(
        NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN),
    ))
}

fn scheme(settings: &SourceSettings, tolerance: Duration) -> Scheme {
    match settings.provider {
        Provider::Razorpay => Scheme::Razorpay,
        Provider::Stripe => Scheme::Stripe { tolerance },
        Provider::Github => Scheme::Github,
        Provider::Shopify => Scheme::Shopify,
        Provider::StandardWebhooks => Scheme::StandardWebhooks { tolerance },
        Provider::Hmac => {
            let hmac = settings.hmac.as_ref();
            Scheme::Hmac {
                header: hmac
                    .map(|h| h.header.to_ascii_lowercase())
                    .unwrap_or_default(),
                encoding: match hmac.map(|h| h.encoding) {
                    Some(HmacEncoding::Base64) => Encoding::Base64,
                    _ => Encoding::Hex,
                },
                prefix: hmac.map(|h| h.prefix.clone()).unwrap_or_default(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;
    use switchyard_runtime::settings::TransformSettings;

    use super::*;

    fn settings(tenant: &str, id: &str, rate: u32) -> SourceSettings {
        SourceSettings {
            tenant: tenant.parse().unwrap(),
            id: id.parse().unwrap(),
            provider: Provider::Razorpay,
            secrets: vec![SecretString::from("s3cret")],
            allow_ips: vec!["10.0.0.0/8".parse().unwrap()],
            rate_limit_per_sec: rate,
            max_body_bytes: 1024,
            hmac: None,
            strict: false,
            transform: TransformSettings::default(),
            paused: false,
        }
    }

    #[test]
    fn sources_are_found_by_tenant_and_id_only() {
        let catalog =
            SourceCatalog::from_settings(&[settings("acme", "rzp", 5)], Duration::from_secs(300))
                .unwrap();
        assert!(catalog.get("acme", "rzp").is_some());
        assert!(catalog.get("acme", "stripe").is_none());
        assert!(catalog.get("other", "rzp").is_none());
    }

    #[test]
    fn a_source_added_at_run_time_is_served_and_a_removed_one_is_not() {
        let catalog = SourceCatalog::new(Duration::from_secs(300));
        let before = catalog.clone();
        catalog.upsert(&settings("acme", "rzp", 5)).unwrap();
        assert!(
            before.get("acme", "rzp").is_some(),
            "clones share the live table"
        );
        assert!(catalog.remove(&"acme".parse().unwrap(), &"rzp".parse().unwrap()));
        assert!(catalog.get("acme", "rzp").is_none());
        assert!(catalog.is_empty());
    }

    #[test]
    fn an_update_that_keeps_the_rate_keeps_the_spent_budget() {
        let catalog = SourceCatalog::new(Duration::from_secs(300));
        catalog.upsert(&settings("acme", "rzp", 1)).unwrap();
        assert!(
            catalog
                .get("acme", "rzp")
                .unwrap()
                .limiter()
                .check()
                .is_ok()
        );
        catalog.upsert(&settings("acme", "rzp", 1)).unwrap();
        assert!(
            catalog
                .get("acme", "rzp")
                .unwrap()
                .limiter()
                .check()
                .is_err(),
            "the budget spent before the update is still spent"
        );
        catalog.upsert(&settings("acme", "rzp", 2)).unwrap();
        assert!(
            catalog
                .get("acme", "rzp")
                .unwrap()
                .limiter()
                .check()
                .is_ok()
        );
    }

    #[test]
    fn allowlists_match_by_network() {
        let catalog =
            SourceCatalog::from_settings(&[settings("acme", "rzp", 5)], Duration::from_secs(300))
                .unwrap();
        let source = catalog.get("acme", "rzp").unwrap();
        assert!(source.allows("10.1.2.3".parse().unwrap()));
        assert!(!source.allows("192.168.1.1".parse().unwrap()));
        assert!(!source.allows("::1".parse().unwrap()));
    }
}
