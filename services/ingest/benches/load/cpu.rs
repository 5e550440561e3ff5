//! Where the two cores went during a run: the load generator (this process), the server under
//! test, and everything else busy on the machine (in practice the broker), from Linux's
//! `/proc` tick counters.

use std::fmt;

/// Cumulative tick counters at one instant.
#[derive(Debug, Clone, Copy)]
pub struct CpuSnapshot {
    machine_busy: u64,
    machine_total: u64,
    generator: u64,
    server: u64,
    cores: u64,
}

impl CpuSnapshot {
    /// Reads the counters; `server` is the pid of the server under test, if any.
    pub fn take(server: Option<u32>) -> Self {
        let stat = std::fs::read_to_string("/proc/stat")
            .unwrap_or_else(|e| panic!("this bench reads /proc/stat (Linux only): {e}"));
        let (machine_busy, machine_total) = machine_ticks(&stat);
        let cores = stat
            .lines()
            .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
            .count() as u64;
        Self {
            machine_busy,
            machine_total,
            generator: process_ticks("self"),
            server: server.map_or(0, |pid| process_ticks(&pid.to_string())),
            cores: cores.max(1),
        }
    }

    /// Cores used by each party between `earlier` and now.
    pub fn since(&self, earlier: &Self) -> CpuUse {
        // Ticks of the whole machine per core: the wall time of the interval, in ticks.
        let wall = (self.machine_total - earlier.machine_total) as f64 / self.cores as f64;
        let cores = |ticks: u64| if wall > 0.0 { ticks as f64 / wall } else { 0.0 };
        let generator = self.generator.saturating_sub(earlier.generator);
        let server = self.server.saturating_sub(earlier.server);
        let busy = self.machine_busy.saturating_sub(earlier.machine_busy);
        CpuUse {
            generator: cores(generator),
            server: cores(server),
            rest: cores(busy.saturating_sub(generator + server)),
            idle: cores(self.machine_total - earlier.machine_total - busy),
        }
    }
}

/// Cores used over an interval.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    /// This process.
    pub generator: f64,
    /// The server under test.
    pub server: f64,
    /// Everything else busy: the broker, mostly.
    pub rest: f64,
    /// Nobody.
    pub idle: f64,
}

impl fmt::Display for CpuUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.2} / {:.2} / {:.2} / {:.2}",
            self.generator, self.server, self.rest, self.idle
        )
    }
}

/// (busy, total) over all cores from the `cpu` line: user nice system idle iowait irq
/// softirq steal …
fn machine_ticks(stat: &str) -> (u64, u64) {
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let total: u64 = fields.iter().sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// utime + stime of a process, its children excluded, in ticks; 0 once it is gone.
fn process_ticks(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name is in parentheses and may contain spaces; fields resume after it.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the file; the first after the name is field 3.
    [11, 12]
        .iter()
        .map(|&i| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}
