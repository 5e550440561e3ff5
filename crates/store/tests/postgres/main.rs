//! What only the PostgreSQL engine does, against a real PostgreSQL: migrations, connection
//! errors, LISTEN/NOTIFY, a caller's own transactions, rows edited by hand. Each test
//! creates its own database. Behaviour both engines share is in `tests/suite`.

mod config;
mod migrations;
mod outbox;
mod outbox_routes;
mod outbox_set_aside;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use switchyard_domain::{Event, EventId, EventType, TenantId};
use switchyard_runtime::settings::DatabaseSettings;
use switchyard_store::{PgStore, Store};
use switchyard_testkit::postgres::TestDatabase;

/// Settings pointing at `url`, with the defaults a service would have.
fn settings(url: &str) -> DatabaseSettings {
    DatabaseSettings {
        url: SecretString::from(url.to_owned()),
        read_url: SecretString::default(),
        pool_size: 8,
        connect_timeout_secs: 5,
    }
}

/// A fresh database with the schema applied, and a store on it.
async fn migrated() -> (TestDatabase, Store) {
    let db = TestDatabase::create().await;
    let store = connect(&db).await;
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("migrate: {e}"));
    (db, store)
}

async fn connect(db: &TestDatabase) -> Store {
    Store::connect(&settings(&db.url))
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", db.name))
}

/// The PostgreSQL engine under `store`.
fn pg(store: &Store) -> &PgStore {
    store
        .postgres()
        .unwrap_or_else(|| panic!("not a PostgreSQL store: {store:?}"))
}

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap_or_else(|e| panic!("{e}"))
}

fn event_id(id: &str) -> EventId {
    EventId::parse(id).unwrap_or_else(|e| panic!("{e}"))
}

fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_else(|| panic!("bad time {micros}"))
}

/// A small valid event.
fn event(tenant_name: &str, id: &str, event_type: &str, time: DateTime<Utc>) -> Event {
    Event::builder(
        tenant(tenant_name),
        event_id(id),
        format!("/{tenant_name}/test"),
        EventType::parse(event_type).unwrap_or_else(|e| panic!("{e}")),
    )
    .time(time)
    .data(
        Some("application/json".into()),
        format!(r#"{{"id":"{id}"}}"#),
    )
    .build()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Counts rows of `sql` (a `SELECT count(*) ...`).
async fn count(db: &TestDatabase, sql: &str) -> i64 {
    let client = db.client().await;
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}
