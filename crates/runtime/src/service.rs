//! The lifecycle every service shares: [`Service::builder`] binds the listener (port 0 in
//! tests), [`Service::port`] says where it landed, [`Service::run_until_stopped`] serves until
//! the shutdown token fires and then drains. [`run`] is the whole of a service's `main`.

use std::{
    future::Future,
    net::{SocketAddr, TcpListener},
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use actix_web::{App, HttpServer, middleware::from_fn, web};

use crate::{
    Settings,
    health::{self, Readiness, ReadinessCheck},
    metrics, request_log,
    settings::{Loaded, Sources},
    shutdown::{self, Shutdown},
    telemetry::Telemetry,
};

/// What identifies a service binary.
#[derive(Debug)]
pub struct ServiceInfo {
    /// Service name, e.g. `ingest`; used as a metric label.
    pub name: &'static str,
    /// Binary name, e.g. `switchyard-ingest`; used in logs and traces.
    pub binary: &'static str,
    /// One-line description for `--help`.
    pub about: &'static str,
    /// Listen address when `http.bind` is not configured.
    pub default_bind: &'static str,
    /// Build version.
    pub version: &'static str,
}

/// Why a service could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address that failed.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server failed while running.
    #[error("HTTP server failed: {0}")]
    Http(#[source] std::io::Error),
    /// In-flight work did not finish before the drain deadline.
    #[error(transparent)]
    DrainTimedOut(#[from] shutdown::DrainTimedOut),
}

type Routes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// Assembles a [`Service`]; see [`Service::builder`].
#[must_use]
pub struct ServiceBuilder {
    info: &'static ServiceInfo,
    settings: Settings,
    checks: Vec<Box<dyn ReadinessCheck>>,
    routes: Vec<Routes>,
    listener: Option<TcpListener>,
    shutdown: Shutdown,
}

impl ServiceBuilder {
    /// Adds a dependency `/readyz` must see answering.
    pub fn readiness_check(mut self, check: impl ReadinessCheck + 'static) -> Self {
        self.checks.push(Box::new(check));
        self
    }

    /// Adds the service's own HTTP routes beside the health and metrics endpoints.
    pub fn routes(
        mut self,
        routes: impl Fn(&mut web::ServiceConfig) + Send + Sync + 'static,
    ) -> Self {
        self.routes.push(Arc::new(routes));
        self
    }

    /// Serves on an already bound listener instead of binding `http.bind`.
    pub fn listener(mut self, listener: TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// The shutdown the service's background work must spawn on and watch.
    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// The settings the service was built with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Takes this service's routes, readiness checks and background work out of the builder,
    /// to run inside another service's process and listener ([`ServiceBuilder::part`]).
    pub fn into_part(self) -> Part {
        Part {
            info: self.info,
            checks: self.checks,
            routes: self.routes,
            shutdown: self.shutdown,
        }
    }

    /// Serves `part`'s routes beside this service's own (routes registered first match
    /// first, so add the part with the more specific paths first), reports its readiness
    /// checks under `<part>/<check>`, and stops and drains its background work when this
    /// service stops. This is how `switchyard dev` runs every service on one port.
    pub fn part(mut self, part: Part) -> Self {
        let Part {
            info,
            checks,
            routes,
            shutdown,
        } = part;
        self.checks.extend(checks.into_iter().map(|check| {
            Box::new(PartCheck {
                name: format!("{}/{}", info.name, check.name()),
                check,
            }) as Box<dyn ReadinessCheck>
        }));
        self.routes.extend(routes);
        let drain = Duration::from_secs(self.settings.shutdown.drain_timeout_secs);
        let parent = self.shutdown.clone();
        self.shutdown.spawn(async move {
            parent.triggered().await;
            if let Err(error) = shutdown.drain(drain).await {
                tracing::error!(service = info.name, %error, "part did not drain in time");
            }
        });
        metrics::record_build_info(info.name, info.version);
        self
    }

    /// Binds the listener and prepares the HTTP server; nothing is served until
    /// [`Service::run_until_stopped`].
    pub fn build(self) -> Result<Service, ServiceError> {
        let http = &self.settings.http;
        let listener = match self.listener {
            Some(listener) => listener,
            None => TcpListener::bind(http.bind).map_err(|source| ServiceError::Bind {
                addr: http.bind,
                source,
            })?,
        };
        let local_addr = listener.local_addr().map_err(|source| ServiceError::Bind {
            addr: http.bind,
            source,
        })?;
        let readiness = Readiness::new(self.checks);
        let drain = Duration::from_secs(self.settings.shutdown.drain_timeout_secs);
        let info = self.info;
        let routes = self.routes;
        let app_readiness = readiness.clone();
        let mut server = HttpServer::new(move || {
            let mut app = App::new()
                .wrap(from_fn(request_log::middleware))
                .app_data(web::Data::new(info))
                .app_data(web::Data::new(app_readiness.clone()))
                .route("/healthz", web::get().to(health::healthz))
                .route("/readyz", web::get().to(health::readyz))
                .route("/metrics", web::get().to(health::metrics));
            for routes in &routes {
                app = app.configure(|config| routes(config));
            }
            app
        })
        // Signals are ours to handle: one token stops the server and every worker loop.
        .disable_signals()
        .shutdown_timeout(drain.as_secs())
        .client_request_timeout(Duration::from_secs(http.client_request_timeout_secs));
        if http.workers > 0 {
            server = server.workers(http.workers);
        }
        let server = server
            .listen(listener)
            .map_err(|source| ServiceError::Bind {
                addr: local_addr,
                source,
            })?
            .run();
        metrics::record_build_info(info.name, info.version);
        Ok(Service {
            info,
            server,
            local_addr,
            shutdown: self.shutdown,
            readiness,
            drain,
        })
    }
}

/// One service's routes, readiness checks and background work, taken out of its builder by
/// [`ServiceBuilder::into_part`] to share another service's process and port.
#[must_use]
pub struct Part {
    info: &'static ServiceInfo,
    checks: Vec<Box<dyn ReadinessCheck>>,
    routes: Vec<Routes>,
    shutdown: Shutdown,
}

impl Part {
    /// The service this part came from.
    pub fn info(&self) -> &'static ServiceInfo {
        self.info
    }
}

/// A part's readiness check, named after its service so that `/readyz` tells apart the
/// broker checks of several services.
struct PartCheck {
    name: String,
    check: Box<dyn ReadinessCheck>,
}

impl ReadinessCheck for PartCheck {
    fn name(&self) -> &str {
        &self.name
    }
    fn check(&self) -> crate::health::CheckFuture<'_> {
        self.check.check()
    }
}

/// A built service, ready to run.
pub struct Service {
    info: &'static ServiceInfo,
    server: actix_web::dev::Server,
    local_addr: SocketAddr,
    shutdown: Shutdown,
    readiness: Readiness,
    drain: Duration,
}

impl Service {
    /// Starts assembling `info`'s service from `settings`.
    pub fn builder(info: &'static ServiceInfo, settings: Settings) -> ServiceBuilder {
        // Metrics registered while the service is being built (handles kept for the hot
        // path) must reach the real recorder, not the no-op one the facade starts with.
        metrics::handle();
        ServiceBuilder {
            info,
            settings,
            checks: Vec::new(),
            routes: Vec::new(),
            listener: None,
            shutdown: Shutdown::new(),
        }
    }

    /// The port the listener is bound to.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// The address the listener is bound to.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The service's shutdown: trigger it to stop the service.
    #[must_use]
    pub fn shutdown_handle(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Serves until shutdown is triggered, then drains: readiness turns red, the listener
    /// stops accepting, in-flight requests and tracked tasks finish within the deadline.
    pub async fn run_until_stopped(self) -> Result<(), ServiceError> {
        let Self {
            info,
            server,
            shutdown,
            readiness,
            drain,
            ..
        } = self;
        let handle = server.handle();
        let mut server = std::pin::pin!(server);
        let upkeep = shutdown.token();
        shutdown.spawn(async move {
            // Histograms need periodic upkeep or their buffers grow between scrapes.
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    () = upkeep.cancelled() => break,
                    _ = tick.tick() => metrics::handle().run_upkeep(),
                }
            }
        });
        tokio::select! {
            result = &mut server => {
                tracing::error!(service = info.name, "HTTP server stopped on its own");
                shutdown.drain(drain).await?;
                return result.map_err(ServiceError::Http);
            }
            () = shutdown.triggered() => {}
        }
        tracing::info!(
            service = info.name,
            deadline_secs = drain.as_secs(),
            "draining"
        );
        readiness.set_draining();
        // The server acts on the stop command only while it is polled, so both run together.
        let stop_http = async {
            let ((), result) = tokio::join!(handle.stop(true), server);
            result.map_err(ServiceError::Http)
        };
        let (http, tasks) = tokio::join!(stop_http, shutdown.drain(drain));
        http?;
        tasks?;
        Ok(())
    }
}

