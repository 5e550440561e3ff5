//! The kill schedule of the second phase, and the proof that each kill tested something.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, SystemTime},
};

use switchyard_integration_tests::cluster::Role;
use tokio::time::Instant;

use crate::{
    consumers::{FOLLOWERS, World},
    load::{Accepted, Path},
};

/// Who is killed, in this order, while the load runs.
pub(crate) const KILL_ORDER: [Role; 7] = [
    Role::Processor,
    Role::WebhookDispatcher,
    Role::AuditWriter,
    Role::OutboxRelay,
    Role::WebsocketGateway,
    Role::Ingest,
    Role::Gateway,
];
/// Load before the first kill, between a kill and the restart, after a restart before the
/// next kill, and after the last restart.
pub(crate) const LOAD_LEAD: Duration = Duration::from_secs(2);
pub(crate) const DOWNTIME: Duration = Duration::from_secs(1);
/// Members of the shared consumer groups come back only once the killed member's session
/// (6 s, `KafkaStage`) has expired. Restarted sooner, tansu 0.6 (sqlite) sometimes leaves the
/// group `Formed` with the new member as its only member and leader but an empty assignment,
/// and never rebalances: the restarted service consumes nothing, for good (seen for the
/// processor, the webhook-dispatcher and the audit writer; the broker's
/// `consumer_group_detail` shows `"assignments":{}`). A fault of the test broker, not of
/// Switchyard (a Kafka coordinator rebalances when the dead member's session expires).
pub(crate) const GROUP_MEMBER_DOWNTIME: Duration = Duration::from_secs(7);
pub(crate) const BETWEEN_KILLS: Duration = Duration::from_millis(1500);
pub(crate) const LOAD_TAIL: Duration = Duration::from_secs(3);

/// One kill: when, and what was going on.
pub(crate) struct Kill {
    pub(crate) role: Role,
    pub(crate) killed_at: Instant,
    pub(crate) back_at: Instant,
    pub(crate) back_wall: SystemTime,
}

