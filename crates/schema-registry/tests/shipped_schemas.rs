//! The schemas and fixtures shipped in `schemas/`: every documented provider example is valid
//! against its type, and targeted breakages are invalid with a readable, pointer-based reason.

// Test helpers outside `#[test]` functions panic to report a failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use switchyard_schema_registry::{MAX_VIOLATIONS, Validation};

use common::{event_type, fixture, real_registry, schemas_dir};

/// The types shipped today, each with a fixture from the provider's public docs
/// (sources: `schemas/fixtures/README.md`).
const SHIPPED: [&str; 9] = [
    "razorpay.payment.authorized",
    "razorpay.payment.captured",
    "razorpay.payment.failed",
    "razorpay.order.paid",
    "razorpay.refund.created",
    "razorpay.refund.processed",
    "razorpay.refund.failed",
    "github.push",
    "github.pull_request",
];

/// The violations of `data` as `event` (which must be invalid).
fn invalid(event: &str, data: &Value) -> Vec<String> {
    match real_registry().validate(&event_type(event), None, data) {
        Validation::Invalid {
            version,
            violations,
        } => {
            assert_eq!(version, 1);
            violations
        }
        other => panic!("{event}: expected Invalid, got {other:?}"),
    }
}

fn assert_has(violations: &[String], expected: &str) {
    assert!(
        violations.iter().any(|v| v == expected),
        "missing {expected:?} in {violations:#?}"
    );
}

fn captured() -> Value {
    fixture("razorpay.payment.captured")
}

#[test]
fn shipped_directory_loads_every_type_at_v1() {
    let registry = real_registry();
    assert_eq!(registry.len(), SHIPPED.len(), "{registry:?}");
    for name in SHIPPED {
        assert_eq!(
            registry.latest_version(&event_type(name)),
            Some(1),
            "{name}"
        );
    }
}

#[test]
fn every_fixture_is_valid_against_its_type_with_a_stable_schema_uri() {
    let registry = real_registry();
    for name in SHIPPED {
        let data = fixture(name);
        let expected_uri = format!("urn:switchyard:schema:{name}:v1");
        for version in [None, Some(1)] {
            assert_eq!(
                registry.validate(&event_type(name), version, &data),
                Validation::Valid {
                    version: 1,
                    schema_uri: &expected_uri
                },
                "{name} fixture"
            );
        }
    }
}

#[test]
fn every_fixture_file_has_a_schema_and_every_schema_a_fixture() {
    let mut fixtures = BTreeSet::new();
    for provider in std::fs::read_dir(schemas_dir().join("fixtures")).unwrap() {
        let provider = provider.unwrap().path();
        if !provider.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&provider).unwrap() {
            let name = file.unwrap().file_name().into_string().unwrap();
            if let Some(event) = name.strip_suffix(".json") {
                fixtures.insert(event.to_owned());
            }
        }
    }
    let shipped: BTreeSet<String> = SHIPPED.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(fixtures, shipped);
}

