//! What each provider's payload means: its event type, its main entity (the subject) and when
//! it happened. One function per provider, each reading only documented fields.

use chrono::{DateTime, Utc};
use serde_json::Value;
use switchyard_domain::wire::HttpHeader;
use switchyard_runtime::settings::Provider;

/// The canonical attributes read from a provider's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// `<provider>.<provider event>`, e.g. `razorpay.payment.captured`.
    pub event_type: String,
    /// The main entity: payment id, PR number, order id…
    pub subject: Option<String>,
    /// When the provider says it happened.
    pub time: Option<DateTime<Utc>>,
}

/// Why a payload cannot be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// A field the provider always sends is missing or of the wrong kind.
    #[error("{provider} payload has no {what}")]
    Missing {
        /// The provider.
        provider: &'static str,
        /// What is missing, e.g. `"event" string`.
        what: &'static str,
    },
    /// A header the provider always sends is missing.
    #[error("{provider} delivery has no {header} header")]
    MissingHeader {
        /// The provider.
        provider: &'static str,
        /// The header.
        header: &'static str,
    },
}

/// Headers of a raw webhook, looked up by lower-case name.
pub struct RawHeaders<'a>(pub &'a [HttpHeader]);

impl RawHeaders<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|h| h.name == name)
            .and_then(|h| std::str::from_utf8(&h.value).ok())
    }
}

/// Maps a payload of `provider`. Generic `hmac` sources name their type through the
/// source's transformation instead (see `transform`), so here they get `<source>.webhook`.
pub fn map(
    provider: Provider,
    source: &str,
    headers: &RawHeaders<'_>,
    body: &Value,
) -> Result<Mapped, MapError> {
    match provider {
        Provider::Razorpay => razorpay(body),
        Provider::Stripe => stripe(body),
        Provider::Github => github(headers, body),
        Provider::Shopify => shopify(headers, body),
        Provider::StandardWebhooks => standard_webhooks(body),
        Provider::Hmac => Ok(Mapped {
            event_type: format!("{source}.webhook"),
            subject: None,
            time: None,
        }),
    }
}

/// `{"event": "payment.captured", "contains": ["payment"], "payload": {"payment": {"entity":
/// {"id": "pay_..."}}}, "created_at": 1700000000}`.
fn razorpay(body: &Value) -> Result<Mapped, MapError> {
    let event = str_at(body, "/event").ok_or(MapError::Missing {
        provider: "razorpay",
        what: "\"event\" string",
    })?;
    // The event names the entity it is about (`order.paid` is about the order, although the
    // documented sample lists the payment first in `contains`); other events fall back to
    // the first contained entity.
    let named = event.split('.').next().unwrap_or(event);
    let entity_id = |entity: &str| {
        body.get("payload")?
            .get(entity)?
            .pointer("/entity/id")
            .and_then(id_string)
    };
    let subject = entity_id(named).or_else(|| {
        body.pointer("/contains/0")
            .and_then(Value::as_str)
            .and_then(entity_id)
    });
    Ok(Mapped {
        event_type: format!("razorpay.{event}"),
        subject,
        time: body
            .get("created_at")
            .and_then(Value::as_i64)
            .and_then(unix),
    })
}

/// `{"id": "evt_...", "type": "payment_intent.succeeded", "created": 1700000000, "data":
/// {"object": {"id": "pi_..."}}}`.
fn stripe(body: &Value) -> Result<Mapped, MapError> {
    let event = str_at(body, "/type").ok_or(MapError::Missing {
        provider: "stripe",
        what: "\"type\" string",
    })?;
    Ok(Mapped {
        event_type: format!("stripe.{event}"),
        subject: body.pointer("/data/object/id").and_then(id_string),
        time: body.get("created").and_then(Value::as_i64).and_then(unix),
    })
}

/// Event name in `X-GitHub-Event`; the subject is the PR or issue number, the pushed ref, or
/// the repository.
fn github(headers: &RawHeaders<'_>, body: &Value) -> Result<Mapped, MapError> {
    let event = headers
        .get("x-github-event")
        .ok_or(MapError::MissingHeader {
            provider: "github",
            header: "X-GitHub-Event",
        })?;
    let subject = [
        "/pull_request/number",
        "/issue/number",
        "/ref",
        "/repository/full_name",
    ]
    .iter()
    .find_map(|pointer| body.pointer(pointer).and_then(id_string));
    let time = [
        "/head_commit/timestamp",
        "/pull_request/updated_at",
        "/issue/updated_at",
    ]
    .iter()
    .find_map(|pointer| {
        body.pointer(pointer)
            .and_then(Value::as_str)
            .and_then(rfc3339)
    });
    Ok(Mapped {
        event_type: format!("github.{event}"),
        subject,
        time,
    })
}

/// Topic in `X-Shopify-Topic` (`orders/create` → `shopify.orders.create`); the subject is the
/// resource id.
fn shopify(headers: &RawHeaders<'_>, body: &Value) -> Result<Mapped, MapError> {
    let topic = headers
        .get("x-shopify-topic")
        .ok_or(MapError::MissingHeader {
            provider: "shopify",
            header: "X-Shopify-Topic",
        })?;
    let time = headers
        .get("x-shopify-triggered-at")
        .and_then(rfc3339)
        .or_else(|| str_at(body, "/updated_at").and_then(rfc3339));
    Ok(Mapped {
        event_type: format!("shopify.{}", topic.replace('/', ".")),
        subject: body.get("id").and_then(id_string),
        time,
    })
}

