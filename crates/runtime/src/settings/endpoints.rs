use std::collections::HashSet;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use switchyard_domain::{EndpointId, EventTypePattern, TenantId};
use url::Url;

use super::InvalidEntry;

fn every_type() -> Vec<EventTypePattern> {
    EventTypePattern::parse("*").into_iter().collect()
}

/// `[[endpoints]]`: one outbound subscriber.
#[derive(Debug, Clone, Deserialize)]
pub struct EndpointSettings {
    /// Owning tenant; the endpoint only ever receives this tenant's events.
    pub tenant: TenantId,
    /// Endpoint id within the tenant.
    pub id: EndpointId,
    /// Where events are POSTed (http or https).
    pub url: Url,
    /// Standard Webhooks signing secret, `whsec_<base64>`.
    pub secret: SecretString,
    /// Secrets being rotated out: deliveries carry a signature for each of them too, so a
    /// receiver still checking with an old secret keeps accepting until it switches.
    #[serde(default)]
    pub previous_secrets: Vec<SecretString>,
    /// A paused endpoint receives nothing until it is resumed.
    #[serde(default)]
    pub paused: bool,
    /// Event types delivered; every type by default.
    #[serde(default = "every_type")]
    pub event_types: Vec<EventTypePattern>,
}

pub(super) fn validate_all(endpoints: &[EndpointSettings]) -> Result<(), (String, String)> {
    let mut seen = HashSet::new();
    for (i, endpoint) in endpoints.iter().enumerate() {
        if !seen.insert((&endpoint.tenant, &endpoint.id)) {
            return Err((
                format!("endpoints[{i}].id"),
                format!("duplicate endpoint {}/{}", endpoint.tenant, endpoint.id),
            ));
        }
        endpoint
            .validate()
            .map_err(|e| (format!("endpoints[{i}].{}", e.field), e.message))?;
    }
    Ok(())
}

impl EndpointSettings {
    /// Checks one endpoint the way start-up checks every `[[endpoints]]` entry, so an
    /// endpoint configured at run time obeys the same rules as a static one.
    pub fn validate(&self) -> Result<(), InvalidEntry> {
        if !matches!(self.url.scheme(), "http" | "https") || self.url.host().is_none() {
            return Err(InvalidEntry::new(
                "url",
                "must be an http or https URL with a host",
            ));
        }
        if !self.secret.expose_secret().starts_with("whsec_") {
            return Err(InvalidEntry::new(
                "secret",
                "must be a Standard Webhooks secret: whsec_<base64>",
            ));
        }
        if let Some(i) = self
            .previous_secrets
            .iter()
            .position(|s| !s.expose_secret().starts_with("whsec_"))
        {
            return Err(InvalidEntry::new(
                format!("previous_secrets[{i}]"),
                "must be a Standard Webhooks secret: whsec_<base64>",
            ));
        }
        if self.event_types.is_empty() {
            return Err(InvalidEntry::new(
                "event_types",
                "must list at least one type or pattern",
            ));
        }
        Ok(())
    }
}