#[test]
fn razorpay_bodies_are_not_interchangeable_between_events() {
    let registry = real_registry();
    // A payment.failed body is no payment.captured: the event name and the status both differ.
    let failed = fixture("razorpay.payment.failed");
    let Validation::Invalid { violations, .. } =
        registry.validate(&event_type("razorpay.payment.captured"), None, &failed)
    else {
        panic!("a payment.failed body passed as payment.captured");
    };
    assert_has(&violations, r#"/event: "payment.captured" was expected"#);
    assert_has(
        &violations,
        r#"/payload/payment/entity/status: "captured" was expected"#,
    );

    // An order.paid body must carry the order entity.
    let mut paid = fixture("razorpay.order.paid");
    paid["payload"].as_object_mut().unwrap().remove("order");
    let violations = invalid("razorpay.order.paid", &paid);
    assert_has(&violations, r#"/payload: "order" is a required property"#);
}

#[test]
fn amount_as_a_string_is_invalid_at_its_pointer() {
    let mut data = captured();
    data["payload"]["payment"]["entity"]["amount"] = json!("abc");
    let violations = invalid("razorpay.payment.captured", &data);
    assert_eq!(
        violations,
        [r#"/payload/payment/entity/amount: "abc" is not of type "integer""#]
    );
}

#[test]
fn missing_payment_id_is_invalid() {
    let mut data = captured();
    data["payload"]["payment"]["entity"]
        .as_object_mut()
        .unwrap()
        .remove("id");
    let violations = invalid("razorpay.payment.captured", &data);
    assert_eq!(
        violations,
        [r#"/payload/payment/entity: "id" is a required property"#]
    );
}

#[test]
fn malformed_ids_and_currency_are_invalid() {
    let mut data = fixture("razorpay.refund.processed");
    data["payload"]["refund"]["entity"]["payment_id"] = json!("order_FPoJKWQQ8lK13n");
    data["payload"]["refund"]["entity"]["currency"] = json!("inr");
    let violations = invalid("razorpay.refund.processed", &data);
    assert_eq!(violations.len(), 2, "{violations:#?}");
    assert!(
        violations[0].starts_with(r#"/payload/refund/entity/currency: "inr" does not match"#),
        "{violations:#?}"
    );
    assert!(
        violations[1].starts_with("/payload/refund/entity/payment_id: "),
        "{violations:#?}"
    );
}

#[test]
fn undocumented_status_is_invalid_naming_the_allowed_values() {
    let mut data = fixture("razorpay.refund.created");
    data["payload"]["refund"]["entity"]["status"] = json!("bogus");
    let violations = invalid("razorpay.refund.created", &data);
    assert_eq!(violations.len(), 1, "{violations:#?}");
    let line = &violations[0];
    assert!(
        line.starts_with(r#"/payload/refund/entity/status: "bogus" is not one of"#),
        "{line}"
    );
    for allowed in ["pending", "processed", "failed"] {
        assert!(line.contains(allowed), "{line}");
    }

    // Where the event pins the status, the pinned value is named too.
    let mut data = captured();
    data["payload"]["payment"]["entity"]["status"] = json!("bogus");
    let violations = invalid("razorpay.payment.captured", &data);
    assert_has(
        &violations,
        r#"/payload/payment/entity/status: "captured" was expected"#,
    );
}

#[test]
fn empty_and_truncated_bodies_are_invalid() {
    let violations_of_empty = invalid("razorpay.payment.captured", &json!({}));
    for field in [
        "entity",
        "account_id",
        "event",
        "contains",
        "payload",
        "created_at",
    ] {
        assert_has(
            &violations_of_empty,
            &format!(r#"(root): "{field}" is a required property"#),
        );
    }

    let mut truncated = captured();
    truncated["payload"]["payment"]["entity"] = json!({});
    let violations = invalid("razorpay.payment.captured", &truncated);
    for field in [
        "id",
        "entity",
        "amount",
        "currency",
        "status",
        "method",
        "created_at",
    ] {
        assert_has(
            &violations,
            &format!(r#"/payload/payment/entity: "{field}" is a required property"#),
        );
    }

    let not_an_object = invalid("github.push", &json!([1, 2]));
    assert_eq!(not_an_object, [r#"(root): [1,2] is not of type "object""#]);
}

#[test]
fn providers_new_fields_are_accepted() {
    let registry = real_registry();
    let mut data = captured();
    data["brand_new_top_level"] = json!({"x": 1});
    data["payload"]["payment"]["entity"]["brand_new_field"] = json!([true]);
    data["payload"]["payment"]["entity"]["notes"] = json!({"order_ref": "A-17"});
    assert!(
        registry
            .validate(&event_type("razorpay.payment.captured"), None, &data)
            .is_valid()
    );
}

#[test]
fn github_push_violations_point_into_commits() {
    let mut data = fixture("github.push");
    data["commits"][0]["id"] = json!("not-a-sha");
    data["repository"]["owner"]["id"] = json!("21031067");
    let violations = invalid("github.push", &data);
    assert_eq!(violations.len(), 2, "{violations:#?}");
    assert_has(
        &violations,
        r#"/repository/owner/id: "21031067" is not of type "integer""#,
    );
    assert!(
        violations
            .iter()
            .any(|v| v.starts_with(r#"/commits/0/id: "not-a-sha" does not match"#)),
        "{violations:#?}"
    );
}

#[test]
fn github_pull_request_state_is_constrained() {
    let mut data = fixture("github.pull_request");
    data["pull_request"]["state"] = json!("merged");
    let violations = invalid("github.pull_request", &data);
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(
        violations[0].starts_with(r#"/pull_request/state: "merged" is not one of"#),
        "{violations:#?}"
    );
}

#[test]
fn a_huge_bad_payload_gives_a_capped_reason() {
    let mut data = fixture("github.push");
    let bad_commit = json!({"id": 1});
    data["commits"] = Value::Array(vec![bad_commit; 500]);
    let violations = invalid("github.push", &data);
    assert_eq!(violations.len(), MAX_VIOLATIONS + 1);
    assert!(
        violations[MAX_VIOLATIONS].starts_with("... and "),
        "{violations:#?}"
    );
    assert!(violations.iter().all(|v| v.len() < 300), "{violations:#?}");
}

#[test]
fn unknown_type_or_version_is_unknown() {
    let registry = real_registry();
    let data = captured();
    assert_eq!(
        registry.validate(&event_type("stripe.charge.succeeded"), None, &data),
        Validation::Unknown
    );
    assert_eq!(
        registry.validate(&event_type("razorpay.payment"), None, &data),
        Validation::Unknown
    );
    assert_eq!(
        registry.validate(&event_type("razorpay.payment.captured"), Some(2), &data),
        Validation::Unknown
    );
    assert_eq!(
        registry.latest_version(&event_type("stripe.charge.succeeded")),
        None
    );
}

#[test]
fn notes_may_be_an_object_or_razorpays_empty_array_but_nothing_else() {
    let registry = real_registry();
    let captured_type = event_type("razorpay.payment.captured");
    for notes in [json!([]), json!({}), json!({"reference_no": "848493"})] {
        let mut data = captured();
        data["payload"]["payment"]["entity"]["notes"] = notes.clone();
        assert!(
            registry.validate(&captured_type, None, &data).is_valid(),
            "{notes}"
        );
    }
    let mut data = captured();
    data["payload"]["payment"]["entity"]["notes"] = json!(["x"]);
    data["payload"]["payment"]["entity"]["order_id"] = json!(5);
    let violations = invalid("razorpay.payment.captured", &data);
    assert_eq!(violations.len(), 2, "{violations:#?}");
    assert!(
        violations[0].starts_with(r#"/payload/payment/entity/notes: ["x"] has more than 0 item"#),
        "{violations:#?}"
    );
    assert!(
        violations[1].starts_with("/payload/payment/entity/order_id: 5 is not of type"),
        "{violations:#?}"
    );
}
