//! Records as stream entries: `key` (absent when the record has none), one `h:<name>` per
//! header in order (streams keep repeated fields), then `payload`; values are raw bytes.
//! Fields we do not know are skipped, so other producers may add their own.

use bytes::Bytes;
use redis::{Cmd, Value};
use switchyard_domain::{Headers, Message};

const KEY: &[u8] = b"key";
const PAYLOAD: &[u8] = b"payload";
const HEADER_PREFIX: &[u8] = b"h:";

/// Appends the record's fields to an `XADD` whose id is already written.
pub(super) fn encode(cmd: &mut Cmd, message: &Message) {
    if let Some(key) = &message.key {
        cmd.arg(KEY).arg(key.as_ref());
    }
    // One buffer for every header name, rather than one allocation per header.
    let mut field = Vec::with_capacity(32);
    for header in &message.headers {
        field.clear();
        field.extend_from_slice(HEADER_PREFIX);
        field.extend_from_slice(header.name.as_bytes());
        cmd.arg(field.as_slice()).arg(header.value.as_ref());
    }
    cmd.arg(PAYLOAD).arg(message.payload.as_ref());
}

/// One stream entry.
#[derive(Debug)]
pub(super) struct Entry {
    /// Stream entry id, `<ms>-<seq>`.
    pub(super) id: String,
    /// `None` when the entry was deleted (trimmed) while pending: only its id is left.
    pub(super) message: Option<Message>,
}

/// Entries as `XREADGROUP` / `XAUTOCLAIM` return them: `[[id, [field, value, ...]], ...]`.
pub(super) fn decode_entries(value: Value) -> Option<Vec<Entry>> {
    match value {
        Value::Nil => Some(Vec::new()),
        Value::Array(entries) => entries.into_iter().map(decode_entry).collect(),
        _ => None,
    }
}

fn decode_entry(value: Value) -> Option<Entry> {
    let Value::Array(parts) = value else {
        return None;
    };
    let mut parts = parts.into_iter();
    let id = string(parts.next()?)?;
    let message = match parts.next() {
        Some(Value::Array(fields)) => Some(decode_fields(fields)),
        None | Some(Value::Nil) => None,
        Some(_) => return None,
    };
    Some(Entry { id, message })
}

fn decode_fields(fields: Vec<Value>) -> Message {
    let mut message = Message {
        key: None,
        headers: Headers::with_capacity(fields.len() / 2),
        payload: Bytes::new(),
    };
    let mut fields = fields.into_iter();
    while let (Some(field), Some(value)) = (fields.next(), fields.next()) {
        let (Some(field), Some(value)) = (bytes(field), bytes(value)) else {
            continue;
        };
        if field.as_ref() == KEY {
            message.key = Some(value);
        } else if field.as_ref() == PAYLOAD {
            message.payload = value;
        } else if let Some(name) = field.strip_prefix(HEADER_PREFIX) {
            message.headers.append(String::from_utf8_lossy(name), value);
        }
    }
    message
}

/// A bulk string, taken without copying.
fn bytes(value: Value) -> Option<Bytes> {
    match value {
        Value::BulkString(data) => Some(Bytes::from(data)),
        Value::SimpleString(text) => Some(Bytes::from(text)),
        _ => None,
    }
}

/// A reply element that is text (ids, cursors, member names).
pub(super) fn string(value: Value) -> Option<String> {
    match value {
        Value::BulkString(data) => String::from_utf8(data).ok(),
        Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Redis sends back for an entry written with `encode`.
    fn as_stored(message: &Message, id: &str) -> Value {
        let mut cmd = Cmd::new();
        encode(&mut cmd, message);
        let fields = cmd
            .args_iter()
            .filter_map(|arg| match arg {
                redis::Arg::Simple(data) => Some(Value::BulkString(data.to_vec())),
                _ => None,
            })
            .collect();
        Value::Array(vec![
            Value::BulkString(id.as_bytes().to_vec()),
            Value::Array(fields),
        ])
    }

    #[test]
    fn key_headers_and_bytes_round_trip() {
        let mut headers = Headers::new();
        headers.append("ce_type", "github.push");
        headers.append("binary", Bytes::from_static(&[0, 159, 146, 150]));
        headers.append("ce_type", "repeated");
        headers.append("key", "a header named like a field");
        let message = Message {
            key: Some(Bytes::from_static(b"")),
            headers,
            payload: (0..=255u8).collect::<Vec<_>>().into(),
        };
        let entries =
            decode_entries(Value::Array(vec![as_stored(&message, "1-0")])).unwrap_or_default();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].id, "1-0");
        assert_eq!(entries[0].message.as_ref(), Some(&message));
    }

    #[test]
    fn a_record_without_key_stays_without_key() {
        let message = Message {
            key: None,
            headers: Headers::new(),
            payload: Bytes::new(),
        };
        let entries = decode_entries(Value::Array(vec![as_stored(&message, "2-1")]));
        assert_eq!(
            entries.and_then(|mut e| e.pop()).and_then(|e| e.message),
            Some(message)
        );
    }

    #[test]
    fn a_deleted_pending_entry_keeps_only_its_id() {
        let deleted = Value::Array(vec![Value::BulkString(b"3-0".to_vec()), Value::Nil]);
        let entries = decode_entries(Value::Array(vec![deleted])).unwrap_or_default();
        assert_eq!(entries[0].id, "3-0");
        assert!(entries[0].message.is_none());
    }
}
