//! Measuring: what one run costs (process CPU times and memory, per-core CPU, task
//! latencies, overhead), the statistics over repeated runs, and the one place numbers are
//! formatted for people, so the CLI and the TUI print them alike. It reads the task
//! records a run produced ([`crate::task`]) and never runs the pipeline itself: running it
//! again and again is [`crate::experiment`]'s job.

pub mod interference;
pub mod latency;
pub mod memory;
pub mod overhead;
pub mod progress;
pub mod sampler;
pub mod stats;
pub mod units;
pub mod verdict;

/// CPU time of the whole process so far, as getrusage(RUSAGE_SELF) reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessTimes {
    pub user_ns: u64,
    pub sys_ns: u64,
    /// Peak resident set size of the process so far, in bytes.
    pub max_rss_bytes: u64,
}

impl ProcessTimes {
    pub fn now() -> Self {
        // SAFETY: getrusage only writes into the zeroed struct we pass.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `usage` is a valid, writable rusage for the call to fill.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        if rc != 0 {
            return Self::default();
        }
        // Neither field is negative in a usage the kernel filled.
        let tv_ns = |tv: libc::timeval| {
            u64::try_from(tv.tv_sec).unwrap_or(0) * 1_000_000_000
                + u64::try_from(tv.tv_usec).unwrap_or(0) * 1_000
        };
        #[cfg(target_os = "macos")]
        let rss = u64::try_from(usage.ru_maxrss).unwrap_or(0); // bytes on macOS
        // Linux keeps ru_maxrss across execve, so a child started by a large process (a
        // TUI after a few runs, a script holding arrays) reports its parent's RSS at fork
        // as its own peak. VmHWM belongs to the process's own memory since exec.
        #[cfg(not(target_os = "macos"))]
        let rss = peak_rss_since_exec_bytes()
            .unwrap_or(u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024);
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

/// The high-water mark of this process's resident memory since it was exec'd (Linux:
/// VmHWM in /proc/self/status), if known.
pub fn peak_rss_since_exec_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm_bytes(&status)
}

/// `VmHWM:     123456 kB` from the text of /proc/PID/status, in bytes.
fn vm_hwm_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut words = line["VmHWM:".len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(kib * 1024)
}

/// Resident memory of this process right now (Linux: /proc/self/statm), if known.
pub fn current_rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(resident_pages * u64::try_from(page).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_high_water_mark_is_read_from_proc_status() {
        let status = "Name:\tchunkscope\nVmPeak:\t  900 kB\nVmHWM:\t  131072 kB\nVmRSS:\t 2 kB\n";
        assert_eq!(vm_hwm_bytes(status), Some(128 << 20));
        assert_eq!(vm_hwm_bytes("VmRSS:\t 2 kB\n"), None);
        assert_eq!(vm_hwm_bytes("VmHWM:\t 12 pages\n"), None);
        #[cfg(target_os = "linux")]
        {
            // The mark never falls, so it is at least the RSS read before it.
            let now = current_rss_bytes().unwrap();
            let own = peak_rss_since_exec_bytes().expect("Linux has VmHWM");
            assert!(own >= now, "{own} < {now}");
        }
    }
}
