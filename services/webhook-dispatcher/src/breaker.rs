//! A per-endpoint circuit breaker: after `threshold` consecutive failures the endpoint gets
//! no requests for `cooldown`; then one probe request decides whether it closes again.
//!
//! Why: a dead endpoint would otherwise take a connection slot and a full timeout for every
//! delivery, and its retries would keep hammering it the moment it comes back.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// What the breaker lets through right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: send.
    Send,
    /// Half-open: send this one request as the probe; others wait for its outcome.
    Probe,
    /// Open: do not send.
    Refused,
}

/// The breaker's state, for the `circuit_state` gauge: 0 closed, 1 open, 2 half-open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Requests flow.
    Closed,
    /// Requests are refused until the cooldown ends.
    Open,
    /// One probe is in flight.
    HalfOpen,
}

impl State {
    /// The gauge value.
    #[must_use]
    pub fn as_gauge(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::Open => 1.0,
            Self::HalfOpen => 2.0,
        }
    }
}

#[derive(Debug)]
enum Inner {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probe_started: Instant },
}

/// See the module documentation.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    /// A probe that never reports back (its task was dropped) must not hold the breaker
    /// half-open forever: after this long another probe may go.
    probe_timeout: Duration,
    inner: Mutex<Inner>,
}

impl Breaker {
    /// A closed breaker opening after `threshold` consecutive failures.
    #[must_use]
    pub fn new(threshold: u32, cooldown: Duration, probe_timeout: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            probe_timeout,
            inner: Mutex::new(Inner::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Asks to send a request at `now`.
    pub fn admit(&self, now: Instant) -> Admission {
        let mut inner = self.lock();
        match *inner {
            Inner::Closed { .. } => Admission::Send,
            Inner::Open { until } if now < until => Admission::Refused,
            Inner::HalfOpen { probe_started }
                if now.duration_since(probe_started) < self.probe_timeout =>
            {
                Admission::Refused
            }
            Inner::Open { .. } | Inner::HalfOpen { .. } => {
                *inner = Inner::HalfOpen { probe_started: now };
                Admission::Probe
            }
        }
    }

    /// Records a successful request: the breaker closes.
    pub fn succeeded(&self) {
        *self.lock() = Inner::Closed { failures: 0 };
    }

    /// Records a failed request at `now`; returns true when this failure opened the circuit.
    pub fn failed(&self, now: Instant) -> bool {
        let mut inner = self.lock();
        let opens = match *inner {
            Inner::Closed { failures } => failures + 1 >= self.threshold,
            Inner::HalfOpen { .. } => true,
            // A request admitted before the circuit opened finished late: already open.
            Inner::Open { .. } => false,
        };
        if opens {
            *inner = Inner::Open {
                until: now + self.cooldown,
            };
        } else if let Inner::Closed { failures } = &mut *inner {
            *failures += 1;
        }
        opens
    }

    /// The current state.
    pub fn state(&self) -> State {
        match *self.lock() {
            Inner::Closed { .. } => State::Closed,
            Inner::Open { .. } => State::Open,
            Inner::HalfOpen { .. } => State::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(3, Duration::from_secs(30), Duration::from_secs(20))
    }

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures_only() {
        let b = breaker();
        let t = Instant::now();
        assert!(!b.failed(t));
        assert!(!b.failed(t));
        b.succeeded(); // a success in between resets the count
        assert!(!b.failed(t));
        assert!(!b.failed(t));
        assert_eq!(b.admit(t), Admission::Send);
        assert!(b.failed(t));
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.admit(t + Duration::from_secs(29)), Admission::Refused);
    }

    #[test]
    fn after_the_cooldown_one_probe_decides() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..3 {
            b.failed(t);
        }
        let later = t + Duration::from_secs(31);
        assert_eq!(b.admit(later), Admission::Probe);
        assert_eq!(b.admit(later), Admission::Refused, "one probe at a time");
        b.succeeded();
        assert_eq!(b.state(), State::Closed);
        assert_eq!(b.admit(later), Admission::Send);
    }

    #[test]
    fn a_failed_probe_opens_again_and_a_lost_probe_is_replaced() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..3 {
            b.failed(t);
        }
        let probe_at = t + Duration::from_secs(31);
        assert_eq!(b.admit(probe_at), Admission::Probe);
        assert!(b.failed(probe_at));
        assert_eq!(
            b.admit(probe_at + Duration::from_secs(1)),
            Admission::Refused
        );
        let next = probe_at + Duration::from_secs(31);
        assert_eq!(b.admit(next), Admission::Probe);
        // The probe never reports: after the probe timeout another one may go.
        assert_eq!(b.admit(next + Duration::from_secs(19)), Admission::Refused);
        assert_eq!(b.admit(next + Duration::from_secs(21)), Admission::Probe);
    }
}