fn parse_args(info: &'static ServiceInfo) -> Option<PathBuf> {
    clap::Command::new(info.binary)
        .version(info.version)
        .about(info.about)
        .arg(
            clap::Arg::new("config")
                .long("config")
                .value_name("PATH")
                .value_parser(clap::value_parser!(PathBuf))
                .help(
                    "TOML configuration file (default: $SWITCHYARD_CONFIG, then built-in defaults)",
                ),
        )
        .get_matches()
        .get_one::<PathBuf>("config")
        .cloned()
}

/// A service's whole `main`: parse `--config`, load settings, start telemetry, build the
/// service with `build`, serve until SIGTERM/SIGINT, drain, flush traces.
///
/// Exit codes: 0 after a clean drain, 1 when the service failed or the drain overran its
/// deadline, 2 when the configuration is invalid.
pub async fn run<F, Fut>(info: &'static ServiceInfo, build: F) -> ExitCode
where
    F: FnOnce(Settings) -> Fut,
    Fut: Future<Output = anyhow::Result<Service>>,
{
    let sources = Sources {
        file: parse_args(info),
        env: std::env::vars().collect(),
        defaults: vec![("http.bind", info.default_bind.to_owned())],
    };
    match Settings::load(&sources) {
        Ok(loaded) => run_loaded(info, loaded, build).await,
        Err(error) => exit_before_telemetry(info, &error),
    }
}

/// [`run`] after its settings are loaded, for a binary that parses its own arguments and
/// completes the settings (the `switchyard` CLI's `dev`).
pub async fn run_loaded<F, Fut>(info: &'static ServiceInfo, loaded: Loaded, build: F) -> ExitCode
where
    F: FnOnce(Settings) -> Fut,
    Fut: Future<Output = anyhow::Result<Service>>,
{
    let telemetry = match Telemetry::init(info.binary, &loaded.settings.telemetry) {
        Ok(telemetry) => telemetry,
        Err(error) => return exit_before_telemetry(info, &error),
    };
    for key in &loaded.unknown_keys {
        tracing::warn!(key = %key, "unknown configuration key ignored; check its spelling");
    }
    // Before `build`: a service may register metric handles before it creates its builder.
    metrics::handle();
    let code = serve(info, build, loaded.settings).await;
    telemetry.shutdown();
    code
}

async fn serve<F, Fut>(info: &'static ServiceInfo, build: F, settings: Settings) -> ExitCode
where
    F: FnOnce(Settings) -> Fut,
    Fut: Future<Output = anyhow::Result<Service>>,
{
    let service = match build(settings).await {
        Ok(service) => service,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "start-up failed");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %service.local_addr(), version = info.version, "listening");
    let shutdown = service.shutdown_handle();
    let on_signal = shutdown.clone();
    let signals = tokio::spawn(async move {
        let signal = shutdown::signal().await;
        tracing::info!(signal, "shutdown requested");
        on_signal.trigger();
    });
    let result = service.run_until_stopped().await;
    signals.abort();
    match result {
        Ok(()) => {
            tracing::info!("stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(error = %error, "stopped with an error");
            ExitCode::FAILURE
        }
    }
}

/// Before telemetry is up, stderr is the only channel: one line, then exit 2.
#[allow(clippy::print_stderr)]
fn exit_before_telemetry(info: &ServiceInfo, error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("{}: {error}", info.binary);
    ExitCode::from(2)
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
