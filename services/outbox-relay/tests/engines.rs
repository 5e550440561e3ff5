//! The relay over either store engine, in-process on the memory bus (no broker needed): one
//! scenario run against an in-memory store and against PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use switchyard_bus::{Bus, memory::MemoryBroker};
use switchyard_domain::{Event, EventId, EventType, Message, TenantId, TopicPrefix};
use switchyard_outbox_relay::relay::{Relay, Stage};
use switchyard_runtime::settings::{BusBackend, BusSettings, DatabaseSettings};
use switchyard_store::{Store, outbox::Route};
use switchyard_testkit::{postgres::TestDatabase, unique_name};
use switchyard_testkit_bus::TopicReader;

fn event(tenant: &str, n: u32) -> Event {
    Event::builder(
        TenantId::parse(tenant).unwrap(),
        EventId::parse(&format!("evt_{tenant}_{n}")).unwrap(),
        format!("/{tenant}/orders"),
        EventType::parse("app.order.created").unwrap(),
    )
    .build()
    .unwrap()
}

/// A memory bus under a prefix of the test's own.
async fn bus() -> (Bus, BusSettings) {
    let settings = BusSettings {
        backend: BusBackend::Memory,
        topic_prefix: TopicPrefix::parse(&unique_name("relay").replace('_', "-")).unwrap(),
        ..BusSettings::default()
    };
    (Bus::connect(&settings).await.unwrap(), settings)
}

fn key(message: &Message) -> String {
    String::from_utf8(message.key.clone().unwrap_or_default().to_vec()).unwrap()
}

/// Enqueues plain and routed rows, fails a batch on a broker outage (nothing is lost or
/// marked), then relays everything in order, once.
async fn relays_every_row_once_in_order_and_keeps_them_through_an_outage(store: Store) {
    let (bus, settings) = bus().await;
    let topics = settings.topics();
    let relay = Relay::new(
        store.clone(),
        bus.publisher.clone(),
        bus.admin.clone(),
        topics.clone(),
        100,
    );
    bus.admin
        .ensure_topics(&Relay::topics_at_start(&topics))
        .await
        .unwrap();
    let plain = [event("acme", 1), event("beta", 1), event("acme", 2)];
    store
        .enqueue(&plain.iter().collect::<Vec<_>>())
        .await
        .unwrap();
    let route = Route::config("endpoint/acme/orders");
    store
        .enqueue_routed(&event("acme", 3), &route)
        .await
        .unwrap();

    let broker = MemoryBroker::process_wide(settings.partitions);
    broker.set_available(false);
    let failed = relay.relay_once().await;
    broker.set_available(true);
    assert_eq!(failed.err().map(|e| e.stage()), Some(Stage::Publish));
    assert_eq!(store.outbox_backlog(100).await.unwrap().pending, 4);

    assert_eq!(relay.relay_once().await.ok(), Some(4));
    assert_eq!(relay.relay_once().await.ok(), Some(0));
    assert_eq!(store.outbox_backlog(100).await.unwrap().pending, 0);
    let mut events = TopicReader::messages(&bus, topics.events());
    let published: Vec<(String, String)> = events
        .until(Duration::from_secs(10), |seen| seen.len() >= 3)
        .await
        .iter()
        .map(|m| {
            (
                key(m),
                m.headers.get_str("ce_id").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let of = |tenant: &str| -> Vec<String> {
        published
            .iter()
            .filter(|(k, _)| k == tenant)
            .map(|(_, id)| id.clone())
            .collect()
    };
    assert_eq!(
        of("acme"),
        ["evt_acme_1", "evt_acme_2"],
        "per tenant, in order"
    );
    assert_eq!(of("beta"), ["evt_beta_1"]);
    assert_eq!(published.len(), 3, "each once: {published:?}");
    let mut config = TopicReader::messages(&bus, topics.config());
    let change = config.next().await;
    assert_eq!(key(&change), "endpoint/acme/orders");
    assert_eq!(change.headers.get_str("ce_id"), Some("evt_acme_3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_works_on_either_engine() {
    // One test for both, one after the other: the outage is simulated on the process's
    // memory broker, which concurrent tests would share.
    let memory = Store::connect(&DatabaseSettings {
        url: format!("memory://{}", unique_name("relay")).into(),
        ..DatabaseSettings::default()
    })
    .await
    .unwrap();
    relays_every_row_once_in_order_and_keeps_them_through_an_outage(memory).await;

    let db = TestDatabase::create().await;
    let postgres = Store::connect(&DatabaseSettings {
        url: db.url.clone().into(),
        ..DatabaseSettings::default()
    })
    .await
    .unwrap();
    postgres.migrate().await.unwrap();
    relays_every_row_once_in_order_and_keeps_them_through_an_outage(postgres.clone()).await;
    drop(postgres);
    db.drop_database().await;
}
