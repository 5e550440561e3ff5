//! What only the in-memory engine does: stores found by name in the process, ready at once.

use secrecy::SecretString;
use switchyard_domain::{Event, EventId, EventType, TenantId};
use switchyard_runtime::{health::ReadinessCheck, settings::DatabaseSettings};
use switchyard_store::{EventFilter, Opening, Store, StoreError};

fn settings(url: &str) -> DatabaseSettings {
    DatabaseSettings {
        url: SecretString::from(url.to_owned()),
        ..DatabaseSettings::default()
    }
}

async fn open(url: &str) -> Store {
    Store::connect(&settings(url))
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

fn event(id: &str) -> Event {
    Event::builder(
        TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
        EventId::parse(id).unwrap_or_else(|e| panic!("{e}")),
        "/acme/test",
        EventType::parse("a.b").unwrap_or_else(|e| panic!("{e}")),
    )
    .build()
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn ids(store: &Store) -> Vec<String> {
    let tenant = TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
    store
        .list_events(&tenant, &EventFilter::default(), 100, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .events
        .iter()
        .map(|e| e.id().to_string())
        .collect()
}

#[tokio::test]
async fn stores_of_one_name_are_shared_and_of_other_names_isolated() {
    let name = switchyard_testkit::unique_name("shared");
    let writer = open(&format!("memory://{name}")).await;
    let reader = open(&format!("memory://{name}")).await;
    let other = open(&format!("memory://{name}_other")).await;
    assert_eq!(writer.insert_events(&[event("evt_1")]).await.ok(), Some(1));
    assert_eq!(
        ids(&reader).await,
        ["evt_1"],
        "a second service sees the write"
    );
    assert_eq!(reader.insert_events(&[event("evt_1")]).await.ok(), Some(0));
    assert!(
        ids(&other).await.is_empty(),
        "another name is another store"
    );
    assert!(writer.postgres().is_none());
    assert!(
        writer
            .migrate()
            .await
            .is_ok_and(|applied| applied.is_empty())
    );
}

#[tokio::test]
async fn a_memory_store_opens_at_once_and_is_ready() {
    let opening = Opening::new();
    let url = format!("memory://{}", switchyard_testkit::unique_name("open"));
    let store = opening
        .try_open(&settings(&url))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(store.is_some_and(|store| store.engine() == "memory"));
    assert_eq!(opening.readiness_check().check().await, Ok(()));
    let store = open(&url).await;
    let check = store.readiness_check();
    assert_eq!(check.name(), "memory");
    assert_eq!(check.check().await, Ok(()));
}

#[tokio::test]
async fn a_bad_name_or_a_read_replica_is_refused_with_the_key_named() {
    for url in ["memory://", "memory://with space", "memory://a/b"] {
        let error = Store::connect(&settings(url)).await.err();
        assert!(
            matches!(
                &error,
                Some(StoreError::Config {
                    key: "database.url",
                    ..
                })
            ),
            "{url}: {error:?}"
        );
    }
    let mut replica = settings("memory://dev-replica");
    replica.read_url = SecretString::from("memory://dev-replica".to_owned());
    let error = Store::connect(&replica).await.err();
    assert!(
        matches!(
            &error,
            Some(StoreError::Config {
                key: "database.read_url",
                ..
            })
        ),
        "{error:?}"
    );
}