/// Each kill must have hit a running load and left work for the restarted service.
pub(crate) async fn check_kills(world: &World<'_>, kills: &[Kill], load_stopped: Instant) {
    let (accepted, retried) = {
        let ledger = world.ctx.ledger();
        (ledger.accepted.clone(), ledger.retried.clone())
    };
    let audit = world.audit_rows().await;
    let deliveries = world.receiver.log(None).await.unwrap();
    let topic = world.topic_records();
    let last_on_topic: HashMap<(&str, &str), Instant> = topic
        .iter()
        .map(|r| ((r.tenant.as_str(), r.id.as_str()), r.at))
        .collect();
    let stored: HashMap<(&str, &str), SystemTime> = audit
        .iter()
        .map(|r| ((r.tenant.as_str(), r.id.as_str()), r.stored_at))
        .collect();
    let mut problems = Vec::new();
    for kill in kills {
        let role = kill.role;
        let window = |at: Instant| at >= kill.killed_at && at <= kill.back_at;
        let before = accepted
            .iter()
            .filter(|a| {
                a.at <= kill.killed_at && kill.killed_at - a.at <= Duration::from_millis(1500)
            })
            .count();
        let during = |path: Option<Path>| {
            accepted
                .iter()
                .filter(|a| window(a.at) && path.is_none_or(|p| a.path == p))
                .count()
        };
        let failed = |path: Path| {
            retried
                .iter()
                .filter(|r| {
                    r.path == path
                        && r.at >= kill.killed_at
                        && r.at <= kill.back_at + Duration::from_secs(1)
                })
                .count()
        };
        let accepted_before: Vec<&Accepted> =
            accepted.iter().filter(|a| a.at <= kill.killed_at).collect();
        // In flight: accepted before the kill, but finished by this service only after its
        // restart (so not by the process that was killed).
        let back_unix = kill
            .back_wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        // For the producers of the events topic: events accepted before the kill that went
        // on the topic (first or again) after the restart: the restarted process did (or
        // redid) work the killed one had not finished or not committed.
        let published_late = |path: Path| {
            accepted_before
                .iter()
                .filter(|a| a.path == path)
                .filter(|a| {
                    last_on_topic
                        .get(&(world.ctx.tenants[a.tenant].name.as_str(), a.id.as_str()))
                        .is_some_and(|at| *at > kill.back_at)
                })
                .count()
        };
        let (work_while_down, in_flight) = match role {
            Role::Ingest => (failed(Path::Webhook), None),
            Role::Gateway => (failed(Path::Publish), None),
            Role::OutboxRelay => (
                during(Some(Path::Publish)),
                Some(published_late(Path::Publish)),
            ),
            Role::Processor => (
                during(Some(Path::Webhook)),
                Some(published_late(Path::Webhook)),
            ),
            Role::AuditWriter => (
                during(None),
                Some(
                    accepted_before
                        .iter()
                        .filter(|a| {
                            stored
                                .get(&(world.ctx.tenants[a.tenant].name.as_str(), a.id.as_str()))
                                .is_some_and(|at| *at > kill.back_wall)
                        })
                        .count(),
                ),
            ),
            Role::WebhookDispatcher => {
                let before_ids: HashSet<&str> =
                    accepted_before.iter().map(|a| a.id.as_str()).collect();
                let late: HashSet<&str> = deliveries
                    .iter()
                    .filter(|d| d.received_at > back_unix)
                    .filter_map(|d| d.webhook_id.as_deref())
                    .filter(|id| before_ids.contains(id))
                    .collect();
                (during(None), Some(late.len()))
            }
            Role::WebsocketGateway => (during(None), None),
        };
        eprintln!(
            "[pipeline] kill {role}: down {:.2}s; accepted in the 1.5 s before: {before}; work \
             while down: {work_while_down}; in flight at the kill: {in_flight:?}",
            (kill.back_at - kill.killed_at).as_secs_f64()
        );
        if before == 0 {
            problems.push(format!(
                "{role} was killed while no load was flowing (nothing accepted in the 1.5 s before)"
            ));
        }
        if work_while_down == 0 {
            problems.push(format!(
                "{role} was down {:.2}s but no work for it arrived meanwhile (the kill proves \
                 nothing)",
                (kill.back_at - kill.killed_at).as_secs_f64()
            ));
        }
        // Asserted where a restart always leaves work over (a consumer group to rejoin); for
        // the processor and the relay it is reported only: they may finish everything in
        // hand in the last milliseconds, and the work that arrived while they were down
        // already proves the restart picked it up.
        let must_have_been_in_flight = matches!(role, Role::AuditWriter | Role::WebhookDispatcher);
        if must_have_been_in_flight && in_flight == Some(0) {
            problems.push(format!(
                "{role}: no event accepted before the kill was finished by it only after its \
                 restart (nothing was in flight)"
            ));
        }
        if load_stopped < kill.back_at + Duration::from_secs(1) {
            problems.push(format!("the load stopped too soon after {role} came back"));
        }
    }
    // Every WebSocket client lost its connection with the websocket-gateway and got events
    // on a connection opened after its restart.
    if let Some(kill) = kills.iter().find(|k| k.role == Role::WebsocketGateway) {
        for (t, fs) in world.followers.iter().enumerate() {
            for (f, follower) in fs.iter().enumerate() {
                let connections = follower.connections();
                let after = connections
                    .iter()
                    .filter(|c| c.opened_at >= kill.killed_at)
                    .map(|c| c.events.len())
                    .sum::<usize>();
                if connections.len() < 2 || after == 0 {
                    problems.push(format!(
                        "websocket client {} of {}: {} connections, {after} events after the \
                         websocket-gateway restart",
                        FOLLOWERS[f].0,
                        world.ctx.tenants[t].name,
                        connections.len()
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the kills did not test what they should:\n  - {}",
        problems.join("\n  - ")
    );
}
