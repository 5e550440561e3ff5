//! The audit event store: idempotent batches, exact round trips, listings with filters,
//! keyset cursors and type patterns, tenant isolation, retention.

use chrono::{DateTime, Utc};
use switchyard_domain::{Event, EventType, EventTypePattern, Traceparent};
use switchyard_store::{EventFilter, Store, StoreError};

use crate::{AGE, age_past_threshold, at, event, event_id, tenant};

pub(crate) const T0: i64 = 1_700_000_000_000_000;

pub(crate) fn ids(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.id().as_str()).collect()
}

/// Every event of `tenant_name`, oldest first.
pub(crate) async fn all(store: &Store, tenant_name: &str) -> Vec<Event> {
    store
        .list_events(&tenant(tenant_name), &EventFilter::default(), 1_000, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .events
}

pub async fn the_same_tenant_and_id_is_stored_once_within_and_across_batches(store: Store) {
    let first = event("acme", "evt_1", "github.push", at(T0));
    let mut changed = event("acme", "evt_1", "github.push", at(T0 + 5));
    changed = changed
        .to_builder()
        .data(None, "different body")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let batch = [
        first.clone(),
        changed,
        event("acme", "evt_2", "github.push", at(T0)),
        // Same id, other tenant: a different event.
        event("globex", "evt_1", "github.push", at(T0)),
    ];
    assert_eq!(store.insert_events(&batch).await.ok(), Some(3));
    let replay = [
        event("acme", "evt_2", "github.push", at(T0)),
        event("acme", "evt_3", "github.push", at(T0)),
    ];
    assert_eq!(store.insert_events(&replay).await.ok(), Some(1));
    assert_eq!(store.insert_events(&batch).await.ok(), Some(0));
    assert_eq!(store.insert_events(&[]).await.ok(), Some(0));
    assert_eq!(all(&store, "acme").await.len(), 3);
    assert_eq!(all(&store, "globex").await.len(), 1);
    // The first write wins; a later copy with the same id changes nothing.
    let stored = store.get_event(&tenant("acme"), &event_id("evt_1")).await;
    assert_eq!(stored.ok().flatten(), Some(first));
}

pub async fn every_field_round_trips_byte_exact(store: Store) {
    let data: Vec<u8> = vec![0xff, 0x00, 0xfe, b'{', 0x80, 0xc3, 0x28, 0x00];
    let time: DateTime<Utc> = "2024-02-29T23:59:59.123456789Z"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let full = Event::builder(
        tenant("acme"),
        event_id("evt_full"),
        "/acme/razorpay",
        EventType::parse("razorpay.payment.captured").unwrap_or_else(|e| panic!("{e}")),
    )
    .time(time)
    .subject(Some("pay_29QQoUBi66xm2f ünïcode".into()))
    .data(Some("application/octet-stream".into()), data.clone())
    .data_schema(Some("https://schemas.example/payment/v1".into()))
    .traceparent(Some(
        Traceparent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .unwrap_or_else(|e| panic!("{e}")),
    ))
    .extension("partitionkey", "acme")
    .extension("comexampleext", "value with \"quotes\" and \\ and ✓")
    .build()
    .unwrap_or_else(|e| panic!("{e}"));
    let bare = Event::builder(
        tenant("acme"),
        event_id("evt_bare"),
        "urn:x",
        EventType::parse("a.b").unwrap_or_else(|e| panic!("{e}")),
    )
    .time(at(-1_234_567))
    .build()
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        store
            .insert_events(&[full.clone(), bare.clone()])
            .await
            .ok(),
        Some(2)
    );
    let got_full = store
        .get_event(&tenant("acme"), &event_id("evt_full"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got_full.as_ref(), Some(&full));
    assert_eq!(got_full.map(|e| e.data().to_vec()), Some(data));
    let got_bare = store
        .get_event(&tenant("acme"), &event_id("evt_bare"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got_bare, Some(bare));
    let absent = store
        .get_event(&tenant("acme"), &event_id("evt_none"))
        .await;
    assert!(matches!(absent, Ok(None)));
}

pub async fn an_event_postgres_cannot_hold_is_refused_and_the_batch_writes_nothing(store: Store) {
    let poison = event("acme", "evt_nul", "a.b", at(T0))
        .to_builder()
        .extension("bad", "nul\0inside")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let result = store
        .insert_events(&[event("acme", "evt_ok", "a.b", at(T0)), poison])
        .await;
    match &result {
        Err(StoreError::Unstorable { id, .. }) => assert_eq!(id, "evt_nul"),
        other => panic!("expected Unstorable, got {other:?}"),
    }
    assert!(result.is_err_and(|e| !e.is_transient()));
    assert!(all(&store, "acme").await.is_empty());
}

pub async fn listing_filters_by_type_pattern_subject_and_time_range(store: Store) {
    let with_subject = |e: Event, s: &str| {
        e.to_builder()
            .subject(Some(s.into()))
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let events = [
        with_subject(
            event("acme", "e1", "razorpay.payment.captured", at(T0)),
            "pay_1",
        ),
        with_subject(
            event("acme", "e2", "razorpay.payment.failed", at(T0 + 10)),
            "pay_2",
        ),
        event(
            "acme",
            "e3",
            "razorpay.payment.dispute.created",
            at(T0 + 20),
        ),
        event("acme", "e4", "razorpay.payments", at(T0 + 30)),
        event("acme", "e5", "razorpay.order.paid", at(T0 + 40)),
        event("acme", "e6", "stripe.payment_intent.succeeded", at(T0 + 50)),
        event("acme", "e7", "stripe.charge.refund.succeeded", at(T0 + 60)),
        with_subject(event("acme", "e8", "github.push", at(T0 + 70)), "pay_1"),
    ];
    store
        .insert_events(&events)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let acme = tenant("acme");
    let list = |filter: EventFilter| {
        let store = store.clone();
        let acme = acme.clone();
        async move {
            store
                .list_events(&acme, &filter, 100, None)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .events
        }
    };
    let typed = |pattern: &str| EventFilter {
        event_type: Some(EventTypePattern::parse(pattern).unwrap_or_else(|e| panic!("{e}"))),
        ..EventFilter::default()
    };
    assert_eq!(ids(&list(typed("github.push")).await), ["e8"]);
    assert_eq!(
        ids(&list(typed("razorpay.payment.*")).await),
        ["e1", "e2", "e3"]
    );
    assert_eq!(
        ids(&list(typed("stripe.*.succeeded")).await),
        ["e6"],
        "a middle * is exactly one segment"
    );
    assert_eq!(ids(&list(typed("*.push")).await), ["e8"]);
    assert_eq!(list(typed("*")).await.len(), events.len());
    assert_eq!(
        ids(&list(EventFilter {
            subject: Some("pay_1".into()),
            ..EventFilter::default()
        })
        .await),
        ["e1", "e8"]
    );
    assert_eq!(
        ids(&list(EventFilter {
            since: Some(at(T0 + 20)),
            until: Some(at(T0 + 50)),
            ..EventFilter::default()
        })
        .await),
        ["e3", "e4", "e5"],
        "since is inclusive, until exclusive"
    );
    let combined = EventFilter {
        since: Some(at(T0 + 5)),
        ..typed("razorpay.*")
    };
    assert_eq!(ids(&list(combined).await), ["e2", "e3", "e4", "e5"]);
}

pub async fn a_tenant_never_sees_another_tenants_events(store: Store) {
    store
        .insert_events(&[
            event("tenant-a", "evt_secret", "a.b", at(T0)),
            event("tenant-a", "evt_other", "a.b", at(T0)),
        ])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let b = tenant("tenant-b");
    let direct = store.get_event(&b, &event_id("evt_secret")).await;
    assert!(matches!(direct, Ok(None)), "{direct:?}");
    let listed = store
        .list_events(&b, &EventFilter::default(), 100, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(listed.events.is_empty());
    // A cursor made from A's rows does not open A's rows to B either.
    let a_page = store
        .list_events(&tenant("tenant-a"), &EventFilter::default(), 1, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a_page.events.len(), 1);
    let from_a = store
        .list_events(
            &b,
            &EventFilter::default(),
            100,
            a_page.next_cursor.as_ref(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(from_a.events.is_empty());
}

pub async fn pruning_deletes_only_events_stored_before_the_age(store: Store) {
    let old: Vec<Event> = (0..7)
        .map(|i| event("acme", &format!("evt_{i}"), "a.b", at(T0)))
        .collect();
    store
        .insert_events(&old)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    age_past_threshold().await;
    // The sender's time says nothing: these are new to the store however old they claim.
    let new: Vec<Event> = (7..10)
        .map(|i| event("acme", &format!("evt_{i}"), "a.b", at(0)))
        .collect();
    store
        .insert_events(&new)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.prune_events(AGE, 3).await.ok(), Some(7));
    let left = all(&store, "acme").await;
    assert_eq!(ids(&left), ["evt_7", "evt_8", "evt_9"]);
    assert_eq!(store.prune_events(AGE, 3).await.ok(), Some(0));
    assert!(
        store
            .get_event(&tenant("acme"), &event_id("evt_0"))
            .await
            .is_ok_and(|e| e.is_none())
    );
}
