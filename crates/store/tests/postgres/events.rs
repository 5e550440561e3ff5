use chrono::{DateTime, Utc};
use switchyard_domain::{Event, EventType, EventTypePattern, Traceparent};
use switchyard_store::{Cursor, EventFilter, Order, StoreError};

use crate::{at, count, event, event_id, migrated, tenant};

const T0: i64 = 1_700_000_000_000_000;

fn ids(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.id().as_str()).collect()
}

#[tokio::test]
async fn the_same_tenant_and_id_is_stored_once_within_and_across_batches() {
    let (db, store) = migrated().await;
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
    assert_eq!(count(&db, "SELECT count(*) FROM events").await, 4);
    // The first write wins; a later copy with the same id changes nothing.
    let stored = store.get_event(&tenant("acme"), &event_id("evt_1")).await;
    assert_eq!(stored.ok().flatten(), Some(first));
    db.drop_database().await;
}

#[tokio::test]
async fn every_field_round_trips_byte_exact() {
    let (db, store) = migrated().await;
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
    db.drop_database().await;
}

#[tokio::test]
async fn an_event_postgres_cannot_hold_is_refused_and_the_batch_writes_nothing() {
    let (db, store) = migrated().await;
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
    assert_eq!(count(&db, "SELECT count(*) FROM events").await, 0);
    db.drop_database().await;
}

#[tokio::test]
async fn listing_filters_by_type_pattern_subject_and_time_range() {
    let (db, store) = migrated().await;
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
    db.drop_database().await;
}

#[tokio::test]
async fn keyset_pages_walk_equal_timestamps_without_gaps_or_repeats() {
    let (db, store) = migrated().await;
    let mut events = Vec::new();
    for i in 0..23 {
        // Most share one microsecond: only the id can order them.
        let time = if i % 5 == 0 { at(T0 + i) } else { at(T0 + 3) };
        events.push(event("acme", &format!("evt_{:02}", 40 - i), "a.b", time));
    }
    events.push(event("other", "evt_00", "a.b", at(T0 + 3)));
    store
        .insert_events(&events)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut expected: Vec<&Event> = events
        .iter()
        .filter(|e| e.tenant().as_str() == "acme")
        .collect();
    expected.sort_by(|a, b| (a.time(), a.id()).cmp(&(b.time(), b.id())));
    let expected: Vec<&str> = expected.iter().map(|e| e.id().as_str()).collect();

    for order in [Order::OldestFirst, Order::NewestFirst] {
        let filter = EventFilter {
            order,
            ..EventFilter::default()
        };
        let mut seen = Vec::new();
        let mut cursor: Option<Cursor> = None;
        let mut pages = 0;
        loop {
            let page = store
                .list_events(&tenant("acme"), &filter, 4, cursor.as_ref())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            pages += 1;
            assert!(page.events.len() <= 4);
            seen.extend(page.events.iter().map(|e| e.id().as_str().to_owned()));
            // Through the string form, as a client would hand it back.
            cursor = page
                .next_cursor
                .map(|c| c.to_string().parse().unwrap_or_else(|e| panic!("{e}")));
            if cursor.is_none() {
                break;
            }
            assert!(pages < 20, "pagination does not end");
        }
        let mut want = expected.clone();
        if order == Order::NewestFirst {
            want.reverse();
        }
        assert_eq!(seen, want, "{order:?}");
        assert_eq!(pages, 6, "23 events in pages of 4");
    }
    assert!(matches!(
        "not-a-cursor".parse::<Cursor>(),
        Err(StoreError::InvalidCursor)
    ));
    db.drop_database().await;
}

#[tokio::test]
async fn a_tenant_never_sees_another_tenants_events() {
    let (db, store) = migrated().await;
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
    db.drop_database().await;
}

#[tokio::test]
async fn pruning_deletes_only_old_events_in_chunks() {
    let (db, store) = migrated().await;
    let events: Vec<Event> = (0..10)
        .map(|i| event("acme", &format!("evt_{i}"), "a.b", at(T0)))
        .collect();
    store
        .insert_events(&events)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    db.client()
        .await
        .execute(
            "UPDATE events SET stored_at = now() - interval '2 days' WHERE id < 'evt_7'",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let day = std::time::Duration::from_secs(86_400);
    assert_eq!(store.prune_events(day, 3).await.ok(), Some(7));
    assert_eq!(count(&db, "SELECT count(*) FROM events").await, 3);
    assert_eq!(store.prune_events(day, 3).await.ok(), Some(0));
    db.drop_database().await;
}

#[tokio::test]
async fn a_type_pattern_pages_through_every_matching_type_in_time_order_both_ways() {
    let (db, store) = migrated().await;
    // Several matching types interleaved in time, with ties across types, one matching type
    // with only old events, and types the pattern must not take (a sibling prefix and a
    // longer one that shares the first bytes).
    let types = [
        "razorpay.payment.captured",
        "razorpay.payment.failed",
        "razorpay.refund.created",
        "razorpay.paymentx.odd",
        "stripe.charge.succeeded",
    ];
    let mut events = Vec::new();
    for i in 0..40i64 {
        let event_type = types[(i % 5) as usize];
        events.push(event(
            "acme",
            &format!("evt_{i:03}"),
            event_type,
            at(T0 + (i / 3) * 10),
        ));
    }
    events.push(event(
        "acme",
        "evt_old",
        "razorpay.payment.old",
        at(T0 - 1_000_000),
    ));
    events.push(event(
        "globex",
        "evt_g",
        "razorpay.payment.captured",
        at(T0),
    ));
    store
        .insert_events(&events)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    for (pattern, since) in [
        ("razorpay.payment.*", None),
        ("razorpay.*.created", None),
        ("*.payment.*", None),
        ("razorpay.*", Some(at(T0 + 30))),
    ] {
        let matcher = EventTypePattern::parse(pattern).unwrap_or_else(|e| panic!("{e}"));
        let mut want: Vec<&Event> = events
            .iter()
            .filter(|e| e.tenant().as_str() == "acme" && matcher.matches(e.event_type()))
            .filter(|e| since.is_none_or(|since| e.time() >= since))
            .collect();
        want.sort_by(|a, b| (a.time(), a.id()).cmp(&(b.time(), b.id())));
        assert!(want.len() > 5, "{pattern}: too few matches to page");
        for order in [Order::OldestFirst, Order::NewestFirst] {
            let filter = EventFilter {
                event_type: Some(matcher.clone()),
                since,
                order,
                ..EventFilter::default()
            };
            let mut seen: Vec<String> = Vec::new();
            let mut cursor: Option<Cursor> = None;
            for _ in 0..30 {
                let page = store
                    .list_events(&tenant("acme"), &filter, 4, cursor.as_ref())
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                seen.extend(page.events.iter().map(|e| e.id().to_string()));
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
            let mut expected: Vec<String> = want.iter().map(|e| e.id().to_string()).collect();
            if order == Order::NewestFirst {
                expected.reverse();
            }
            assert_eq!(seen, expected, "{pattern} {order:?}");
        }
    }
    db.drop_database().await;
}
