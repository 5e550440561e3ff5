//! The assertions on one WebSocket client: its connections against the events topic.

use std::collections::{HashMap, HashSet};

use switchyard_integration_tests::ws::WsConnection;

use crate::{
    checks::{Findings, listed},
    consumers::{TopicRecord, wanted},
    load::{Accepted, Path},
};

/// One WebSocket client's connections against its tenant's (filtered) topic records.
#[allow(clippy::too_many_arguments, clippy::too_many_lines)]
pub(crate) fn check_stream(
    who: &str,
    tenant: &str,
    filter: Option<&[&str]>,
    connections: &[WsConnection],
    topic: &[&TopicRecord],
    expected: &[&Accepted],
    by_id: &HashMap<(&str, &str), &Accepted>,
    calm: bool,
    findings: &mut Findings,
) {
    let tenants_note = |id: &str| {
        by_id
            .iter()
            .find(|((_, other), _)| *other == id)
            .map_or_else(
                || "nobody sent it".to_owned(),
                |((t, _), a)| format!("{t} {:?} #{} {}", a.path, a.seq, a.event_type),
            )
    };
    let mut received: HashMap<&str, usize> = HashMap::new();
    let mut excused: HashSet<&str> = HashSet::new();
    let mut order: Vec<&Accepted> = Vec::new();
    let mut windows_ok = true;
    let mut prev_end: Option<usize> = None;
    if connections.is_empty() {
        findings.missing.push(format!("{who} never connected"));
        return;
    }
    if calm && connections.len() > 1 {
        findings.wrong.push(format!(
            "{who} had {} connections with nothing killed: {:?}",
            connections.len(),
            connections.iter().map(|c| &c.ended).collect::<Vec<_>>()
        ));
    }
    for (k, connection) in connections.iter().enumerate() {
        let ids: Vec<&str> = connection
            .events
            .iter()
            .map(|e| e["id"].as_str().unwrap_or_default())
            .collect();
        for event in &connection.events {
            let id = event["id"].as_str().unwrap_or_default();
            let event_type = event["type"].as_str().unwrap_or_default();
            if event["tenant"] != tenant {
                findings.wrong.push(format!(
                    "{who} received {id} of tenant {} ({})",
                    event["tenant"],
                    tenants_note(id)
                ));
            } else if !wanted(filter, event_type) {
                findings.wrong.push(format!(
                    "{who} (types {filter:?}) received {id} of type {event_type}"
                ));
            } else if let Some(a) = by_id.get(&(tenant, id)) {
                order.push(a);
            } else {
                findings
                    .wrong
                    .push(format!("{who} received {id} ({event_type}) nobody sent"));
            }
        }
        if k == 0 && connection.since.is_some() {
            findings.wrong.push(format!(
                "{who}: its first connection resumed from something"
            ));
        }
        if connection.gap.is_some() && connection.gap_position > 0 {
            findings.wrong.push(format!(
                "{who}: connection #{k} got its switchyard.gap after {} events",
                connection.gap_position
            ));
        }
        if calm && connection.gap.is_some() {
            findings.wrong.push(format!(
                "{who}: a switchyard.gap with nothing killed: {:?}",
                connection.gap
            ));
        }
        if let Some(control) = connection
            .controls
            .iter()
            .find(|c| c["type"] != "switchyard.subscribed")
        {
            findings
                .wrong
                .push(format!("{who}: connection #{k} got {control}"));
        }
        if ids.is_empty() {
            continue;
        }
        // Where in the topic this connection's run starts: never before the previous end.
        let low = prev_end.map_or(0, |end| end + 1);
        let fits = |start: usize| {
            start + ids.len() <= topic.len()
                && topic[start..start + ids.len()]
                    .iter()
                    .zip(&ids)
                    .all(|(r, id)| r.id == *id)
        };
        let Some(start) = (low..topic.len()).find(|&s| fits(s)) else {
            windows_ok = false;
            let diagnosis = match (low..topic.len()).find(|&s| topic[s].id == ids[0]) {
                None => format!(
                    "its first event {} ({}) is not on the topic after position {low} (next \
                     there: {:?})",
                    ids[0],
                    tenants_note(ids[0]),
                    topic.get(low).map(|r| &r.id)
                ),
                Some(s) => {
                    let j = (0..ids.len())
                        .find(|&j| topic.get(s + j).is_none_or(|r| r.id != ids[j]))
                        .unwrap_or(0);
                    format!(
                        "after {} it received {} ({}) where the topic has {:?} next",
                        ids[j.saturating_sub(1)],
                        ids[j],
                        tenants_note(ids[j]),
                        topic.get(s + j).map(|r| (&r.id, &r.event_type))
                    )
                }
            };
            findings.wrong.push(format!(
                "{who}: connection #{k} (since {:?}, {} events) is not a contiguous run of the \
                 tenant's events-topic records: {diagnosis}",
                connection.since,
                ids.len()
            ));
            // What it did receive still counts; the next connection is looked for from here.
            for id in &ids {
                *received.entry(id).or_default() += 1;
            }
            continue;
        };
        let skipped: Vec<&str> = topic[low..start].iter().map(|r| r.id.as_str()).collect();
        if k == 0 {
            // Before its first event: only probes (the load starts after every client got one).
            let early: Vec<String> = skipped
                .iter()
                .filter(|id| by_id.get(&(tenant, **id)).is_some_and(|a| !a.probe))
                .map(|id| (*id).to_owned())
                .collect();
            if !early.is_empty() {
                findings.wrong.push(format!(
                    "{who}: its first connection started after load events:{}",
                    listed(&early)
                ));
            }
        } else if connection.gap.is_some() {
            excused.extend(skipped.iter().copied());
            findings.notes.push(format!(
                "{who}: connection #{k} resumed after a switchyard.gap; {} records in between \
                 (in the audit store, to refetch)",
                skipped.len()
            ));
        } else {
            let lost: Vec<String> = skipped
                .iter()
                .filter(|id| !received.contains_key(**id))
                .map(|id| format!("{id} ({})", tenants_note(id)))
                .collect();
            if !lost.is_empty() {
                findings.wrong.push(format!(
                    "{who}: connection #{k} resumed after {:?} without a switchyard.gap, but \
                     {} events in between never reached it:{}",
                    connection.since,
                    lost.len(),
                    listed(&lost)
                ));
            }
        }
        for id in &ids {
            *received.entry(id).or_default() += 1;
        }
        prev_end = Some(start + ids.len() - 1);
    }
    if !windows_ok {
        // Without the runs, anything not received counts as missing.
        excused.clear();
    }
    let missing: Vec<String> = expected
        .iter()
        .filter(|a| !received.contains_key(a.id.as_str()) && !excused.contains(a.id.as_str()))
        .map(|a| format!("{:?} #{} {} ({})", a.path, a.seq, a.id, a.event_type))
        .collect();
    if !missing.is_empty() {
        findings.missing.push(format!(
            "{who} lacks {} events:{}",
            missing.len(),
            listed(&missing)
        ));
    }
    let doubled: Vec<String> = received
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, n)| format!("{id} ×{n}"))
        .collect();
    if calm && !doubled.is_empty() {
        findings.wrong.push(format!(
            "{who} received {} events more than once with nothing killed:{}",
            doubled.len(),
            listed(&doubled)
        ));
    }
    // Order: first occurrences, per pipeline, in acceptance order.
    let mut firsts = HashSet::new();
    let mut last: HashMap<Path, &Accepted> = HashMap::new();
    for a in order {
        if !firsts.insert(a.id.as_str()) {
            continue;
        }
        if let Some(previous) = last.get(&a.path)
            && previous.seq > a.seq
        {
            findings.wrong.push(format!(
                "{who} received {:?} #{} {} after #{} {} although it was accepted before it",
                a.path, a.seq, a.id, previous.seq, previous.id
            ));
            break;
        }
        last.insert(a.path, a);
    }
}
