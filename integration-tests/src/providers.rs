//! Webhooks as the providers send them: each provider's body shape, its delivery-id and
//! event headers, signed with `switchyard_signatures::sign_request` (whose round trip through
//! the verifier is tested for every scheme) at the moment of sending, so a retry is signed
//! afresh as a provider's retry is.

use std::time::SystemTime;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use secrecy::SecretString;
use serde_json::{Value, json};
use switchyard_signatures::{DEFAULT_TOLERANCE, Scheme, sign_request};

/// The providers ingest verifies (the generic `hmac` scheme aside).
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
    /// Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
    StandardWebhooks,
}

/// A request ready to post: headers (signature and provider headers) and the exact body.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    /// Header name and value pairs, `content-type` included.
    pub headers: Vec<(String, String)>,
    /// The body bytes the signature covers.
    pub body: Vec<u8>,
}

impl Provider {
    /// All five.
    pub const ALL: [Self; 5] = [
        Self::Razorpay,
        Self::Stripe,
        Self::Github,
        Self::Shopify,
        Self::StandardWebhooks,
    ];

    /// The `provider` value of a source, also used as the source id.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Razorpay => "razorpay",
            Self::Stripe => "stripe",
            Self::Github => "github",
            Self::Shopify => "shopify",
            Self::StandardWebhooks => "standard-webhooks",
        }
    }

    /// The canonical event type the processor makes of [`Provider::signed`]'s webhook.
    #[must_use]
    pub fn event_type(self) -> &'static str {
        match self {
            Self::Razorpay => "razorpay.payment.captured",
            Self::Stripe => "stripe.payment_intent.succeeded",
            Self::Github => "github.push",
            Self::Shopify => "shopify.orders.create",
            Self::StandardWebhooks => "user.created",
        }
    }

    /// The webhook secret of `tenant`'s source of this provider (a `whsec_` key for
    /// Standard Webhooks, a provider-style string for the others).
    #[must_use]
    pub fn secret(self, tenant: &str) -> String {
        match self {
            Self::StandardWebhooks => format!(
                "whsec_{}",
                STANDARD.encode(format!("standard webhooks key of {tenant}"))
            ),
            Self::Stripe => format!("whsec_stripe_{tenant}"),
            other => format!("{} webhook secret of {tenant}", other.name()),
        }
    }

    /// The `[[sources]]` entry of `tenant`'s source of this provider (id = provider name).
    #[must_use]
    pub fn source_toml(self, tenant: &str) -> String {
        format!(
            "[[sources]]\ntenant = \"{tenant}\"\nid = \"{name}\"\nprovider = \"{name}\"\n\
             secrets = [\"{secret}\"]\nrate_limit_per_sec = 1000\n\n",
            name = self.name(),
            secret = self.secret(tenant),
        )
    }

    fn scheme(self) -> Scheme {
        match self {
            Self::Razorpay => Scheme::Razorpay,
            Self::Stripe => Scheme::Stripe {
                tolerance: DEFAULT_TOLERANCE,
            },
            Self::Github => Scheme::Github,
            Self::Shopify => Scheme::Shopify,
            Self::StandardWebhooks => Scheme::StandardWebhooks {
                tolerance: DEFAULT_TOLERANCE,
            },
        }
    }

    /// Webhook number `n` of `tenant`, with provider delivery id `delivery_id` (the same on
    /// every retry, so ingest derives the same event id), signed now.
    #[must_use]
    pub fn signed(self, tenant: &str, n: u64, delivery_id: &str) -> SignedWebhook {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let body: Value = match self {
            Self::Razorpay => json!({
                "entity": "event", "event": "payment.captured", "contains": ["payment"],
                "created_at": now,
                "payload": { "payment": { "entity": {
                    "id": format!("pay_{n}"), "amount": n, "currency": "INR",
                    "status": "captured", "notes": { "tenant": tenant, "n": n }
                } } }
            }),
            Self::Stripe => json!({
                "id": delivery_id, "object": "event", "type": "payment_intent.succeeded",
                "created": now,
                "data": { "object": {
                    "id": format!("pi_{n}"), "object": "payment_intent", "amount": n,
                    "currency": "usd", "metadata": { "tenant": tenant, "n": n }
                } }
            }),
            Self::Github => json!({
                "ref": "refs/heads/main", "after": format!("{n:040x}"),
                "repository": { "full_name": format!("{tenant}/app") },
                "pusher": { "name": "loadgen" }, "n": n
            }),
            Self::Shopify => json!({
                "id": n, "email": "buyer@example.com", "total_price": "10.00",
                "currency": "USD", "note": tenant
            }),
            Self::StandardWebhooks => json!({
                "type": "user.created", "timestamp": now,
                "data": { "id": format!("user_{n}"), "tenant": tenant }
            }),
        };
        let body = body.to_string().into_bytes();
        let secret = SecretString::from(self.secret(tenant));
        let mut headers = sign_request(
            &self.scheme(),
            &secret,
            &body,
            SystemTime::now(),
            delivery_id,
        )
        .unwrap_or_else(|e| panic!("signing a {} webhook: {e}", self.name()));
        let pair = |name: &str, value: &str| (name.to_owned(), value.to_owned());
        headers.push(pair("content-type", "application/json"));
        match self {
            Self::Razorpay => headers.push(pair("x-razorpay-event-id", delivery_id)),
            Self::Github => {
                headers.push(pair("x-github-delivery", delivery_id));
                headers.push(pair("x-github-event", "push"));
            }
            Self::Shopify => {
                headers.push(pair("x-shopify-webhook-id", delivery_id));
                headers.push(pair("x-shopify-topic", "orders/create"));
            }
            // Stripe's id is in the body, Standard Webhooks' in the signed `webhook-id`.
            Self::Stripe | Self::StandardWebhooks => {}
        }
        SignedWebhook { headers, body }
    }
}
