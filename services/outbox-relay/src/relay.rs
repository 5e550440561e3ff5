//! One relay iteration is one unit of work of the store (a transaction on PostgreSQL): claim
//! a batch, publish it in order, mark it, commit (the protocol of `switchyard_store::outbox`). The loop around it drains while batches come
//! back full, then sleeps until a `NOTIFY` or the poll interval, and backs off on failure.
//!
//! A row with a route (`switchyard_store::outbox::Route`, the gateway's configuration
//! changes) goes to `<prefix>.<suffix>` under the route's key instead of `<prefix>.events`
//! under its tenant. A batch is split by destination topic, each topic's records kept in
//! claim order, and the topics are published concurrently: one broker round trip per topic
//! per batch, so the common all-events batch is exactly one, as before routes existed. Order
//! is kept where it exists, within a topic (per tenant on the events topic, per entity key on
//! the config topic); between two topics there is none to keep, since their consumers read
//! them independently. Topics other than events, DLQ and config are created on first use.
//!
//! A claimed row that no longer decodes into an event can never be published, and left
//! pending it would hold every later row of its tenant for good. So it is dead-lettered
//! (what could be read of it, with `dlq-reason`, `dlq-topic` = the topic it was meant for
//! and `dlq-origin` = `outbox@<seq>`) and moved to `outbox_failed`, in the batch's
//! transaction: committed together with the rows published beside it, or rolled back with
//! them. (Only PostgreSQL rows can be damaged so; the in-memory outbox holds events.)

use std::{
    borrow::Cow,
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use chrono::Utc;
use futures::future::try_join_all;
use switchyard_bus::{Admin, BusError, DeadLetter, Publisher, RetryPolicy};
use switchyard_domain::{Message, Topics};
use switchyard_runtime::Shutdown;
use switchyard_store::{
    Store, StoreError,
    outbox::{Claimed, OutboxEntry, Route, UndecodableRow},
};
use tokio::sync::Notify;

use crate::instruments::{BatchFailed, BatchPublished, RowSetAside};

/// Where a batch failed; its rows stay pending and are published again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Claiming rows (beginning the transaction, on PostgreSQL).
    Claim,
    /// Dead-lettering rows that do not decode.
    DeadLetter,
    /// Publishing to the broker.
    Publish,
    /// Marking the published rows and setting aside the undecodable ones.
    Mark,
    /// Committing.
    Commit,
}

impl Stage {
    /// The name used in metrics and logs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claim => "claim",
            Self::DeadLetter => "dead_letter",
            Self::Publish => "publish",
            Self::Mark => "mark",
            Self::Commit => "commit",
        }
    }
}

