//! The consumers the test reads: the endpoints and their receiver, the WebSocket clients,
//! the events topic and the audit store; a snapshot of them all, and the warm-up that waits
//! until every endpoint and client gets events.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime},
};

use switchyard_domain::Event;
use switchyard_integration_tests::{
    cluster::Cluster,
    ws::{WsConnection, WsFollower},
};
use switchyard_testkit::receiver::{PyReceiver, Received};
use switchyard_testkit_bus::TopicReader;
use tokio::{task::JoinHandle, time::Instant};

use crate::{
    TENANTS,
    load::{Ctx, publish},
};

/// The endpoints of every tenant: id and `event_types` (`None`: every type).
pub(crate) const ENDPOINTS: [(&str, Option<&[&str]>); 3] = [
    ("all", None),
    (
        "payments",
        Some(&["razorpay.payment.*", "stripe.*", "invoice.*", "probe.*"]),
    ),
    (
        "fulfilment",
        Some(&[
            "github.*",
            "shopify.orders.*",
            "user.*",
            "order.created",
            "probe.*",
        ]),
    ),
];
/// The WebSocket clients of every tenant: label and `?types=` (`None`: no filter).
pub(crate) const FOLLOWERS: [(&str, Option<&[&str]>); 2] = [
    ("everything", None),
    (
        "payments",
        Some(&["razorpay.*", "stripe.*", "invoice.*", "probe.*"]),
    ),
];

pub(crate) fn endpoint_name(tenant: usize, endpoint: usize) -> String {
    format!("t{tenant}-{}", ENDPOINTS[endpoint].0)
}

/// `pattern` as the platform matches event types: segments separated by `.`, `*` is one
/// segment, and a trailing `*` one or more.
pub(crate) fn pattern_matches(pattern: &str, event_type: &str) -> bool {
    let want: Vec<&str> = pattern.split('.').collect();
    let got: Vec<&str> = event_type.split('.').collect();
    for (i, w) in want.iter().enumerate() {
        let Some(g) = got.get(i) else { return false };
        if *w == "*" && i == want.len() - 1 {
            return true;
        }
        if *w != "*" && w != g {
            return false;
        }
    }
    want.len() == got.len()
}

pub(crate) fn wanted(filter: Option<&[&str]>, event_type: &str) -> bool {
    filter.is_none_or(|patterns| patterns.iter().any(|p| pattern_matches(p, event_type)))
}

/// One record of the events topic, as the test's own consumer group read it.
#[derive(Debug, Clone)]
pub(crate) struct TopicRecord {
    pub(crate) tenant: String,
    pub(crate) id: String,
    pub(crate) event_type: String,
    /// When the test's reader got it.
    pub(crate) at: Instant,
}

/// Reads the events topic from its start in a group of its own, all the time.
pub(crate) fn follow_topic(cluster: &Cluster) -> (Arc<Mutex<Vec<TopicRecord>>>, JoinHandle<()>) {
    let records = Arc::new(Mutex::new(Vec::new()));
    let mut reader = TopicReader::start(
        &cluster.stage.bus,
        cluster.stage.topics().events(),
        |message| Event::from_message(message).map_err(|e| e.to_string()),
    );
    let sink = Arc::clone(&records);
    let task = tokio::spawn(async move {
        loop {
            if let Some(event) = reader.next_within(Duration::from_secs(1)).await {
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(TopicRecord {
                        tenant: event.tenant().as_str().to_owned(),
                        id: event.id().as_str().to_owned(),
                        event_type: event.event_type().as_str().to_owned(),
                        at: Instant::now(),
                    });
            }
        }
    });
    (records, task)
}

pub(crate) struct AuditRow {
    pub(crate) tenant: String,
    pub(crate) id: String,
    pub(crate) event_type: String,
    pub(crate) stored_at: SystemTime,
}

