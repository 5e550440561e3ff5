//! One connection as the fan-out sees it: a bounded queue it offers messages to without ever
//! waiting, and a stop signal that carries why the connection must end.

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicBool, Ordering},
};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::frame::{self, Outbound};

/// Why the server ends a connection, with its WebSocket close code.
///
/// | code | meaning | what the client should do |
/// |---|---|---|
/// | 1000 | normal closure (the client asked) | — |
/// | 1008 | the client broke the protocol (binary or oversized frames) | fix the client |
/// | 1012 | service restart (replica draining) | reconnect (another replica answers) with `?since=` |
/// | 4001 | the token expired | reconnect with a fresh token and `?since=` |
/// | 4008 | fell behind: its queue filled | reconnect with `?since=`; read faster or filter more |
/// | 4009 | idle: no pong or message within the idle timeout | reconnect |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed.
    Normal,
    /// Binary, oversized or malformed frames.
    ProtocolError,
    /// The replica is shutting down.
    Restart,
    /// The token's `exp` passed.
    TokenExpired,
    /// The queue filled.
    SlowConsumer,
    /// No pong within the idle timeout.
    Idle,
}

impl CloseReason {
    /// The WebSocket close code.
    #[must_use]
    pub fn code(self) -> u16 {
        match self {
            Self::Normal => 1000,
            Self::ProtocolError => 1008,
            Self::Restart => 1012,
            Self::TokenExpired => 4001,
            Self::SlowConsumer => 4008,
            Self::Idle => 4009,
        }
    }

    /// The metric label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::ProtocolError => "protocol_error",
            Self::Restart => "restart",
            Self::TokenExpired => "token_expired",
            Self::SlowConsumer => "slow",
            Self::Idle => "idle",
        }
    }

    /// The close reason text.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::ProtocolError => "protocol error",
            Self::Restart => "service restart",
            Self::TokenExpired => "token expired",
            Self::SlowConsumer => "too slow: queue full",
            Self::Idle => "idle timeout",
        }
    }
}

/// What happened to an offered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Queued.
    Queued,
    /// The queue was full: the connection has been told to stop ([`CloseReason::SlowConsumer`]).
    Overflowed,
    /// The connection is gone or stopping.
    Gone,
}

/// The fan-out's end of one connection. Shared by its index entries; cheap to clone.
#[derive(Debug)]
pub struct Link {
    tx: mpsc::Sender<Outbound>,
    capacity: usize,
    lagging: AtomicBool,
    stop: CancellationToken,
    reason: OnceLock<CloseReason>,
}

impl Link {
    /// A link with a queue of `capacity` messages; the connection reads the receiver and
    /// watches [`Link::stopped`]. `stop` is a child of the service's shutdown token, so a
    /// drain stops every connection.
    #[must_use]
    pub fn new(capacity: usize, stop: CancellationToken) -> (Arc<Self>, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(capacity);
        let link = Arc::new(Self {
            tx,
            capacity,
            lagging: AtomicBool::new(false),
            stop,
            reason: OnceLock::new(),
        });
        (link, rx)
    }

    /// Offers `message` without waiting. Past half the capacity the client is warned once
    /// (`switchyard.lagging`) per episode; when the queue is full the connection is stopped.
    pub fn offer(&self, message: Outbound) -> Offer {
        if self.stop.is_cancelled() {
            return Offer::Gone;
        }
        match self.tx.try_send(message) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stop_with(CloseReason::SlowConsumer);
                return Offer::Overflowed;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return Offer::Gone,
        }
        let queued = self.queued();
        if queued * 2 >= self.capacity {
            if !self.lagging.swap(true, Ordering::Relaxed) {
                let warning = Outbound::Control(frame::lagging(queued, self.capacity));
                if self.tx.try_send(warning).is_err() {
                    self.stop_with(CloseReason::SlowConsumer);
                    return Offer::Overflowed;
                }
            }
        } else if queued * 4 < self.capacity {
            self.lagging.store(false, Ordering::Relaxed);
        }
        Offer::Queued
    }

    /// Messages waiting in the queue.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.capacity - self.tx.capacity()
    }

    /// Stops the connection for `reason` (the first reason given wins).
    pub fn stop_with(&self, reason: CloseReason) {
        let _ = self.reason.set(reason);
        self.stop.cancel();
    }

    /// Completes when the connection must stop.
    pub async fn stopped(&self) {
        self.stop.cancelled().await;
    }

    /// Whether the connection must stop.
    #[must_use]
    pub fn is_stopped(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Why it stopped: the reason given, or a restart when the service's shutdown stopped it.
    #[must_use]
    pub fn reason(&self) -> CloseReason {
        self.reason.get().copied().unwrap_or(CloseReason::Restart)
    }
}

#[cfg(test)]
mod tests {
    use bytestring::ByteString;

    use super::*;

    fn msg() -> Outbound {
        Outbound::Control(ByteString::from_static("{}"))
    }

    #[tokio::test]
    async fn a_full_queue_warns_once_then_stops_the_connection() {
        let (link, mut rx) = Link::new(8, CancellationToken::new());
        for _ in 0..3 {
            assert_eq!(link.offer(msg()), Offer::Queued);
        }
        // The 4th reaches half: the warning is queued behind it.
        assert_eq!(link.offer(msg()), Offer::Queued);
        assert_eq!(link.queued(), 5);
        assert_eq!(link.offer(msg()), Offer::Queued);
        assert_eq!(link.offer(msg()), Offer::Queued);
        assert_eq!(link.offer(msg()), Offer::Queued);
        assert_eq!(link.queued(), 8);
        assert_eq!(link.offer(msg()), Offer::Overflowed);
        assert!(link.is_stopped());
        assert_eq!(link.reason(), CloseReason::SlowConsumer);
        assert_eq!(link.offer(msg()), Offer::Gone);
        let mut warnings = 0;
        while let Ok(Outbound::Control(json)) = rx.try_recv() {
            warnings += usize::from(json.contains("switchyard.lagging"));
        }
        assert_eq!(warnings, 1);
    }

    #[tokio::test]
    async fn a_shutdown_stop_reads_as_restart() {
        let parent = CancellationToken::new();
        let (link, _rx) = Link::new(8, parent.child_token());
        parent.cancel();
        assert!(link.is_stopped());
        assert_eq!(link.reason(), CloseReason::Restart);
    }
}
