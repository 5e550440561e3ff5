//! Waiting until everything has arrived everywhere, then the checks and the failure report.

use std::{fmt::Write as _, time::Duration};

use tokio::time::Instant;

use crate::{
    checks::{Findings, check},
    consumers::{FOLLOWERS, World},
};

/// How long everything may take to arrive everywhere once the load stopped.
pub(crate) const SETTLE: Duration = Duration::from_secs(40);
/// Everything must have been quiet on the events topic this long before the final look.
pub(crate) const QUIET: Duration = Duration::from_millis(1500);

/// Waits until nothing is missing anywhere (or `SETTLE` passed) and the topic has been quiet,
/// then checks everything and fails with the whole list of findings.
pub(crate) async fn settle_and_verify(world: &World<'_>, phase: &str, calm: bool) -> Findings {
    let accepted = world.ctx.accepted();
    let started = Instant::now();
    loop {
        let snap = world.snapshot().await;
        let findings = check(&snap, &accepted, &world.ctx.tenants, calm);
        if findings.missing.is_empty() || started.elapsed() > SETTLE {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Quiet: no new record on the topic for a while (late re-publishes have landed).
    let mut count = world.topic_records().len();
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < QUIET {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = world.topic_records().len();
        if now != count {
            count = now;
            quiet_since = Instant::now();
        }
    }
    let snap = world.snapshot().await;
    let findings = check(&snap, &accepted, &world.ctx.tenants, calm);
    eprintln!(
        "[pipeline] {phase}: settled {:.1}s after the load; {} accepted, {} audit rows, {} topic \
         records, {} deliveries",
        started.elapsed().as_secs_f64(),
        accepted.len(),
        snap.audit.len(),
        snap.topic.len(),
        snap.deliveries.len()
    );
    if !findings.missing.is_empty() || !findings.wrong.is_empty() {
        let mut message = format!(
            "{phase}: {} things still missing {:.1}s after the load stopped (waited up to \
             {SETTLE:?}), {} wrong\n",
            findings.missing.len(),
            started.elapsed().as_secs_f64(),
            findings.wrong.len()
        );
        for line in findings.missing.iter().chain(&findings.wrong) {
            let _ = writeln!(message, "  - {line}");
        }
        for line in &findings.notes {
            let _ = writeln!(message, "  (note) {line}");
        }
        for (t, fs) in world.followers.iter().enumerate() {
            for (f, follower) in fs.iter().enumerate() {
                let connections = follower.connections();
                let _ = writeln!(
                    message,
                    "  websocket client {} of {}: {} failed attempts, connections: {:?}",
                    FOLLOWERS[f].0,
                    world.ctx.tenants[t].name,
                    follower.failed_attempts(),
                    connections
                        .iter()
                        .map(|c| (
                            c.since.clone(),
                            c.events.len(),
                            c.gap.is_some(),
                            c.ended.clone()
                        ))
                        .collect::<Vec<_>>()
                );
            }
        }
        let _ = writeln!(
            message,
            "\ndatabase {} is kept for inspection\nservice health:\n{}\nconsumer groups:\n{}\nservice logs:\n{}",
            world.cluster.database.name,
            world.cluster.health_report().await,
            world.cluster.group_report().await,
            world.cluster.log_report()
        );
        panic!("{message}");
    }
    findings
}
