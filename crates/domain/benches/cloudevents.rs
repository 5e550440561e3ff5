//! Cost of the CloudEvents mappings every record goes through, against the cheapest thing a
//! consumer does with the same record anyway: parse its 1 KiB JSON body.
//!
//! Run: `cargo bench -p switchyard-domain --bench cloudevents`

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use switchyard_domain::{Event, EventId, EventType, TenantId, Traceparent};

/// A Razorpay-shaped payment body padded to about 1 KiB.
fn body() -> String {
    let notes = "x".repeat(620);
    format!(
        r#"{{"entity":"event","account_id":"acc_BFQ7uQEaa7j2z7","event":"payment.captured","payload":{{"payment":{{"entity":{{"id":"pay_DESlfW9H8K9uqM","amount":100,"currency":"INR","status":"captured","order_id":"order_DESlLckIVRkHWj","method":"card","email":"gaurav.kumar@example.com","contact":"+919876543210","notes":{{"memo":"{notes}"}}}}}}}},"created_at":1567674606}}"#
    )
}

fn event(body: &str) -> Event {
    Event::builder(
        TenantId::parse("acme").unwrap(),
        EventId::derive(&[b"acme", b"razorpay", b"evt_1"]),
        "/acme/razorpay",
        EventType::parse("razorpay.payment.captured").unwrap(),
    )
    .subject(Some("pay_DESlfW9H8K9uqM".into()))
    .traceparent(Some(
        Traceparent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap(),
    ))
    .data(Some("application/json".into()), body.to_owned())
    .build()
    .unwrap()
}

fn codecs(c: &mut Criterion) {
    let body = body();
    let event = event(&body);
    let binary = event.to_binary();
    let structured = event.to_structured_json();

    let mut group = c.benchmark_group("cloudevents_1KiB");
    group.throughput(Throughput::Elements(1));
    group.bench_function("baseline_serde_json_parse_body", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(body.as_bytes())).unwrap());
    });
    group.bench_function("binary_encode", |b| {
        b.iter(|| black_box(&event).to_binary());
    });
    group.bench_function("binary_decode", |b| {
        b.iter(|| Event::from_message(black_box(&binary)).unwrap());
    });
    group.bench_function("structured_encode", |b| {
        b.iter(|| black_box(&event).to_structured_json());
    });
    group.bench_function("structured_decode", |b| {
        b.iter(|| Event::from_structured_json(black_box(&structured)).unwrap());
    });
    group.finish();
}

criterion_group!(benches, codecs);
criterion_main!(benches);
