//! Layered, typed configuration (DESIGN §4): built-in defaults, then a TOML file (`--config`
//! or `SWITCHYARD_CONFIG`), then `SWITCHYARD__SECTION__KEY` environment variables.
//!
//! One file serves every service, so every service reads every section: a typo anywhere fails
//! start-up with the key named, and a key nobody knows is reported as a warning rather than
//! silently ignored.

/// Unit enums in configuration are read from their names. `config`'s own enum path loses
/// serde's list of accepted variants, and that list is what the operator needs to see.
macro_rules! named_enum {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every accepted name, in documentation order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The name as written in configuration.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;

            fn from_str(name: &str) -> Result<Self, Self::Err> {
                match name {
                    $($name => Ok(Self::$variant),)+
                    other => Err(format!(
                        "unknown value {other:?}; expected one of: {}",
                        Self::NAMES.join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = String::deserialize(d)?;
                name.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

mod audit_writer;
mod auth;
mod bus;
mod dispatcher;
mod endpoints;
mod gateway;
mod http;
mod ingest;
mod outbox;
mod processor;
mod secrets;
mod sources;
mod telemetry;
mod websocket;

use std::{
    collections::HashMap,
    fmt::Write as _,
    path::{Path, PathBuf},
};

pub use audit_writer::AuditWriterSettings;
pub use auth::AuthSettings;
pub use bus::{BusBackend, BusSettings, KafkaSettings, NatsSettings, RedisSettings};
pub use dispatcher::{DispatcherSettings, RetrySchedule};
pub use endpoints::EndpointSettings;
pub use gateway::GatewaySettings;
pub use http::HttpSettings;
pub use ingest::{DedupeSettings, IngestSettings};
pub use outbox::OutboxSettings;
pub use processor::ProcessorSettings;
use secrecy::SecretString;
pub use secrets::SecretsSettings;
use serde::Deserialize;
pub use sources::{
    HmacEncoding, HmacSettings, Provider, RenameField, SourceSettings, TransformSettings,
};
pub use telemetry::{LogFormat, TelemetrySettings};
pub use websocket::WebsocketSettings;

/// Environment variable naming the configuration file when `--config` is not given.
pub const CONFIG_FILE_VAR: &str = "SWITCHYARD_CONFIG";
/// Prefix of environment overrides: `SWITCHYARD__BUS__BACKEND` sets `bus.backend`.
pub const ENV_PREFIX: &str = "SWITCHYARD";
/// Separator between levels in environment overrides.
pub const ENV_SEPARATOR: &str = "__";

/// Every service's configuration. Sections a service does not use are still validated.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// HTTP listener.
    pub http: HttpSettings,
    /// Message bus backend and topics.
    pub bus: BusSettings,
    /// PostgreSQL.
    pub database: DatabaseSettings,
    /// Webhook front door limits (ingest).
    pub ingest: IngestSettings,
    /// Memory of provider delivery ids, optionally shared across replicas (ingest).
    pub dedupe: DedupeSettings,
    /// Raw webhooks to events (processor).
    pub processor: ProcessorSettings,
    /// Outbox rows to the events topic (outbox-relay).
    pub outbox: OutboxSettings,
    /// Outbound delivery (webhook-dispatcher).
    pub dispatcher: DispatcherSettings,
    /// Events and delivery attempts into the audit store (audit-writer).
    pub audit_writer: AuditWriterSettings,
    /// JWT validation (gateway, websocket-gateway).
    pub auth: AuthSettings,
    /// The REST and GraphQL API (gateway).
    pub gateway: GatewaySettings,
    /// Browser connections, history and flow control (websocket-gateway).
    pub websocket: WebsocketSettings,
    /// Inbound webhook sources.
    pub sources: Vec<SourceSettings>,
    /// Outbound subscriber endpoints.
    pub endpoints: Vec<EndpointSettings>,
    /// Keys sealing the secrets of run-time configured sources and endpoints.
    pub secrets: SecretsSettings,
    /// Logs and traces.
    pub telemetry: TelemetrySettings,
    /// Graceful shutdown.
    pub shutdown: ShutdownSettings,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// Primary connection URL; may hold a password, so it is kept secret.
    pub url: SecretString,
    /// Optional read replica for queries; empty means "use `url`".
    pub read_url: SecretString,
    /// Connections per pool.
    pub pool_size: usize,
    /// Seconds to wait for a connection before giving up.
    pub connect_timeout_secs: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "postgres://postgres@127.0.0.1:5432/switchyard".into(),
            read_url: SecretString::default(),
            pool_size: 16,
            connect_timeout_secs: 5,
        }
    }
}

/// `[shutdown]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ShutdownSettings {
    /// Seconds in-flight work may take to finish after SIGTERM. Keep it below the pod's
    /// `terminationGracePeriodSeconds` (30 by default) so the drain ends before the kill.
    pub drain_timeout_secs: u64,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        Self {
            drain_timeout_secs: 20,
        }
    }
}

/// Settings and what loading them noticed.
#[derive(Debug)]
pub struct Loaded {
    /// The validated settings.
    pub settings: Settings,
    /// Keys present in the file or environment that no service knows (probably typos).
    pub unknown_keys: Vec<String>,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
}

