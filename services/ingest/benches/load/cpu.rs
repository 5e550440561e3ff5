//! Where the cores went during a run: the load generator (this process), the server under
//! test, the broker (when it runs on this machine), and anything else busy (other builds or
//! tests would show up there and spoil the run), from Linux's `/proc` tick counters.

use std::{fmt, fs};

/// The processes to account for besides this one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parties {
    /// The server under test.
    pub server: Option<u32>,
    /// The broker, if it listens on this machine.
    pub broker: Option<u32>,
}

/// Cumulative tick counters at one instant.
#[derive(Debug, Clone, Copy)]
pub struct CpuSnapshot {
    machine_busy: u64,
    machine_interrupts: u64,
    machine_total: u64,
    generator: u64,
    server: u64,
    broker: u64,
    cores: u64,
}

impl CpuSnapshot {
    /// Reads the counters.
    pub fn take(parties: Parties) -> Self {
        let stat = fs::read_to_string("/proc/stat")
            .unwrap_or_else(|e| panic!("this bench reads /proc/stat (Linux only): {e}"));
        let (machine_busy, machine_interrupts, machine_total) = machine_ticks(&stat);
        let cores = stat
            .lines()
            .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
            .count() as u64;
        let ticks = |pid: Option<u32>| pid.map_or(0, |pid| process_ticks(&pid.to_string()));
        Self {
            machine_busy,
            machine_interrupts,
            machine_total,
            generator: process_ticks("self"),
            server: ticks(parties.server),
            broker: ticks(parties.broker),
            cores: cores.max(1),
        }
    }

    /// Cores used by each party between `earlier` and now.
    pub fn since(&self, earlier: &Self) -> CpuUse {
        let total = self.machine_total.saturating_sub(earlier.machine_total);
        // Ticks of the whole machine per core: the wall time of the interval, in ticks.
        let wall = total as f64 / self.cores as f64;
        let cores = |ticks: u64| if wall > 0.0 { ticks as f64 / wall } else { 0.0 };
        let generator = self.generator.saturating_sub(earlier.generator);
        let server = self.server.saturating_sub(earlier.server);
        let broker = self.broker.saturating_sub(earlier.broker);
        let busy = self.machine_busy.saturating_sub(earlier.machine_busy);
        // Loopback TCP is processed in softirqs, charged to no process: it belongs to the
        // parties, not to the others.
        let interrupts = self
            .machine_interrupts
            .saturating_sub(earlier.machine_interrupts);
        CpuUse {
            generator: cores(generator),
            server: cores(server),
            broker: cores(broker),
            other: cores(busy.saturating_sub(generator + server + broker + interrupts)),
            idle: cores(total.saturating_sub(busy)),
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
    /// The broker.
    pub broker: f64,
    /// Everything else busy (interrupt handling excluded).
    pub other: f64,
    /// Nobody.
    pub idle: f64,
}

impl fmt::Display for CpuUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.2} / {:.2} / {:.2} / {:.2} / {:.2}",
            self.generator, self.server, self.broker, self.other, self.idle
        )
    }
}

/// The pid of the process listening on `address` (`host:port`) if the host is this machine's
/// loopback: the socket's inode from `/proc/net/tcp{,6}`, then the process holding it.
pub fn listener_pid(address: &str) -> Option<u32> {
    let (host, port) = address.trim().rsplit_once(':')?;
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        return None;
    }
    let port = port.parse::<u16>().ok()?;
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| fs::read_to_string(table).ok())
        .find_map(|table| listening_inode(&table, port))?;
    let socket = format!("socket:[{inode}]");
    fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
        let holds = fs::read_dir(entry.path().join("fd"))
            .ok()?
            .flatten()
            .any(|fd| {
                fs::read_link(fd.path()).is_ok_and(|link| link.as_os_str() == socket.as_str())
            });
        holds.then_some(pid)
    })
}

/// The inode of the socket in state LISTEN (`0A`) on `port` in one `/proc/net/tcp` table.
fn listening_inode(table: &str, port: u16) -> Option<String> {
    let port = format!(":{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let listening = fields.get(1)?.ends_with(&port) && *fields.get(3)? == "0A";
        listening.then(|| fields.get(9).map(|inode| (*inode).to_owned()))?
    })
}

/// (busy, irq + softirq, total) over all cores from the `cpu` line: user nice system idle
/// iowait irq softirq steal …
fn machine_ticks(stat: &str) -> (u64, u64, u64) {
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
    let field = |i: usize| fields.get(i).copied().unwrap_or(0);
    (total - field(3) - field(4), field(5) + field(6), total)
}

/// utime + stime of a process, its children excluded, in ticks; 0 once it is gone.
fn process_ticks(pid: &str) -> u64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
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
