use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::{EventId, EventType, Headers, TenantId, Traceparent};

fn parsed<T: std::str::FromStr<Err = InvalidValue>>(s: &str) -> T {
    s.parse().unwrap_or_else(|e: InvalidValue| panic!("{e}"))
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    // 1970..2200, with every precision from seconds to nanoseconds.
    (
        0i64..7_258_118_400,
        prop_oneof![Just(0u32), 0u32..1_000, 0u32..1_000_000_000],
    )
        .prop_filter_map("valid instant", |(secs, nanos)| {
            Utc.timestamp_opt(secs, nanos).single()
        })
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Data with its content type: JSON (compact, pretty or padded), text, or opaque bytes.
fn data() -> impl Strategy<Value = (Option<String>, Bytes)> {
    prop_oneof![
        json_value().prop_map(|v| (None, Bytes::from(v.to_string()))),
        json_value().prop_map(|v| {
            let pretty = serde_json::to_string_pretty(&v).unwrap_or_default();
            (
                Some("application/json".to_owned()),
                Bytes::from(format!(" {pretty}\n")),
            )
        }),
        ".{0,40}".prop_map(|s| (Some("text/plain; charset=utf-8".to_owned()), Bytes::from(s))),
        proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(|b| (Some("application/octet-stream".to_owned()), Bytes::from(b))),
        // JSON declared but not JSON: must survive through data_base64.
        proptest::collection::vec(any::<u8>(), 1..32).prop_map(|b| (None, Bytes::from(b))),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (
        "[a-zA-Z0-9][a-zA-Z0-9_-]{0,20}",
        "[!-~]{1,40}",
        "/[a-z0-9/_-]{1,30}",
        "[a-z0-9_-]{1,8}(\\.[a-z0-9_-]{1,8}){0,4}",
        time(),
        proptest::option::of("[^\\p{Cc}]{1,30}"),
        proptest::option::of("https://schemas\\.example/[a-z]{1,10}"),
        proptest::option::of("[0-9a-e]{32}"),
        proptest::collection::btree_map("[a-z0-9]{1,20}", "[^\\p{Cc}]{0,20}", 0..3),
        data(),
    )
        .prop_filter_map(
            "valid event",
            |(tenant, id, source, ty, time, subject, schema, trace, extensions, (ct, data))| {
                let traceparent =
                    trace.map(|t| parsed::<Traceparent>(&format!("00-{t}-00f067aa0ba902b7-01")));
                let mut builder = Event::builder(parsed(&tenant), parsed(&id), source, parsed(&ty))
                    .time(time)
                    .subject(subject)
                    .data_schema(schema)
                    .traceparent(traceparent)
                    .data(ct, data);
                for (name, value) in extensions {
                    builder = builder.extension(name, value);
                }
                // Generated extension names can collide with reserved attributes; skip those.
                builder.build().ok()
            },
        )
}

proptest! {
    #[test]
    fn binary_mode_round_trips(event in event()) {
        let message = event.to_binary();
        prop_assert_eq!(message.key.as_deref(), Some(event.tenant().as_str().as_bytes()));
        prop_assert_eq!(&message.payload, event.data());
        let decoded = Event::from_message(&message).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decoded, event);
    }

    #[test]
    fn structured_mode_round_trips(event in event()) {
        let message = event.to_structured();
        let decoded = Event::from_message(&message).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decoded, event);
    }

    #[test]
    fn binary_to_structured_to_binary_keeps_the_record(event in event()) {
        let binary = event.to_binary();
        let via_json = Event::from_structured_json(&event.to_structured_json())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(via_json.to_binary(), binary);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = Event::from_structured_json(&bytes);
        let mut headers = Headers::new();
        headers.append("ce_specversion", "1.0");
        headers.append("ce_time", Bytes::from(bytes.clone()));
        let _ = Event::from_binary(&Message { key: None, headers, payload: bytes.into() });
    }
}