/// Why configuration could not be loaded. Each message is one line naming the key.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file is missing or not valid TOML.
    #[error("cannot read configuration file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A value has the wrong type or breaks a rule.
    #[error("invalid configuration: {key}: {message}{hint}")]
    Invalid {
        /// Dotted key path, e.g. `bus.backend` or `sources[0].tenant`.
        key: String,
        /// What is wrong and what is accepted.
        message: String,
        /// Where the value came from, when it was an environment variable.
        hint: String,
    },
}

/// Why one `[[sources]]` or `[[endpoints]]` entry (or its run-time equivalent) is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidEntry {
    /// The field of the entry, e.g. `secrets` or `transform.drop`.
    pub field: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl InvalidEntry {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Where settings come from, passed in so tests never touch the process environment.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Explicit file (`--config`); falls back to `SWITCHYARD_CONFIG` in `env`.
    pub file: Option<PathBuf>,
    /// Environment variables (a snapshot of the process environment in production).
    pub env: HashMap<String, String>,
    /// Defaults that differ per service, as `(dotted key, value)`, e.g. the bind address.
    pub defaults: Vec<(&'static str, String)>,
}

impl Settings {
    /// Loads, layers and validates settings.
    pub fn load(sources: &Sources) -> Result<Loaded, SettingsError> {
        let file = sources.file.clone().or_else(|| {
            sources
                .env
                .get(CONFIG_FILE_VAR)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
        });
        let config = build_config(sources, file.as_deref())?;

        let mut unknown_keys = Vec::new();
        let mut track = serde_path_to_error::Track::new();
        let tracked = serde_path_to_error::Deserializer::new(config, &mut track);
        let result =
            serde_ignored::deserialize(tracked, |path| unknown_keys.push(path.to_string()));
        let mut settings: Settings = result.map_err(|error| {
            let key = track.path().to_string();
            invalid(&sources.env, key, clean_message(&error.to_string()))
        })?;
        settings.telemetry.otlp_endpoint = sources
            .env
            .get(telemetry::OTLP_ENDPOINT_VAR)
            .filter(|e| !e.trim().is_empty())
            .cloned();
        settings
            .validate()
            .map_err(|(key, message)| invalid(&sources.env, key, message))?;
        Ok(Loaded {
            settings,
            unknown_keys,
            file,
        })
    }

    fn validate(&self) -> Result<(), (String, String)> {
        self.http.validate()?;
        self.bus.validate()?;
        self.auth.validate()?;
        self.ingest.validate()?;
        self.dedupe.validate()?;
        self.processor.validate()?;
        self.outbox.validate()?;
        self.dispatcher.validate()?;
        self.audit_writer.validate()?;
        self.websocket.validate()?;
        self.gateway.validate()?;
        self.telemetry.validate()?;
        self.secrets.validate()?;
        sources::validate_all(&self.sources)?;
        endpoints::validate_all(&self.endpoints)?;
        Ok(())
    }
}

fn build_config(sources: &Sources, file: Option<&Path>) -> Result<config::Config, SettingsError> {
    let mut builder = config::Config::builder();
    for (key, value) in &sources.defaults {
        builder =
            builder
                .set_default(*key, value.as_str())
                .map_err(|e| SettingsError::Invalid {
                    key: (*key).to_owned(),
                    message: e.to_string(),
                    hint: String::new(),
                })?;
    }
    if let Some(path) = file {
        if !path.is_file() {
            return Err(SettingsError::File {
                path: path.to_owned(),
                message: "no such file".into(),
            });
        }
        builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
    }
    let env = config::Environment::with_prefix(ENV_PREFIX)
        .prefix_separator(ENV_SEPARATOR)
        .separator(ENV_SEPARATOR)
        .try_parsing(true)
        .source(Some(sources.env.clone().into_iter().collect()));
    builder
        .add_source(env)
        .build()
        .map_err(|e| SettingsError::File {
            path: file.map(Path::to_owned).unwrap_or_default(),
            message: e.to_string(),
        })
}

fn invalid(env: &HashMap<String, String>, key: String, message: String) -> SettingsError {
    let var = env_var_for(&key);
    let hint = if env.contains_key(&var) {
        format!(" (from {var})")
    } else {
        String::new()
    };
    SettingsError::Invalid { key, message, hint }
}

/// The environment variable that sets a dotted key: `bus.kafka.brokers` →
/// `SWITCHYARD__BUS__KAFKA__BROKERS`.
#[must_use]
pub fn env_var_for(key: &str) -> String {
    let mut var = String::from(ENV_PREFIX);
    for part in key.split('.') {
        let _ = write!(var, "{ENV_SEPARATOR}{}", part.to_ascii_uppercase());
    }
    var
}

/// `config` appends its own location to some messages (`for key ...`, `in ...`); the key path
/// we report already says where, so drop the duplicate and keep one line.
fn clean_message(message: &str) -> String {
    let first_line = message.lines().next().unwrap_or_default();
    first_line
        .split(" for key `")
        .next()
        .unwrap_or(first_line)
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests;
