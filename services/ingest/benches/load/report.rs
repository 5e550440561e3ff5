//! The printed result: one Markdown table row per run as it finishes, then the ratios against
//! the baselines and the targets they are read against.

use std::time::Duration;

use crate::{cpu::CpuUse, outcomes::Summary, raw_producer::RawFigures};

/// p99 latency wanted at 80% of the ingest peak.
const P99_TARGET: Duration = Duration::from_millis(25);
/// CPU taken by processes outside the bench above which a run's figures are suspect.
const OTHER_CPU_TOLERATED: f64 = 0.15;

/// Prints the table header.
pub fn header() {
    println!(
        "| contender | load | answered 202 /s | non-202 | p50 | p99 | max | CPU cores: generator / server / broker / other / idle |"
    );
    println!("|---|---|---|---|---|---|---|---|");
}

/// The raw producer's row.
pub fn raw_row(raw: &RawFigures, in_flight: usize, cpu: CpuUse) {
    println!(
        "| **raw rdkafka producer** (baseline) | {} in flight | {} records | {} failed | | | | {} |",
        thousands(in_flight as f64),
        thousands(raw.acked_per_sec),
        raw.failed,
        cpu_cell(cpu),
    );
}

/// One HTTP run's row.
pub fn http_row(contender: &str, load: &str, summary: &Summary, cpu: CpuUse) {
    println!(
        "| {contender} | {load} | {} | {} | {} | {} | {} | {} |",
        thousands(summary.accepted_per_sec),
        refused(summary),
        millis(summary.p50),
        millis(summary.p99),
        millis(summary.max),
        cpu_cell(cpu),
    );
}

/// The best of several runs: the most 202s per second.
pub fn best(runs: &[(usize, Summary)]) -> (usize, Summary) {
    runs.iter()
        .max_by(|a, b| a.1.accepted_per_sec.total_cmp(&b.1.accepted_per_sec))
        .cloned()
        .unwrap_or_else(|| panic!("no closed-loop runs"))
}

/// The ratios and where they stand against the targets.
pub fn verdict(
    raw: &[(usize, RawFigures)],
    bare: &(usize, Summary),
    ingest: &(usize, Summary),
    at_load: &Summary,
    fraction: f64,
) {
    let (connections, peak) = (ingest.0, ingest.1.accepted_per_sec);
    let (raw_in_flight, raw_best) = raw
        .iter()
        .map(|(in_flight, figures)| (*in_flight, figures.acked_per_sec))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or_else(|| panic!("no raw producer runs"));
    println!();
    println!(
        "ingest peak / bare ceiling: {:.1}% ({} vs {} /s at {connections} and {} connections; target ≥ 60%)",
        peak / bare.1.accepted_per_sec * 100.0,
        thousands(peak),
        thousands(bare.1.accepted_per_sec),
        bare.0,
    );
    println!(
        "ingest peak / raw producer: {:.1}% ({} webhooks/s vs {} records/s at {raw_in_flight} in flight; target ≥ 90% where the broker is the limit)",
        peak / raw_best * 100.0,
        thousands(peak),
        thousands(raw_best),
    );
    if let Some((_, same)) = raw.iter().find(|(in_flight, _)| *in_flight == connections) {
        println!(
            "ingest peak / raw producer with as many in flight as connections ({connections}): {:.1}%",
            peak / same.acked_per_sec * 100.0,
        );
    }
    println!(
        "p99 at {:.0}% of the ingest peak: {} (target ≤ {}): {}",
        fraction * 100.0,
        millis(at_load.p99),
        millis(P99_TARGET),
        if at_load.p99 <= P99_TARGET {
            "met"
        } else {
            "NOT met"
        },
    );
}

/// The CPU split, flagged when something outside the bench competed for the cores.
fn cpu_cell(cpu: CpuUse) -> String {
    if cpu.other > OTHER_CPU_TOLERATED {
        format!("{cpu} **busy machine: figures suspect**")
    } else {
        cpu.to_string()
    }
}

fn refused(summary: &Summary) -> String {
    if summary.refused == 0 {
        "0".to_owned()
    } else {
        format!("{} ({})", summary.refused, summary.refused_by_status)
    }
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// `12345.6` → `12,346`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
