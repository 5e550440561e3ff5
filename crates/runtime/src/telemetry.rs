//! Logs and traces: one JSON object per log line on stdout, and OpenTelemetry spans exported
//! over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! A tracer provider is installed even without an exporter: spans then still get W3C ids, so a
//! `traceparent` that arrived on a request or record is carried on to what the service writes.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use tracing_subscriber::{
    EnvFilter, Layer as _, layer::SubscriberExt as _, util::SubscriberInitExt as _,
};

use crate::settings::{LogFormat, TelemetrySettings};

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The log filter does not parse.
    #[error("invalid log filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    /// The OTLP exporter could not be built (for example a malformed endpoint).
    #[error("cannot set up OTLP trace export: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// Another subscriber is already installed in this process.
    #[error("a tracing subscriber is already installed: {0}")]
    AlreadyInstalled(#[from] tracing_subscriber::util::TryInitError),
}

/// Keeps the tracer provider alive; [`Telemetry::shutdown`] flushes spans still buffered.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Installs the process-wide subscriber for `service`.
    pub fn init(
        service: &'static str,
        settings: &TelemetrySettings,
    ) -> Result<Self, TelemetryError> {
        let provider = tracer_provider(service, settings.otlp_endpoint.as_deref())?;
        let filter = EnvFilter::try_new(&settings.log_level)?;
        let logs = match settings.log_format {
            LogFormat::Json => tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .boxed(),
            LogFormat::Pretty => tracing_subscriber::fmt::layer().compact().boxed(),
        };
        let traces = tracing_opentelemetry::layer().with_tracer(provider.tracer(service));
        tracing_subscriber::registry()
            .with(filter)
            .with(logs)
            .with(traces)
            .try_init()?;
        Ok(Self { provider })
    }

    /// Flushes and stops trace export. Call it last, after the service has drained, so the
    /// spans of the drain itself are exported too.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown_with_timeout(Duration::from_secs(5)) {
            tracing::warn!(%error, "trace export did not shut down cleanly");
        }
    }
}

/// The tracer provider for `service`, exporting to `otlp_endpoint` (an OTLP/HTTP base URL such
/// as `http://collector:4318`) when one is given.
pub fn tracer_provider(
    service: &'static str,
    otlp_endpoint: Option<&str>,
) -> Result<SdkTracerProvider, TelemetryError> {
    let resource = Resource::builder().with_service_name(service).build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = otlp_endpoint {
        // A programmatic endpoint is used verbatim, unlike the env variable, so add the
        // signal path the OTLP/HTTP spec defines.
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
            .with_timeout(Duration::from_secs(10))
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use std::{
        io::{BufRead as _, BufReader, Write as _},
        net::TcpListener,
        sync::mpsc,
    };

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// A one-request OTLP collector: reports the request line it received and answers 200.
    fn fake_collector() -> (String, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let _ = tx.send(request_line.trim().to_owned());
            let mut stream = stream;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        });
        (endpoint, rx)
    }

    #[test]
    fn spans_are_exported_over_otlp_http_when_an_endpoint_is_set() {
        let (endpoint, requests) = fake_collector();
        let provider = tracer_provider("switchyard-test", Some(&endpoint)).unwrap();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let _span = tracing::info_span!("handle_webhook").entered();
        });
        provider.force_flush().unwrap();
        let request = requests.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(request, "POST /v1/traces HTTP/1.1");
    }

    #[test]
    fn a_malformed_endpoint_is_a_start_up_error() {
        assert!(matches!(
            tracer_provider("switchyard-test", Some("not a url")),
            Err(TelemetryError::Exporter(_))
        ));
    }
}
