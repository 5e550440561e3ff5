//! What a load run observed: answers by status and the latency of each, merged across the
//! load generator's tasks once the run is over (no shared state on the hot path).

use std::{collections::BTreeMap, fmt, time::Duration};

/// Answers seen by one task, or by all of them once merged.
#[derive(Debug, Default)]
pub struct Outcomes {
    accepted: u64,
    /// Non-202 answers by status; `0` counts transport errors and timeouts.
    refused: BTreeMap<u16, u64>,
    latencies: Vec<Duration>,
}

impl Outcomes {
    /// One answer (`None` for a transport error) after `latency`.
    pub fn record(&mut self, status: Option<u16>, latency: Duration) {
        match status {
            Some(202) => self.accepted += 1,
            other => *self.refused.entry(other.unwrap_or(0)).or_default() += 1,
        }
        self.latencies.push(latency);
    }

    /// Folds another task's outcomes into these.
    pub fn merge(&mut self, other: Self) {
        self.accepted += other.accepted;
        for (status, count) in other.refused {
            *self.refused.entry(status).or_default() += count;
        }
        self.latencies.extend(other.latencies);
    }

    /// Latency percentiles and accepted rate over a window of `seconds`.
    pub fn summary(mut self, seconds: f64) -> Summary {
        self.latencies.sort_unstable();
        let at = |permille: usize| {
            let n = self.latencies.len();
            self.latencies
                .get((n * permille / 1000).min(n.saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Summary {
            accepted_per_sec: self.accepted as f64 / seconds,
            refused: self.refused.values().sum(),
            p50: at(500),
            p99: at(990),
            max: self.latencies.last().copied().unwrap_or_default(),
            refused_by_status: RefusedByStatus(self.refused),
        }
    }
}

/// The figures of one run.
#[derive(Debug, Clone)]
pub struct Summary {
    /// 202 answers per second.
    pub accepted_per_sec: f64,
    /// Every other answer, errors included.
    pub refused: u64,
    /// The same, by status.
    pub refused_by_status: RefusedByStatus,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Worst latency.
    pub max: Duration,
}

/// Non-202 answers by status, printed as `503×12, error×3`.
#[derive(Debug, Clone, Default)]
pub struct RefusedByStatus(BTreeMap<u16, u64>);

impl fmt::Display for RefusedByStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (status, count)) in self.0.iter().enumerate() {
            let separator = if i == 0 { "" } else { ", " };
            match status {
                0 => write!(f, "{separator}error×{count}")?,
                status => write!(f, "{separator}{status}×{count}")?,
            }
        }
        Ok(())
    }
}
