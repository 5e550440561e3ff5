use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// The standard OpenTelemetry variable that switches trace export on.
pub(super) const OTLP_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One JSON object per line (production, log shippers).
    #[default]
    Json,
    /// Human-readable lines (a terminal).
    Pretty,
}

named_enum!(LogFormat { Json => "json", Pretty => "pretty" });

/// `[telemetry]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TelemetrySettings {
    /// `tracing` filter directives, e.g. `info,switchyard_bus=debug`.
    pub log_level: String,
    /// Log line format.
    pub log_format: LogFormat,
    /// OTLP/HTTP collector base URL, taken from `OTEL_EXPORTER_OTLP_ENDPOINT`; traces are
    /// exported only when it is set.
    #[serde(skip)]
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_level: "info".into(),
            log_format: LogFormat::Json,
            otlp_endpoint: None,
        }
    }
}

impl TelemetrySettings {
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        EnvFilter::try_new(&self.log_level)
            .map(|_| ())
            .map_err(|e| {
                (
                    "telemetry.log_level".into(),
                    format!("not a valid log filter ({e}), e.g. \"info\""),
                )
            })
    }
}
