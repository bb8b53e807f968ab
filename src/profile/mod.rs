//! Measuring: what one run costs (process CPU times and memory, per-core CPU, task
//! latencies, overhead), the statistics over repeated runs, and the one place numbers are
//! formatted for people, so the CLI and the TUI print them alike. It reads the task
//! records a run produced ([`crate::task`]) and never runs the pipeline itself: running it
//! again and again is [`crate::experiment`]'s job.

pub mod latency;
pub mod memory;
pub mod overhead;
pub mod progress;
pub mod sampler;
pub mod stats;
pub mod units;

/// CPU time of the whole process so far, as getrusage(RUSAGE_SELF) reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessTimes {
    pub user_ns: u64,
    pub sys_ns: u64,
    /// Peak resident set size of the process so far (Linux reports KiB; stored as bytes).
    pub max_rss_bytes: u64,
}

impl ProcessTimes {
    pub fn now() -> Self {
        // SAFETY: getrusage only writes into the zeroed struct we pass.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        if rc != 0 {
            return Self::default();
        }
        let tv_ns =
            |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1_000;
        #[cfg(target_os = "macos")]
        let rss = usage.ru_maxrss as u64; // bytes on macOS
        #[cfg(not(target_os = "macos"))]
        let rss = usage.ru_maxrss as u64 * 1024;
        Self {
            user_ns: tv_ns(usage.ru_utime),
            sys_ns: tv_ns(usage.ru_stime),
            max_rss_bytes: rss,
        }
    }

    /// CPU time spent between `earlier` and `self`.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            user_ns: self.user_ns.saturating_sub(earlier.user_ns),
            sys_ns: self.sys_ns.saturating_sub(earlier.sys_ns),
            max_rss_bytes: self.max_rss_bytes,
        }
    }
}

/// Resident memory of this process right now (Linux: /proc/self/statm), if known.
pub fn current_rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(resident_pages * u64::try_from(page).ok()?)
}
