//! Whether a connection is moving: when it last read or wrote a byte, and whether the
//! server itself is holding its answer (latency, pacing, a stall), so that the idle limit
//! blames only a silent client.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// When a connection last moved a byte, and whether the server itself is holding its
/// answer (then the client is not to blame for the silence).
pub(super) struct Activity {
    start: Instant,
    /// Last byte read or written, in ns since `start`.
    last_ns: AtomicU64,
    holds: AtomicUsize,
}

impl Activity {
    pub(super) fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ns: AtomicU64::new(0),
            holds: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ns = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_ns.store(ns, Ordering::Relaxed);
    }

    /// Marks the server as holding the answer until the guard is dropped.
    pub(super) fn hold(self: &Arc<Self>) -> Hold {
        self.holds.fetch_add(1, Ordering::Relaxed);
        Hold(Arc::clone(self))
    }

    /// When the connection will have been silent for `idle`; `None` while the server holds.
    pub(super) fn idle_deadline(&self, idle: Duration) -> Option<Instant> {
        if self.holds.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let last = Duration::from_nanos(self.last_ns.load(Ordering::Relaxed));
        Some(self.start + last + idle)
    }
}

/// The server holding a connection's answer: simulated latency, pacing, a stall.
pub(super) struct Hold(Arc<Activity>);

impl Drop for Hold {
    fn drop(&mut self) {
        // The silence the server chose ends now: the client's time starts again.
        self.0.touch();
        self.0.holds.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A socket that records each byte it moves in its connection's [`Activity`].
pub(super) struct Watched {
    pub(super) inner: tokio::net::TcpStream,
    pub(super) activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = ready!(Pin::new(&mut this.inner).poll_read(cx, buf));
        if buf.filled().len() > before {
            this.activity.touch();
        }
        Poll::Ready(result)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = ready!(Pin::new(&mut this.inner).poll_write(cx, data));
        if matches!(result, Ok(n) if n > 0) {
            this.activity.touch();
        }
        Poll::Ready(result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs));
        if matches!(result, Ok(n) if n > 0) {
            this.activity.touch();
        }
        Poll::Ready(result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