/// `{"type": "invoice.paid", "timestamp": "2024-...Z", "data": {...}}`: the sender's own type.
fn standard_webhooks(body: &Value) -> Result<Mapped, MapError> {
    let event = str_at(body, "/type").ok_or(MapError::Missing {
        provider: "standard-webhooks",
        what: "\"type\" string",
    })?;
    Ok(Mapped {
        event_type: event.to_owned(),
        subject: body.pointer("/data/id").and_then(id_string),
        time: str_at(body, "/timestamp").and_then(rfc3339),
    })
}

fn str_at<'a>(body: &'a Value, pointer: &str) -> Option<&'a str> {
    body.pointer(pointer).and_then(Value::as_str)
}

/// Ids are strings or numbers (GitHub and Shopify use numbers).
pub(crate) fn id_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn unix(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

fn rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use serde_json::json;

    use super::*;

    fn header(name: &str, value: &str) -> HttpHeader {
        HttpHeader {
            name: name.into(),
            value: Bytes::copy_from_slice(value.as_bytes()),
        }
    }

    #[test]
    fn razorpay_events_are_about_the_entity_they_name() {
        // Razorpay's own order.paid sample lists the payment first.
        let body = json!({
            "event": "order.paid", "contains": ["payment", "order"], "created_at": 1_700_000_000,
            "payload": {"payment": {"entity": {"id": "pay_1"}}, "order": {"entity": {"id": "order_1"}}}
        });
        let mapped = map(Provider::Razorpay, "rzp", &RawHeaders(&[]), &body).unwrap();
        assert_eq!(mapped.event_type, "razorpay.order.paid");
        assert_eq!(mapped.subject.as_deref(), Some("order_1"));
        assert_eq!(mapped.time.unwrap().timestamp(), 1_700_000_000);
    }

    #[test]
    fn razorpay_events_naming_no_contained_entity_fall_back_to_the_first() {
        let body = json!({
            "event": "fund_account.validation.completed", "contains": ["fund_account.validation"],
            "payload": {"fund_account.validation": {"entity": {"id": "fav_1"}}}
        });
        let mapped = map(Provider::Razorpay, "rzp", &RawHeaders(&[]), &body).unwrap();
        assert_eq!(mapped.subject.as_deref(), Some("fav_1"));
    }

    #[test]
    fn a_razorpay_payload_without_an_event_is_refused() {
        let error = map(
            Provider::Razorpay,
            "rzp",
            &RawHeaders(&[]),
            &json!({"payload": {}}),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "razorpay payload has no \"event\" string"
        );
    }

    #[test]
    fn github_takes_its_type_from_the_header_and_numbers_as_subjects() {
        let headers = [header("x-github-event", "pull_request")];
        let body = json!({"action": "opened", "number": 7, "pull_request": {"number": 7, "updated_at": "2024-01-02T03:04:05Z"}});
        let mapped = map(Provider::Github, "gh", &RawHeaders(&headers), &body).unwrap();
        assert_eq!(mapped.event_type, "github.pull_request");
        assert_eq!(mapped.subject.as_deref(), Some("7"));
        assert_eq!(
            mapped.time.unwrap().to_rfc3339(),
            "2024-01-02T03:04:05+00:00"
        );
        let missing = map(Provider::Github, "gh", &RawHeaders(&[]), &body).unwrap_err();
        assert!(missing.to_string().contains("X-GitHub-Event"));
    }

    #[test]
    fn shopify_topics_become_dotted_types() {
        let headers = [header("x-shopify-topic", "orders/create")];
        let mapped = map(
            Provider::Shopify,
            "shop",
            &RawHeaders(&headers),
            &json!({"id": 820_982_911_946_154_508_u64}),
        )
        .unwrap();
        assert_eq!(mapped.event_type, "shopify.orders.create");
        assert_eq!(mapped.subject.as_deref(), Some("820982911946154508"));
    }

    #[test]
    fn stripe_and_standard_webhooks_read_their_envelopes() {
        let stripe = map(
            Provider::Stripe,
            "s",
            &RawHeaders(&[]),
            &json!({"type": "payment_intent.succeeded", "created": 1, "data": {"object": {"id": "pi_1"}}}),
        )
        .unwrap();
        assert_eq!(
            (stripe.event_type.as_str(), stripe.subject.as_deref()),
            ("stripe.payment_intent.succeeded", Some("pi_1"))
        );
        let standard = map(
            Provider::StandardWebhooks,
            "s",
            &RawHeaders(&[]),
            &json!({"type": "invoice.paid", "timestamp": "2022-11-03T20:26:10.344522Z", "data": {"id": "inv_1"}}),
        )
        .unwrap();
        assert_eq!(
            (standard.event_type.as_str(), standard.subject.as_deref()),
            ("invoice.paid", Some("inv_1"))
        );
        assert!(standard.time.is_some());
    }
}
