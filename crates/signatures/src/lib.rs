//! Webhook signatures for Switchyard: verification of inbound requests for each provider scheme
//! the ingest service accepts (Razorpay, Stripe, GitHub, Shopify, Standard Webhooks and a
//! configurable generic HMAC), the Standard Webhooks [`Signer`] the webhook dispatcher uses
//! for outbound deliveries, and [`sign_request`], which signs a test request the way each
//! provider would.
//!
//! It is computation only: no I/O, no async, no HTTP framework. A handler passes the headers
//! (through [`HeaderLookup`]), the raw body bytes and the time of receipt to
//! [`Verifier::verify`]; a [`SignatureError`] says why a request is refused, in words safe to
//! return to the sender. Every comparison is constant-time, and secrets never reach `Debug`
//! output. It does not parse bodies, remember delivery ids (duplicate detection belongs to the
//! ingest service), check source addresses, or load secrets.

mod error;
mod generic_hmac;
mod github;
mod headers;
mod mac;
mod razorpay;
mod scheme;
mod shopify;
mod signing;
mod standard_webhooks;
mod stripe;
mod timestamp;
mod verifier;

pub use error::{KeyError, SignatureError};
pub use headers::HeaderLookup;
pub use scheme::{DEFAULT_TOLERANCE, Encoding, Scheme};
pub use signing::sign_request;
pub use standard_webhooks::Signer;
pub use verifier::Verifier;
