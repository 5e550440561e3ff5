//! A DLQ record as table values: its `dlq-*` headers read into columns, every header kept in
//! a JSON array that round-trips exactly.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use switchyard_domain::{Header, Headers, Message, TenantId};

use super::NewDeadLetter;

// The `dlq-*` headers every DLQ record carries (DESIGN §3). They mirror the constants of
// `switchyard_bus`; the store does not depend on the bus (and its broker clients) for five
// names.
const DLQ_REASON: &str = "dlq-reason";
const DLQ_TOPIC: &str = "dlq-topic";
const DLQ_ATTEMPTS: &str = "dlq-attempts";
const DLQ_GROUP: &str = "dlq-group";
const DLQ_ORIGIN: &str = "dlq-origin";
/// Set by the webhook dispatcher: the endpoint whose delivery gave up.
const DLQ_ENDPOINT: &str = "dlq-endpoint";
/// The CloudEvents tenant extension, in binary mode.
const CE_TENANT: &str = "ce_tenant";

impl NewDeadLetter {
    /// Reads a record consumed from `<prefix>.dlq` at `source_position` (its partition and
    /// offset, e.g. `3@1042`: what makes a second consumption of it a duplicate).
    ///
    /// The tenant is the `ce_tenant` header, else the record key when that is a valid tenant
    /// id (records on Switchyard's topics are keyed by tenant), else none. A missing or
    /// unreadable `dlq-*` header leaves its field empty (`attempts` 0) rather than losing
    /// the record: whoever wrote it, it is kept for a person to look at.
    #[must_use]
    pub fn from_record(
        source_position: impl Into<String>,
        record: &Message,
        dead_lettered_at: DateTime<Utc>,
    ) -> Self {
        let text = |name| record.headers.get_str(name).unwrap_or_default().to_owned();
        let tenant = record
            .headers
            .get_str(CE_TENANT)
            .and_then(|t| TenantId::parse(t).ok())
            .or_else(|| {
                let key = std::str::from_utf8(record.key.as_deref()?).ok()?;
                TenantId::parse(key).ok()
            });
        Self {
            source_position: source_position.into(),
            tenant,
            topic: text(DLQ_TOPIC),
            reason: text(DLQ_REASON),
            attempts: record
                .headers
                .get_str(DLQ_ATTEMPTS)
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0),
            group: text(DLQ_GROUP),
            origin: text(DLQ_ORIGIN),
            endpoint: record.headers.get_str(DLQ_ENDPOINT).map(str::to_owned),
            key: record.key.clone(),
            headers: record.headers.clone(),
            payload: record.payload.clone(),
            dead_lettered_at,
        }
    }
}

/// Whether a header is one the dead-lettering added (`dlq-*`), not part of the original.
pub(super) fn is_dlq_header(name: &str) -> bool {
    name.starts_with("dlq-")
}

/// `headers` as `[{"name": n, "text": v} | {"name": n, "base64": v}, ...]`: an array because
/// headers are ordered and may repeat; text when the value is UTF-8 without NUL (which jsonb
/// cannot hold), base64 otherwise.
pub(crate) fn headers_to_json(headers: &Headers) -> Value {
    Value::Array(
        headers
            .iter()
            .map(|header| {
                let mut entry = Map::with_capacity(2);
                // A NUL in a name cannot be kept as text either; names are ASCII in practice.
                entry.insert(
                    "name".into(),
                    Value::String(header.name.replace('\0', "\u{fffd}")),
                );
                match std::str::from_utf8(&header.value) {
                    Ok(text) if !text.contains('\0') => {
                        entry.insert("text".into(), Value::String(text.to_owned()));
                    }
                    _ => {
                        entry.insert(
                            "base64".into(),
                            Value::String(STANDARD.encode(&header.value)),
                        );
                    }
                }
                Value::Object(entry)
            })
            .collect(),
    )
}

/// The inverse of [`headers_to_json`]; the reason when `value` is not in that shape.
pub(crate) fn headers_from_json(value: &Value) -> Result<Headers, String> {
    let Value::Array(entries) = value else {
        return Err("headers are not a JSON array".into());
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let field = |name| entry.get(name).and_then(Value::as_str);
            let name = field("name").ok_or_else(|| format!("header {i} has no name"))?;
            let value = match (field("text"), field("base64")) {
                (Some(text), None) => Bytes::copy_from_slice(text.as_bytes()),
                (None, Some(encoded)) => STANDARD
                    .decode(encoded)
                    .map(Bytes::from)
                    .map_err(|e| format!("header {i} ({name}): {e}"))?,
                _ => {
                    return Err(format!(
                        "header {i} ({name}) needs exactly one of text, base64"
                    ));
                }
            };
            Ok(Header {
                name: name.to_owned(),
                value,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_in_order_with_repeats_and_binary_values() {
        let mut headers = Headers::new();
        headers.append("ce_id", "evt_1");
        headers.append("x-rep", "one");
        headers.append("x-rep", "two");
        headers.append("x-bin", Bytes::from_static(&[0xff, 0x00, 0x80]));
        headers.append("x-nul", "a\0b");
        headers.append("x-empty", "");
        let json = headers_to_json(&headers);
        assert_eq!(
            json[0],
            serde_json::json!({"name": "ce_id", "text": "evt_1"})
        );
        assert_eq!(
            json[3],
            serde_json::json!({"name": "x-bin", "base64": "/wCA"})
        );
        assert_eq!(headers_from_json(&json), Ok(headers));
    }

    #[test]
    fn malformed_header_json_is_refused_with_a_reason() {
        for bad in [
            serde_json::json!({"ce_id": "x"}),
            serde_json::json!([{"text": "x"}]),
            serde_json::json!([{"name": "a", "text": "x", "base64": "eA=="}]),
            serde_json::json!([{"name": "a", "base64": "!!"}]),
        ] {
            assert!(headers_from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dlq_headers_become_fields_and_the_tenant_comes_from_ce_tenant_or_the_key() {
        let mut record = Message {
            key: Some(Bytes::from_static(b"acme")),
            headers: Headers::new(),
            payload: Bytes::from_static(b"{}"),
        };
        record.headers.append(DLQ_TOPIC, "sy.events");
        record.headers.append(DLQ_REASON, "endpoint said 500");
        record.headers.append(DLQ_ATTEMPTS, "8");
        record.headers.append(DLQ_GROUP, "webhook-dispatcher");
        record.headers.append(DLQ_ORIGIN, "event evt_1");
        record.headers.append(DLQ_ENDPOINT, "orders");
        let now = Utc::now();
        let letter = NewDeadLetter::from_record("0@7", &record, now);
        assert_eq!(letter.tenant.as_ref().map(TenantId::as_str), Some("acme"));
        assert_eq!(
            (
                letter.topic.as_str(),
                letter.attempts,
                letter.endpoint.as_deref()
            ),
            ("sy.events", 8, Some("orders"))
        );
        assert_eq!(letter.headers, record.headers);
        record.headers.append(CE_TENANT, "globex");
        let letter = NewDeadLetter::from_record("0@8", &record, now);
        assert_eq!(letter.tenant.as_ref().map(TenantId::as_str), Some("globex"));
        record.key = Some(Bytes::from_static(b"endpoint/acme/orders"));
        record.headers.remove(CE_TENANT);
        assert_eq!(NewDeadLetter::from_record("0@9", &record, now).tenant, None);
    }
}
