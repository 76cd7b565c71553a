//! `LOG_FORMAT=json`: one JSON object per line, written straight into the output buffer.
//!
//! tracing-subscriber's own JSON formatter re-parses a span's stored fields as JSON on
//! every event and on every `Span::record`, which made logging a large share of the
//! per-request CPU time in the benchmark (docs/benchmarks.md). Here a span's fields are
//! stored as a ready JSON fragment (`"method":"GET","route":"/x"`), a field recorded
//! later (the tenant id) is appended to it, and an event copies the fragments into its
//! line: no parsing, no intermediate values.
//!
//! A line: `{"timestamp":..,"level":..,"target":..,"fields":{..},"span":{..,"name":..}}`.
//! `span` holds the fields of every span the event is inside, outermost first, and the
//! name of the innermost; it is absent outside any span.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Stores span fields as a JSON object's members, without the braces.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonFields;

impl<'writer> FormatFields<'writer> for JsonFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Members::new(writer, true);
        fields.record(&mut visitor);
        visitor.result
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let first = current.fields.is_empty();
        let mut visitor = Members::new(current.as_writer(), first);
        fields.record(&mut visitor);
        visitor.result
    }
}

/// The event formatter for `LOG_FORMAT=json`.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLines;

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut writer)?;
        write!(writer, "\",\"level\":\"{}\",\"target\":", meta.level())?;
        write_json_str(&mut writer, meta.target())?;
        writer.write_str(",\"fields\":{")?;
        let mut visitor = Members::new(writer.by_ref(), true);
        event.record(&mut visitor);
        visitor.result?;
        writer.write_char('}')?;
        if let Some(scope) = ctx.event_scope() {
            writer.write_str(",\"span\":{")?;
            let mut name = "";
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() {
                    if !fields.fields.is_empty() {
                        writer.write_str(&fields.fields)?;
                        writer.write_char(',')?;
                    }
                }
                name = span.name();
            }
            writer.write_str("\"name\":")?;
            write_json_str(&mut writer, name)?;
            writer.write_char('}')?;
        }
        writer.write_str("}\n")
    }
}

/// Writes visited fields as `"name":value` members, comma-separated.
struct Members<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl<'w> Members<'w> {
    fn new(writer: Writer<'w>, first: bool) -> Self {
        Members {
            writer,
            first,
            result: Ok(()),
        }
    }

    /// Writes the separator and the key, then the value with `value`.
    fn member(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'w>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        self.result = (|| {
            if !self.first {
                self.writer.write_char(',')?;
            }
            self.first = false;
            write_json_str(&mut self.writer, field.name())?;
            self.writer.write_char(':')?;
            value(&mut self.writer)
        })();
    }
}

impl Visit for Members<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |w| write_json_str(w, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%x` fields arrive here too, as a Debug that prints the Display form.
        self.member(field, |w| write_quoted(w, format_args!("{value:?}")));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.member(field, |w| write_quoted(w, format_args!("{value}")));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity.
        if value.is_finite() {
            self.member(field, |w| write!(w, "{value}"));
        } else {
            self.member(field, |w| w.write_str("null"));
        }
    }
}

/// `value` as a JSON string literal.
fn write_json_str(w: &mut impl Write, value: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaped(&mut *w).write_str(value)?;
    w.write_char('"')
}

/// `value`, rendered, as a JSON string literal.
fn write_quoted(w: &mut impl Write, value: fmt::Arguments<'_>) -> fmt::Result {
    w.write_char('"')?;
    Escaped(&mut *w).write_fmt(value)?;
    w.write_char('"')
}

/// A writer that escapes what passes through it for use inside a JSON string.
struct Escaped<'a, W: Write + ?Sized>(&'a mut W);

impl<W: Write + ?Sized> Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut plain_from = 0;
        for (i, c) in s.char_indices() {
            let escape = match c {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                c if (c as u32) < 0x20 => "",
                _ => continue,
            };
            self.0.write_str(&s[plain_from..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{:04x}", c as u32)?;
            } else {
                self.0.write_str(escape)?;
            }
            plain_from = i + c.len_utf8();
        }
        self.0.write_str(&s[plain_from..])
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use serde_json::Value;
    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    fn lines(run: impl FnOnce()) -> Vec<Value> {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(buffer.clone())
            .fmt_fields(JsonFields)
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, run);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn events_carry_their_fields_and_the_fields_of_their_spans() {
        let out = lines(|| {
            let span = tracing::info_span!(
                "request",
                method = %"GET",
                request_id = "r-1",
                tenant_id = tracing::field::Empty,
            );
            span.record("tenant_id", tracing::field::display("t-1"));
            let inner = span.in_scope(|| tracing::info_span!("inner", step = 2_u64));
            span.in_scope(|| {
                tracing::info!(
                    status = 200_u64,
                    duration_ms = 1.5,
                    ok = true,
                    "request finished"
                )
            });
            inner.in_scope(|| tracing::warn!(delta = -3_i64, "nested"));
            tracing::error!(cause = "outside", "no span");
        });
        assert_eq!(out.len(), 3);
        let first = &out[0];
        assert_eq!(first["level"], "INFO");
        assert!(first["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(first["fields"]["message"], "request finished");
        assert_eq!(first["fields"]["status"], 200);
        assert_eq!(first["fields"]["duration_ms"], 1.5);
        assert_eq!(first["fields"]["ok"], true);
        assert_eq!(first["span"]["method"], "GET");
        assert_eq!(first["span"]["request_id"], "r-1");
        assert_eq!(first["span"]["tenant_id"], "t-1");
        assert_eq!(first["span"]["name"], "request");
        assert_eq!(out[1]["fields"]["delta"], -3);
        assert_eq!(out[1]["span"]["tenant_id"], "t-1");
        assert_eq!(out[1]["span"]["step"], 2);
        assert_eq!(out[1]["span"]["name"], "inner");
        assert_eq!(out[2]["fields"]["cause"], "outside");
        assert!(out[2].get("span").is_none());
    }

    #[test]
    fn strings_are_escaped_and_non_finite_numbers_are_null() {
        let nasty = "quote \" backslash \\ newline \n tab \t bell \u{7} é";
        let out = lines(|| {
            let span = tracing::info_span!("request", route = nasty);
            span.in_scope(
                || tracing::info!(text = nasty, shown = %nasty, ratio = f64::NAN, "{nasty}"),
            );
        });
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["fields"]["text"], nasty);
        assert_eq!(out[0]["fields"]["shown"], nasty);
        assert_eq!(out[0]["fields"]["message"], nasty);
        assert_eq!(out[0]["fields"]["ratio"], Value::Null);
        assert_eq!(out[0]["span"]["route"], nasty);
    }
}