/// Everything the consumers hold at one moment.
pub(crate) struct Snapshot {
    pub(crate) audit: Vec<AuditRow>,
    pub(crate) deliveries: Vec<Received>,
    pub(crate) topic: Vec<TopicRecord>,
    /// `[tenant][follower]`.
    pub(crate) streams: Vec<Vec<Vec<WsConnection>>>,
    pub(crate) follower_refusals: Vec<String>,
}

pub(crate) struct World<'a> {
    pub(crate) cluster: &'a Cluster,
    pub(crate) ctx: Arc<Ctx>,
    pub(crate) receiver: PyReceiver,
    pub(crate) db: tokio_postgres::Client,
    pub(crate) topic: Arc<Mutex<Vec<TopicRecord>>>,
    /// `[tenant][follower]`.
    pub(crate) followers: Vec<Vec<WsFollower>>,
}

impl World<'_> {
    pub(crate) async fn audit_rows(&self) -> Vec<AuditRow> {
        let tenants: Vec<String> = self.ctx.tenants.iter().map(|t| t.name.clone()).collect();
        self.db
            .query(
                "SELECT tenant, id, type, stored_at FROM events WHERE tenant = ANY($1)",
                &[&tenants],
            )
            .await
            .unwrap_or_else(|e| panic!("audit store query: {e}"))
            .iter()
            .map(|row| AuditRow {
                tenant: row.get(0),
                id: row.get(1),
                event_type: row.get(2),
                stored_at: row.get(3),
            })
            .collect()
    }

    pub(crate) fn topic_records(&self) -> Vec<TopicRecord> {
        self.topic
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) async fn snapshot(&self) -> Snapshot {
        // WebSocket streams before the topic: a stream may only be checked against topic
        // records our reader has already seen.
        let streams = self
            .followers
            .iter()
            .map(|fs| fs.iter().map(WsFollower::connections).collect())
            .collect();
        let follower_refusals = self
            .followers
            .iter()
            .enumerate()
            .flat_map(|(t, fs)| {
                fs.iter().enumerate().flat_map(move |(f, follower)| {
                    follower
                        .refusals()
                        .into_iter()
                        .map(move |r| format!("tenant t{t} client {}: {r}", FOLLOWERS[f].0))
                })
            })
            .collect();
        let deliveries = self
            .receiver
            .log(None)
            .await
            .unwrap_or_else(|e| panic!("receiver log: {e:#}"));
        let audit = self.audit_rows().await;
        let topic = self.topic_records();
        Snapshot {
            audit,
            deliveries,
            topic,
            streams,
            follower_refusals,
        }
    }
}

/// Publishes a probe per tenant until every endpoint and WebSocket client of every tenant got
/// one: the dispatcher has every endpoint and each client's server-side consumer is reading.
pub(crate) async fn warm_up(world: &World<'_>, next_publish: &mut [u64]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ready = vec![false; TENANTS];
    let mut probes: Vec<HashSet<String>> = vec![HashSet::new(); TENANTS];
    while !ready.iter().all(|r| *r) {
        for t in 0..TENANTS {
            if !ready[t] {
                let probe = publish(&world.ctx, t, next_publish[t], true).await;
                next_publish[t] += 1;
                probes[t].insert(probe.id);
            }
        }
        let round = Instant::now();
        while round.elapsed() < Duration::from_secs(4) && !ready.iter().all(|r| *r) {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let log = world.receiver.log(None).await.unwrap();
            for t in 0..TENANTS {
                let endpoints = (0..ENDPOINTS.len()).all(|e| {
                    let name = endpoint_name(t, e);
                    log.iter().any(|r| {
                        r.name == name
                            && r.webhook_id
                                .as_ref()
                                .is_some_and(|id| probes[t].contains(id))
                    })
                });
                let streams = world.followers[t]
                    .iter()
                    .all(|f| f.event_ids().iter().any(|id| probes[t].contains(id)));
                ready[t] = endpoints && streams;
            }
        }
        assert!(
            Instant::now() < deadline,
            "not every endpoint and websocket client got a probe within 60 s: ready {ready:?}\n{}",
            world.cluster.log_report()
        );
    }
}