/// Why a batch was rolled back. Its rows stay pending; nothing was marked.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// A statement of the batch's transaction failed.
    #[error("{source}")]
    Store {
        /// Where.
        stage: Stage,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The broker did not acknowledge every record of the batch (some may be stored: they
    /// are published again, with the same event ids).
    #[error("{events} event(s) for {topic} not acknowledged by the broker: {source}")]
    Publish {
        /// The topic that failed.
        topic: String,
        /// Records of the batch for that topic.
        events: usize,
        /// The bus's error.
        #[source]
        source: BusError,
    },
    /// The DLQ did not acknowledge the records of the batch's undecodable rows.
    #[error("{rows} undecodable row(s) not acknowledged by the DLQ: {source}")]
    DeadLetter {
        /// Undecodable rows in the batch.
        rows: usize,
        /// The bus's error.
        #[source]
        source: BusError,
    },
}

impl RelayError {
    /// Where the batch failed.
    #[must_use]
    pub fn stage(&self) -> Stage {
        match self {
            Self::Store { stage, .. } => *stage,
            Self::Publish { .. } => Stage::Publish,
            Self::DeadLetter { .. } => Stage::DeadLetter,
        }
    }
}

/// Moves claimed outbox rows to the events topic, or to the topic their route names.
#[derive(Clone)]
pub struct Relay {
    store: Store,
    publisher: Arc<dyn Publisher>,
    admin: Arc<dyn Admin>,
    topics: Topics,
    /// `<prefix>.events`, named once.
    events_topic: String,
    /// `<prefix>.dlq`, where rows that do not decode are reported.
    dlq_topic: String,
    batch_size: u32,
    /// Topics known to exist: those [`Relay::topics_at_start`] names, and routed ones created
    /// since. Shared by the relay's worker loops; never held across an await.
    ensured: Arc<Mutex<HashSet<String>>>,
}

impl Relay {
    /// A relay over `store` publishing with `publisher` under `topics`, at most `batch_size`
    /// rows per transaction. `admin` creates a routed row's topic the first time one goes
    /// there (other than the ones in [`Relay::topics_at_start`], which the caller ensures
    /// before relaying).
    #[must_use]
    pub fn new(
        store: Store,
        publisher: Arc<dyn Publisher>,
        admin: Arc<dyn Admin>,
        topics: Topics,
        batch_size: u32,
    ) -> Self {
        let ensured = Self::topics_at_start(&topics).into_iter().collect();
        Self {
            store,
            publisher,
            admin,
            events_topic: topics.events(),
            dlq_topic: topics.dlq(),
            topics,
            batch_size,
            ensured: Arc::new(Mutex::new(ensured)),
        }
    }

    /// The topics to create before relaying: events, DLQ, and config (the gateway's routed
    /// configuration changes).
    #[must_use]
    pub fn topics_at_start(topics: &Topics) -> Vec<String> {
        vec![topics.events(), topics.dlq(), topics.config()]
    }

    /// The topic a row goes to; borrowed for the events topic, so the common row costs no
    /// allocation.
    fn destination(&self, route: Option<&Route>) -> Cow<'_, str> {
        match route {
            None => Cow::Borrowed(&self.events_topic),
            Some(route) => Cow::Owned(self.topics.with_suffix(&route.topic_suffix)),
        }
    }

    /// Claims up to `batch_size` rows, publishes them in the order claimed (so one tenant's
    /// rows keep their sequence), waits for every acknowledgement, marks them and commits.
    /// Rows that do not decode are dead-lettered and set aside in the same transaction.
    /// Returns how many rows left the outbox (published or set aside); 0 means nothing was
    /// pending for this relay.
    ///
    /// On any error the batch is given back (the transaction rolled back): the rows, and the
    /// tenants this relay held, become claimable again, and no row is marked ahead of an
    /// unpublished one.
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        let started = Instant::now();
        let at = |stage: Stage| move |source: StoreError| RelayError::Store { stage, source };
        let mut batch = self
            .store
            .claim_outbox(self.batch_size)
            .await
            .map_err(at(Stage::Claim))?;
        if batch.claimed().is_empty() {
            // Nothing claimed, nothing held: committing is the cheapest way to end it.
            batch.commit().await.map_err(at(Stage::Claim))?;
            return Ok(0);
        }
        // Dead-letter first: if the DLQ refuses, nothing of the batch went out yet, so the
        // retry publishes no duplicates.
        if let Err(error) = self.publish_all(batch.claimed()).await {
            // Said explicitly rather than by dropping the batch, so a PostgreSQL connection
            // goes back to the pool clean instead of being closed.
            batch.release().await;
            return Err(error);
        }
        let acked = Utc::now();
        batch.mark().await.map_err(at(Stage::Mark))?;
        let claimed = batch.commit().await.map_err(at(Stage::Commit))?;
        for row in &claimed.undecodable {
            RowSetAside {
                row,
                dlq_topic: &self.dlq_topic,
            }
            .record();
        }
        let created: Vec<_> = claimed
            .entries
            .iter()
            .map(|entry| entry.created_at)
            .collect();
        BatchPublished {
            created: &created,
            acked,
            took: started.elapsed(),
        }
        .record();
        Ok(claimed.len())
    }

    /// Dead-letters the undecodable rows, then publishes the events, waiting for every
    /// acknowledgement.
    async fn publish_all(&self, claimed: &Claimed) -> Result<(), RelayError> {
        if !claimed.undecodable.is_empty() {
            let records = claimed
                .undecodable
                .iter()
                .map(|row| self.dead_letter_record(row))
                .collect();
            self.publisher
                .publish_batch(&self.dlq_topic, records)
                .await
                .map_err(|source| RelayError::DeadLetter {
                    rows: claimed.undecodable.len(),
                    source,
                })?;
        }
        let batches = self.by_topic(&claimed.entries);
        self.ensure_routed(&batches).await?;
        try_join_all(batches.into_iter().map(|(topic, messages)| async move {
            let events = messages.len();
            self.publisher
                .publish_batch(&topic, messages)
                .await
                .map_err(|source| RelayError::Publish {
                    topic,
                    events,
                    source,
                })
        }))
        .await?;
        Ok(())
    }

    /// The entries as records, grouped by destination topic, each topic's records in claim
    /// order. A routed record is the event as on the events topic (CloudEvents binary mode,
    /// same headers and value), keyed by the route's key instead of the tenant.
    fn by_topic(&self, entries: &[OutboxEntry]) -> Vec<(String, Vec<Message>)> {
        // A handful of topics at most: a list beats a map here.
        let mut batches: Vec<(String, Vec<Message>)> = Vec::new();
        for entry in entries {
            let topic = self.destination(entry.route.as_ref());
            let mut message = entry.event.to_binary();
            if let Some(route) = &entry.route {
                message.key = Some(Bytes::copy_from_slice(route.key.as_bytes()));
            }
            match batches.iter_mut().find(|(name, _)| *name == topic) {
                Some((_, messages)) => messages.push(message),
                None => batches.push((topic.into_owned(), vec![message])),
            }
        }
        batches
    }

    /// Creates the topics of `batches` not known to exist yet (a route to a new suffix), so
    /// a broker that does not create topics on first publish does not refuse them forever.
    async fn ensure_routed(&self, batches: &[(String, Vec<Message>)]) -> Result<(), RelayError> {
        let missing: Vec<String> = {
            let ensured = self
                .ensured
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            batches
                .iter()
                .map(|(topic, _)| topic)
                .filter(|topic| !ensured.contains(*topic))
                .cloned()
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let events = batches
            .iter()
            .filter(|(topic, _)| missing.contains(topic))
            .map(|(_, messages)| messages.len())
            .sum();
        self.admin
            .ensure_topics(&missing)
            .await
            .map_err(|source| RelayError::Publish {
                topic: missing.join(", "),
                events,
                source,
            })?;
        self.ensured
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(missing);
        Ok(())
    }

    /// What could be read of `row`, with the headers every DLQ record carries.
    fn dead_letter_record(&self, row: &UndecodableRow) -> Message {
        DeadLetter {
            reason: &row.error.to_string(),
            topic: &self.destination(row.route.as_ref()),
            attempts: 1,
            group: crate::SERVICE.name,
            origin: &format!("outbox@{}", row.seq),
        }
        .mark(row.record.clone())
    }

    /// Relays until shutdown: back to back while batches come back full, otherwise on the
    /// next `wake` or after `poll`. A batch in hand when shutdown starts is finished (or
    /// rolled back by its own failure) before this returns; none is abandoned half-way.
    pub async fn run(self, wake: Arc<Notify>, poll: Duration, shutdown: Shutdown) {
        let backoff = RetryPolicy {
            max_attempts: u32::MAX,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        };
        let full = usize::try_from(self.batch_size).unwrap_or(usize::MAX);
        let mut failures = 0u32;
        while !shutdown.is_triggered() {
            let started = Instant::now();
            let pause = match self.relay_once().await {
                Ok(published) => {
                    failures = 0;
                    if published >= full {
                        // More is waiting than one batch: recruit an idle sibling loop.
                        wake.notify_one();
                        continue;
                    }
                    None
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let retry_in = backoff.backoff(failures);
                    BatchFailed {
                        stage: error.stage(),
                        took: started.elapsed(),
                        error: &error,
                        attempt: failures,
                        retry_in,
                    }
                    .record();
                    Some(retry_in)
                }
            };
            match pause {
                Some(retry_in) => tokio::select! {
                    () = shutdown.triggered() => {}
                    () = tokio::time::sleep(retry_in) => {}
                },
                None => tokio::select! {
                    () = shutdown.triggered() => {}
                    () = wake.notified() => {}
                    () = tokio::time::sleep(poll) => {}
                },
            }
        }
        tracing::info!("outbox relay stopped");
    }
}
