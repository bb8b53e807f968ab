//! The simulated network: a loopback HTTP server that serves a catalog folder the way an
//! object store would, only slower on purpose.
//!
//! - Files are served by `hyper-staticfile` (hyper 1): `Range` requests, multi-range
//!   requests (`multipart/byteranges`, at most [`MAX_RANGES`] ranges each), `HEAD`,
//!   `Last-Modified`, 404s, and 416 with `Content-Range: bytes */SIZE`. Only 127.0.0.1 is
//!   bound. Only `GET` and `HEAD` are answered (and `POST /search`, below); any other
//!   method gets 405 with `Allow`.
//! - The folder's `search.json` is also answered as a STAC API ([`super::stac_api`]):
//!   landing page at `/`, `/conformance`, `/collections`, `GET`/`POST /search`, so that
//!   pystac-client and `chunkscope search` find its scenes offline. These answers go
//!   through the same latency, pacing, counting and time limits as the files; a search
//!   body is refused beyond a size and a time.
//! - No request gets more than its file: ranges that add up to more than the file get the
//!   whole file once (200), overlapping ones are merged ([`super::ranges`]).
//! - No client holds a connection by sending nothing, or too slowly: a request's head must
//!   arrive within [`Timeouts::header_read`] (also the keep-alive idle limit), and a
//!   connection on which no byte moves for [`Timeouts::idle`] is closed, unless the server
//!   itself is holding the answer (latency, pacing, [`Fault::Stall`]).
//! - Only what lies inside the served folder is served: a path is resolved with its
//!   symbolic links and must stay under the folder, and hidden files (a name starting with
//!   `.`, such as the writer's staging files) are never served: both answer 404.
//! - Each request waits `latency` before its response starts (time to first byte).
//! - Each connection's body bytes are paced to `bandwidth` (a token bucket with a 10 ms
//!   burst), as object stores cap per connection; an optional `total_bandwidth` paces all
//!   connections together.
//! - `*.json` catalogs are served with their local hrefs rewritten to point at the server
//!   ([`super::rewrite_catalog`]).
//! - Requests, ranges and body bytes are counted in total and per worker: chunkscope's
//!   workers name themselves in their User-Agent ([`super::remote::worker_user_agent`]), so
//!   the engine can attribute the traffic of each load task exactly (a worker runs one task
//!   at a time).
//!
//! The server runs on its own thread with a single-threaded tokio runtime; files are read
//! synchronously on that thread (from the page cache, in small pieces), so all the
//! server's CPU time is on one thread and can be reported apart from the run's
//! ([`Probe::server_cpu_ns`]). [`NetworkSim`] stops the server when dropped.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_staticfile::Static;
use hyper_staticfile::vfs::{FileAccess, FileOpener, FileWithMetadata, IntoFileAccess};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

use super::ranges::{self, RangePlan};
use super::stac_api;
use super::{Rate, format_latency, remote, rewrite_catalog};
use crate::catalog::{Catalog, CatalogError};

/// How much a paced connection may send at once after being idle.
const BURST: Duration = Duration::from_millis(10);

/// Largest piece of a file read and sent at once.
const MAX_PIECE: usize = 64 * 1024;

/// Most byte ranges served in one request. GDAL asks for at most 250 at once (its
/// `CPL_VSIL_CURL_MAX_RANGES`); thousands of tiny ranges only make a multipart answer many
/// times larger than the bytes asked for, which RFC 9110 (14.2) allows a server to reject.
pub const MAX_RANGES: u64 = 256;

/// How long the server waits on a client that sends nothing, or too slowly, before it
/// closes the connection: without limits, connections that trickle hold every file
/// descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Most time for a request's head to arrive, counted from when the server starts
    /// waiting for it: bounds a client trickling its headers and an idle keep-alive
    /// connection alike (hyper starts the clock at each head it waits for).
    pub header_read: Duration,
    /// Most time a connection may go without a byte read or written while the server is
    /// not itself holding the answer: a client that stops reading its answer.
    pub idle: Duration,
}

