//! One shutdown signal per service: every loop watches the token, every spawned task is
//! tracked, and draining waits for the tracked tasks up to a deadline.

use std::{future::Future, time::Duration};

use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// The service's shutdown token and the tasks that must finish before it exits.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tracker: TaskTracker,
}

/// Tracked tasks were still running when the drain deadline passed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("{remaining} task(s) still running after the {deadline:?} drain deadline")]
pub struct DrainTimedOut {
    /// Tasks that did not finish.
    pub remaining: usize,
    /// The deadline that passed.
    pub deadline: Duration,
}

impl Shutdown {
    /// A fresh, untriggered shutdown.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts shutting down: every holder of the token sees it cancelled.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Whether shutdown has started.
    #[must_use]
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes when shutdown starts.
    pub async fn triggered(&self) {
        self.token.cancelled().await;
    }

    /// The token, for loops that `select!` on it.
    #[must_use]
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Spawns a task the drain will wait for. The task must watch [`Shutdown::token`] and
    /// finish its in-flight work when it fires.
    pub fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(task)
    }

    /// Triggers shutdown (if not already) and waits up to `deadline` for tracked tasks.
    pub async fn drain(&self, deadline: Duration) -> Result<(), DrainTimedOut> {
        self.trigger();
        self.tracker.close();
        tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .map_err(|_| DrainTimedOut {
                remaining: self.tracker.len(),
                deadline,
            })
    }
}

/// Completes on the first SIGTERM or SIGINT and says which one came.
pub async fn signal() -> &'static str {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // Without a handler we can only wait for SIGTERM.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                () = ctrl_c => "SIGINT",
            },
            Err(_) => {
                ctrl_c.await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        ctrl_c.await;
        "SIGINT"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_waits_for_tasks_that_finish_their_work() {
        let shutdown = Shutdown::new();
        let token = shutdown.token();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        shutdown.spawn(async move {
            token.cancelled().await;
            // In-flight work completes after the signal.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = done_tx.send(());
        });
        shutdown.drain(Duration::from_secs(5)).await.unwrap();
        assert!(
            done_rx.await.is_ok(),
            "the task finished before drain returned"
        );
    }

    #[tokio::test]
    async fn drain_reports_tasks_that_overrun_the_deadline() {
        let shutdown = Shutdown::new();
        shutdown.spawn(std::future::pending::<()>());
        let err = shutdown.drain(Duration::from_millis(50)).await.unwrap_err();
        assert_eq!(err.remaining, 1);
        assert!(shutdown.is_triggered());
    }
}
