use std::collections::HashSet;

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::InvalidEntry;
use switchyard_domain::{SourceId, TenantId};

/// Signature scheme and payload family of an inbound source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// `X-Razorpay-Signature`.
    Razorpay,
    /// `Stripe-Signature`.
    Stripe,
    /// `X-Hub-Signature-256`.
    Github,
    /// `X-Shopify-Hmac-Sha256`.
    Shopify,
    /// `webhook-id` / `webhook-timestamp` / `webhook-signature`.
    StandardWebhooks,
    /// Generic HMAC-SHA256 with a configured header, encoding and prefix.
    Hmac,
}

named_enum!(Provider { Razorpay => "razorpay", Stripe => "stripe", Github => "github", Shopify => "shopify", StandardWebhooks => "standard-webhooks", Hmac => "hmac" });

/// How a generic HMAC signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacEncoding {
    /// Lower- or upper-case hex.
    Hex,
    /// Standard base64.
    Base64,
}

named_enum!(HmacEncoding { Hex => "hex", Base64 => "base64" });

/// `[sources.hmac]`: the generic scheme's parameters (required when `provider = "hmac"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HmacSettings {
    /// Header carrying the signature, e.g. `X-Signature`.
    pub header: String,
    /// Signature encoding.
    pub encoding: HmacEncoding,
    /// Text before the signature in the header, e.g. `sha256=`.
    #[serde(default)]
    pub prefix: String,
    /// Header carrying the sender's unique delivery id, if it sends one; a repeat of an id
    /// is answered as a duplicate instead of being published again.
    #[serde(default)]
    pub id_header: String,
}

fn all_addresses() -> Vec<IpNet> {
    ["0.0.0.0/0", "::/0"]
        .iter()
        .filter_map(|net| net.parse().ok())
        .collect()
}
const fn default_rate_limit() -> u32 {
    100
}
const fn default_max_body() -> usize {
    256 * 1024
}

/// One `rename` step of a source's transformation: move the value at `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenameField {
    /// JSON Pointer of the value to move, e.g. `/payload/payment/entity/notes`.
    pub from: String,
    /// JSON Pointer it moves to; parents must exist.
    pub to: String,
}

/// `[sources.transform]`: declarative changes the processor makes to a source's event data,
/// in this order: rename, drop, then subject and type are read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TransformSettings {
    /// Fields to move.
    pub rename: Vec<RenameField>,
    /// JSON Pointers of fields to remove (e.g. card details a subscriber must not see).
    pub drop: Vec<String>,
    /// JSON Pointer of the event's subject, replacing the provider's default.
    pub subject: String,
    /// JSON Pointer of the event type (generic `hmac` sources): the type becomes
    /// `<source id>.<value>`.
    pub event_type: String,
}

/// `[[sources]]`: one inbound webhook source, `POST /webhooks/{tenant}/{id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct SourceSettings {
    /// Owning tenant.
    pub tenant: TenantId,
    /// Source id within the tenant.
    pub id: SourceId,
    /// Signature scheme.
    pub provider: Provider,
    /// Active secrets; any one may match, so secrets rotate without downtime.
    pub secrets: Vec<SecretString>,
    /// Networks allowed to post (CIDR); everyone by default.
    #[serde(default = "all_addresses")]
    pub allow_ips: Vec<IpNet>,
    /// Requests per second accepted for this source.
    #[serde(default = "default_rate_limit")]
    pub rate_limit_per_sec: u32,
    /// Largest body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Generic HMAC parameters.
    #[serde(default)]
    pub hmac: Option<HmacSettings>,
    /// Events of a type without a registered schema are dead-lettered instead of passed on.
    #[serde(default)]
    pub strict: bool,
    /// Changes the processor makes to the event data.
    #[serde(default)]
    pub transform: TransformSettings,
    /// A paused source takes no webhooks (ingest answers `503` with `Retry-After`, so the
    /// provider keeps them and retries) until it is resumed.
    #[serde(default)]
    pub paused: bool,
}

/// The largest `max_body_bytes` a source may configure.
const BODY_LIMIT_CEILING: usize = 64 * 1024 * 1024;

pub(super) fn validate_all(sources: &[SourceSettings]) -> Result<(), (String, String)> {
    let mut seen = HashSet::new();
    for (i, source) in sources.iter().enumerate() {
        if !seen.insert((&source.tenant, &source.id)) {
            return Err((
                format!("sources[{i}].id"),
                format!("duplicate source {}/{}", source.tenant, source.id),
            ));
        }
        source
            .validate()
            .map_err(|e| (format!("sources[{i}].{}", e.field), e.message))?;
    }
    Ok(())
}

impl SourceSettings {
    /// Checks one source the way start-up checks every `[[sources]]` entry, so a source
    /// configured at run time obeys the same rules as a static one.
    pub fn validate(&self) -> Result<(), InvalidEntry> {
        if self.secrets.is_empty() || self.secrets.iter().any(|s| s.expose_secret().is_empty()) {
            return Err(InvalidEntry::new(
                "secrets",
                "needs at least one non-empty secret",
            ));
        }
        if self.rate_limit_per_sec == 0 {
            return Err(InvalidEntry::new(
                "rate_limit_per_sec",
                "must be at least 1",
            ));
        }
        if self.max_body_bytes == 0 || self.max_body_bytes > BODY_LIMIT_CEILING {
            return Err(InvalidEntry::new(
                "max_body_bytes",
                "must be between 1 and 67108864 (64 MiB)",
            ));
        }
        self.transform.validate()?;
        match (self.provider, &self.hmac) {
            (Provider::Hmac, None) => Err(InvalidEntry::new(
                "hmac",
                "provider \"hmac\" needs header and encoding",
            )),
            (Provider::Hmac, Some(hmac)) if hmac.header.trim().is_empty() => Err(
                InvalidEntry::new("hmac.header", "must name the signature header"),
            ),
            _ => Ok(()),
        }
    }
}

impl TransformSettings {
    /// Checks that every field names a JSON Pointer (the processor's part of a source).
    pub fn validate(&self) -> Result<(), InvalidEntry> {
        let pointers = self
            .rename
            .iter()
            .flat_map(|r| [("transform.rename", &r.from), ("transform.rename", &r.to)])
            .chain(self.drop.iter().map(|p| ("transform.drop", p)))
            .chain([
                ("transform.subject", &self.subject),
                ("transform.event_type", &self.event_type),
            ]);
        for (field, pointer) in pointers {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return Err(InvalidEntry::new(
                    field,
                    format!("{pointer:?} is not a JSON Pointer (it must start with \"/\")"),
                ));
            }
        }
        if self
            .rename
            .iter()
            .any(|r| r.from.is_empty() || r.to.is_empty())
        {
            return Err(InvalidEntry::new(
                "transform.rename",
                "needs both from and to",
            ));
        }
        Ok(())
    }
}
