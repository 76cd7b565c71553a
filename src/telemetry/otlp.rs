//! Span export over OTLP/HTTP (protobuf), on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! The exporter reads the standard `OTEL_*` variables itself (endpoint, headers,
//! `OTEL_SERVICE_NAME`, `OTEL_BSP_*`) and sends from the batch processor's own thread
//! with a blocking HTTP client, so nothing runs on the request path but handing the
//! finished span to the batch queue. Off, no layer is installed and a request pays
//! one relaxed atomic load to learn so.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::trace_context::{SpanIds, TraceParent};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Builds the exporter and its tracer provider. Must run outside the async runtime (the
/// blocking HTTP client starts its own).
pub fn provider() -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(
            std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "tenantry".to_string()),
        )
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The `tracing` layer that turns spans into OpenTelemetry spans; marks export as on.
pub fn layer<S>(
    provider: &SdkTracerProvider,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    ENABLED.store(true, Ordering::Relaxed);
    tracing_opentelemetry::layer().with_tracer(provider.tracer("tenantry"))
}

/// Makes `span` a child of the caller's span (when there is one) and returns the ids
/// OpenTelemetry gave it, so logs, the response header and the export agree.
pub fn start(span: &Span, parent: Option<TraceParent>) -> Option<SpanIds> {
    if let Some(p) = parent {
        let remote = SpanContext::new(
            TraceId::from(p.trace_id),
            SpanId::from(p.parent_id),
            TraceFlags::new(p.flags),
            true,
            TraceState::default(),
        );
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| SpanIds {
        trace_id: u128::from_be_bytes(sc.trace_id().to_bytes()),
        span_id: u64::from_be_bytes(sc.span_id().to_bytes()),
        flags: sc.trace_flags().to_u8(),
    })
}

/// Records the response status on the exported span only (not on the log lines), and
/// marks a server error as the span's error status.
pub fn finish(span: &Span, status: u16) {
    span.set_attribute("status", i64::from(status));
    if status >= 500 {
        span.set_status(opentelemetry::trace::Status::error("server error"));
    }
}
