//! A record's key and headers as NATS headers, reversibly.
//!
//! NATS headers are text lines: names are printable ASCII without `:`, values may not contain
//! CR or LF and lose surrounding whitespace, and the client keeps them in a hash map (the order
//! between names is lost). Records carry arbitrary bytes, repeated names and an order, so:
//!
//! - every user header keeps its name and value, *percent-encoded*: bytes outside printable
//!   ASCII, `%` itself, `:` in names, and a space at either end of a value become `%XX`. Text
//!   values (`ce_type: razorpay.payment.captured`) stay readable by any NATS tool; decoding
//!   always undoes exactly this, so a value containing `%` round-trips too;
//! - a user name that would fall in the server's or our namespace (`Nats-*`, `Sy-*`, any case)
//!   has its first byte encoded, so it can neither steer the server nor be mistaken for ours;
//! - the key travels in `Sy-Key` (percent-encoded; absent for a record without a key);
//! - `Sy-Order` lists the encoded names in their original order (space-separated) when the
//!   record has more than one distinct name, so the decoder restores the exact sequence.
//!
//! Records published by other NATS clients decode too: their headers come back in name order.

use std::collections::{HashMap, VecDeque};

use async_nats::HeaderMap;
use bytes::Bytes;
use switchyard_domain::{Headers, Message};

use super::BACKEND;
use crate::BusError;

/// The record's key.
pub(super) const KEY: &str = "Sy-Key";
/// The order of the user headers' names.
pub(super) const ORDER: &str = "Sy-Order";
/// JetStream's de-duplication id.
pub(super) const MSG_ID: &str = "Nats-Msg-Id";

/// The NATS headers of `message`, with `msg_id` as its de-duplication id.
pub(super) fn encode(message: &Message, msg_id: &str) -> Result<HeaderMap, BusError> {
    let mut map = HeaderMap::new();
    map.insert(MSG_ID, msg_id);
    if let Some(key) = &message.key {
        map.insert(KEY, encode_value(key));
    }
    let mut order: Vec<String> = Vec::with_capacity(message.headers.len());
    for header in &message.headers {
        if header.name.is_empty() {
            return Err(BusError::Rejected {
                backend: BACKEND,
                reason: "NATS cannot carry a header with an empty name".into(),
            });
        }
        let name = encode_name(&header.name);
        map.append(name.as_str(), encode_value(&header.value));
        order.push(name);
    }
    if order.iter().any(|name| *name != order[0]) {
        map.insert(ORDER, order.join(" "));
    }
    Ok(map)
}

/// The key and user headers carried by `map`.
pub(super) fn decode(map: Option<&HeaderMap>) -> (Option<Bytes>, Headers) {
    let Some(map) = map else {
        return (None, Headers::new());
    };
    let key = map.get(KEY).map(|v| Bytes::from(decode_bytes(v.as_str())));
    let mut values: HashMap<&str, VecDeque<&str>> = HashMap::new();
    for (name, list) in map.iter() {
        let name: &str = name.as_ref();
        if is_reserved(name) {
            continue;
        }
        values
            .entry(name)
            .or_default()
            .extend(list.iter().map(|v| v.as_str()));
    }
    let mut headers = Headers::with_capacity(values.values().map(VecDeque::len).sum());
    if let Some(order) = map.get(ORDER) {
        for name in order.as_str().split(' ') {
            if let Some(value) = values.get_mut(name).and_then(VecDeque::pop_front) {
                headers.append(decode_name(name), decode_bytes(value));
            }
        }
    }
    // Whatever the order did not cover (a foreign publisher's headers), by name.
    let mut rest: Vec<(&str, VecDeque<&str>)> =
        values.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    rest.sort_unstable_by_key(|(name, _)| *name);
    for (name, list) in rest {
        for value in list {
            headers.append(decode_name(name), decode_bytes(value));
        }
    }
    (key, headers)
}

/// Builds the record of a received message.
pub(super) fn record(map: Option<&HeaderMap>, payload: Bytes) -> Message {
    let (key, headers) = decode(map);
    Message {
        key,
        headers,
        payload,
    }
}

/// Names of the server's (`Nats-*`) and our (`Sy-*`) namespaces.
fn is_reserved(name: &str) -> bool {
    let name = name.as_bytes();
    name.get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"nats-"))
        || name
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"sy-"))
}

fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, byte) in name.bytes().enumerate() {
        let plain = byte.is_ascii_graphic() && byte != b'%' && byte != b':';
        if plain && !(i == 0 && is_reserved(name)) {
            out.push(char::from(byte));
        } else {
            push_escaped(&mut out, byte);
        }
    }
    out
}

fn encode_value(value: &[u8]) -> String {
    let last = value.len().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (i, &byte) in value.iter().enumerate() {
        let plain =
            (byte.is_ascii_graphic() && byte != b'%') || (byte == b' ' && i != 0 && i != last);
        if plain {
            out.push(char::from(byte));
        } else {
            push_escaped(&mut out, byte);
        }
    }
    out
}

fn push_escaped(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0xf)]));
}

fn decode_name(name: &str) -> String {
    String::from_utf8(decode_bytes(name))
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Undoes the percent-encoding; a `%` not followed by two hex digits (from a foreign
/// publisher) is kept as it is.
fn decode_bytes(text: &str) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'A'..=b'F' => Some(b - b'A' + 10),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use switchyard_domain::Header;

    use super::*;

    fn pairs(headers: &Headers) -> Vec<(String, Vec<u8>)> {
        headers
            .iter()
            .map(|Header { name, value }| (name.clone(), value.to_vec()))
            .collect()
    }

    fn round_trip(message: &Message) -> Message {
        let map = encode(message, "id-1").unwrap();
        assert_eq!(map.get(MSG_ID).map(|v| v.as_str()), Some("id-1"));
        record(Some(&map), message.payload.clone())
    }

    #[test]
    fn arbitrary_bytes_names_and_order_round_trip() {
        let mut headers = Headers::new();
        headers.append("ce_type", "razorpay.payment.captured");
        headers.append(
            "binary",
            Bytes::from_static(&[0, 159, 146, 150, b'\r', b'\n']),
        );
        headers.append("ce_type", "second");
        headers.append("spaces", "  padded value ");
        headers.append("percent", "100%25 %");
        headers.append("empty", "");
        headers.append("Nats-Msg-Id", "user's own");
        headers.append("sy-key", "not the key");
        headers.append("we:ird name", "x");
        headers.append("ünï", "y");
        let message = Message {
            key: Some(Bytes::from_static(&[0xff, b' ', b'k'])),
            headers,
            payload: Bytes::from_static(b"p"),
        };
        let back = round_trip(&message);
        assert_eq!(back.key, message.key);
        assert_eq!(pairs(&back.headers), pairs(&message.headers));
    }

    #[test]
    fn text_values_stay_readable_on_the_wire() {
        let mut headers = Headers::new();
        headers.append("ce_type", "razorpay.payment.captured");
        headers.append("dlq-reason", "poisoned record");
        let message = Message {
            key: Some(Bytes::from_static(b"acme")),
            headers,
            payload: Bytes::new(),
        };
        let map = encode(&message, "id").unwrap();
        assert_eq!(map.get(KEY).map(|v| v.as_str()), Some("acme"));
        assert_eq!(
            map.get("dlq-reason").map(|v| v.as_str()),
            Some("poisoned record")
        );
        assert_eq!(
            map.get(ORDER).map(|v| v.as_str()),
            Some("ce_type dlq-reason")
        );
    }

    #[test]
    fn no_key_and_no_headers_round_trip() {
        let message = Message::default();
        let map = encode(&message, "id").unwrap();
        assert!(map.get(KEY).is_none() && map.get(ORDER).is_none());
        let back = round_trip(&message);
        assert_eq!(back, message);
    }

    #[test]
    fn foreign_headers_decode_in_name_order() {
        let mut map = HeaderMap::new();
        map.insert("b", "2");
        map.insert("a", "50%");
        let (key, headers) = decode(Some(&map));
        assert_eq!(key, None);
        assert_eq!(
            pairs(&headers),
            vec![("a".into(), b"50%".to_vec()), ("b".into(), b"2".to_vec())]
        );
    }

    #[test]
    fn an_empty_header_name_is_rejected() {
        let mut headers = Headers::new();
        headers.append("", "x");
        let message = Message {
            headers,
            ..Message::default()
        };
        assert!(matches!(
            encode(&message, "id"),
            Err(BusError::Rejected { .. })
        ));
    }
}
