//! What a config record says about one source or endpoint, and how it becomes the runtime's
//! settings. The fields are those of `[[sources]]` / `[[endpoints]]`, so a source configured
//! through the API and one in a file behave alike; secrets travel sealed.

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use switchyard_domain::{EndpointId, EventTypePattern, SourceId, TenantId};
use switchyard_runtime::settings::{
    EndpointSettings, HmacSettings, Provider, SourceSettings, TransformSettings,
};
use url::Url;

use crate::{ControlError, SealedSecret, Sealer};

/// A source as the config topic carries it: a `[[sources]]` entry with sealed secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSpec {
    /// Owning tenant.
    pub tenant: TenantId,
    /// Source id within the tenant (`POST /webhooks/{tenant}/{id}`).
    pub id: SourceId,
    /// Signature scheme.
    pub provider: Provider,
    /// Active secrets, sealed; any one may match.
    pub secrets: Vec<SealedSecret>,
    /// Networks allowed to post (CIDR).
    pub allow_ips: Vec<IpNet>,
    /// Requests per second accepted for this source.
    pub rate_limit_per_sec: u32,
    /// Largest body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Generic HMAC parameters (`provider = "hmac"`).
    #[serde(default)]
    pub hmac: Option<HmacSettings>,
    /// Types without a schema are dead-lettered.
    #[serde(default)]
    pub strict: bool,
    /// Changes the processor makes to the event data.
    #[serde(default)]
    pub transform: TransformSettings,
    /// Takes no webhooks while paused.
    #[serde(default)]
    pub paused: bool,
}

impl SourceSpec {
    /// The spec of `settings`, its secrets sealed with `sealer` (how the gateway writes one).
    pub fn seal(settings: &SourceSettings, sealer: &Sealer) -> Result<Self, ControlError> {
        Ok(Self {
            tenant: settings.tenant.clone(),
            id: settings.id.clone(),
            provider: settings.provider,
            secrets: settings
                .secrets
                .iter()
                .map(|s| sealer.seal(s))
                .collect::<Result<_, _>>()?,
            allow_ips: settings.allow_ips.clone(),
            rate_limit_per_sec: settings.rate_limit_per_sec,
            max_body_bytes: settings.max_body_bytes,
            hmac: settings.hmac.clone(),
            strict: settings.strict,
            transform: settings.transform.clone(),
            paused: settings.paused,
        })
    }

    /// The runtime settings of this source, secrets unsealed, checked like a `[[sources]]`
    /// entry.
    pub fn to_settings(&self, sealer: &Sealer) -> Result<SourceSettings, ControlError> {
        let settings = SourceSettings {
            tenant: self.tenant.clone(),
            id: self.id.clone(),
            provider: self.provider,
            secrets: self
                .secrets
                .iter()
                .map(|s| sealer.unseal(s))
                .collect::<Result<_, _>>()?,
            allow_ips: self.allow_ips.clone(),
            rate_limit_per_sec: self.rate_limit_per_sec,
            max_body_bytes: self.max_body_bytes,
            hmac: self.hmac.clone(),
            strict: self.strict,
            transform: self.transform.clone(),
            paused: self.paused,
        };
        settings.validate().map_err(|error| ControlError::Invalid {
            entity: format!("source {}/{}", self.tenant, self.id),
            error,
        })?;
        Ok(settings)
    }

    /// Checks the processor's part (`transform`), which needs no secret: the processor
    /// applies a source's rules without holding its keys.
    pub fn check_rules(&self) -> Result<(), ControlError> {
        self.transform
            .validate()
            .map_err(|error| ControlError::Invalid {
                entity: format!("source {}/{}", self.tenant, self.id),
                error,
            })
    }
}

/// A secret being rotated out of an endpoint: signed with until `expires_at`, then dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    /// The sealed secret.
    pub secret: SealedSecret,
    /// End of the overlap window (RFC 3339).
    pub expires_at: DateTime<Utc>,
}

/// An endpoint as the config topic carries it: an `[[endpoints]]` entry with sealed secrets
/// and an expiry per previous secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSpec {
    /// Owning tenant.
    pub tenant: TenantId,
    /// Endpoint id within the tenant.
    pub id: EndpointId,
    /// Where events are POSTed.
    pub url: Url,
    /// Standard Webhooks signing secret (`whsec_…`), sealed.
    pub secret: SealedSecret,
    /// Secrets being rotated out, each until its expiry.
    #[serde(default)]
    pub previous_secrets: Vec<PreviousSecret>,
    /// Receives nothing while paused.
    #[serde(default)]
    pub paused: bool,
    /// Event types delivered.
    pub event_types: Vec<EventTypePattern>,
}

impl EndpointSpec {
    /// The spec of `settings`, secrets sealed with `sealer`; every previous secret expires at
    /// `previous_until` (how the gateway writes one).
    pub fn seal(
        settings: &EndpointSettings,
        sealer: &Sealer,
        previous_until: DateTime<Utc>,
    ) -> Result<Self, ControlError> {
        Ok(Self {
            tenant: settings.tenant.clone(),
            id: settings.id.clone(),
            url: settings.url.clone(),
            secret: sealer.seal(&settings.secret)?,
            previous_secrets: settings
                .previous_secrets
                .iter()
                .map(|s| {
                    Ok(PreviousSecret {
                        secret: sealer.seal(s)?,
                        expires_at: previous_until,
                    })
                })
                .collect::<Result<_, ControlError>>()?,
            paused: settings.paused,
            event_types: settings.event_types.clone(),
        })
    }

