use std::collections::HashSet;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use switchyard_domain::{EndpointId, EventTypePattern, TenantId};
use url::Url;

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
        let key = |field: &str| format!("endpoints[{i}].{field}");
        if !seen.insert((&endpoint.tenant, &endpoint.id)) {
            return Err((
                key("id"),
                format!("duplicate endpoint {}/{}", endpoint.tenant, endpoint.id),
            ));
        }
        if !matches!(endpoint.url.scheme(), "http" | "https") || endpoint.url.host().is_none() {
            return Err((
                key("url"),
                "must be an http or https URL with a host".into(),
            ));
        }
        if !endpoint.secret.expose_secret().starts_with("whsec_") {
            return Err((
                key("secret"),
                "must be a Standard Webhooks secret: whsec_<base64>".into(),
            ));
        }
        if let Some(i) = endpoint
            .previous_secrets
            .iter()
            .position(|s| !s.expose_secret().starts_with("whsec_"))
        {
            return Err((
                key(&format!("previous_secrets[{i}]")),
                "must be a Standard Webhooks secret: whsec_<base64>".into(),
            ));
        }
        if endpoint.event_types.is_empty() {
            return Err((
                key("event_types"),
                "must list at least one type or pattern".into(),
            ));
        }
    }
    Ok(())
}
