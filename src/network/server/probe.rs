//! [`Probe`]: the engine's read-only view of a running server, its counters, settings and
//! thread CPU time; read from any thread.

use std::path::PathBuf;
use std::sync::Arc;

use super::counters::TrafficCounts;
use super::settings::SimSettings;
use super::shared::Shared;

/// A read-only view of a running server's counters and settings; cheap to clone.
#[derive(Clone)]
pub struct Probe(pub(super) Arc<Shared>);

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
        self.0.counters().total
    }

    /// What the requests of worker `worker` (as named in their User-Agent) were served.
    pub fn worker(&self, worker: u32) -> TrafficCounts {
        self.0
            .counters()
            .by_worker
            .get(&worker)
            .copied()
            .unwrap_or_default()
    }

    /// Responses per HTTP status so far, sorted by status.
    pub fn statuses(&self) -> Vec<(u16, u64)> {
        let c = self.0.counters();
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
    // Neither field is negative for a clock that answered.
    let (sec, nsec) = (
        u64::try_from(ts.tv_sec).ok()?,
        u64::try_from(ts.tv_nsec).ok()?,
    );
    Some(sec * 1_000_000_000 + nsec)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_ns(_thread: libc::pthread_t) -> Option<u64> {
    None
}
