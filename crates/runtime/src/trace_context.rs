//! W3C Trace Context across records: read the `traceparent` an upstream service wrote, make it
//! the parent of the current span, and write the current span's `traceparent` onward.

use opentelemetry::{
    Context,
    trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState},
};
use switchyard_domain::{Headers, Traceparent};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Header name for trace context on records that are not CloudEvents (CloudEvents records
/// carry it as `ce_traceparent`).
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// The `traceparent` of the current span, or `None` outside any traced span.
#[must_use]
pub fn current() -> Option<Traceparent> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    if !span_context.is_valid() {
        return None;
    }
    let value = format!(
        "00-{}-{}-{:02x}",
        span_context.trace_id(),
        span_context.span_id(),
        span_context.trace_flags().to_u8()
    );
    Traceparent::parse(&value).ok()
}

/// Makes `traceparent` the remote parent of `span`, so the span joins the upstream trace.
pub fn set_parent(span: &tracing::Span, traceparent: &Traceparent) {
    let (Ok(trace_id), Ok(span_id)) = (
        TraceId::from_hex(traceparent.trace_id()),
        SpanId::from_hex(traceparent.parent_id()),
    ) else {
        return;
    };
    let flags = if traceparent.sampled() {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let remote = SpanContext::new(trace_id, span_id, flags, true, TraceState::default());
    // Fails only when the span is disabled or already started a trace of its own; either way
    // the span simply keeps the context it has.
    let _ = span.set_parent(Context::new().with_remote_span_context(remote));
}

/// Writes the current span's trace context into `headers` under `name`.
pub fn inject(headers: &mut Headers, name: &str) {
    if let Some(traceparent) = current() {
        headers.insert(name, traceparent.as_str().to_owned());
    }
}

/// Reads a valid trace context from `headers[name]`; malformed values are ignored, as the
/// W3C recommendation asks.
#[must_use]
pub fn extract(headers: &Headers, name: &str) -> Option<Traceparent> {
    headers
        .get_str(name)
        .and_then(|value| Traceparent::parse(value).ok())
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    fn with_tracing(test: impl FnOnce()) {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, test);
    }

    const UPSTREAM: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn extracted_parent_continues_the_trace_with_a_new_span() {
        with_tracing(|| {
            let mut incoming = Headers::new();
            incoming.insert(TRACEPARENT_HEADER, UPSTREAM);
            let upstream = extract(&incoming, TRACEPARENT_HEADER).unwrap();

            let span = tracing::info_span!("process");
            set_parent(&span, &upstream);
            let _entered = span.enter();

            let mut outgoing = Headers::new();
            inject(&mut outgoing, "ce_traceparent");
            let written = extract(&outgoing, "ce_traceparent").unwrap();
            assert_eq!(written.trace_id(), upstream.trace_id(), "same trace");
            assert_ne!(written.parent_id(), upstream.parent_id(), "our own span");
            assert!(written.sampled());
        });
    }

    #[test]
    fn a_root_span_starts_a_new_trace() {
        with_tracing(|| {
            let _entered = tracing::info_span!("root").entered();
            assert!(current().is_some());
        });
    }

    #[test]
    fn malformed_or_missing_context_is_ignored() {
        let mut headers = Headers::new();
        assert_eq!(extract(&headers, TRACEPARENT_HEADER), None);
        headers.insert(TRACEPARENT_HEADER, "00-zz-00f067aa0ba902b7-01");
        assert_eq!(extract(&headers, TRACEPARENT_HEADER), None);
        // Outside any span nothing is written.
        let mut out = Headers::new();
        inject(&mut out, TRACEPARENT_HEADER);
        assert!(out.is_empty());
    }
}
