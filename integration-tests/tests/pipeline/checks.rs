//! The assertions: a snapshot of every consumer against every accepted event.

use std::{
    collections::{HashMap, HashSet},
    fmt::Write as _,
};

use crate::{
    consumers::{AuditRow, ENDPOINTS, FOLLOWERS, Snapshot, TopicRecord, endpoint_name, wanted},
    load::{Accepted, Path, TenantInfo},
    ws_checks::check_stream,
};

/// What a check found: things still missing (may arrive yet) and things wrong.
#[derive(Default)]
pub(crate) struct Findings {
    pub(crate) missing: Vec<String>,
    pub(crate) wrong: Vec<String>,
    pub(crate) notes: Vec<String>,
}

/// At most this many lines per list in a failure message.
pub(crate) const LIST: usize = 12;

pub(crate) fn listed(items: &[String]) -> String {
    let mut out = items
        .iter()
        .take(LIST)
        .map(|i| format!("\n      {i}"))
        .collect::<String>();
    if items.len() > LIST {
        let _ = write!(out, "\n      ... and {} more", items.len() - LIST);
    }
    out
}

pub(crate) fn describe(a: &Accepted, tenants: &[TenantInfo]) -> String {
    format!(
        "{} {:?} #{} {} ({}{})",
        tenants[a.tenant].name,
        a.path,
        a.seq,
        a.id,
        a.event_type,
        if a.probe { ", probe" } else { "" }
    )
}

