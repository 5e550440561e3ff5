//! What schema validation costs per event, against the baseline every event pays anyway:
//! parsing its bytes into a `serde_json::Value`.
//!
//! Payload: the documented Razorpay `payment.captured` (card) webhook from
//! `schemas/fixtures/`, serialised compactly (about 1 KiB), validated against the shipped
//! schemas. Also measured: the invalid path (violations collected and worded) and a large
//! GitHub `pull_request` body (about 23 KiB compact).
//!
//! Per group: `baseline_parse` (`serde_json::from_slice::<Value>` of the bytes),
//! `validate_valid` (validation of the parsed value), `parse_and_validate_valid` (both, as the
//! processor does), `validate_invalid` (`amount` as a string: fast check, then violations).
//!
//! Run: `cargo bench -p switchyard-schema-registry --bench validate`.

// `criterion_group!` generates an undocumented function; a bench that cannot load its inputs
// has nothing to measure.
#![allow(missing_docs, clippy::expect_used)]

use std::{hint::black_box, path::Path};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use switchyard_domain::EventType;
use switchyard_schema_registry::{SchemaRegistry, Validation};

fn schemas_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

/// The fixture of `event_type`, as the compact bytes a provider would send.
fn payload(event_type: &str) -> Vec<u8> {
    let provider = event_type.split('.').next().expect("dotted type");
    let path = schemas_dir()
        .join("fixtures")
        .join(provider)
        .join(format!("{event_type}.json"));
    let value: Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("fixture JSON");
    serde_json::to_vec(&value).expect("serialises")
}

fn bench_type(c: &mut Criterion, registry: &SchemaRegistry, name: &str, invalid: Option<Value>) {
    let event_type = EventType::parse(name).expect("event type");
    let bytes = payload(name);
    let value: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert!(
        registry.validate(&event_type, None, &value).is_valid(),
        "{name} fixture must be valid"
    );

    let mut group = c.benchmark_group(format!("{name}/{}B", bytes.len()));
    group.throughput(Throughput::Elements(1));
    group.bench_function("baseline_parse", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(&bytes)).expect("JSON"));
    });
    group.bench_function("validate_valid", |b| {
        b.iter(|| registry.validate(black_box(&event_type), None, black_box(&value)));
    });
    group.bench_function("parse_and_validate_valid", |b| {
        b.iter(|| {
            let value = serde_json::from_slice::<Value>(black_box(&bytes)).expect("JSON");
            registry.validate(&event_type, None, &value).is_valid()
        });
    });
    if let Some(invalid) = invalid {
        assert!(matches!(
            registry.validate(&event_type, None, &invalid),
            Validation::Invalid { .. }
        ));
        group.bench_function("validate_invalid", |b| {
            b.iter(|| registry.validate(black_box(&event_type), None, black_box(&invalid)));
        });
    }
    group.finish();
}

fn validation(c: &mut Criterion) {
    let registry = SchemaRegistry::load(&schemas_dir()).expect("shipped schemas load");

    let name = "razorpay.payment.captured";
    let mut invalid: Value = serde_json::from_slice(&payload(name)).expect("JSON");
    invalid["payload"]["payment"]["entity"]["amount"] = json!("100");
    bench_type(c, &registry, name, Some(invalid));

    bench_type(c, &registry, "github.pull_request", None);
}

criterion_group!(benches, validation);
criterion_main!(benches);