fn sample() -> Event {
    Event::builder(
        parsed::<TenantId>("acme"),
        parsed::<EventId>("evt_1"),
        "/acme/razorpay",
        parsed::<EventType>("razorpay.payment.captured"),
    )
    .time(
        Utc.timestamp_opt(1_700_000_000, 0)
            .single()
            .unwrap_or_default(),
    )
    .subject(Some("pay_1".into()))
    .data(Some("application/json".into()), r#"{"amount":100}"#)
    .build()
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn binary_headers_follow_the_kafka_binding() {
    let message = sample().to_binary();
    let header = |name| message.headers.get_str(name);
    assert_eq!(header("ce_specversion"), Some("1.0"));
    assert_eq!(header("ce_id"), Some("evt_1"));
    assert_eq!(header("ce_source"), Some("/acme/razorpay"));
    assert_eq!(header("ce_type"), Some("razorpay.payment.captured"));
    assert_eq!(header("ce_time"), Some("2023-11-14T22:13:20Z"));
    assert_eq!(header("ce_subject"), Some("pay_1"));
    assert_eq!(header("ce_tenant"), Some("acme"));
    assert_eq!(header("content-type"), Some("application/json"));
    assert_eq!(message.payload.as_ref(), br#"{"amount":100}"#);
}

#[test]
fn structured_json_embeds_json_data_verbatim() {
    let json: serde_json::Value =
        serde_json::from_slice(&sample().to_structured_json()).unwrap_or_default();
    assert_eq!(json["specversion"], "1.0");
    assert_eq!(json["type"], "razorpay.payment.captured");
    assert_eq!(json["tenant"], "acme");
    assert_eq!(json["data"]["amount"], 100);
    assert!(json.get("data_base64").is_none());
}

/// The structured-mode example of the CloudEvents JSON format spec (section 5.1), with our
/// required `tenant` added; its `comexampleextension1` extension must survive.
#[test]
fn decodes_the_spec_example() {
    let doc = br#"{
        "specversion" : "1.0",
        "type" : "com.github.pull_request.opened",
        "source" : "https://github.com/cloudevents/spec/pull",
        "subject" : "123",
        "id" : "A234-1234-1234",
        "time" : "2018-04-05T17:31:00Z",
        "comexampleextension1" : "value",
        "comexampleothervalue" : 5,
        "datacontenttype" : "text/xml",
        "data" : "<much wow=\"xml\"/>",
        "tenant" : "acme"
    }"#;
    let event = Event::from_structured_json(doc).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(event.subject(), Some("123"));
    assert_eq!(event.data().as_ref(), br#"<much wow="xml"/>"#);
    assert_eq!(
        event
            .extensions()
            .get("comexampleothervalue")
            .map(String::as_str),
        Some("5")
    );
}

#[test]
fn refuses_records_that_are_not_valid_events() {
    let good = sample().to_binary();
    let without = |name: &str| {
        let mut message = good.clone();
        message.headers.remove(name);
        Event::from_binary(&message)
    };
    assert!(matches!(
        without("ce_id"),
        Err(CodecError::MissingAttribute("id"))
    ));
    assert!(matches!(
        without("ce_tenant"),
        Err(CodecError::MissingAttribute("tenant"))
    ));
    assert!(matches!(
        without("ce_time"),
        Err(CodecError::MissingAttribute("time"))
    ));

    let mut v03 = good.clone();
    v03.headers.insert("ce_specversion", "0.3");
    assert!(matches!(
        Event::from_binary(&v03),
        Err(CodecError::UnsupportedSpecVersion(_))
    ));

    let mut bad_tenant = good.clone();
    bad_tenant.headers.insert("ce_tenant", "no spaces allowed");
    assert!(matches!(
        Event::from_binary(&bad_tenant),
        Err(CodecError::InvalidValue {
            attribute: "tenant",
            ..
        })
    ));

    let mut bad_time = good;
    bad_time.headers.insert("ce_time", "yesterday");
    assert!(matches!(
        Event::from_binary(&bad_time),
        Err(CodecError::InvalidTime(_))
    ));

    assert!(matches!(
        Event::from_structured_json(b"[1,2]"),
        Err(CodecError::Json(_))
    ));
    let both = br#"{"specversion":"1.0","id":"a","source":"/s","type":"t","time":"2020-01-01T00:00:00Z","tenant":"a","data":1,"data_base64":"AA=="}"#;
    assert!(matches!(
        Event::from_structured_json(both),
        Err(CodecError::DataConflict)
    ));
}

#[test]
fn batched_structured_mode_is_refused_not_misread() {
    let mut message = sample().to_structured();
    message
        .headers
        .insert("content-type", "application/cloudevents-batch+json");
    assert!(matches!(
        Event::from_message(&message),
        Err(CodecError::UnsupportedContentType(_))
    ));
}
