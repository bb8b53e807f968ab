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
//!
//! Here [`NetworkSim`] starts and stops the server. Beside it: `settings` (what the
//! server does to each request), `shared` (what the server thread and the engine share),
//! `counters` and `probe` (the traffic it saw, read by the engine), `connection`
//! (accepting, and the time limits, with `activity`), `handler` (one request's answer,
//! with `api` for the STAC API and `files` for the file layer), `body` and `pacer` (bodies
//! paced by the bandwidth caps).

mod activity;
mod api;
mod body;
mod connection;
mod counters;
mod files;
mod handler;
mod pacer;
mod probe;
mod settings;
mod shared;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::rewrite_catalog;
use crate::catalog::{Catalog, CatalogError};
use connection::accept_loop;
use counters::Counters;
use pacer::Pacer;
use shared::Shared;

pub use counters::TrafficCounts;
pub use handler::MAX_RANGES;
pub use probe::Probe;
pub use settings::{Fault, SimSettings, Timeouts};

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
