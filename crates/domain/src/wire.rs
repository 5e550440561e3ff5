//! Protobuf records Switchyard owns, generated at build time from `proto/` (see `build.rs`).
//!
//! Protobuf rather than JSON because the raw webhook must carry the exact body bytes (JSON
//! would need base64, a third larger) and because both records evolve: new fields are added
//! without breaking consumers that run an older build.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

include!(concat!(env!("OUT_DIR"), "/switchyard.v1.rs"));

/// `content-type` header value of records carrying a [`RawWebhook`].
pub const RAW_WEBHOOK_CONTENT_TYPE: &str = "application/x-protobuf; proto=switchyard.v1.RawWebhook";
/// `content-type` header value of records carrying a [`DeliveryAttempt`].
pub const DELIVERY_ATTEMPT_CONTENT_TYPE: &str =
    "application/x-protobuf; proto=switchyard.v1.DeliveryAttempt";

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;
    use prost::Message as _;

    use super::*;

    proptest! {
        #[test]
        fn raw_webhook_round_trips_with_exact_body(
            body in proptest::collection::vec(any::<u8>(), 0..512),
            header_value in proptest::collection::vec(any::<u8>(), 0..32),
            secs in 0i64..4_000_000_000,
        ) {
            let raw = RawWebhook {
                tenant: "acme".into(),
                source: "razorpay".into(),
                provider: "razorpay".into(),
                body: Bytes::from(body),
                headers: vec![HttpHeader { name: "x-razorpay-event-id".into(), value: Bytes::from(header_value) }],
                received_at: Some(prost_types::Timestamp { seconds: secs, nanos: 0 }),
                delivery_id: "evt_1".into(),
                remote_ip: "203.0.113.7".into(),
                traceparent: String::new(),
                event_id: "evt_0123456789abcdef0123456789abcdef".into(),
            };
            let decoded = RawWebhook::decode(raw.encode_to_vec().as_slice())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(decoded, raw);
        }
    }

    #[test]
    fn delivery_attempt_round_trips() {
        let attempt = DeliveryAttempt {
            attempt_id: "att_1".into(),
            tenant: "acme".into(),
            event_id: "evt_1".into(),
            endpoint_id: "orders".into(),
            attempt: 3,
            outcome: delivery_attempt::Outcome::Retrying.into(),
            response_status: 503,
            ..DeliveryAttempt::default()
        };
        let decoded = DeliveryAttempt::decode(attempt.encode_to_vec().as_slice());
        assert_eq!(decoded.as_ref().ok(), Some(&attempt));
        assert_eq!(
            decoded.map(|a| a.outcome()).ok(),
            Some(delivery_attempt::Outcome::Retrying)
        );
    }

    #[test]
    fn garbage_is_a_decode_error_not_a_panic() {
        assert!(RawWebhook::decode(&[0xff, 0xff, 0xff][..]).is_err());
    }
}
