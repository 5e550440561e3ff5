//! What travels to clients: events encoded once per replica and shared by every connection
//! that receives them, and the gateway's own control messages.
//!
//! Every message is a JSON object in CloudEvents structured mode. Control messages use types
//! under `switchyard.` and the source [`CONTROL_SOURCE`], so a client dispatches on `type`:
//!
//! | type | when | data |
//! |---|---|---|
//! | `switchyard.gap` | the resume point is no longer (or was never) in this replica's history | `last_event_id`, `history_starts_at` |
//! | `switchyard.lagging` | the connection's queue is half full | `queued`, `capacity` |
//! | `switchyard.subscribed` | a subscription change was applied (WebSocket) | `types`, `subject`, `owner` |
//! | `switchyard.authenticated` | a fresh token was accepted (WebSocket) | `expires_at` |
//! | `switchyard.error` | a client message was refused (WebSocket) | `detail` |
//! | `switchyard.closing` | the stream ends (SSE; WebSocket uses the close frame) | `code`, `reason` |

use std::sync::Arc;

use bytestring::ByteString;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use switchyard_domain::{Event, EventType};

/// `source` of the gateway's control messages.
pub const CONTROL_SOURCE: &str = "/switchyard/websocket-gateway";

/// One event as sent to clients, with what the fan-out matches on.
#[derive(Debug)]
pub struct EventFrame {
    /// The event id (`id:` of SSE, `?since=` of a resuming client).
    pub id: String,
    /// Its type.
    pub event_type: EventType,
    /// Its subject.
    pub subject: Option<String>,
    /// The value of the configured owner field in its data (`websocket.owner_field`), which
    /// clients asking for their own events (`sub`) are matched on besides the subject.
    pub owner: Option<String>,
    /// When it happened (the event's `time`).
    pub time: DateTime<Utc>,
    /// The structured-mode JSON.
    pub json: ByteString,
}

impl EventFrame {
    /// Encodes `event` once; every connection shares the result. `owner_field` is a JSON
    /// pointer (`/customer/id`) into the data naming the event's owner.
    #[must_use]
    pub fn new(event: &Event, owner_field: Option<&str>) -> Arc<Self> {
        let json = String::from_utf8(event.to_structured_json())
            // serde_json writes UTF-8; an impossible failure sends an empty object, not a panic.
            .unwrap_or_else(|_| "{}".to_owned());
        Arc::new(Self {
            id: event.id().as_str().to_owned(),
            event_type: event.event_type().clone(),
            subject: event.subject().map(str::to_owned),
            owner: owner_field.and_then(|pointer| owner_of(event, pointer)),
            time: event.time(),
            json: ByteString::from(json),
        })
    }
}

/// The string (or number, as written) at `pointer` in `event`'s JSON data. Data that is not
/// JSON, or has nothing there, has no owner.
fn owner_of(event: &Event, pointer: &str) -> Option<String> {
    let data: serde_json::Value = serde_json::from_slice(event.data()).ok()?;
    match data.pointer(pointer)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A message in a connection's queue.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// An event.
    Event(Arc<EventFrame>),
    /// A control message (already JSON).
    Control(ByteString),
}

#[derive(Serialize)]
struct Control<'a, T: Serialize> {
    specversion: &'static str,
    id: String,
    source: &'static str,
    #[serde(rename = "type")]
    kind: &'a str,
    time: String,
    datacontenttype: &'static str,
    data: T,
}

/// A control message of `kind` (e.g. `switchyard.gap`) carrying `data`.
#[must_use]
pub fn control(kind: &str, data: impl Serialize) -> ByteString {
    let message = Control {
        specversion: "1.0",
        id: format!("ctl_{}", uuid::Uuid::now_v7().simple()),
        source: CONTROL_SOURCE,
        kind,
        time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        datacontenttype: "application/json",
        data,
    };
    ByteString::from(serde_json::to_string(&message).unwrap_or_else(|_| "{}".to_owned()))
}

/// `switchyard.gap`: what the client missed after `last_event_id` cannot be replayed; it should
/// refetch from the API (`GET /v1/events`) from where it was up to `history_starts_at`.
#[must_use]
pub fn gap(last_event_id: &str, history_starts_at: Option<DateTime<Utc>>) -> ByteString {
    control(
        "switchyard.gap",
        serde_json::json!({
            "last_event_id": last_event_id,
            "history_starts_at": history_starts_at.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)),
            "detail": "events after last_event_id are no longer in this server's history: refetch them through the API, then continue with this stream",
        }),
    )
}

/// `switchyard.lagging`: the client reads too slowly and will be dropped if it goes on.
#[must_use]
pub fn lagging(queued: usize, capacity: usize) -> ByteString {
    control(
        "switchyard.lagging",
        serde_json::json!({
            "queued": queued,
            "capacity": capacity,
            "detail": "this connection is falling behind; it will be closed (4008) if its queue fills",
        }),
    )
}

/// `switchyard.closing`: the stream is about to end (SSE; WebSocket says it in the close frame).
#[must_use]
pub fn closing(code: u16, reason: &str) -> ByteString {
    control(
        "switchyard.closing",
        serde_json::json!({ "code": code, "reason": reason }),
    )
}

#[cfg(test)]
mod tests {
    use switchyard_domain::{EventId, TenantId};

    use super::*;

    #[test]
    fn events_are_structured_cloudevents_and_controls_look_alike() {
        let event = Event::builder(
            TenantId::parse("acme").unwrap(),
            EventId::parse("evt_1").unwrap(),
            "/acme/test",
            EventType::parse("a.b").unwrap(),
        )
        .subject(Some("s".into()))
        .data(Some("application/json".into()), r#"{"n":1}"#)
        .build()
        .unwrap();
        let frame = EventFrame::new(&event, None);
        assert_eq!(frame.owner, None);
        let json: serde_json::Value = serde_json::from_str(&frame.json).unwrap();
        assert_eq!(json["id"], "evt_1");
        assert_eq!(json["tenant"], "acme");
        assert_eq!(json["data"]["n"], 1);

        let gap: serde_json::Value = serde_json::from_str(&gap("evt_0", None)).unwrap();
        assert_eq!(gap["type"], "switchyard.gap");
        assert_eq!(gap["specversion"], "1.0");
        assert_eq!(gap["source"], CONTROL_SOURCE);
        assert_eq!(gap["data"]["last_event_id"], "evt_0");
    }

    #[test]
    fn the_owner_is_read_from_the_configured_data_field() {
        let event = |data: &'static str| {
            Event::builder(
                TenantId::parse("acme").unwrap(),
                EventId::parse("evt_1").unwrap(),
                "/acme/test",
                EventType::parse("a.b").unwrap(),
            )
            .data(Some("application/json".into()), data)
            .build()
            .unwrap()
        };
        let owner = |data, field| EventFrame::new(&event(data), field).owner.clone();
        let nested = r#"{"payload":{"customer_id":"cust_1"}}"#;
        assert_eq!(
            owner(nested, Some("/payload/customer_id")),
            Some("cust_1".into())
        );
        assert_eq!(owner(r#"{"user":42}"#, Some("/user")), Some("42".into()));
        assert_eq!(owner(nested, Some("/missing")), None);
        assert_eq!(owner(r#"{"user":{"id":1}}"#, Some("/user")), None);
        assert_eq!(owner("not json", Some("/user")), None);
        assert_eq!(owner(nested, None), None);
    }
}
