//! Records as rows: a batch of one partition becomes the rows to insert, each remembering
//! its place in the batch, and the records that can never become a row, with the reason.

use prost::Message as _;
use switchyard_bus::Delivery;
use switchyard_domain::{
    Event, TenantId,
    wire::{DELIVERY_ATTEMPT_CONTENT_TYPE, DeliveryAttempt},
};

/// Rows decoded from a batch, in batch order, and the records that failed to decode.
#[derive(Debug)]
pub struct Decoded<T> {
    /// The rows to insert.
    pub rows: Vec<T>,
    /// `origin[i]` is the index in the batch of `rows[i]`.
    pub origin: Vec<usize>,
    /// `(index in the batch, reason)` of every record that is not a row.
    pub rejected: Vec<(usize, String)>,
}

impl<T> Decoded<T> {
    fn from_batch(
        batch: &[Delivery],
        decode: impl Fn(&Delivery) -> Result<T, String>,
    ) -> Decoded<T> {
        let mut decoded = Decoded {
            rows: Vec::with_capacity(batch.len()),
            origin: Vec::with_capacity(batch.len()),
            rejected: Vec::new(),
        };
        for (index, delivery) in batch.iter().enumerate() {
            match decode(delivery) {
                Ok(row) => {
                    decoded.rows.push(row);
                    decoded.origin.push(index);
                }
                Err(reason) => decoded.rejected.push((index, reason)),
            }
        }
        decoded
    }
}

/// Events from `<prefix>.events` records (CloudEvents, binary or structured mode).
#[must_use]
pub fn events(batch: &[Delivery]) -> Decoded<Event> {
    Decoded::from_batch(batch, |delivery| {
        Event::from_message(&delivery.message)
            .map_err(|error| format!("not a Switchyard CloudEvent: {error}"))
    })
}

/// Delivery attempts from `<prefix>.deliveries` records (protobuf `DeliveryAttempt`).
#[must_use]
pub fn delivery_attempts(batch: &[Delivery]) -> Decoded<DeliveryAttempt> {
    Decoded::from_batch(batch, |delivery| delivery_attempt(&delivery.message))
}

fn delivery_attempt(message: &switchyard_domain::Message) -> Result<DeliveryAttempt, String> {
    // A record that says it is something else is refused even if its bytes happen to parse:
    // protobuf decodes many unrelated byte strings without complaint.
    if let Some(content_type) = message.headers.get_str("content-type")
        && content_type != DELIVERY_ATTEMPT_CONTENT_TYPE
    {
        return Err(format!(
            "content-type {content_type:?} is not a delivery attempt \
             (expected {DELIVERY_ATTEMPT_CONTENT_TYPE:?})"
        ));
    }
    let attempt = DeliveryAttempt::decode(message.payload.as_ref())
        .map_err(|error| format!("not a protobuf DeliveryAttempt: {error}"))?;
    TenantId::parse(&attempt.tenant)
        .map_err(|error| format!("delivery attempt has an invalid tenant: {error}"))?;
    if attempt.attempt_id.is_empty() {
        return Err("delivery attempt has no attempt_id (its idempotency key)".into());
    }
    Ok(attempt)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use switchyard_bus::Position;
    use switchyard_domain::{EventId, EventType, Headers, Message};

    use super::*;

    fn delivery(message: Message) -> Delivery {
        Delivery {
            topic: "t".into(),
            partition: 0,
            position: Position::Offset(0),
            message,
            attempt: 1,
        }
    }

    fn event(id: &str) -> Event {
        Event::builder(
            TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
            EventId::parse(id).unwrap_or_else(|e| panic!("{e}")),
            "/test",
            EventType::parse("test.created").unwrap_or_else(|e| panic!("{e}")),
        )
        .time(chrono::DateTime::UNIX_EPOCH)
        .data(Some("application/json".into()), Bytes::from_static(b"{}"))
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn attempt_message(attempt: &DeliveryAttempt) -> Message {
        let mut headers = Headers::new();
        headers.insert("content-type", DELIVERY_ATTEMPT_CONTENT_TYPE);
        Message {
            key: Some(Bytes::copy_from_slice(attempt.tenant.as_bytes())),
            headers,
            payload: attempt.encode_to_vec().into(),
        }
    }

    #[test]
    fn undecodable_events_are_rejected_with_their_index_and_the_rest_kept_in_order() {
        let garbage = Message {
            key: None,
            headers: Headers::new(),
            payload: Bytes::from_static(b"not an event"),
        };
        let batch = [
            delivery(event("evt_1").to_binary()),
            delivery(garbage),
            delivery(event("evt_2").to_binary()),
        ];
        let decoded = events(&batch);
        assert_eq!(decoded.origin, [0, 2]);
        assert_eq!(decoded.rows, [event("evt_1"), event("evt_2")]);
        assert_eq!(decoded.rejected.len(), 1);
        let (index, reason) = &decoded.rejected[0];
        assert_eq!(*index, 1);
        assert!(reason.contains("missing CloudEvents attribute"), "{reason}");
    }

    #[test]
    fn delivery_attempts_decode_and_bad_ones_say_why() {
        let good = DeliveryAttempt {
            attempt_id: "att_1".into(),
            tenant: "acme".into(),
            event_id: "evt_1".into(),
            ..DeliveryAttempt::default()
        };
        let no_id = DeliveryAttempt {
            attempt_id: String::new(),
            ..good.clone()
        };
        let mut wrong_type = attempt_message(&good);
        wrong_type
            .headers
            .insert("content-type", "application/json");
        let garbage = Message {
            key: None,
            headers: Headers::new(),
            payload: Bytes::from_static(&[0xff, 0xff, 0xff]),
        };
        let batch = [
            delivery(attempt_message(&good)),
            delivery(attempt_message(&no_id)),
            delivery(wrong_type),
            delivery(garbage),
        ];
        let decoded = delivery_attempts(&batch);
        assert_eq!(decoded.rows, [good]);
        let reasons: Vec<_> = decoded
            .rejected
            .iter()
            .map(|(i, r)| (*i, r.as_str()))
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].1.contains("no attempt_id"), "{reasons:?}");
        assert!(reasons[1].1.contains("application/json"), "{reasons:?}");
        assert!(reasons[2].1.contains("not a protobuf"), "{reasons:?}");
    }
}
