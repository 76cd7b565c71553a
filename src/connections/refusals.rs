//! The heads hyper refuses on its own, answered as the contract says.
//!
//! hyper parses HTTP/1 request heads before any service runs. A URI over 64 KiB
//! (`http::Uri` cannot hold more), a head larger than its read buffer, more header fields
//! than it parses or a head it cannot parse make it write a bare `414`/`431`/`400`
//! (no body, none of our headers) and close; no option changes that answer, and raising
//! its buffer does not help (the URI limit is fixed). So the connection's socket wrapper
//! recognises that bare head on its way out, writes the router's own problem+json answer
//! in its place, and closes gently: it sends FIN, then reads and discards what the client
//! is still sending for a moment, so the kernel does not reset the connection (a reset
//! would throw the answer away before the client reads it).
//!
//! A bare head is only looked for where no service response is due: the first write
//! after a service produced a response is that response's head, and passes untouched.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::error::AppError;

/// How long, and how much, a refused client's remaining input is read and discarded
/// after the answer (the watchdog's header timeout bounds it too).
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// Which bare answer hyper is writing, if `out` starts one (no allocation: this runs
/// on writes that are not a response's head).
pub fn bare_status(out: &[u8]) -> Option<StatusCode> {
    let rest = out.strip_prefix(b"HTTP/1.1 ")?;
    let status = StatusCode::from_bytes(rest.get(..3)?).ok()?;
    if ![
        StatusCode::URI_TOO_LONG,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        StatusCode::BAD_REQUEST,
    ]
    .contains(&status)
    {
        return None;
    }
    let reason = rest[3..].strip_prefix(b" ")?;
    let reason = reason.strip_prefix(status.canonical_reason()?.as_bytes())?;
    reason.starts_with(b"\r\n").then_some(status)
}

/// Our answer for hyper's bare `status`. `line_open`: the request line had not ended
/// when hyper gave up, so a `431` (read buffer full) is really a URI too long.
pub fn answer_for(status: StatusCode, line_open: bool) -> Vec<u8> {
    let error = match status {
        StatusCode::URI_TOO_LONG => AppError::UriTooLong,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE if line_open => AppError::UriTooLong,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => AppError::HeaderFieldsTooLarge,
        other => AppError::ClientError(other),
    };
    let (parts, body) = crate::http::middleware::refusal_parts(error, None);
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_str(),
        parts.status.canonical_reason().unwrap_or_default()
    )
    .into_bytes();
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&body);
    out
}

/// An answer replacing hyper's, being written, then the gentle close.
pub struct Replacement {
    out: Vec<u8>,
    written: usize,
    write_shut: bool,
    drained: usize,
    linger: Pin<Box<tokio::time::Sleep>>,
}

impl Replacement {
    pub fn new(out: Vec<u8>) -> Self {
        Replacement {
            out,
            written: 0,
            write_shut: false,
            drained: 0,
            linger: Box::pin(tokio::time::sleep(LINGER)),
        }
    }

    /// Writes what is left of the answer.
    pub fn poll_send(
        &mut self,
        socket: &mut TcpStream,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.written < self.out.len() {
            let n = ready!(Pin::new(&mut *socket).poll_write(cx, &self.out[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        Pin::new(socket).poll_flush(cx)
    }

    /// The answer, FIN, then the client's remaining input read and dropped until it
    /// closes, [`LINGER`] passes or [`LINGER_BYTES`] were read.
    pub fn poll_close(
        &mut self,
        socket: &mut TcpStream,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        ready!(self.poll_send(socket, cx))?;
        if !self.write_shut {
            ready!(Pin::new(&mut *socket).poll_shutdown(cx))?;
            self.write_shut = true;
        }
        let mut scratch = [0u8; 8192];
        while self.drained < LINGER_BYTES {
            if self.linger.as_mut().poll(cx).is_ready() {
                break;
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut *socket).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => break,
                Poll::Ready(Ok(())) => self.drained += buf.filled().len(),
                Poll::Ready(Err(_)) => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_bare_heads_are_recognised_and_nothing_else() {
        assert_eq!(
            bare_status(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n"),
            Some(StatusCode::URI_TOO_LONG)
        );
        assert_eq!(
            bare_status(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        assert_eq!(bare_status(b"HTTP/1.1 200 OK\r\n"), None);
        assert_eq!(
            bare_status(b"{\"title\":\"HTTP/1.1 414 URI Too Long\"}"),
            None
        );
    }

    #[test]
    fn the_answer_is_problem_json_and_closes() {
        let out = String::from_utf8(answer_for(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            true,
        ))
        .expect("utf-8");
        assert!(out.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{out}");
        assert!(
            out.contains("content-type: application/problem+json\r\n"),
            "{out}"
        );
        assert!(out.contains("x-content-type-options: nosniff\r\n"), "{out}");
        assert!(out.contains("connection: close\r\n"), "{out}");
        let (_, body) = out.split_once("\r\n\r\n").expect("head and body");
        let body: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(body["code"], "uri_too_long");
        let out = String::from_utf8(answer_for(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            false,
        ))
        .expect("utf-8");
        assert!(
            out.contains("\"code\":\"header_fields_too_large\""),
            "{out}"
        );
    }
}
