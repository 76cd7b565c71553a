//! The accept loop: HTTP/1 and HTTP/2 through hyper-util, with the slow-client limits of
//! docs/API.md §10 (`HEADER_READ_TIMEOUT_MS`, `IDLE_TIMEOUT_MS`, `MAX_CONNECTIONS`) and
//! graceful shutdown.
//!
//! hyper's own `header_read_timeout` starts its clock as soon as a connection is ready
//! for the next request, so it would also close every idle keep-alive connection after
//! the (short) header timeout. Instead each connection has a small watchdog that knows
//! whether it is idle (no request running, no byte of a new head read) or in the middle
//! of a head, and applies the matching limit.
//!
//! The same socket wrapper replaces hyper's bare answers to heads it cannot take (a URI
//! over 64 KiB, a head over its buffer) with the contract's problem+json ([`refusals`]).

mod refusals;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::Service;

use crate::server::ConnLimits;

/// Requests with more header fields than this are refused by hyper itself (`431`);
/// the router refuses more than `http::middleware::MAX_HEADERS` with a problem body.
const HYPER_MAX_HEADERS: usize = 256;

/// What the watchdog knows about one connection. Times are milliseconds since `born`;
/// `0` in `head_started` means "no head being read".
struct ConnState {
    born: Instant,
    in_flight: AtomicUsize,
    head_started: AtomicU64,
    idle_since: AtomicU64,
    /// A service produced a response whose head has not been written yet.
    response_due: AtomicBool,
}

impl ConnState {
    fn new() -> Self {
        ConnState {
            born: Instant::now(),
            in_flight: AtomicUsize::new(0),
            head_started: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            response_due: AtomicBool::new(false),
        }
    }

    /// Milliseconds since the connection opened, at least 1 (0 is "unset").
    fn now(&self) -> u64 {
        (self.born.elapsed().as_millis() as u64).max(1)
    }

    /// Bytes arrived: when no request is running they are the start of a head (then
    /// true).
    fn on_read(&self) -> bool {
        let starts_head = self.in_flight.load(Ordering::Relaxed) == 0
            && self.head_started.load(Ordering::Relaxed) == 0;
        if starts_head {
            self.head_started.store(self.now(), Ordering::Relaxed);
        }
        starts_head
    }

    /// Whether the connection has overstayed: a head slower than `header`, or idle
    /// longer than `idle`.
    fn expired(&self, limits: &ConnLimits) -> bool {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return false;
        }
        let now = self.now();
        let head = self.head_started.load(Ordering::Relaxed);
        if head != 0 {
            now.saturating_sub(head) > limits.header_read_timeout.as_millis() as u64
        } else {
            let idle = self.idle_since.load(Ordering::Relaxed);
            now.saturating_sub(idle) > limits.idle_timeout.as_millis() as u64
        }
    }
}

/// Marks a request as running from the moment its head was parsed until its response
/// is ready.
struct InFlight(Arc<ConnState>);

impl InFlight {
    fn begin(state: &Arc<ConnState>) -> Self {
        state.in_flight.fetch_add(1, Ordering::Relaxed);
        state.head_started.store(0, Ordering::Relaxed);
        InFlight(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.response_due.store(true, Ordering::Relaxed);
        if self.0.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.idle_since.store(self.0.now(), Ordering::Relaxed);
        }
    }
}

/// The socket, telling the watchdog when bytes arrive, and answering in hyper's place
/// when it refuses a head.
struct Watched {
    inner: TcpStream,
    state: Arc<ConnState>,
    /// The current head's request line has begun and not ended.
    line_open: bool,
    /// Our answer replacing hyper's bare one; everything hyper writes after it is dropped.
    replacement: Option<refusals::Replacement>,
}

impl Watched {
    fn new(inner: TcpStream, state: Arc<ConnState>) -> Self {
        Watched {
            inner,
            state,
            line_open: false,
            replacement: None,
        }
    }

    /// Whether `out`, about to be written, is hyper's own answer to a refused head; if
    /// so it is replaced by ours from now on.
    fn intercepts(&mut self, out: &[u8]) -> bool {
        if self.replacement.is_some() {
            return true;
        }
        // The first write after a service answered is that answer's head.
        if self.state.response_due.swap(false, Ordering::Relaxed)
            || self.state.in_flight.load(Ordering::Relaxed) > 0
        {
            return false;
        }
        let Some(status) = refusals::bare_status(out) else {
            return false;
        };
        self.replacement = Some(refusals::Replacement::new(refusals::answer_for(
            status,
            self.line_open,
        )));
        true
    }

    /// Writes our replacement answer (when there is one) before anything else.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<bool>> {
        match &mut self.replacement {
            Some(r) => r.poll_send(&mut self.inner, cx).map_ok(|()| true),
            None => Poll::Ready(Ok(false)),
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            if self.state.on_read() {
                self.line_open = true;
            }
            if self.line_open && buf.filled()[before..].contains(&b'\n') {
                self.line_open = false;
            }
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.intercepts(buf) {
            ready!(self.poll_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        if self.intercepts(first) {
            ready!(self.poll_replacement(cx))?;
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if ready!(self.poll_replacement(cx))? {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        match &mut this.replacement {
            Some(r) => r.poll_close(&mut this.inner, cx),
            None => Pin::new(&mut this.inner).poll_shutdown(cx),
        }
    }
}

/// How often a watchdog looks: a tenth of the shorter limit, between 5 ms and 1 s.
fn tick(limits: &ConnLimits) -> Duration {
    (limits.header_read_timeout.min(limits.idle_timeout) / 10)
        .clamp(Duration::from_millis(5), Duration::from_secs(1))
}

/// Accepts connections until `stop` resolves, then returns; connections still open
/// are tracked by `graceful` for the drain.
pub async fn accept_loop(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnLimits,
    graceful: &hyper_util::server::graceful::GracefulShutdown,
    stop: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .max_headers(HYPER_MAX_HEADERS);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    tokio::pin!(stop);
    loop {
        // Beyond MAX_CONNECTIONS new connections wait in the kernel's accept queue.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = &mut stop => return,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => return,
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::new(ConnState::new());
        let io = TokioIo::new(Watched::new(stream, state.clone()));
        // The router as this connection's service: the peer address for
        // `ConnectInfo`, and the in-flight mark for the watchdog.
        let (router, marks) = (router.clone(), state.clone());
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            let mark = InFlight::begin(&marks);
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut router = router.clone();
            async move {
                let response = router.call(req.map(axum::body::Body::new)).await;
                drop(mark);
                response
            }
        });
        let conn = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _permit = permit;
            tokio::pin!(conn);
            let period = tick(&limits);
            let watchdog = async {
                loop {
                    tokio::time::sleep(period).await;
                    if state.expired(&limits) {
                        return;
                    }
                }
            };
            tokio::select! {
                _ = &mut conn => {}
                // Dropping the connection closes the socket.
                _ = watchdog => tracing::debug!(%peer, "closing a slow or idle connection"),
            }
        });
    }
}