    /// The runtime settings of this endpoint at `now`: secrets unsealed, previous secrets
    /// past their expiry left out (the overlap is over), checked like an `[[endpoints]]` entry.
    pub fn to_settings(
        &self,
        sealer: &Sealer,
        now: DateTime<Utc>,
    ) -> Result<EndpointSettings, ControlError> {
        let settings = EndpointSettings {
            tenant: self.tenant.clone(),
            id: self.id.clone(),
            url: self.url.clone(),
            secret: sealer.unseal(&self.secret)?,
            previous_secrets: self
                .previous_secrets
                .iter()
                .filter(|p| p.expires_at > now)
                .map(|p| sealer.unseal(&p.secret))
                .collect::<Result<_, _>>()?,
            paused: self.paused,
            event_types: self.event_types.clone(),
        };
        settings.validate().map_err(|error| ControlError::Invalid {
            entity: format!("endpoint {}/{}", self.tenant, self.id),
            error,
        })?;
        Ok(settings)
    }

    /// When the next previous secret expires: the settings change then, so a service
    /// re-applies the spec at that time.
    #[must_use]
    pub fn next_expiry(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.previous_secrets
            .iter()
            .map(|p| p.expires_at)
            .filter(|at| *at > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use secrecy::{ExposeSecret as _, SecretString};

    use super::*;

    const KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

    pub(crate) fn sealer() -> Sealer {
        Sealer::new(&[SecretString::from(KEY)]).unwrap_or_else(|e| panic!("{e}"))
    }

    fn source_settings() -> SourceSettings {
        SourceSettings {
            tenant: "acme".parse().unwrap_or_else(|e| panic!("{e}")),
            id: "rzp".parse().unwrap_or_else(|e| panic!("{e}")),
            provider: Provider::Razorpay,
            secrets: vec![SecretString::from("new"), SecretString::from("old")],
            allow_ips: vec!["10.0.0.0/8".parse().unwrap_or_else(|e| panic!("{e}"))],
            rate_limit_per_sec: 7,
            max_body_bytes: 1024,
            hmac: None,
            strict: true,
            transform: TransformSettings {
                drop: vec!["/card".into()],
                ..TransformSettings::default()
            },
            paused: true,
        }
    }

    fn endpoint_settings() -> EndpointSettings {
        EndpointSettings {
            tenant: "acme".parse().unwrap_or_else(|e| panic!("{e}")),
            id: "orders".parse().unwrap_or_else(|e| panic!("{e}")),
            url: "https://orders.example/hooks"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
            secret: SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            previous_secrets: vec![SecretString::from("whsec_b2xk")],
            paused: false,
            event_types: vec!["razorpay.*".parse().unwrap_or_else(|e| panic!("{e}"))],
        }
    }

    #[test]
    fn a_source_spec_carries_only_sealed_secrets_and_converts_back() {
        let sealer = sealer();
        let spec = SourceSpec::seal(&source_settings(), &sealer).unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_string(&spec).unwrap_or_else(|e| panic!("{e}"));
        assert!(!json.contains("\"new\""), "{json}");
        assert!(json.contains("sealed:v1:"), "{json}");
        assert!(json.contains("\"provider\":\"razorpay\""), "{json}");
        let back = spec.to_settings(&sealer).unwrap_or_else(|e| panic!("{e}"));
        let secrets: Vec<&str> = back.secrets.iter().map(|s| s.expose_secret()).collect();
        assert_eq!(secrets, ["new", "old"]);
        assert!(back.paused && back.strict);
        assert_eq!(back.transform.drop, ["/card"]);
        assert_eq!(back.rate_limit_per_sec, 7);
    }

    #[test]
    fn a_source_breaking_a_static_rule_is_refused() {
        let sealer = sealer();
        let mut spec =
            SourceSpec::seal(&source_settings(), &sealer).unwrap_or_else(|e| panic!("{e}"));
        spec.transform.drop = vec!["card".into()];
        let error = spec.to_settings(&sealer).err().map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("source acme/rzp") && e.contains("transform.drop")),
            "{error:?}"
        );
        assert!(spec.check_rules().is_err());
        spec.transform.drop.clear();
        spec.provider = Provider::Hmac;
        assert!(spec.to_settings(&sealer).is_err(), "hmac needs its header");
    }

    #[test]
    fn previous_endpoint_secrets_are_used_until_they_expire() {
        let sealer = sealer();
        let now = Utc::now();
        let spec = EndpointSpec::seal(&endpoint_settings(), &sealer, now + Duration::hours(1))
            .unwrap_or_else(|e| panic!("{e}"));
        let during = spec
            .to_settings(&sealer, now)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(during.previous_secrets.len(), 1);
        assert_eq!(spec.next_expiry(now), Some(now + Duration::hours(1)));
        let after = spec
            .to_settings(&sealer, now + Duration::hours(2))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(after.previous_secrets.is_empty());
        assert_eq!(spec.next_expiry(now + Duration::hours(2)), None);
        assert_eq!(
            after.secret.expose_secret(),
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        );
    }

    #[test]
    fn an_endpoint_spec_without_keys_cannot_be_read() {
        let spec = EndpointSpec::seal(&endpoint_settings(), &sealer(), Utc::now())
            .unwrap_or_else(|e| panic!("{e}"));
        let none = Sealer::new(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            spec.to_settings(&none, Utc::now()),
            Err(ControlError::NoSealingKeys)
        ));
    }
}
