//! [`Shared`]: what the server thread and the engine share, the settings, the served
//! folder, the counters and the total pacer.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use super::counters::Counters;
use super::files::inside;
use super::pacer::Pacer;
use super::settings::{SimSettings, Timeouts};

/// What the server thread and the engine share.
pub(super) struct Shared {
    pub(super) settings: SimSettings,
    pub(super) timeouts: Timeouts,
    pub(super) root: PathBuf,
    /// `root` with its symbolic links resolved: every served file must lie under it.
    pub(super) real_root: PathBuf,
    pub(super) base_url: String,
    pub(super) counters: Mutex<Counters>,
    /// Pacing of all connections together, when a total cap is set.
    pub(super) total_pacer: Option<Mutex<Pacer>>,
    /// The server thread, for its CPU clock; `None` once it has been joined.
    pub(super) thread: Mutex<Option<libc::pthread_t>>,
}

impl Shared {
    /// The counters, also after a thread panicked while holding them.
    pub(super) fn counters(&self) -> MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The file (or folder) a request path names, if it may be served: percent-escapes
    /// decoded, no `.`/`..` or hidden parts, and inside the served folder once symbolic
    /// links are resolved.
    pub(super) fn resolve(&self, url_path: &str) -> Option<PathBuf> {
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