impl Default for Timeouts {
    /// Apache's `RequestReadTimeout header=20` and nginx's `send_timeout 60s`.
    fn default() -> Self {
        Timeouts {
            header_read: Duration::from_secs(20),
            idle: Duration::from_secs(60),
        }
    }
}

/// A deliberate misbehaviour, to show (and test) what chunkscope says when a server fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fault {
    /// A well-behaved server.
    #[default]
    None,
    /// Ignores `Range` and sends whole files with 200, as some plain web servers do.
    IgnoreRange,
    /// Answers every file request with 403 Forbidden (catalogs are still served).
    Forbidden,
    /// Accepts connections and reads requests, but never answers.
    Stall,
}

/// What the simulated network does to each request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimSettings {
    /// Added before each response starts.
    pub latency: Duration,
    /// Cap on each connection's body bytes per second; `None`: as fast as loopback goes.
    pub bandwidth: Option<Rate>,
    /// Cap on all connections together; `None`: no total cap.
    pub total_bandwidth: Option<Rate>,
    pub fault: Fault,
}

impl SimSettings {
    /// `simulated network: 50 ms latency, 25 MiB/s per connection[, 100 MiB/s in total]`.
    pub fn description(&self) -> String {
        let mut s = format!(
            "simulated network: {} latency, {}",
            format_latency(self.latency),
            match self.bandwidth {
                Some(b) => format!("{b} per connection"),
                None => "no bandwidth cap".to_string(),
            }
        );
        if let Some(t) = self.total_bandwidth {
            s.push_str(&format!(", {t} in total"));
        }
        match self.fault {
            Fault::None => {}
            Fault::IgnoreRange => s.push_str(", ignoring Range"),
            Fault::Forbidden => s.push_str(", answering 403"),
            Fault::Stall => s.push_str(", never answering"),
        }
        s
    }
}

/// Traffic as the server saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrafficCounts {
    /// HTTP requests received (any method, any status).
    pub requests: u64,
    /// Byte ranges asked for: one per range of a `Range` header, none without one.
    pub ranges: u64,
    /// Response body bytes sent.
    pub bytes: u64,
}

impl TrafficCounts {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &TrafficCounts) -> TrafficCounts {
        TrafficCounts {
            requests: self.requests.saturating_sub(earlier.requests),
            ranges: self.ranges.saturating_sub(earlier.ranges),
            bytes: self.bytes.saturating_sub(earlier.bytes),
        }
    }

    pub fn add(&mut self, other: &TrafficCounts) {
        self.requests += other.requests;
        self.ranges += other.ranges;
        self.bytes += other.bytes;
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Shown after "cannot serve \"ROOT\"" by the front ends.
    #[error("not a folder: name the folder that holds search.json")]
    NotAFolder { root: PathBuf },
    #[error(
        "cannot listen on 127.0.0.1:{port}: {io}{hint}",
        hint = if .io.kind() == io::ErrorKind::AddrInUse { "; pick another --port, or 0 for any free one" } else { "" }
    )]
    Bind { port: u16, io: io::Error },
    #[error("cannot start the simulated network's thread: {0}")]
    Thread(io::Error),
    #[error("the catalog \"{path}\" is not inside the served folder \"{root}\"", path = .path.display(), root = .root.display())]
    CatalogOutside { path: PathBuf, root: PathBuf },
    #[error(transparent)]
    Rewrite(#[from] super::RewriteError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

#[derive(Default)]
struct Counters {
    total: TrafficCounts,
    by_worker: HashMap<u32, TrafficCounts>,
    by_status: HashMap<u16, u64>,
}

/// What the server thread and the engine share.
struct Shared {
    settings: SimSettings,
    timeouts: Timeouts,
    root: PathBuf,
    /// `root` with its symbolic links resolved: every served file must lie under it.
    real_root: PathBuf,
    base_url: String,
    counters: Mutex<Counters>,
    /// Pacing of all connections together, when a total cap is set.
    total_pacer: Option<Mutex<Pacer>>,
    /// The server thread, for its CPU clock; `None` once it has been joined.
    thread: Mutex<Option<libc::pthread_t>>,
}

impl Shared {
    fn count_request(&self, worker: Option<u32>, ranges: u64) {
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let add = |t: &mut TrafficCounts| {
            t.requests += 1;
            t.ranges += ranges;
        };
        add(&mut c.total);
        if let Some(w) = worker {
            add(c.by_worker.entry(w).or_default());
        }
    }

    fn count_bytes(&self, worker: Option<u32>, bytes: u64) {
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        c.total.bytes += bytes;
        if let Some(w) = worker {
            c.by_worker.entry(w).or_default().bytes += bytes;
        }
    }

    fn count_status(&self, status: StatusCode) {
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        *c.by_status.entry(status.as_u16()).or_default() += 1;
    }

    /// The file (or folder) a request path names, if it may be served: percent-escapes
    /// decoded, no `.`/`..` or hidden parts, and inside the served folder once symbolic
    /// links are resolved.
    fn resolve(&self, url_path: &str) -> Option<PathBuf> {
        let decoded = crate::catalog::percent_decode(url_path);
        let mut path = self.root.clone();
        for part in decoded.split('/').filter(|p| !p.is_empty()) {
            if part.starts_with('.') || part.contains('\0') {
                return None;
            }
            path.push(part);
        }
        inside(&self.real_root, &path)
    }
}

/// `path` with its links resolved, if it exists, lies under `real_root` and has no hidden
/// part below it (a visible link to a hidden file counts as hidden).
fn inside(real_root: &Path, path: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(path).ok()?;
    let below = real.strip_prefix(real_root).ok()?;
    let hidden = below
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
    (!hidden).then_some(real)
}

/// A read-only view of a running server's counters and settings; cheap to clone.
#[derive(Clone)]
pub struct Probe(Arc<Shared>);

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("base_url", &self.0.base_url)
            .finish()
    }
}

