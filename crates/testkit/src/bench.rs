//! What the service benchmarks share: numeric command-line options and the broker to run on.

use std::{collections::HashMap, str::FromStr};

use crate::tansu::PrivateTansu;

/// `--name value` options of a bench binary, each a number with a default.
pub struct Options(HashMap<String, String>);

impl Options {
    /// Reads the process's arguments. Fails, naming `usage`, on an option not in `known` or
    /// one without a value; ignores the `--bench` cargo passes to every bench binary.
    #[must_use]
    pub fn from_args(known: &[&str], usage: &str) -> Self {
        let mut values = HashMap::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg == "--bench" {
                continue;
            }
            assert!(
                known.contains(&arg.as_str()),
                "unknown option {arg}; see {usage}"
            );
            let value = args
                .next()
                .unwrap_or_else(|| panic!("{arg} needs a value; see {usage}"));
            values.insert(arg, value);
        }
        Self(values)
    }

    /// The value of `name`, or `default` when it was not given.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> T {
        self.0.get(name).map_or(default, |value| {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{name} needs a number, got {value:?}"))
        })
    }
}

/// The broker a bench runs on: the one in `SWITCHYARD__BUS__KAFKA__BROKERS`, or else a fresh
/// tansu of its own, which lives as long as the returned guard.
pub async fn kafka_brokers() -> (String, Option<PrivateTansu>) {
    if let Ok(brokers) = std::env::var("SWITCHYARD__BUS__KAFKA__BROKERS") {
        return (brokers, None);
    }
    let tansu = PrivateTansu::start().await;
    (tansu.brokers(), Some(tansu))
}

/// User + system CPU seconds used by `/proc/<path>` (`self`, a pid, `self/task/<tid>`), from
/// its `stat` file; 0 when it cannot be read (the process has ended).
#[must_use]
pub fn cpu_seconds(path: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{path}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let Some(rest) = stat.rfind(')').and_then(|end| stat.get(end + 2..)) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    // After the command: state is field 0, utime 11, stime 12; USER_HZ is 100 on Linux.
    (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / 100.0
}

/// A child process of this one named `name` (which the kernel cuts to 15 bytes).
#[must_use]
pub fn child_pid(name: &str) -> Option<u32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let comm = &stat[stat.find('(')? + 1..stat.rfind(')')?];
        let parent = stat[stat.rfind(')')? + 2..].split_whitespace().nth(1)?;
        let named = comm == name || (comm.len() == 15 && name.starts_with(comm));
        (parent == me && named).then_some(pid)
    })
}
