//! Paging through the event store: keyset cursors over equal timestamps, type patterns merged
//! across types, and ordering at microsecond precision.

use chrono::{DateTime, Utc};
use switchyard_domain::{Event, EventTypePattern};
use switchyard_store::{Cursor, EventFilter, Order, Store, StoreError};

use crate::{
    at, event,
    events::{T0, all, ids},
    tenant,
};

pub async fn keyset_pages_walk_equal_timestamps_without_gaps_or_repeats(store: Store) {
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
}

pub async fn a_type_pattern_pages_through_every_matching_type_in_time_order_both_ways(
    store: Store,
) {
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
}

pub async fn times_are_ordered_and_bounded_at_microsecond_precision(store: Store) {
    // Three events in one microsecond, their nanoseconds in the opposite order of their ids:
    // listings order by the microsecond, then id; every event still reads back exactly.
    let micro = at(T0);
    let nanos = |n: u32| micro + chrono::TimeDelta::nanoseconds(i64::from(n));
    let events = [
        event("acme", "evt_a", "a.b", nanos(900)),
        event("acme", "evt_b", "a.b", nanos(500)),
        event("acme", "evt_c", "a.b", nanos(100)),
        event("acme", "evt_d", "a.b", at(T0 + 1)),
    ];
    store
        .insert_events(&events)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let listed = all(&store, "acme").await;
    assert_eq!(ids(&listed), ["evt_a", "evt_b", "evt_c", "evt_d"]);
    assert_eq!(listed[..], events[..], "nanoseconds kept");
    let list = |since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>| {
        let store = store.clone();
        async move {
            let filter = EventFilter {
                since,
                until,
                ..EventFilter::default()
            };
            let page = store
                .list_events(&tenant("acme"), &filter, 10, None)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            page.events
                .iter()
                .map(|e| e.id().to_string())
                .collect::<Vec<_>>()
        }
    };
    // A bound within the microsecond counts as the microsecond itself.
    assert_eq!(list(Some(nanos(700)), None).await.len(), 4);
    assert_eq!(list(None, Some(nanos(700))).await, Vec::<String>::new());
    assert_eq!(list(None, Some(at(T0 + 1))).await.len(), 3);
    // A cursor ends at a whole microsecond too, and resumes after the id it names.
    let first = store
        .list_events(&tenant("acme"), &EventFilter::default(), 2, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rest = store
        .list_events(
            &tenant("acme"),
            &EventFilter::default(),
            10,
            first.next_cursor.as_ref(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(&rest.events), ["evt_c", "evt_d"]);
    assert_eq!(rest.next_cursor, None);
}
