//! `switchyard dev`: every Switchyard service in one process, on one port, on a laptop with
//! nothing installed.
//!
//! The seven services run exactly as they do in a cluster: each one's routes, readiness
//! checks and background work are taken from its own `assemble` and served together by one
//! HTTP server ([`switchyard_runtime::ServiceBuilder::part`]). They reach each other the way
//! separate deployments do, through the bus (the process's in-memory broker unless
//! `bus.backend` says otherwise) and the store (the process's in-memory store under
//! `memory://dev` unless `database.url` names a PostgreSQL). Nothing is special-cased for
//! dev inside a service.
//!
//! What dev adds: laptop defaults ([`sources`]), secrets generated when the configuration has
//! none ([`complete`]), a [`loopback`] endpoint that verifies and records what the dispatcher
//! delivers to it, and [`seed`], which creates a demo tenant through the public API, sends it
//! one signed webhook and waits until the loopback endpoint has it.

pub mod loopback;
pub mod seed;

use std::{collections::HashMap, path::PathBuf};

use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretString};
use switchyard_runtime::{
    ServiceBuilder, ServiceInfo, Settings,
    service::Service,
    settings::{BusBackend, Sources},
};

pub use loopback::Loopback;
pub use seed::{Demo, SeedError, seed};

/// `switchyard dev`'s identity.
pub static SERVICE: ServiceInfo = ServiceInfo {
    name: "dev",
    binary: "switchyard",
    about: "Every Switchyard service in one process, on one port",
    default_bind: "127.0.0.1:8080",
    version: env!("CARGO_PKG_VERSION"),
};

/// The store dev uses when no database is configured: the process's own, in memory.
pub const MEMORY_STORE: &str = "memory://dev";

/// What the `dev` command line chose.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--config`: the same TOML file the services read.
    pub config: Option<PathBuf>,
    /// `--bus`: overrides `bus.backend`.
    pub bus: Option<BusBackend>,
    /// `--database-url`: overrides `database.url` (PostgreSQL instead of memory).
    pub database_url: Option<String>,
}

/// Where dev's settings come from: the configuration file and `SWITCHYARD__*` as for every
/// service, over defaults for a laptop (loopback address, memory bus and store, readable
/// logs, http endpoints and private networks allowed for the loopback endpoint), under the
/// command line's `--bus` and `--database-url`.
#[must_use]
pub fn sources(options: &Options, mut env: HashMap<String, String>) -> Sources {
    if let Some(bus) = options.bus {
        env.insert("SWITCHYARD__BUS__BACKEND".into(), bus.to_string());
    }
    if let Some(url) = &options.database_url {
        env.insert("SWITCHYARD__DATABASE__URL".into(), url.clone());
    }
    let defaults = [
        ("http.bind", SERVICE.default_bind),
        ("bus.backend", "memory"),
        ("database.url", MEMORY_STORE),
        ("telemetry.log_format", "pretty"),
        ("telemetry.log_level", "warn"),
        ("gateway.allow_http_endpoints", "true"),
        ("dispatcher.allow_private_networks", "true"),
    ];
    Sources {
        file: options.config.clone(),
        env,
        defaults: defaults
            .into_iter()
            .map(|(key, value)| (key, value.to_owned()))
            .collect(),
    }
}

/// What [`complete`] had to make up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Generated {
    /// `auth.jwt_hs256_secret` was empty (and no JWKS configured).
    pub auth_secret: bool,
    /// `secrets.keys` was empty.
    pub sealing_key: bool,
}

/// Fills in what the gateway requires and a laptop does not have: an HS256 secret for
/// tokens (unless JWKS is configured) and a key that seals the secrets of sources and
/// endpoints. Both are random and live as long as the process, which is as long as the
/// memory store they protect; with PostgreSQL, configure them to keep what is stored usable.
pub fn complete(settings: &mut Settings) -> Generated {
    let mut generated = Generated::default();
    if settings.auth.jwt_hs256_secret.expose_secret().is_empty() && settings.auth.jwks_url.is_none()
    {
        let bytes: [u8; 32] = rand::random();
        settings.auth.jwt_hs256_secret = SecretString::from(hex::encode(bytes));
        generated.auth_secret = true;
    }
    if settings.secrets.keys.is_empty() {
        let bytes: [u8; 32] = rand::random();
        settings.secrets.keys = vec![SecretString::from(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        )];
        generated.sealing_key = true;
    }
    generated
}

/// Assembles every service into one, bound to `http.bind`: webhooks (`/webhooks`), the API
/// (`/v1`, `/graphql`, `/openapi.json`), live streams (`/v1/ws`, `/v1/sse`), the console,
/// `loopback`'s `/dev/loopback`, and one `/readyz` over every service's checks.
///
/// # Errors
/// When a service cannot start with `settings` (each says why).
pub async fn build(settings: Settings, loopback: &Loopback) -> anyhow::Result<Service> {
    // Routes registered first match first: the websocket-gateway's `/v1/ws` and `/v1/sse`
    // must come before the gateway's `/v1` scope, which would answer them with 404.
    let parts = [
        switchyard_websocket_gateway::assemble(settings.clone())
            .await?
            .into_part(),
        switchyard_ingest::assemble(settings.clone())
            .await?
            .into_part(),
        switchyard_gateway::assemble(settings.clone())
            .await?
            .into_part(),
        switchyard_outbox_relay::assemble(settings.clone())
            .await?
            .into_part(),
        switchyard_processor::assemble(settings.clone())
            .await?
            .into_part(),
        switchyard_webhook_dispatcher::assemble(settings.clone())
            .await?
            .into_part(),
        switchyard_audit_writer::assemble(settings.clone())
            .await?
            .into_part(),
    ];
    let routes = loopback.clone();
    let builder: ServiceBuilder =
        Service::builder(&SERVICE, settings).routes(move |config| routes.routes(config));
    let builder = parts.into_iter().fold(builder, ServiceBuilder::part);
    Ok(builder.build()?)
}
