//! `/healthz` (the process is alive) and `/readyz` (it can do its work: its broker and
//! database answer). Readiness turns red while the service drains, so load balancers stop
//! sending work before the listener closes.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use actix_web::{HttpResponse, web};
use serde::Serialize;

/// A boxed future returned by [`ReadinessCheck::check`].
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// One dependency a service needs before it can take work.
pub trait ReadinessCheck: Send + Sync {
    /// Short name shown in `/readyz`, e.g. `kafka` or `postgres`.
    fn name(&self) -> &str;
    /// `Ok` when the dependency answers; `Err` says what failed, for the operator.
    fn check(&self) -> CheckFuture<'_>;
}

/// A readiness check from a name and an async closure.
pub struct FnCheck<F> {
    name: String,
    check: F,
}

impl<F, Fut> FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    /// A check called `name` that runs `check`.
    pub fn new(name: impl Into<String>, check: F) -> Self {
        Self {
            name: name.into(),
            check,
        }
    }
}

impl<F, Fut> ReadinessCheck for FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }
    fn check(&self) -> CheckFuture<'_> {
        Box::pin((self.check)())
    }
}

/// A check that takes longer than this counts as failed: a probe must answer quickly.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The service's readiness checks and its draining flag.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Arc<Vec<Box<dyn ReadinessCheck>>>,
    draining: Arc<AtomicBool>,
}

/// The outcome of one `/readyz` probe.
#[derive(Debug, Serialize)]
pub struct Report {
    /// `ready` or `not ready`.
    pub status: &'static str,
    /// Each check's outcome: `ok` or the failure.
    pub checks: Vec<CheckOutcome>,
}

/// One check's outcome.
#[derive(Debug, Serialize)]
pub struct CheckOutcome {
    /// Check name.
    pub name: String,
    /// `ok` or what failed.
    pub status: String,
}

impl Readiness {
    /// Readiness over `checks`.
    #[must_use]
    pub fn new(checks: Vec<Box<dyn ReadinessCheck>>) -> Self {
        Self {
            checks: Arc::new(checks),
            draining: Arc::default(),
        }
    }

    /// Marks the service as draining: from now on it reports not ready.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Runs every check concurrently, each bounded by a timeout.
    pub async fn report(&self) -> Report {
        let runs = self.checks.iter().map(|check| async move {
            let status = match tokio::time::timeout(CHECK_TIMEOUT, check.check()).await {
                Ok(Ok(())) => "ok".to_owned(),
                Ok(Err(error)) => error,
                Err(_) => format!("no answer within {CHECK_TIMEOUT:?}"),
            };
            CheckOutcome {
                name: check.name().to_owned(),
                status,
            }
        });
        let mut checks = futures::future::join_all(runs).await;
        if self.draining.load(Ordering::Relaxed) {
            checks.push(CheckOutcome {
                name: "shutdown".into(),
                status: "draining".into(),
            });
        }
        let ready = checks.iter().all(|c| c.status == "ok");
        Report {
            status: if ready { "ready" } else { "not ready" },
            checks,
        }
    }
}

pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

pub(crate) async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    let report = readiness.report().await;
    if report.status == "ready" {
        HttpResponse::Ok().json(report)
    } else {
        HttpResponse::ServiceUnavailable().json(report)
    }
}

pub(crate) async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::render())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(results: &[(&'static str, Result<(), &'static str>)]) -> Readiness {
        Readiness::new(
            results
                .iter()
                .map(|&(name, result)| {
                    Box::new(FnCheck::new(name, move || async move {
                        result.map_err(str::to_owned)
                    })) as Box<dyn ReadinessCheck>
                })
                .collect(),
        )
    }

    #[tokio::test]
    async fn ready_only_when_every_check_passes() {
        let report = checks(&[("kafka", Ok(())), ("postgres", Ok(()))])
            .report()
            .await;
        assert_eq!(report.status, "ready");
        let report = checks(&[("kafka", Ok(())), ("postgres", Err("connection refused"))])
            .report()
            .await;
        assert_eq!(report.status, "not ready");
        assert_eq!(report.checks[1].name, "postgres");
        assert_eq!(report.checks[1].status, "connection refused");
    }

    #[tokio::test]
    async fn draining_turns_readiness_red() {
        let readiness = checks(&[("kafka", Ok(()))]);
        readiness.set_draining();
        let report = readiness.report().await;
        assert_eq!(report.status, "not ready");
        assert!(report.checks.iter().any(|c| c.name == "shutdown"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_check_counts_as_failed() {
        let readiness = Readiness::new(vec![Box::new(FnCheck::new("slow", || async {
            std::future::pending::<Result<(), String>>().await
        }))]);
        let report = readiness.report().await;
        assert_eq!(report.status, "not ready");
        assert!(report.checks[0].status.contains("no answer"));
    }
}
