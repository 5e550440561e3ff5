//! CPU seconds per process from `/proc`: each service binary, the broker, this bench process
//! (load generator, endpoint receiver and WebSocket clients), PostgreSQL (every `postgres`
//! process on the machine, shared with whoever else uses the server), and the whole
//! machine, so that what other processes used during the window shows.

use std::{collections::HashMap, time::Instant};

use switchyard_integration_tests::cluster::Role;
use switchyard_testkit::bench::{child_pid, cpu_seconds};

/// USER_HZ on Linux.
const TICKS_PER_SEC: f64 = 100.0;

/// One party whose CPU is read.
#[derive(Debug, Clone)]
pub struct Party {
    /// Its label in the report.
    pub name: String,
    pids: Vec<u32>,
}

/// The parties of a run.
pub fn parties(extra_name: &str) -> Vec<Party> {
    let mut parties: Vec<Party> = Role::ALL
        .iter()
        .map(|role| Party {
            name: role.to_string(),
            pids: child_pid(role.binary()).into_iter().collect(),
        })
        .collect();
    parties.push(Party {
        name: "broker (tansu)".to_owned(),
        pids: child_pid("tansu").into_iter().collect(),
    });
    parties.push(Party {
        name: "PostgreSQL (all `postgres` processes)".to_owned(),
        pids: pids_named("postgres"),
    });
    parties.push(Party {
        name: extra_name.to_owned(),
        pids: vec![std::process::id()],
    });
    parties
}

fn pids_named(name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (comm.trim() == name).then_some(pid)
        })
        .collect()
}

/// CPU seconds of every party (and of each of its threads) and of the machine at one
/// instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    at: Instant,
    parties: Vec<f64>,
    /// Per party: thread id → (thread name, CPU seconds).
    threads: Vec<HashMap<String, (String, f64)>>,
    machine_busy: f64,
}

impl Snapshot {
    /// Reads them now. PostgreSQL backends come and go; their sum is re-read each time.
    pub fn take(parties: &[Party]) -> Self {
        Self {
            at: Instant::now(),
            parties: parties
                .iter()
                .map(|p| p.pids.iter().map(|pid| cpu_seconds(&pid.to_string())).sum())
                .collect(),
            threads: parties.iter().map(threads).collect(),
            machine_busy: machine_busy_seconds(),
        }
    }
}

/// The threads of a party's processes (one process only: a party of many processes, the
/// PostgreSQL backends, is not broken down).
fn threads(party: &Party) -> HashMap<String, (String, f64)> {
    let [pid] = party.pids[..] else {
        return HashMap::new();
    };
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return HashMap::new();
    };
    entries
        .filter_map(|entry| {
            let tid = entry.ok()?.file_name().to_str()?.to_owned();
            let path = format!("{pid}/task/{tid}");
            let name = std::fs::read_to_string(format!("/proc/{path}/comm")).ok()?;
            Some((tid, (name.trim().to_owned(), cpu_seconds(&path))))
        })
        .collect()
}

/// Cores each party used between two snapshots, and the machine as a whole.
#[derive(Debug, Clone)]
pub struct Usage {
    /// Party label and cores.
    pub parties: Vec<(String, f64)>,
    /// Per party, its busiest threads by name (threads of one name summed): name, cores.
    pub threads: Vec<Vec<(String, f64)>>,
    /// Cores busy on the whole machine.
    pub machine: f64,
    /// Wall seconds between the snapshots.
    pub seconds: f64,
}

impl Usage {
    /// Between `start` and `end`.
    pub fn between(parties: &[Party], start: &Snapshot, end: &Snapshot) -> Self {
        let seconds = (end.at - start.at).as_secs_f64().max(1e-9);
        Self {
            parties: parties
                .iter()
                .zip(start.parties.iter().zip(&end.parties))
                .map(|(p, (a, b))| (p.name.clone(), (b - a).max(0.0) / seconds))
                .collect(),
            threads: start
                .threads
                .iter()
                .zip(&end.threads)
                .map(|(before, after)| {
                    let mut by_name: HashMap<String, f64> = HashMap::new();
                    for (tid, (name, secs)) in after {
                        let was = before.get(tid).map_or(0.0, |(_, s)| *s);
                        *by_name.entry(name.clone()).or_default() += (secs - was).max(0.0);
                    }
                    let mut busiest: Vec<(String, f64)> = by_name
                        .into_iter()
                        .map(|(name, secs)| (name, secs / seconds))
                        .filter(|(_, cores)| *cores >= 0.01)
                        .collect();
                    busiest.sort_by(|a, b| b.1.total_cmp(&a.1));
                    busiest.truncate(4);
                    busiest
                })
                .collect(),
            machine: (end.machine_busy - start.machine_busy).max(0.0) / seconds,
            seconds,
        }
    }

    /// Cores of the machine not used by any party: other processes.
    pub fn others(&self) -> f64 {
        (self.machine - self.parties.iter().map(|(_, c)| c).sum::<f64>()).max(0.0)
    }
}

/// Busy CPU seconds of the whole machine since boot (all but idle and iowait).
fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next() else {
        return 0.0;
    };
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy: f64 = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    busy / TICKS_PER_SEC
}

/// The 1-minute load average.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}