impl PartialEq for Probe {
    /// The same server.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Probe {}

impl Probe {
    /// Whether `gdal_path` (a `/vsicurl/http://127.0.0.1:PORT/...` path or the URL itself)
    /// is read from this server.
    pub fn serves(&self, gdal_path: &str) -> bool {
        let url = gdal_path.strip_prefix("/vsicurl/").unwrap_or(gdal_path);
        url.starts_with(&format!("{}/", self.0.base_url))
    }

    /// The local file behind `gdal_path` when this server serves it: what a run through
    /// the simulated network really reads.
    pub fn local_file_for(&self, gdal_path: &str) -> Option<PathBuf> {
        let url = gdal_path.strip_prefix("/vsicurl/").unwrap_or(gdal_path);
        let rest = url.strip_prefix(&self.0.base_url)?.strip_prefix('/')?;
        let path = rest.split(['?', '#']).next().unwrap_or(rest);
        self.0.resolve(path)
    }

    /// Everything served so far.
    pub fn total(&self) -> TrafficCounts {
        self.0
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .total
    }

    /// What the requests of worker `worker` (as named in their User-Agent) were served.
    pub fn worker(&self, worker: u32) -> TrafficCounts {
        self.0
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_worker
            .get(&worker)
            .copied()
            .unwrap_or_default()
    }

    /// Responses per HTTP status so far, sorted by status.
    pub fn statuses(&self) -> Vec<(u16, u64)> {
        let c = self.0.counters.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<(u16, u64)> = c.by_status.iter().map(|(s, n)| (*s, *n)).collect();
        v.sort_unstable();
        v
    }

    /// CPU time of the server's thread so far (Linux only): part of the process's CPU
    /// time, but not the pipeline's work.
    pub fn server_cpu_ns(&self) -> Option<u64> {
        let thread = self.0.thread.lock().unwrap_or_else(|p| p.into_inner());
        thread.and_then(thread_cpu_ns)
    }

    pub fn settings(&self) -> SimSettings {
        self.0.settings
    }

