//! The delivery log: attempts stored once, listed per event in order, per tenant, pruned by
//! age.

use bytes::Bytes;
use switchyard_domain::wire::{DeliveryAttempt, delivery_attempt::Outcome};
use switchyard_store::{Store, StoreError};

use crate::{AGE, age_past_threshold, event_id, tenant};

fn attempt(tenant: &str, event: &str, n: u32, outcome: Outcome) -> DeliveryAttempt {
    DeliveryAttempt {
        attempt_id: format!("att_{event}_{n}"),
        tenant: tenant.into(),
        event_id: event.into(),
        event_type: "razorpay.payment.captured".into(),
        endpoint_id: "orders".into(),
        url: "https://orders.example/hooks".into(),
        attempt: n,
        outcome: outcome.into(),
        response_status: if outcome == Outcome::Succeeded {
            200
        } else {
            503
        },
        error: if outcome == Outcome::Succeeded {
            String::new()
        } else {
            "503 Service Unavailable".into()
        },
        response_body_excerpt: Bytes::from_static(&[0xde, 0xad, 0x00, 0xbe, 0xef]),
        // Whole microseconds: what timestamptz keeps.
        attempted_at: Some(prost_types::Timestamp {
            seconds: 1_700_000_000 + i64::from(n) * 60,
            nanos: 123_456_000,
        }),
        duration_ms: 15_000,
        next_attempt_at: (outcome == Outcome::Retrying).then_some(prost_types::Timestamp {
            seconds: 1_700_000_300 + i64::from(n) * 60,
            nanos: 0,
        }),
    }
}

pub async fn attempts_are_stored_once_and_listed_per_event_in_order(store: Store) {
    let e1 = [
        attempt("acme", "evt_1", 2, Outcome::Retrying),
        attempt("acme", "evt_1", 1, Outcome::Retrying),
        attempt("acme", "evt_1", 3, Outcome::Succeeded),
    ];
    let e2 = attempt("acme", "evt_2", 1, Outcome::Exhausted);
    let mut first = e1.to_vec();
    first.push(e2.clone());
    first.push(e1[0].clone());
    assert_eq!(store.insert_delivery_attempts(&first).await.ok(), Some(4));
    assert_eq!(store.insert_delivery_attempts(&first).await.ok(), Some(0));
    let more = [e2, attempt("acme", "evt_2", 2, Outcome::Skipped)];
    assert_eq!(store.insert_delivery_attempts(&more).await.ok(), Some(1));
    let evt_2 = store
        .list_deliveries(&tenant("acme"), &event_id("evt_2"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(evt_2.len(), 2);

    let listed = store
        .list_deliveries(&tenant("acme"), &event_id("evt_1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed, [e1[1].clone(), e1[0].clone(), e1[2].clone()]);
    assert_eq!(listed[2].outcome(), Outcome::Succeeded);
}

pub async fn a_tenant_never_sees_another_tenants_deliveries(store: Store) {
    store
        .insert_delivery_attempts(&[attempt("tenant-a", "evt_1", 1, Outcome::Succeeded)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let other = store
        .list_deliveries(&tenant("tenant-b"), &event_id("evt_1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(other.is_empty());
    let own = store
        .list_deliveries(&tenant("tenant-a"), &event_id("evt_1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(own.len(), 1);
}

pub async fn an_attempt_with_a_nul_in_an_identifier_is_refused_whole(store: Store) {
    let mut bad = attempt("acme", "evt_1", 2, Outcome::Retrying);
    bad.endpoint_id = "or\0ders".into();
    let mut nul_in_error = attempt("acme", "evt_1", 1, Outcome::Retrying);
    nul_in_error.error = "reset \0 by peer".into();
    let result = store
        .insert_delivery_attempts(&[nul_in_error.clone(), bad])
        .await;
    assert!(
        matches!(&result, Err(StoreError::Unstorable { id, .. }) if id == "att_evt_1_2"),
        "{result:?}"
    );
    let listed = store
        .list_deliveries(&tenant("acme"), &event_id("evt_1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(listed.is_empty(), "the batch wrote {listed:?}");
    // Free text only loses its NUL, and a timestamp its nanoseconds below the microsecond.
    nul_in_error.attempted_at = Some(prost_types::Timestamp {
        seconds: 1_700_000_000,
        nanos: 123_456_789,
    });
    assert_eq!(
        store
            .insert_delivery_attempts(std::slice::from_ref(&nul_in_error))
            .await
            .ok(),
        Some(1)
    );
    let listed = store
        .list_deliveries(&tenant("acme"), &event_id("evt_1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].error, "reset \u{fffd} by peer");
    assert_eq!(listed[0].attempted_at.map(|t| t.nanos), Some(123_456_000));
    assert_eq!(
        listed[0].response_body_excerpt,
        nul_in_error.response_body_excerpt
    );
}

pub async fn pruning_deletes_only_attempts_stored_before_the_age(store: Store) {
    store
        .insert_delivery_attempts(&[
            attempt("acme", "evt_1", 1, Outcome::Retrying),
            attempt("acme", "evt_1", 2, Outcome::Retrying),
        ])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    age_past_threshold().await;
    store
        .insert_delivery_attempts(&[attempt("acme", "evt_1", 3, Outcome::Succeeded)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.prune_delivery_attempts(AGE, 1).await.ok(), Some(2));
    let left = store
        .list_deliveries(&tenant("acme"), &event_id("evt_1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(left.iter().map(|a| a.attempt).collect::<Vec<_>>(), [3]);
}
