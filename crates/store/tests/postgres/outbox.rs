//! The outbox inside a caller's own transaction: atomic with the caller's rows, notify on
//! commit only, late commits of older rows, and the transaction-level relay functions.

use std::time::Duration;

use futures::StreamExt as _;
use switchyard_domain::Event;
use switchyard_store::{
    Store,
    outbox::{self, EnqueueOutcome, NOTIFY_CHANNEL, OutboxEntry},
};
use switchyard_testkit::postgres::TestDatabase;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::{at, count, event, migrated, pg};

const T0: i64 = 1_700_000_000_000_000;

pub(crate) fn ev(tenant: &str, n: usize) -> Event {
    event(
        tenant,
        &format!("evt_{tenant}_{n:03}"),
        "app.order.created",
        at(T0),
    )
}

/// Enqueues each event in its own committed transaction, in the given order.
pub(crate) async fn enqueue_committed(store: &Store, events: &[Event]) {
    let client = pg(store).client().await.unwrap_or_else(|e| panic!("{e}"));
    for event in events {
        let outcome = outbox::enqueue(&client, event)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outcome, EnqueueOutcome::Inserted);
    }
}

pub(crate) async fn pending(db: &TestDatabase) -> i64 {
    count(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL").await
}

/// Claims, marks everything claimed and commits, with the transaction-level functions a
/// relay of the caller's own uses.
pub(crate) async fn publish_once(store: &Store, limit: u32) -> Vec<OutboxEntry> {
    let mut client = pg(store).client().await.unwrap_or_else(|e| panic!("{e}"));
    let tx = client.transaction().await.unwrap_or_else(|e| panic!("{e}"));
    let claimed = outbox::claim_batch(&tx, limit)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(claimed.undecodable.is_empty(), "{:?}", claimed.undecodable);
    let claimed = claimed.entries;
    let seqs: Vec<i64> = claimed.iter().map(|e| e.seq).collect();
    let marked = outbox::mark_published(&tx, &seqs)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(marked, seqs.len() as u64);
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    claimed
}

/// A connection `LISTEN`ing on the outbox channel, and the payloads it receives.
async fn listen(db: &TestDatabase) -> (tokio_postgres::Client, mpsc::Receiver<String>) {
    let (client, mut connection) = tokio_postgres::connect(&db.url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (send, receive) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(note) = message
                && send.send(note.payload().to_owned()).await.is_err()
            {
                break;
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (client, receive)
}

async fn next_note(notes: &mut mpsc::Receiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(10), notes.recv())
        .await
        .unwrap_or_else(|_| panic!("no notification within 10 s"))
        .unwrap_or_else(|| panic!("listener closed"))
}

/// A committed `NOTIFY` from another session. Notifications are delivered in commit order,
/// so when the listener receives this marker, anything not received before it had not been
/// committed when the marker was.
async fn marker(db: &TestDatabase, payload: &str) {
    db.client()
        .await
        .execute("SELECT pg_notify($1, $2)", &[&NOTIFY_CHANNEL, &payload])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn enqueue_in_a_rolled_back_transaction_leaves_nothing() {
    let (db, store) = migrated().await;
    let (_listener, mut notes) = listen(&db).await;
    let mut client = pg(&store).client().await.unwrap_or_else(|e| panic!("{e}"));
    let tx = client.transaction().await.unwrap_or_else(|e| panic!("{e}"));
    tx.execute("CREATE TABLE orders (id text)", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let outcome = outbox::enqueue(&tx, &ev("acme", 1)).await;
    assert_eq!(outcome.ok(), Some(EnqueueOutcome::Inserted));
    tx.rollback().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(count(&db, "SELECT count(*) FROM outbox").await, 0);
    marker(&db, "after-rollback").await;
    assert_eq!(next_note(&mut notes).await, "after-rollback");
    assert!(publish_once(&store, 10).await.is_empty());
    db.drop_database().await;
}

#[tokio::test]
async fn the_notification_arrives_on_commit_and_not_before() {
    let (db, store) = migrated().await;
    let (_listener, mut notes) = listen(&db).await;
    let mut client = pg(&store).client().await.unwrap_or_else(|e| panic!("{e}"));
    let tx = client.transaction().await.unwrap_or_else(|e| panic!("{e}"));
    let outcome = outbox::enqueue(&tx, &ev("acme", 1)).await;
    assert_eq!(outcome.ok(), Some(EnqueueOutcome::Inserted));
    marker(&db, "while-open").await;
    assert_eq!(
        next_note(&mut notes).await,
        "while-open",
        "the enqueue notified before its transaction committed"
    );
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next_note(&mut notes).await, "acme");
    // A duplicate inserts nothing, so it wakes nobody.
    let client = pg(&store).client().await.unwrap_or_else(|e| panic!("{e}"));
    let again = outbox::enqueue(&client, &ev("acme", 1)).await;
    assert_eq!(again.ok(), Some(EnqueueOutcome::AlreadyEnqueued));
    marker(&db, "after-duplicate").await;
    assert_eq!(next_note(&mut notes).await, "after-duplicate");
    db.drop_database().await;
}

#[tokio::test]
async fn an_older_seq_committed_after_a_newer_one_was_published_is_not_skipped() {
    let (db, store) = migrated().await;
    // The slow transaction takes its sequence number first...
    let mut slow_client = pg(&store).client().await.unwrap_or_else(|e| panic!("{e}"));
    let slow = slow_client
        .transaction()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let older = ev("acme", 1);
    assert_eq!(
        outbox::enqueue(&slow, &older).await.ok(),
        Some(EnqueueOutcome::Inserted)
    );
    // ...a faster one commits a newer row, and the relay publishes it.
    let newer = ev("acme", 2);
    enqueue_committed(&store, std::slice::from_ref(&newer)).await;
    let first = publish_once(&store, 10).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].event, newer);
    // Only now does the slow transaction commit its older row.
    slow.commit().await.unwrap_or_else(|e| panic!("{e}"));
    let second = publish_once(&store, 10).await;
    assert_eq!(second.len(), 1, "the late row was skipped");
    assert_eq!(second[0].event, older);
    assert!(
        second[0].seq < first[0].seq,
        "the late row has the older sequence number"
    );
    assert!(publish_once(&store, 10).await.is_empty());
    assert_eq!(pending(&db).await, 0);
    db.drop_database().await;
}

#[tokio::test]
async fn a_store_enqueue_notifies_once_per_new_row_on_commit() {
    let (db, store) = migrated().await;
    let (_listener, mut notes) = listen(&db).await;
    let outcomes = store
        .enqueue(&[&ev("acme", 1), &ev("beta", 1), &ev("acme", 1)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        outcomes,
        [
            EnqueueOutcome::Inserted,
            EnqueueOutcome::Inserted,
            EnqueueOutcome::AlreadyEnqueued
        ]
    );
    assert_eq!(next_note(&mut notes).await, "acme");
    assert_eq!(next_note(&mut notes).await, "beta");
    marker(&db, "after-batch").await;
    assert_eq!(next_note(&mut notes).await, "after-batch");
    db.drop_database().await;
}