    pub fn base_url(&self) -> &str {
        &self.0.base_url
    }
}

/// CPU time of a live (or exited but not yet joined) thread.
#[cfg(target_os = "linux")]
fn thread_cpu_ns(thread: libc::pthread_t) -> Option<u64> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: `thread` is a thread of this process that has not been joined (the caller
    // holds the lock that `NetworkSim::drop` takes before joining), so its id is valid.
    if unsafe { libc::pthread_getcpuclockid(thread, &mut clock) } != 0 {
        return None;
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock` is a CPU-time clock id just obtained; `ts` is a valid out pointer.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_ns(_thread: libc::pthread_t) -> Option<u64> {
    None
}

/// A running simulated server. Dropping it stops the server and waits for its thread.
pub struct NetworkSim {
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for NetworkSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkSim")
            .field("base_url", &self.shared.base_url)
            .field("settings", &self.shared.settings)
            .finish()
    }
}

impl NetworkSim {
    /// Serves `root` on 127.0.0.1:`port` (0: any free port) with `settings`.
    pub fn start(root: &Path, settings: SimSettings, port: u16) -> Result<NetworkSim, ServerError> {
        Self::start_with(root, settings, port, Timeouts::default())
    }

    /// [`NetworkSim::start`] with other [`Timeouts`] than the default.
    pub fn start_with(
        root: &Path,
        settings: SimSettings,
        port: u16,
        timeouts: Timeouts,
    ) -> Result<NetworkSim, ServerError> {
        if !root.is_dir() {
            return Err(ServerError::NotAFolder {
                root: root.to_owned(),
            });
        }
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_owned());
        let real_root = std::fs::canonicalize(&root)
            .map_err(|_| ServerError::NotAFolder { root: root.clone() })?;
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .map_err(|io| ServerError::Bind { port, io })?;
        let bind_err = |io| ServerError::Bind { port, io };
        listener.set_nonblocking(true).map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ServerError::Thread)?;
        let shared = Arc::new(Shared {
            settings,
            timeouts,
            root,
            real_root,
            base_url: format!("http://{addr}"),
            counters: Mutex::new(Counters::default()),
            total_pacer: settings
                .total_bandwidth
                .map(|rate| Mutex::new(Pacer::new(rate))),
            thread: Mutex::new(None),
        });
        let (tx, rx) = oneshot::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("chunkscope-netsim".into())
            .spawn(move || runtime.block_on(accept_loop(listener, thread_shared, rx)))
            .map_err(ServerError::Thread)?;
        *shared.thread.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(std::os::unix::thread::JoinHandleExt::as_pthread_t(&thread));
        Ok(NetworkSim {
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    pub fn settings(&self) -> SimSettings {
        self.shared.settings
    }

    pub fn probe(&self) -> Probe {
        Probe(Arc::clone(&self.shared))
    }

    /// The URL a file under the served folder has.
    pub fn url_for(&self, path: &Path) -> Result<String, ServerError> {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let rel = abs
            .strip_prefix(&self.shared.root)
            .map_err(|_| ServerError::CatalogOutside {
                path: path.to_owned(),
                root: self.shared.root.clone(),
            })?;
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Ok(format!("{}/{}", self.shared.base_url, rel.join("/")))
    }

    /// The catalog file `path` (under the served folder) as this server serves it: every
    /// local href points at the server. The catalog's name in messages is its URL.
    pub fn catalog(&self, path: &Path) -> Result<Catalog, ServerError> {
        let url = self.url_for(path)?;
        let text = std::fs::read_to_string(path).map_err(|io| {
            ServerError::Rewrite(super::RewriteError::Read {
                path: path.to_owned(),
                io,
            })
        })?;
        let (text, _) = rewrite_catalog(&text, path, &self.shared.root, &self.shared.base_url)?;
        Ok(Catalog::from_json_str(&text, Path::new(&url))?)
    }
}

impl Drop for NetworkSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Taken before joining: a probe never reads the clock of a joined thread.
        let mut thread_id = self.shared.thread.lock().unwrap_or_else(|p| p.into_inner());
        *thread_id = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        drop(thread_id);
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(stream, Arc::clone(&shared)));
                }
                // Out of file descriptors, for instance: wait a little and go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
    // Returning drops the runtime's remaining tasks: open connections are closed.
}

async fn connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let timeouts = shared.timeouts;
    // One pacer per connection: HTTP/1.1 sends one response at a time on it.
    let pacer = shared
        .settings
        .bandwidth
        .map(|rate| Arc::new(Mutex::new(Pacer::new(rate))));
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: Arc::clone(&activity),
    });
    let service_activity = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |req| {
        handle(
            req,
            Arc::clone(&shared),
            pacer.clone(),
            Arc::clone(&service_activity),
        )
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read)
        .serve_connection(io, service);
    tokio::pin!(conn);
    loop {
        let check = activity
            .idle_deadline(timeouts.idle)
            .unwrap_or_else(|| Instant::now() + timeouts.idle);
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = tokio::time::sleep_until(check.into()) => {
                if activity
                    .idle_deadline(timeouts.idle)
                    .is_some_and(|deadline| deadline <= Instant::now())
                {
                    // Dropping the connection closes its socket.
                    return;
                }
            }
        }
    }
}

/// When a connection last moved a byte, and whether the server itself is holding its
/// answer (then the client is not to blame for the silence).
struct Activity {
    start: Instant,
    /// Last byte read or written, in ns since `start`.
    last_ns: AtomicU64,
    holds: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
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
    fn hold(self: &Arc<Self>) -> Hold {
        self.holds.fetch_add(1, Ordering::Relaxed);
        Hold(Arc::clone(self))
    }

    /// When the connection will have been silent for `idle`; `None` while the server holds.
    fn idle_deadline(&self, idle: Duration) -> Option<Instant> {
        if self.holds.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let last = Duration::from_nanos(self.last_ns.load(Ordering::Relaxed));
        Some(self.start + last + idle)
    }
}

/// The server holding a connection's answer: simulated latency, pacing, a stall.
struct Hold(Arc<Activity>);

impl Drop for Hold {
    fn drop(&mut self) {
        // The silence the server chose ends now: the client's time starts again.
        self.0.touch();
        self.0.holds.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A socket that records each byte it moves in its connection's [`Activity`].
struct Watched {
    inner: tokio::net::TcpStream,
    activity: Arc<Activity>,
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

type BoxedBody = Pin<Box<dyn Body<Data = Bytes, Error = io::Error> + Send>>;

async fn handle(
    mut req: Request<Incoming>,
    shared: Arc<Shared>,
    pacer: Option<Arc<Mutex<Pacer>>>,
    activity: Arc<Activity>,
) -> Result<Response<ShapedBody>, Infallible> {
    let hold = activity.hold();
    let worker = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(remote::worker_from_user_agent);
    let ranges = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map_or(0, |r| r.split(',').count() as u64);
    shared.count_request(worker, ranges);
    let settings = shared.settings;
    if !settings.latency.is_zero() {
        tokio::time::sleep(settings.latency).await;
    }
    let path = req.uri().path().to_string();
    let is_catalog = path.ends_with(".json");
    let file = shared.resolve(&path);
    let read_only = matches!(*req.method(), http::Method::GET | http::Method::HEAD);
    let api = stac_api::Endpoint::at(&path).filter(|_| settings.fault != Fault::Stall);
    let response: Response<BoxedBody> = if let Some(endpoint) = api {
        // The STAC API, over the same latency, pacing and counting as the files.
        api_response(req, &endpoint, &shared).await
    } else {
        match (settings.fault, file) {
            (Fault::Stall, _) => std::future::pending().await,
            // A folder of files to read: nothing here takes a body or changes anything.
            _ if !read_only => {
                let mut r = text_response(
                    StatusCode::METHOD_NOT_ALLOWED,
                    format!(
                        "405 Method Not Allowed: this server only reads files; {} is not GET or \
                     HEAD",
                        req.method()
                    ),
                );
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                r
            }
            // Outside the folder, hidden or missing: all look the same from outside.
            (_, None) => not_found(),
            (Fault::Forbidden, Some(_)) if !is_catalog => text_response(
                StatusCode::FORBIDDEN,
                "403 Forbidden: the simulated server refuses every file".into(),
            ),
            (_, Some(file)) if is_catalog => serve_catalog(&shared, &file),
            (_, Some(file)) if ranges > MAX_RANGES && settings.fault != Fault::IgnoreRange => {
                let mut r = text_response(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    format!(
                        "416: {ranges} byte ranges in one request; this server serves at most \
                     {MAX_RANGES}: ask for fewer, larger ranges"
                    ),
                );
                set_unsatisfied_range(&mut r, &file);
                r
            }
            (fault, Some(file)) => {
                if fault == Fault::IgnoreRange {
                    req.headers_mut().remove(header::RANGE);
                } else {
                    plan_ranges(&mut req, &file);
                }
                let opener = SyncOpener {
                    real_root: shared.real_root.clone(),
                    piece: piece_size(settings.bandwidth),
                };
                match Static::with_opener(opener).serve(req).await {
                    Ok(r) => {
                        let mut r = r.map(|b| Box::pin(b) as BoxedBody);
                        if fault == Fault::IgnoreRange {
                            r.headers_mut().remove(header::ACCEPT_RANGES);
                        }
                        if r.status() == StatusCode::RANGE_NOT_SATISFIABLE {
                            set_unsatisfied_range(&mut r, &file);
                        }
                        r
                    }
                    Err(e) => text_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                }
            }
        }
    };
    shared.count_status(response.status());
    drop(hold);
    Ok(response.map(|inner| ShapedBody {
        inner,
        pacer,
        shared: Arc::clone(&shared),
        activity,
        worker,
        held: None,
        sleep: None,
    }))
}

/// The STAC API's answer to `req` ([`stac_api`]): 405 for a method the endpoint does not
/// take, the search body read within limits (size, and the header timeout for its time).
async fn api_response(
    req: Request<Incoming>,
    endpoint: &stac_api::Endpoint,
    shared: &Shared,
) -> Response<BoxedBody> {
    let method = req.method().clone();
    if !endpoint.allows(&method) {
        let mut r = text_response(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "405 Method Not Allowed: {} answers {}; {method} is not one of them",
                req.uri().path(),
                endpoint.allow()
            ),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(endpoint.allow()));
        return r;
    }
    let query = req.uri().query().map(str::to_owned);
    let body = if method == http::Method::POST {
        let limit = stac_api::MAX_BODY_BYTES;
        match tokio::time::timeout(
            shared.timeouts.header_read,
            read_body(req.into_body(), limit),
        )
        .await
        {
            Ok(Ok(body)) => body,
            Ok(Err(BodyError::TooLarge)) => {
                return api_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("a search body is at most {limit} bytes"),
                );
            }
            Ok(Err(BodyError::Read(e))) => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    format!("the body could not be read: {e}"),
                );
            }
            Err(_) => {
                return api_error(
                    StatusCode::REQUEST_TIMEOUT,
                    "the search body did not arrive in time".into(),
                );
            }
        }
    } else {
        Vec::new()
    };
    let answer = stac_api::answer(&stac_api::ApiRequest {
        endpoint,
        method: &method,
        query: query.as_deref(),
        body: &body,
        root: &shared.root,
        base_url: &shared.base_url,
    });
    api_body(answer)
}

fn api_error(status: StatusCode, description: String) -> Response<BoxedBody> {
    api_body(stac_api::Answer::error(status, description))
}

fn api_body(answer: stac_api::Answer) -> Response<BoxedBody> {
    let mut r = Response::new(Box::pin(Whole(Some(answer.body))) as BoxedBody);
    *r.status_mut() = answer.status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    r
}

enum BodyError {
    TooLarge,
    Read(hyper::Error),
}

/// A request body, whole, refused beyond `limit` bytes.
async fn read_body(mut body: Incoming, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(BodyError::Read)?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(BodyError::TooLarge);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// Rewrites the request's `Range` to what it is served ([`ranges::plan`]): merged where
/// ranges overlap, none where they add up past the file's size. A 416 is left to the file
/// server, which answers it.
fn plan_ranges(req: &mut Request<Incoming>, file: &Path) {
    let Some(range) = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    let Ok(meta) = std::fs::metadata(file) else {
        return;
    };
    match ranges::plan(range, meta.len()) {
        RangePlan::Whole => {
            req.headers_mut().remove(header::RANGE);
        }
        RangePlan::Parts(parts) => {
            if let Ok(value) = HeaderValue::from_str(&RangePlan::header(&parts)) {
                req.headers_mut().insert(header::RANGE, value);
            }
        }
        RangePlan::Unsatisfiable => {}
    }
}

/// `Content-Range: bytes */SIZE` on a 416 answer, as RFC 9110 (15.5.17) asks, so that a
/// client learns the file's size.
fn set_unsatisfied_range(response: &mut Response<BoxedBody>, file: &Path) {
    let Ok(meta) = std::fs::metadata(file) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&format!("bytes */{}", meta.len())) {
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
}

fn not_found() -> Response<BoxedBody> {
    text_response(StatusCode::NOT_FOUND, "404 Not Found".into())
}

/// A catalog (`file`, already resolved inside the folder) with its hrefs pointing here;
/// other JSON files as they are.
fn serve_catalog(shared: &Shared, file: &Path) -> Response<BoxedBody> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return not_found();
    };
    let body = match rewrite_catalog(&text, file, &shared.root, &shared.base_url) {
        Ok((rewritten, _)) => rewritten,
        Err(super::RewriteError::NotJson { .. }) => text,
        Err(e) => return text_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let mut r = Response::new(Box::pin(Whole(Some(Bytes::from(body)))) as BoxedBody);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn text_response(status: StatusCode, text: String) -> Response<BoxedBody> {
    let mut r = Response::new(Box::pin(Whole(Some(Bytes::from(text)))) as BoxedBody);
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A body sent in one piece.
struct Whole(Option<Bytes>);

impl Body for Whole {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Poll::Ready(self.0.take().map(|b| Ok(Frame::data(b))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

/// Pieces small enough that pacing stays smooth: about 4 ms of transfer, 4..64 KiB.
fn piece_size(bandwidth: Option<Rate>) -> usize {
    bandwidth.map_or(MAX_PIECE, |r| {
        ((r.bytes_per_s() / 250) as usize).clamp(4 * 1024, MAX_PIECE)
    })
}

/// A token bucket: `reserve` says when a piece may leave so that the average stays at
/// `rate`, allowing a burst of [`BURST`] after idle time (and making up for timer lateness).
struct Pacer {
    rate: Rate,
    next: Instant,
}

impl Pacer {
    fn new(rate: Rate) -> Pacer {
        Pacer {
            rate,
            next: Instant::now(),
        }
    }

    fn reserve(&mut self, now: Instant, bytes: u64) -> Instant {
        let earliest = now.checked_sub(BURST).unwrap_or(now);
        let start = self.next.max(earliest);
        self.next = start + self.rate.time_for(bytes);
        self.next
    }
}

/// A response body paced by the connection's (and the total) bandwidth, counting the
/// bytes it lets through.
struct ShapedBody {
    inner: BoxedBody,
    pacer: Option<Arc<Mutex<Pacer>>>,
    shared: Arc<Shared>,
    activity: Arc<Activity>,
    worker: Option<u32>,
    /// A piece waiting for its time to leave.
    held: Option<Bytes>,
    /// The wait for that time, during which the server holds the connection's answer.
    sleep: Option<(Pin<Box<tokio::time::Sleep>>, Hold)>,
}

impl ShapedBody {
    /// When a piece of `bytes` may leave: the later of the connection's and the total cap.
    fn release_at(&self, bytes: u64) -> Option<Instant> {
        let now = Instant::now();
        let mut at = None;
        for pacer in [self.pacer.as_deref(), self.shared.total_pacer.as_ref()]
            .into_iter()
            .flatten()
        {
            let t = pacer
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .reserve(now, bytes);
            at = Some(at.map_or(t, |a: Instant| a.max(t)));
        }
        at.filter(|t| *t > now)
    }
}

impl Body for ShapedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            if let Some((sleep, _)) = this.sleep.as_mut() {
                ready!(sleep.as_mut().poll(cx));
                this.sleep = None;
            }
            if let Some(data) = this.held.take() {
                this.shared.count_bytes(this.worker, data.len() as u64);
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            match ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        if let Some(at) = this.release_at(data.len() as u64) {
                            this.sleep = Some((
                                Box::pin(tokio::time::sleep_until(at.into())),
                                this.activity.hold(),
                            ));
                        }
                        this.held = Some(data);
                    }
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return Poll::Ready(other),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.held.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Opens files under the root with std: reads then happen on the server's own thread.
struct SyncOpener {
    real_root: PathBuf,
    piece: usize,
}

impl FileOpener for SyncOpener {
    type File = SyncFile;
    type Future = std::future::Ready<io::Result<FileWithMetadata<SyncFile>>>;

    fn open(&self, path: &Path) -> Self::Future {
        // hyper-staticfile has sanitized `path` (no `..`, relative); `handle` has checked
        // the request path, and this checks again what is really opened (an index file
        // hyper-staticfile looks for in a folder, for one).
        let open = || -> io::Result<FileWithMetadata<SyncFile>> {
            let real = inside(&self.real_root, &self.real_root.join(path))
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
            let file = std::fs::File::open(real)?;
            let meta = file.metadata()?;
            Ok(FileWithMetadata {
                handle: SyncFile {
                    file,
                    piece: self.piece,
                    position: 0,
                },
                size: meta.len(),
                modified: meta.modified().ok(),
                is_dir: meta.is_dir(),
            })
        };
        std::future::ready(open())
    }
}

struct SyncFile {
    file: std::fs::File,
    piece: usize,
    position: u64,
}

impl IntoFileAccess for SyncFile {
    type Output = SyncFile;

    fn into_file_access(self) -> SyncFile {
        self
    }
}

impl AsyncSeek for SyncFile {
    fn start_seek(self: Pin<&mut Self>, pos: SeekFrom) -> io::Result<()> {
        let this = self.get_mut();
        this.position = this.file.seek(pos)?;
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Poll::Ready(Ok(self.position))
    }
}

impl FileAccess for SyncFile {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        len: usize,
    ) -> Poll<io::Result<Bytes>> {
        let this = self.get_mut();
        let mut buf = vec![0; len.min(this.piece)];
        let n = this.file.read(&mut buf)?;
        buf.truncate(n);
        this.position += n as u64;
        Poll::Ready(Ok(Bytes::from(buf)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_keeps_the_average_rate() {
        let rate = Rate::from_bytes_per_s(1_000_000).unwrap();
        let mut p = Pacer::new(rate);
        let t0 = Instant::now() + Duration::from_secs(1);
        // 10 pieces of 10 kB at 1 MB/s take 100 ms; an idle pacer lets the first BURST
        // (10 ms) go at once, so the last piece leaves 90 ms after they were all ready.
        let mut last = t0;
        for _ in 0..10 {
            last = p.reserve(t0, 10_000);
        }
        assert_eq!(last - t0, Duration::from_millis(90));
        // After idling, again at most BURST goes at once: a 10 ms piece leaves at once.
        let later = last + Duration::from_secs(1);
        assert_eq!(p.reserve(later, 10_000), later);
        // The next one waits its full 10 ms.
        assert_eq!(p.reserve(later, 10_000), later + Duration::from_millis(10));
    }

    #[test]
    fn descriptions() {
        let s = SimSettings {
            latency: Duration::from_millis(50),
            bandwidth: Rate::from_bytes_per_s(25 << 20),
            total_bandwidth: Rate::from_bytes_per_s(100 << 20),
            fault: Fault::None,
        };
        assert_eq!(
            s.description(),
            "simulated network: 50 ms latency, 25 MiB/s per connection, 100 MiB/s in total"
        );
    }
}
