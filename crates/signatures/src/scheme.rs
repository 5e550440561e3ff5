//! Which signature scheme a source uses, and its parameters.

use std::time::Duration;

/// How long a signed timestamp stays acceptable, either side of now, unless configured otherwise.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// How the signature bytes are written in a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Hexadecimal, upper or lower case.
    Hex,
    /// Standard base64 alphabet, padding optional.
    Base64,
}

/// Which scheme a source uses, with its parameters. Every scheme is HMAC-SHA256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// `X-Razorpay-Signature`: hex HMAC of the raw body.
    Razorpay,
    /// `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>..]`: HMAC of `"{t}.{body}"`.
    ///
    /// Any `v1` entry may match; other schemes (such as `v0`) are ignored.
    Stripe {
        /// How far `t` may be from now, either way.
        tolerance: Duration,
    },
    /// `X-Hub-Signature-256: sha256=<hex>`: HMAC of the raw body.
    Github,
    /// `X-Shopify-Hmac-Sha256`: base64 HMAC of the raw body.
    Shopify,
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp` and a space-separated list of
    /// `v1,<base64>` entries in `webhook-signature`; HMAC of `"{id}.{timestamp}.{body}"`.
    ///
    /// Secrets are `whsec_<base64>` (the prefix is optional); the key is the decoded bytes.
    /// Entries of other versions (such as `v1a`) are ignored.
    StandardWebhooks {
        /// How far `webhook-timestamp` may be from now, either way.
        tolerance: Duration,
    },
    /// A configurable scheme: `header` holds `prefix` followed by the encoded HMAC of the body.
    Hmac {
        /// Header name, matched case-insensitively.
        header: String,
        /// How the HMAC is encoded after the prefix.
        encoding: Encoding,
        /// Text before the encoded HMAC, such as `sha256=`; empty for none. Matched
        /// ASCII-case-insensitively.
        prefix: String,
    },
}
