//! What identifies one delivery of a provider, and the record ingest puts on the bus for it.
//!
//! The provider's delivery id makes the event id stable: a redelivery of the same webhook
//! derives the same id, so every consumer sees one event however often the provider sends it.

use std::{net::IpAddr, time::SystemTime};

use bytes::Bytes;
use prost::Message as _;
use switchyard_domain::{
    EventId, Headers, Message,
    wire::{self, HttpHeader, RawWebhook},
};
use switchyard_runtime::settings::Provider;
use switchyard_signatures::HeaderLookup;

use crate::sources::Source;

/// Longest delivery id we key on; longer ones are not ids but noise.
const MAX_DELIVERY_ID: usize = 256;

/// Headers every record keeps.
const COMMON_HEADERS: &[&str] = &["content-type", "user-agent"];

/// Headers a provider's payload needs downstream (event type, shop, API version), beside the
/// delivery id. Signature headers are not kept: what they proved is settled here.
fn provider_headers(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Razorpay => &["x-razorpay-event-id"],
        Provider::Stripe => &[],
        Provider::Github => &[
            "x-github-event",
            "x-github-delivery",
            "x-github-hook-id",
            "x-github-hook-installation-target-type",
            "x-github-hook-installation-target-id",
        ],
        Provider::Shopify => &[
            "x-shopify-topic",
            "x-shopify-webhook-id",
            "x-shopify-event-id",
            "x-shopify-shop-domain",
            "x-shopify-api-version",
            "x-shopify-triggered-at",
        ],
        Provider::StandardWebhooks => &["webhook-id", "webhook-timestamp"],
        Provider::Hmac => &[],
    }
}

/// The provider's id of this delivery, if it sends one and it is usable as a key.
#[must_use]
pub fn delivery_id(source: &Source, headers: &impl HeaderLookup, body: &[u8]) -> Option<String> {
    let header = |name: &str| headers.header(name).map(<[u8]>::to_vec);
    let raw = match source.provider {
        Provider::Razorpay => header("x-razorpay-event-id"),
        Provider::Github => header("x-github-delivery"),
        Provider::Shopify => header("x-shopify-webhook-id"),
        Provider::StandardWebhooks => header("webhook-id"),
        // Stripe puts the event id in the body, which is verified by now.
        Provider::Stripe => stripe_event_id(body).map(String::into_bytes),
        Provider::Hmac if source.id_header.is_empty() => None,
        Provider::Hmac => header(&source.id_header),
    }?;
    let id = String::from_utf8(raw).ok()?;
    let usable =
        !id.is_empty() && id.len() <= MAX_DELIVERY_ID && id.bytes().all(|b| b.is_ascii_graphic());
    usable.then_some(id)
}

fn stripe_event_id(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        id: Option<String>,
    }
    serde_json::from_slice::<Envelope>(body).ok()?.id
}

/// The event id of a delivery: derived from tenant, source and delivery id, fresh without one.
#[must_use]
pub fn event_id(source: &Source, delivery_id: Option<&str>) -> EventId {
    match delivery_id {
        Some(id) => EventId::derive(&[
            source.tenant.as_str().as_bytes(),
            source.id.as_str().as_bytes(),
            id.as_bytes(),
        ]),
        None => EventId::generate(),
    }
}

/// Everything known about one accepted request.
pub struct Delivery<'a> {
    /// Where it was posted.
    pub source: &'a Source,
    /// The exact body.
    pub body: Bytes,
    /// The provider's delivery id.
    pub delivery_id: Option<&'a str>,
    /// Our event id.
    pub event_id: &'a EventId,
    /// The client after proxy resolution.
    pub client: IpAddr,
    /// When the request arrived.
    pub received_at: SystemTime,
    /// W3C trace context of the request, if traced.
    pub traceparent: Option<String>,
}

impl Delivery<'_> {
    /// The `<prefix>.ingest.raw` record: key = tenant, value = `RawWebhook`.
    #[must_use]
    pub fn to_message(&self, headers: &impl HeaderLookup) -> Message {
        let kept = COMMON_HEADERS
            .iter()
            .chain(provider_headers(self.source.provider))
            .filter_map(|name| {
                headers.header(name).map(|value| HttpHeader {
                    name: (*name).to_owned(),
                    value: Bytes::copy_from_slice(value),
                })
            })
            .collect();
        let received_at = self
            .received_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let raw = RawWebhook {
            tenant: self.source.tenant.to_string(),
            source: self.source.id.to_string(),
            provider: self.source.provider.as_str().to_owned(),
            body: self.body.clone(),
            headers: kept,
            received_at: Some(prost_types::Timestamp {
                seconds: i64::try_from(received_at.as_secs()).unwrap_or(i64::MAX),
                nanos: i32::try_from(received_at.subsec_nanos()).unwrap_or(0),
            }),
            delivery_id: self.delivery_id.unwrap_or_default().to_owned(),
            remote_ip: self.client.to_string(),
            traceparent: self.traceparent.clone().unwrap_or_default(),
            event_id: self.event_id.to_string(),
        };
        let mut record_headers = Headers::with_capacity(2);
        record_headers.insert("content-type", wire::RAW_WEBHOOK_CONTENT_TYPE);
        if let Some(traceparent) = &self.traceparent {
            record_headers.insert(
                switchyard_runtime::trace_context::TRACEPARENT_HEADER,
                traceparent.clone(),
            );
        }
        Message {
            key: Some(Bytes::copy_from_slice(
                self.source.tenant.as_str().as_bytes(),
            )),
            headers: record_headers,
            payload: raw.encode_to_vec().into(),
        }
    }
}
