//! Whatever JSON arrives, validation answers (never panics) and an invalid answer always has a
//! reason, capped in length.

// Test helpers outside `#[test]` functions panic to report a failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use proptest::prelude::*;
use serde_json::{Map, Value};
use switchyard_schema_registry::{MAX_VIOLATIONS, Validation};

use common::{event_type, fixture, real_registry};

const TYPES: [&str; 4] = [
    "razorpay.payment.captured",
    "razorpay.order.paid",
    "github.push",
    "github.pull_request",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z_]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A shipped fixture with one value somewhere replaced by arbitrary JSON.
fn mutated_fixture() -> impl Strategy<Value = (&'static str, Value)> {
    (
        prop::sample::select(TYPES.as_slice()),
        any::<prop::sample::Index>(),
        json_value(),
    )
        .prop_map(|(name, index, replacement)| {
            let mut data = fixture(name);
            let mut pointers = Vec::new();
            collect_pointers(&data, String::new(), &mut pointers);
            let pointer = index.get(&pointers).clone();
            if let Some(slot) = data.pointer_mut(&pointer) {
                *slot = replacement;
            }
            (name, data)
        })
}

fn collect_pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| collect_pointers(v, format!("{at}/{k}"), out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| collect_pointers(v, format!("{at}/{i}"), out)),
        _ => {}
    }
    out.push(at);
}

fn check_answer(answer: &Validation<'_>) {
    match answer {
        Validation::Valid {
            version,
            schema_uri,
        } => {
            assert_eq!(*version, 1);
            assert!(schema_uri.starts_with("urn:switchyard:schema:"));
        }
        Validation::Invalid {
            version,
            violations,
        } => {
            assert_eq!(*version, 1);
            assert!(
                !violations.is_empty() && violations.len() <= MAX_VIOLATIONS + 1,
                "{violations:?}"
            );
            assert!(violations.iter().all(|v| v.len() < 1024), "{violations:?}");
        }
        Validation::Unknown => panic!("a shipped type is unknown"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_json_gets_an_answer_with_a_reason(name in prop::sample::select(TYPES.as_slice()), data in json_value()) {
        check_answer(&real_registry().validate(&event_type(name), None, &data));
    }

    #[test]
    fn any_mutation_of_a_real_payload_gets_an_answer_with_a_reason((name, data) in mutated_fixture()) {
        check_answer(&real_registry().validate(&event_type(name), None, &data));
    }
}
