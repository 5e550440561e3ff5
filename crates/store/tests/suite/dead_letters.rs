//! Dead letters: stored once per DLQ position, every header kept exactly, listed per tenant
//! newest first with filters and keyset pages, redriven and counted.

use bytes::Bytes;
use switchyard_domain::{Headers, Message};
use switchyard_store::{DeadLetterCursor, DeadLetterFilter, NewDeadLetter, Store, StoreError};

use crate::{AGE, age_past_threshold, at, tenant};

const T0: i64 = 1_700_000_000_000_000;

/// DLQ record `n` of `tenant` as a consumer would read it: dead-lettered `n` seconds after
/// T0 by the webhook dispatcher (odd `n`, endpoint `orders`) or the audit writer (even `n`).
fn record(tenant_name: &str, n: i64) -> NewDeadLetter {
    let mut headers = Headers::new();
    headers.append("ce_id", format!("evt_{n}"));
    headers.append("ce_tenant", tenant_name.to_owned());
    headers.append("dlq-reason", format!("failed {n}"));
    headers.append("dlq-topic", "sy.events");
    headers.append("dlq-attempts", "3");
    if n % 2 == 1 {
        headers.append("dlq-group", "webhook-dispatcher");
        headers.append("dlq-origin", format!("event evt_{n}"));
        headers.append("dlq-endpoint", "orders");
    } else {
        headers.append("dlq-group", "audit-writer");
        headers.append("dlq-origin", format!("0@{n}"));
    }
    let message = Message {
        key: Some(Bytes::from(tenant_name.to_owned())),
        headers,
        payload: Bytes::from(format!(r#"{{"n":{n}}}"#)),
    };
    NewDeadLetter::from_record(
        format!("{tenant_name}-0@{n}"),
        &message,
        at(T0 + n * 1_000_000),
    )
}

async fn page(
    store: &Store,
    tenant_name: &str,
    filter: &DeadLetterFilter,
    limit: u32,
    cursor: Option<&DeadLetterCursor>,
) -> (Vec<String>, Option<DeadLetterCursor>) {
    let page = store
        .list_dead_letters(&tenant(tenant_name), filter, limit, cursor)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let origins = page
        .dead_letters
        .iter()
        .map(|letter| letter.origin.clone())
        .collect();
    (origins, page.next_cursor)
}

pub async fn the_same_dlq_record_consumed_twice_is_stored_once(store: Store) {
    let batch: Vec<NewDeadLetter> = (0..4).map(|n| record("acme", n)).collect();
    assert_eq!(store.insert_dead_letters(&batch).await.ok(), Some(4));
    let replay = [record("acme", 3), record("acme", 4), record("acme", 4)];
    assert_eq!(store.insert_dead_letters(&replay).await.ok(), Some(1));
    assert_eq!(store.insert_dead_letters(&[]).await.ok(), Some(0));
    let (stored, _) = page(&store, "acme", &DeadLetterFilter::default(), 100, None).await;
    assert_eq!(stored.len(), 5);
}

pub async fn a_dead_letter_reads_back_exactly_and_redrives_its_original_record(store: Store) {
    let mut letter = record("acme", 1);
    letter
        .headers
        .append("x-binary", Bytes::from_static(&[0xff, 0x00, 0xfe]));
    letter.headers.append("x-repeated", "one");
    letter.headers.append("x-repeated", "two");
    letter.key = Some(Bytes::from_static(&[0x00, 0x9f]));
    letter.reason = "NUL \0 in free text".into();
    store
        .insert_dead_letters(std::slice::from_ref(&letter))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let listed = store
        .list_dead_letters(&tenant("acme"), &DeadLetterFilter::default(), 10, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let [stored] = listed.dead_letters.as_slice() else {
        panic!("one dead letter expected: {listed:?}");
    };
    assert_eq!(
        stored.headers, letter.headers,
        "order, repeats and bytes kept"
    );
    assert_eq!(stored.key, letter.key);
    assert_eq!(stored.payload, letter.payload);
    assert_eq!(stored.source_position, "acme-0@1");
    assert_eq!(stored.reason, "NUL \u{fffd} in free text");
    assert_eq!(
        (
            stored.topic.as_str(),
            stored.attempts,
            stored.group.as_str()
        ),
        ("sy.events", 3, "webhook-dispatcher")
    );
    assert_eq!(stored.endpoint.as_deref(), Some("orders"));
    assert_eq!(stored.dead_lettered_at, letter.dead_lettered_at);
    assert_eq!((stored.redriven_at, stored.redrive_count), (None, 0));
    let original = stored.original_record();
    assert!(
        original.headers.iter().all(|h| !h.name.starts_with("dlq-")),
        "{:?}",
        original.headers
    );
    assert_eq!(original.headers.get_str("ce_id"), Some("evt_1"));
    assert_eq!(original.headers.len(), 5);

    let got = store
        .get_dead_letter(&tenant("acme"), &stored.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.as_ref(), Some(stored));
    let first = store
        .mark_redriven(&tenant("acme"), &stored.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let first_at = first.as_ref().and_then(|l| l.redriven_at);
    assert!(first_at.is_some());
    assert_eq!(first.map(|l| l.redrive_count), Some(1));
    let second = store
        .mark_redriven(&tenant("acme"), &stored.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.as_ref().map(|l| l.redrive_count), Some(2));
    assert!(second.and_then(|l| l.redriven_at) >= first_at);
    // Another tenant can neither read nor redrive it.
    let other = tenant("globex");
    assert!(matches!(
        store.get_dead_letter(&other, &stored.id).await,
        Ok(None)
    ));
    assert!(matches!(
        store.mark_redriven(&other, &stored.id).await,
        Ok(None)
    ));
    assert!(matches!(
        store.mark_redriven(&other, "no-such-id").await,
        Ok(None)
    ));
}

pub async fn listing_is_newest_first_per_tenant_filtered_and_paged_without_gaps(store: Store) {
    let mut letters: Vec<NewDeadLetter> = (0..11).map(|n| record("acme", n)).collect();
    letters.extend((0..3).map(|n| record("globex", n)));
    // A record that names no tenant is kept, and listed for nobody.
    let mut orphan = record("acme", 99);
    orphan.tenant = None;
    orphan.source_position = "orphan".into();
    letters.push(orphan);
    store
        .insert_dead_letters(&letters)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let all = DeadLetterFilter::default();
    let mut seen = Vec::new();
    let mut cursor: Option<DeadLetterCursor> = None;
    for _ in 0..10 {
        let (origins, next) = page(&store, "acme", &all, 4, cursor.as_ref()).await;
        seen.extend(origins);
        // Through the string form, as a client would hand it back.
        cursor = next.map(|c| c.to_string().parse().unwrap_or_else(|e| panic!("{e}")));
        if cursor.is_none() {
            break;
        }
    }
    let expected: Vec<String> = (0..11)
        .rev()
        .map(|n| {
            if n % 2 == 1 {
                format!("event evt_{n}")
            } else {
                format!("0@{n}")
            }
        })
        .collect();
    assert_eq!(seen, expected, "newest first, each once");

    let by_endpoint = DeadLetterFilter {
        endpoint: Some("orders".into()),
        ..DeadLetterFilter::default()
    };
    let (origins, _) = page(&store, "acme", &by_endpoint, 100, None).await;
    assert_eq!(origins.len(), 5);
    assert!(origins.iter().all(|o| o.starts_with("event ")));
    let by_topic = DeadLetterFilter {
        topic: Some("sy.events".into()),
        ..DeadLetterFilter::default()
    };
    assert_eq!(page(&store, "acme", &by_topic, 100, None).await.0.len(), 11);
    let other_topic = DeadLetterFilter {
        topic: Some("sy.ingest.raw".into()),
        ..DeadLetterFilter::default()
    };
    assert!(
        page(&store, "acme", &other_topic, 100, None)
            .await
            .0
            .is_empty()
    );

    let newest = store
        .list_dead_letters(&tenant("acme"), &all, 1, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let newest_id = newest.dead_letters[0].id.clone();
    store
        .mark_redriven(&tenant("acme"), &newest_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let redriven = DeadLetterFilter {
        redriven: Some(true),
        ..DeadLetterFilter::default()
    };
    let pending = DeadLetterFilter {
        redriven: Some(false),
        ..DeadLetterFilter::default()
    };
    assert_eq!(page(&store, "acme", &redriven, 100, None).await.0, ["0@10"]);
    let (still_dead, _) = page(&store, "acme", &pending, 100, None).await;
    assert_eq!(still_dead.len(), 10);
    assert!(!still_dead.contains(&"0@10".to_owned()));

    assert_eq!(page(&store, "globex", &all, 100, None).await.0.len(), 3);
    assert!(matches!(
        "not-a-cursor".parse::<DeadLetterCursor>(),
        Err(StoreError::InvalidCursor)
    ));
}

pub async fn pruning_deletes_only_dead_letters_stored_before_the_age(store: Store) {
    let old: Vec<NewDeadLetter> = [0, 2].iter().map(|n| record("acme", *n)).collect();
    store
        .insert_dead_letters(&old)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    age_past_threshold().await;
    let new: Vec<NewDeadLetter> = [1, 3, 4].iter().map(|n| record("acme", *n)).collect();
    store
        .insert_dead_letters(&new)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.prune_dead_letters(AGE, 1).await.ok(), Some(2));
    let (left, _) = page(&store, "acme", &DeadLetterFilter::default(), 100, None).await;
    assert_eq!(left, ["0@4", "event evt_3", "event evt_1"]);
    // A pruned record's position is free again.
    assert_eq!(store.insert_dead_letters(&old).await.ok(), Some(2));
}
