use std::{fmt, time::Duration};

use serde::{Deserialize, Deserializer};

/// `[dispatcher]`: how webhook-dispatcher delivers events to endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DispatcherSettings {
    /// Deliver to private, loopback and link-local addresses (tests and `switchyard dev` only).
    pub allow_private_networks: bool,
    /// Waits between attempts, e.g. `"5s 5m 30m 2h 5h 10h 10h"`: one retry per entry, each
    /// through its own topic `<prefix>.deliveries.retry.<n>`; after the last the delivery is
    /// dead-lettered. Units `ms`, `s`, `m`, `h`, `d`.
    pub retry_schedule: RetrySchedule,
    /// Extra random wait added to each retry, as a fraction of its delay (0.1 = up to 10%
    /// later), so deliveries that failed together do not all come back in the same second.
    pub retry_jitter: f64,
    /// Milliseconds one HTTP attempt may take, connecting included.
    pub timeout_ms: u64,
    /// Requests in flight to one endpoint at once, per replica.
    pub endpoint_concurrency: u32,
    /// Milliseconds a partition waits for an attempt before handing it over to the retry
    /// topic and moving on: the most a slow endpoint can delay the next events of its tenant.
    pub inline_wait_ms: u64,
    /// Consecutive failures that open an endpoint's circuit: while open, its deliveries are
    /// not sent and move to their next retry.
    pub breaker_failures: u32,
    /// Seconds a circuit stays open before one probe request may test the endpoint again.
    pub breaker_cooldown_secs: u64,
    /// Seconds an endpoint may fail without a single success before it is disabled
    /// (`switchyard.endpoint.disabled`); 0 never disables for failing.
    pub disable_after_secs: u64,
    /// Most events handed to the dispatcher at once per partition.
    pub max_batch: usize,
}

impl Default for DispatcherSettings {
    fn default() -> Self {
        Self {
            allow_private_networks: false,
            retry_schedule: RetrySchedule::default(),
            retry_jitter: 0.1,
            timeout_ms: 15_000,
            endpoint_concurrency: 32,
            inline_wait_ms: 1_000,
            breaker_failures: 5,
            breaker_cooldown_secs: 30,
            disable_after_secs: 5 * 24 * 3600,
            max_batch: 256,
        }
    }
}

impl DispatcherSettings {
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, what: &str| Err((format!("dispatcher.{key}"), what.to_owned()));
        if !(0.0..=1.0).contains(&self.retry_jitter) {
            return bad("retry_jitter", "must be between 0 and 1");
        }
        if !(100..=300_000).contains(&self.timeout_ms) {
            return bad("timeout_ms", "must be between 100 and 300000");
        }
        if !(1..=10_000).contains(&self.endpoint_concurrency) {
            return bad("endpoint_concurrency", "must be between 1 and 10000");
        }
        if !(1..=300_000).contains(&self.inline_wait_ms) {
            return bad("inline_wait_ms", "must be between 1 and 300000");
        }
        if self.breaker_failures == 0 {
            return bad("breaker_failures", "must be at least 1");
        }
        if !(1..=86_400).contains(&self.breaker_cooldown_secs) {
            return bad("breaker_cooldown_secs", "must be between 1 and 86400");
        }
        if !(1..=10_000).contains(&self.max_batch) {
            return bad("max_batch", "must be between 1 and 10000");
        }
        Ok(())
    }
}

/// The waits between delivery attempts; see [`DispatcherSettings::retry_schedule`].
#[derive(Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

/// At least 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 28 hours of retries, so a
/// subscriber down for a day still gets everything.
impl Default for RetrySchedule {
    fn default() -> Self {
        Self(
            [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        )
    }
}

impl RetrySchedule {
    /// Parses `"5s 5m 30m"` (spaces or commas between entries).
    pub fn parse(text: &str) -> Result<Self, String> {
        let delays = text
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(parse_duration)
            .collect::<Result<Vec<_>, _>>()?;
        if delays.len() > 32 {
            return Err("at most 32 retries".into());
        }
        Ok(Self(delays))
    }

    /// The waits, first retry first.
    #[must_use]
    pub fn delays(&self) -> &[Duration] {
        &self.0
    }
}

fn parse_duration(entry: &str) -> Result<Duration, String> {
    let split = entry
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{entry:?} needs a unit: ms, s, m, h or d"))?;
    let (digits, unit) = entry.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{entry:?} does not start with a number"))?;
    let millis = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => {
            return Err(format!(
                "{entry:?} has unknown unit {unit:?}: use ms, s, m, h or d"
            ));
        }
    };
    match millis {
        Some(0) => Err(format!("{entry:?}: a retry must wait at least 1 ms")),
        Some(ms) => Ok(Duration::from_millis(ms)),
        None => Err(format!("{entry:?} is too long")),
    }
}

impl fmt::Debug for RetrySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

impl<'de> Deserialize<'de> for RetrySchedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_is_the_documented_one() {
        let parsed = RetrySchedule::parse("5s 5m 30m 2h 5h 10h 10h");
        assert_eq!(parsed, Ok(RetrySchedule::default()));
        assert_eq!(DispatcherSettings::default().validate(), Ok(()));
    }

    #[test]
    fn schedules_take_commas_and_milliseconds() {
        let parsed = RetrySchedule::parse("200ms,1s, 2m").map(|s| s.delays().to_vec());
        assert_eq!(
            parsed,
            Ok(vec![
                Duration::from_millis(200),
                Duration::from_secs(1),
                Duration::from_secs(120)
            ])
        );
        assert_eq!(RetrySchedule::parse("").map(|s| s.delays().len()), Ok(0));
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        let error = |s: &str| RetrySchedule::parse(s).err().unwrap_or_default();
        assert!(error("5").contains("needs a unit"));
        assert!(error("5y").contains("unknown unit"));
        assert!(error("0s").contains("at least 1 ms"));
        assert!(error("s").contains("does not start with a number"));
        assert!(error("99999999999999999d").contains("too long"));
    }
}
