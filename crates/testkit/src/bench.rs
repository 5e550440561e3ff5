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
