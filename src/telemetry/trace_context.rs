//! W3C Trace Context (`traceparent`): parsing the caller's header and writing ours.
//!
//! `traceparent: 00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`. A header
//! that breaks the format (wrong lengths, upper-case or non-hex digits, all-zero ids,
//! version `ff`) is ignored and a new trace is started, as the specification asks.

use std::fmt;

use axum::http::HeaderValue;

/// The request and response header.
pub const HEADER: &str = "traceparent";

/// The `sampled` bit of the trace flags.
pub const SAMPLED: u8 = 0x01;

/// The caller's trace, as read from its `traceparent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: u128,
    pub parent_id: u64,
    pub flags: u8,
}

/// The ids of the server's span for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanIds {
    pub trace_id: u128,
    pub span_id: u64,
    pub flags: u8,
}

/// Lower-case hex digits of a whole field, or `None`.
fn hex(field: &[u8]) -> Option<u128> {
    if field.is_empty() || field.len() > 32 {
        return None;
    }
    field.iter().try_fold(0u128, |acc, &b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        Some(acc << 4 | u128::from(digit))
    })
}

/// Parses a `traceparent` value; `None` when it is not a valid one.
pub fn parse(value: &[u8]) -> Option<TraceParent> {
    // version "-" trace-id "-" parent-id "-" flags, then (future versions only) "-" more.
    if value.len() < 55 || value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    let version = hex(&value[..2])?;
    if version == 0xff || (version == 0 && value.len() != 55) {
        return None;
    }
    if value.len() > 55 && value[55] != b'-' {
        return None;
    }
    let trace_id = hex(&value[3..35])?;
    let parent_id = u64::try_from(hex(&value[36..52])?).ok()?;
    let flags = u8::try_from(hex(&value[53..55])?).ok()?;
    if trace_id == 0 || parent_id == 0 {
        return None;
    }
    Some(TraceParent {
        trace_id,
        parent_id,
        flags,
    })
}

impl SpanIds {
    /// New ids for the server span: the caller's trace (and sampling decision) when it
    /// sent one, else a new random trace.
    pub fn start(parent: Option<TraceParent>, sampled_by_default: bool) -> Self {
        let span_id = loop {
            let id: u64 = rand::random();
            if id != 0 {
                break id;
            }
        };
        match parent {
            Some(p) => SpanIds {
                trace_id: p.trace_id,
                span_id,
                flags: p.flags,
            },
            None => SpanIds {
                trace_id: loop {
                    let id: u128 = rand::random();
                    if id != 0 {
                        break id;
                    }
                },
                span_id,
                flags: if sampled_by_default { SAMPLED } else { 0 },
            },
        }
    }

    /// The response's `traceparent`, naming the server span as the parent.
    pub fn header_value(&self) -> HeaderValue {
        let mut buf = [0u8; 55];
        let mut w = Cursor(&mut buf, 0);
        let _ = fmt::Write::write_fmt(
            &mut w,
            format_args!(
                "00-{:032x}-{:016x}-{:02x}",
                self.trace_id, self.span_id, self.flags
            ),
        );
        HeaderValue::from_bytes(&buf).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// Writes into a fixed buffer, so the header is built without a `String`.
struct Cursor<'a>(&'a mut [u8; 55], usize);

impl fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.1 + s.len();
        self.0
            .get_mut(self.1..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.1 = end;
        Ok(())
    }
}

/// A trace id as log lines show it: 32 lower-case hex digits.
#[derive(Debug, Clone, Copy)]
pub struct TraceIdHex(pub u128);

impl fmt::Display for TraceIdHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// A span id as log lines show it: 16 lower-case hex digits.
#[derive(Debug, Clone, Copy)]
pub struct SpanIdHex(pub u64);

impl fmt::Display for SpanIdHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_the_specifications_example() {
        assert_eq!(
            parse(VALID.as_bytes()),
            Some(TraceParent {
                trace_id: 0x4bf92f3577b34da6a3ce929d0e0e4736,
                parent_id: 0x00f067aa0ba902b7,
                flags: 1,
            })
        );
        // A later version may append fields after a dash.
        let future = format!("cc{}-what-the-future-holds", &VALID[2..]);
        assert!(parse(future.as_bytes()).is_some());
    }

    #[test]
    fn refuses_malformed_headers() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn continues_the_callers_trace_with_a_new_span() {
        let parent = parse(VALID.as_bytes());
        let ids = SpanIds::start(parent, false);
        assert_eq!(ids.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_ne!(ids.span_id, 0x00f067aa0ba902b7);
        let header = ids.header_value();
        let text = header.to_str().expect("ascii");
        assert!(
            text.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{text}"
        );
        assert!(text.ends_with("-01"), "{text}");
        assert_eq!(
            parse(text.as_bytes()).map(|p| p.parent_id),
            Some(ids.span_id)
        );
    }

    #[test]
    fn starts_a_trace_when_there_is_none() {
        let a = SpanIds::start(None, true);
        let b = SpanIds::start(None, false);
        assert_ne!(a.trace_id, b.trace_id);
        assert_eq!(a.flags, SAMPLED);
        assert_eq!(b.flags, 0);
        assert_eq!(TraceIdHex(1).to_string().len(), 32);
        assert_eq!(SpanIdHex(1).to_string(), "0000000000000001");
    }
}
