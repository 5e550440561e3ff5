//! Deliveries waiting for their next attempt, as records on the retry topics.
//!
//! Retry `n` of the schedule waits on `<prefix>.deliveries.retry.<n>`: the event record
//! exactly as it came from `<prefix>.events` (key, `ce_*` headers, data) plus three headers
//! naming the endpoint, the attempt due and when. Every record of one retry topic waits the
//! same delay, so a partition's records fall due in the order they were written and its
//! consumer only ever waits for the record at its head: a delivery waiting ten hours holds
//! no memory and no partition of the main topic, and survives restarts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchyard_domain::Message;
use switchyard_runtime::settings::RetrySchedule;

// The record format is shared with the gateway, which schedules replays and redrives.
pub use switchyard_domain::redelivery::{ATTEMPT, DUE, ENDPOINT};

/// A delivery read back from a retry topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Endpoint id within the event's tenant.
    pub endpoint: String,
    /// Attempt number due.
    pub attempt: u32,
    /// When it is due.
    pub due: SystemTime,
}

/// Why a retry record cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("retry record header {header} is missing or malformed")]
pub struct Malformed {
    /// The header at fault.
    pub header: &'static str,
}

/// The event record `event`, scheduled for `pending`.
#[must_use]
pub fn encode(event: &Message, pending: &Pending) -> Message {
    switchyard_domain::redelivery::schedule(
        event,
        &pending.endpoint,
        pending.attempt,
        unix_millis(pending.due),
    )
}

/// Reads the schedule headers of a retry record; the rest of it is the event record.
pub fn decode(message: &Message) -> Result<Pending, Malformed> {
    let endpoint = message
        .headers
        .get_str(ENDPOINT)
        .filter(|s| !s.is_empty())
        .ok_or(Malformed { header: ENDPOINT })?;
    let attempt = message
        .headers
        .get_str(ATTEMPT)
        .and_then(|s| s.parse().ok())
        .filter(|n| *n >= 1)
        .ok_or(Malformed { header: ATTEMPT })?;
    let due = message
        .headers
        .get_str(DUE)
        .and_then(|s| s.parse::<u64>().ok())
        .map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
        .ok_or(Malformed { header: DUE })?;
    Ok(Pending {
        endpoint: endpoint.to_owned(),
        attempt,
        due,
    })
}

/// Milliseconds since the epoch (0 before it).
#[must_use]
pub fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The retry schedule with its jitter.
#[derive(Debug, Clone)]
pub struct Schedule {
    delays: Vec<Duration>,
    jitter: f64,
}

impl Schedule {
    /// The configured schedule.
    #[must_use]
    pub fn new(schedule: &RetrySchedule, jitter: f64) -> Self {
        Self {
            delays: schedule.delays().to_vec(),
            jitter: jitter.clamp(0.0, 1.0),
        }
    }

    /// Attempts in all: the first plus one per retry.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).map_or(u32::MAX, |n| n.saturating_add(1))
    }

    /// Retry topics in use: `1..=retries()`.
    #[must_use]
    pub fn retries(&self) -> u32 {
        self.attempts() - 1
    }

    /// The wait before attempt `next` (2 for the first retry), jitter added, or `None` when
    /// the schedule has no such attempt: the delivery is exhausted.
    #[must_use]
    pub fn delay_before(&self, next: u32) -> Option<Duration> {
        let index = usize::try_from(next.checked_sub(2)?).ok()?;
        let base = *self.delays.get(index)?;
        // Jitter only ever adds: the schedule's delays are minimums.
        Some(base + base.mul_f64(self.jitter * rand::random::<f64>()))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use switchyard_domain::Headers;

    use super::*;

    #[test]
    fn a_retry_record_is_the_event_record_plus_its_schedule() {
        let mut headers = Headers::new();
        headers.append("ce_id", Bytes::from_static(b"evt_1"));
        let event = Message {
            key: Some(Bytes::from_static(b"acme")),
            headers,
            payload: Bytes::from_static(b"{}"),
        };
        let pending = Pending {
            endpoint: "orders".into(),
            attempt: 3,
            due: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        };
        let record = encode(&event, &pending);
        assert_eq!(record.key, event.key);
        assert_eq!(record.payload, event.payload);
        assert_eq!(record.headers.get_str("ce_id"), Some("evt_1"));
        assert_eq!(decode(&record), Ok(pending.clone()));
        // A record retried again replaces its schedule rather than piling headers up.
        let again = encode(
            &record,
            &Pending {
                attempt: 4,
                ..pending
            },
        );
        assert_eq!(again.headers.len(), record.headers.len());
        assert_eq!(decode(&again).map(|p| p.attempt), Ok(4));
    }

    #[test]
    fn malformed_schedules_name_the_header() {
        let mut record = encode(
            &Message::default(),
            &Pending {
                endpoint: "orders".into(),
                attempt: 2,
                due: UNIX_EPOCH,
            },
        );
        record.headers.insert(ATTEMPT, Bytes::from_static(b"zero"));
        assert_eq!(decode(&record), Err(Malformed { header: ATTEMPT }));
        record.headers.remove(ENDPOINT);
        assert_eq!(decode(&record), Err(Malformed { header: ENDPOINT }));
    }

    #[test]
    fn the_schedule_counts_attempts_and_only_adds_jitter() {
        let schedule = Schedule::new(
            &RetrySchedule::parse("5s 5m").unwrap_or_else(|e| panic!("{e}")),
            0.1,
        );
        assert_eq!(schedule.attempts(), 3);
        assert_eq!(schedule.retries(), 2);
        assert_eq!(schedule.delay_before(1), None);
        for _ in 0..100 {
            let first = schedule.delay_before(2).unwrap_or_default();
            assert!((Duration::from_secs(5)..=Duration::from_millis(5_500)).contains(&first));
            let second = schedule.delay_before(3).unwrap_or_default();
            assert!((Duration::from_secs(300)..=Duration::from_secs(330)).contains(&second));
        }
        assert_eq!(
            schedule.delay_before(4),
            None,
            "exhausted after the last retry"
        );
    }
}
