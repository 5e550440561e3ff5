//! What every Switchyard service shares, so each service only adds its own work.
//!
//! - [`settings`]: layered, typed configuration that names the key on a bad value.
//! - [`telemetry`]: JSON logs, OpenTelemetry traces over OTLP, and [`trace_context`] to carry
//!   W3C `traceparent` through record headers.
//! - [`metrics`]: the Prometheus recorder behind `/metrics`.
//! - [`health`]: `/healthz`, `/readyz` with pluggable readiness checks.
//! - [`problem`]: RFC 9457 problem+json error bodies.
//! - [`shutdown`]: one cancellation token and task tracker per service, SIGTERM/SIGINT, drain.
//! - [`service`]: the lifecycle shape of every service (`build` → `port` →
//!   `run_until_stopped`) and [`run`], the whole of a service's `main`.
//!
//! Not here: anything about brokers, databases or HTTP APIs of a particular service.

pub mod health;
pub mod metrics;
pub mod problem;
mod request_log;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod trace_context;

pub use service::{Part, Service, ServiceBuilder, ServiceError, ServiceInfo, run, run_loaded};
pub use settings::Settings;
pub use shutdown::Shutdown;