/// Checks `snap` against every accepted event. `calm`: nothing was killed, so no duplicate
/// on the topic or a stream, and one WebSocket connection per client.
#[allow(clippy::too_many_lines)]
pub(crate) fn check(
    snap: &Snapshot,
    accepted: &[Accepted],
    tenants: &[TenantInfo],
    calm: bool,
) -> Findings {
    let mut findings = Findings::default();
    let by_id: HashMap<(&str, &str), &Accepted> = accepted
        .iter()
        .map(|a| ((tenants[a.tenant].name.as_str(), a.id.as_str()), a))
        .collect();
    let tenant_index: HashMap<&str, usize> = tenants
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();

    // The ledger: one id per accepted request, never one id for two requests.
    let mut seen: HashMap<(usize, &str), &Accepted> = HashMap::new();
    for a in accepted {
        if let Some(other) = seen.insert((a.tenant, a.id.as_str()), a) {
            findings.wrong.push(format!(
                "two requests were answered with the same event id: {} and {}",
                describe(other, tenants),
                describe(a, tenants)
            ));
        }
    }

    // Audit store: exactly the accepted events, once each.
    let mut rows: HashMap<(&str, &str), Vec<&AuditRow>> = HashMap::new();
    for row in &snap.audit {
        rows.entry((row.tenant.as_str(), row.id.as_str()))
            .or_default()
            .push(row);
    }
    let mut missing = Vec::new();
    for a in accepted {
        match rows.get(&(tenants[a.tenant].name.as_str(), a.id.as_str())) {
            None => missing.push(describe(a, tenants)),
            Some(found) if found.len() > 1 => findings.wrong.push(format!(
                "audit store holds {} rows for {}",
                found.len(),
                describe(a, tenants)
            )),
            Some(found) if found[0].event_type != a.event_type => findings.wrong.push(format!(
                "audit store row of {} has type {}",
                describe(a, tenants),
                found[0].event_type
            )),
            Some(_) => {}
        }
    }
    if !missing.is_empty() {
        findings.missing.push(format!(
            "audit store lacks {} of {} accepted events:{}",
            missing.len(),
            accepted.len(),
            listed(&missing)
        ));
    }
    let unexpected: Vec<String> = snap
        .audit
        .iter()
        .filter(|r| !by_id.contains_key(&(r.tenant.as_str(), r.id.as_str())))
        .map(|r| format!("{} {} ({})", r.tenant, r.id, r.event_type))
        .collect();
    if !unexpected.is_empty() {
        findings.wrong.push(format!(
            "audit store holds {} rows of events nobody sent:{}",
            unexpected.len(),
            listed(&unexpected)
        ));
    }
    if snap.audit.len() != accepted.len() && missing.is_empty() && unexpected.is_empty() {
        findings.wrong.push(format!(
            "audit store has {} rows for {} accepted events",
            snap.audit.len(),
            accepted.len()
        ));
    }

    // Events topic: every accepted event, each tenant's pipelines in acceptance order.
    let mut on_topic: HashMap<(&str, &str), usize> = HashMap::new();
    let mut unexpected = Vec::new();
    for record in &snap.topic {
        if !tenant_index.contains_key(record.tenant.as_str()) {
            continue;
        }
        *on_topic
            .entry((record.tenant.as_str(), record.id.as_str()))
            .or_default() += 1;
        match by_id.get(&(record.tenant.as_str(), record.id.as_str())) {
            None => unexpected.push(format!(
                "{} {} ({})",
                record.tenant, record.id, record.event_type
            )),
            Some(a) if a.event_type != record.event_type => findings.wrong.push(format!(
                "events topic carries {} as type {}",
                describe(a, tenants),
                record.event_type
            )),
            Some(_) => {}
        }
    }
    if !unexpected.is_empty() {
        findings.wrong.push(format!(
            "events topic carries {} events nobody sent:{}",
            unexpected.len(),
            listed(&unexpected)
        ));
    }
    let missing: Vec<String> = accepted
        .iter()
        .filter(|a| !on_topic.contains_key(&(tenants[a.tenant].name.as_str(), a.id.as_str())))
        .map(|a| describe(a, tenants))
        .collect();
    if !missing.is_empty() {
        findings.missing.push(format!(
            "events topic lacks {} accepted events:{}",
            missing.len(),
            listed(&missing)
        ));
    }
    let doubled: Vec<String> = on_topic
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|((t, id), n)| format!("{t} {id} ×{n}"))
        .collect();
    if !doubled.is_empty() {
        if calm {
            findings.wrong.push(format!(
                "with nothing killed, the events topic carries {} events more than once:{}",
                doubled.len(),
                listed(&doubled)
            ));
        } else {
            findings.notes.push(format!(
                "{} events re-published on the topic (at-least-once after kills)",
                doubled.len()
            ));
        }
    }
    let topic_order = |records: Vec<&Accepted>| -> Option<String> {
        let mut last: HashMap<(usize, Path), &Accepted> = HashMap::new();
        let mut firsts = HashSet::new();
        for a in records {
            if !firsts.insert((a.tenant, a.id.as_str())) {
                continue;
            }
            if let Some(previous) = last.get(&(a.tenant, a.path))
                && previous.seq > a.seq
            {
                return Some(format!(
                    "{} came before {} although it was accepted after it",
                    describe(previous, tenants),
                    describe(a, tenants)
                ));
            }
            last.insert((a.tenant, a.path), a);
        }
        None
    };
    let topic_accepted: Vec<&Accepted> = snap
        .topic
        .iter()
        .filter_map(|r| by_id.get(&(r.tenant.as_str(), r.id.as_str())).copied())
        .collect();
    if let Some(problem) = topic_order(topic_accepted) {
        findings
            .wrong
            .push(format!("events topic out of order: {problem}"));
    }

    // Endpoints: at least once, verified, only what matches.
    let names: HashMap<String, (usize, usize)> = (0..tenants.len())
        .flat_map(|t| (0..ENDPOINTS.len()).map(move |e| (endpoint_name(t, e), (t, e))))
        .collect();
    let mut got: HashMap<(usize, usize), HashMap<&str, usize>> = HashMap::new();
    let mut bad = Vec::new();
    let mut wrong_target = Vec::new();
    for entry in &snap.deliveries {
        let Some(&(t, e)) = names.get(&entry.name) else {
            bad.push(format!("a request to an unknown path: {}", entry.path));
            continue;
        };
        let id = entry.webhook_id.as_deref().unwrap_or_default();
        let secret = t * ENDPOINTS.len() + e;
        // `status` is `None` only while the receiver is still answering.
        if !entry.verified
            || entry.matched_secret != Some(secret)
            || entry.status.is_some_and(|s| s != 200)
        {
            bad.push(format!(
                "{} got {id}: verified={} with secret #{:?} (its own is #{secret}), answered \
                 {:?}, error {:?}",
                entry.name, entry.verified, entry.matched_secret, entry.status, entry.error
            ));
        }
        match by_id.get(&(tenants[t].name.as_str(), id)) {
            None => {
                let other = by_id
                    .iter()
                    .find(|((_, other), _)| *other == id)
                    .map_or_else(
                        || "an event nobody sent".to_owned(),
                        |(_, a)| describe(a, tenants),
                    );
                wrong_target.push(format!(
                    "endpoint {} of {} got {id}: {other}",
                    ENDPOINTS[e].0, tenants[t].name
                ));
            }
            Some(a) if !wanted(ENDPOINTS[e].1, &a.event_type) => wrong_target.push(format!(
                "endpoint {} of {} (types {:?}) got {}",
                ENDPOINTS[e].0,
                tenants[t].name,
                ENDPOINTS[e].1,
                describe(a, tenants)
            )),
            Some(a) => {
                if entry.body["id"] != id
                    || entry.body["tenant"] != tenants[t].name.as_str()
                    || entry.body["type"] != a.event_type.as_str()
                {
                    bad.push(format!(
                        "{} got {} with body id {} tenant {} type {}",
                        entry.name,
                        describe(a, tenants),
                        entry.body["id"],
                        entry.body["tenant"],
                        entry.body["type"]
                    ));
                }
                *got.entry((t, e))
                    .or_default()
                    .entry(a.id.as_str())
                    .or_default() += 1;
            }
        }
    }
    if !bad.is_empty() {
        findings.wrong.push(format!(
            "{} deliveries not as they should be:{}",
            bad.len(),
            listed(&bad)
        ));
    }
    if !wrong_target.is_empty() {
        findings.wrong.push(format!(
            "{} deliveries to an endpoint that does not match the event (tenant or type):{}",
            wrong_target.len(),
            listed(&wrong_target)
        ));
    }
    let mut duplicates = 0;
    for t in 0..tenants.len() {
        for (e, (endpoint, types)) in ENDPOINTS.iter().enumerate() {
            let received = got.remove(&(t, e)).unwrap_or_default();
            duplicates += received.values().filter(|n| **n > 1).count();
            let missing: Vec<String> = accepted
                .iter()
                // Probes went out until the dispatcher had every endpoint: the early ones
                // may rightly have reached none.
                .filter(|a| a.tenant == t && !a.probe && wanted(*types, &a.event_type))
                .filter(|a| !received.contains_key(a.id.as_str()))
                .map(|a| describe(a, tenants))
                .collect();
            if !missing.is_empty() {
                findings.missing.push(format!(
                    "endpoint {endpoint} of {} lacks {} events:{}",
                    tenants[t].name,
                    missing.len(),
                    listed(&missing)
                ));
            }
        }
    }
    if duplicates > 0 {
        findings.notes.push(format!(
            "{duplicates} (endpoint, event) pairs delivered more than once (at least once)"
        ));
    }

    // WebSocket clients.
    if !snap.follower_refusals.is_empty() {
        findings.wrong.push(format!(
            "websocket upgrades refused:{}",
            listed(&snap.follower_refusals)
        ));
    }
    for (t, streams) in snap.streams.iter().enumerate() {
        let tenant = tenants[t].name.as_str();
        for (f, connections) in streams.iter().enumerate() {
            let (label, filter) = FOLLOWERS[f];
            let who = format!("websocket client {label} of {tenant}");
            let topic: Vec<&TopicRecord> = snap
                .topic
                .iter()
                .filter(|r| r.tenant == tenant && wanted(filter, &r.event_type))
                .collect();
            let expected: Vec<&Accepted> = accepted
                .iter()
                .filter(|a| a.tenant == t && !a.probe && wanted(filter, &a.event_type))
                .collect();
            check_stream(
                &who,
                tenant,
                filter,
                connections,
                &topic,
                &expected,
                &by_id,
                calm,
                &mut findings,
            );
        }
    }
    findings
}
