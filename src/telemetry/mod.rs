//! The tracing subscriber: human-readable (`LOG_FORMAT=pretty`, the default) or one JSON
//! object per line (`LOG_FORMAT=json`, formatted by [`json`]). Both print the fields of the
//! enclosing request span (request id, trace and span id, tenant id, method, route) on
//! every line logged inside a request. With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are
//! also exported over OTLP ([`otlp`]); trace context comes and goes as W3C `traceparent`
//! ([`trace_context`]).

mod json;
pub mod otlp;
pub mod trace_context;

use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, fmt};

use crate::config::LogFormat;
use trace_context::{SpanIdHex, SpanIds, TraceIdHex, TraceParent};

/// Keeps the span exporter alive; dropping it flushes and stops it (outside the async
/// runtime: the exporter's HTTP client is a blocking one).
#[must_use = "dropping the guard stops span export"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(e) = provider.shutdown() {
                eprintln!("tenantry: flushing spans failed: {e}");
            }
        }
    }
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the global subscriber; `RUST_LOG` overrides the default `info` filter of the
/// log lines. `export_spans` (from `OTEL_EXPORTER_OTLP_ENDPOINT`) adds the OTLP layer,
/// which sees info-level spans whatever `RUST_LOG` says.
pub fn init(format: LogFormat, export_spans: bool) -> Telemetry {
    let provider = if export_spans {
        match otlp::provider() {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("tenantry: span export is off: {e}");
                None
            }
        }
    } else {
        None
    };
    let Some(provider) = provider else {
        // Without export: the one global filter, as cheap as logging gets.
        let builder = fmt().with_env_filter(filter()).with_writer(std::io::stderr);
        let result = match format {
            LogFormat::Json => builder
                .fmt_fields(json::JsonFields)
                .event_format(json::JsonLines)
                .try_init(),
            LogFormat::Pretty => builder.try_init(),
        };
        // A second init (tests) keeps the first subscriber.
        let _ = result;
        return Telemetry { provider: None };
    };
    let logs = match format {
        LogFormat::Json => fmt::layer()
            .with_writer(std::io::stderr)
            .fmt_fields(json::JsonFields)
            .event_format(json::JsonLines)
            .with_filter(filter())
            .boxed(),
        LogFormat::Pretty => fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter())
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(otlp::layer(&provider).with_filter(LevelFilter::INFO))
        .try_init();
    Telemetry {
        provider: Some(provider),
    }
}

/// A request's trace context, read from its `traceparent` before its span exists.
///
/// Without export the ids are made here, so they go into the span as it is created
/// (one formatting of its fields, nothing recorded later); with export OpenTelemetry
/// assigns them when the span is attached.
#[derive(Debug, Clone, Copy)]
pub struct RequestTrace {
    parent: Option<TraceParent>,
    local: Option<SpanIds>,
}

impl RequestTrace {
    /// Parses the caller's `traceparent` (a malformed one is ignored: a new trace).
    pub fn begin(traceparent: Option<&[u8]>) -> Self {
        let parent = traceparent.and_then(trace_context::parse);
        let local = (!otlp::enabled()).then(|| SpanIds::start(parent, false));
        RequestTrace { parent, local }
    }

    /// The span's `trace_id` field, when already known.
    pub fn trace_id_field(&self) -> Option<tracing::field::DisplayValue<TraceIdHex>> {
        self.local
            .map(|ids| tracing::field::display(TraceIdHex(ids.trace_id)))
    }

    /// The span's `span_id` field, when already known.
    pub fn span_id_field(&self) -> Option<tracing::field::DisplayValue<SpanIdHex>> {
        self.local
            .map(|ids| tracing::field::display(SpanIdHex(ids.span_id)))
    }

    /// Ties the trace to the request span (declared with `trace_id` and `span_id`
    /// fields) and returns the span's ids, for the response's `traceparent`.
    pub fn attach(self, span: &tracing::Span) -> SpanIds {
        if let Some(ids) = self.local {
            return ids;
        }
        let ids =
            otlp::start(span, self.parent).unwrap_or_else(|| SpanIds::start(self.parent, false));
        span.record(
            "trace_id",
            tracing::field::display(TraceIdHex(ids.trace_id)),
        );
        span.record("span_id", tracing::field::display(SpanIdHex(ids.span_id)));
        ids
    }
}
