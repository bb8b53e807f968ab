//! What other processes took of the CPU while a run went on: the machine's busy time over
//! all cores (`/proc/stat`, steal included) less this process's own CPU time. A teacher's
//! laptop is rarely quiet; a run that shared its cores with a browser or a build is slower
//! for reasons that are not the configuration's, and every screen that shows the run says
//! so. Read on the run's own thread at its start and end, so a run without the sampler
//! still gets the figure. Linux only: elsewhere the figure is absent, never 0.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::ProcessTimes;

/// Others took more than this many cores on average over a run: the run is disturbed. A
/// quarter of a core is well above what an idle desktop's daemons take (a few % of one
/// core) and below one busy program's single thread, which already changes a 2-core
/// comparison.
pub const DISTURBED_CORES: f64 = 0.25;

/// What other processes took of the CPU during one run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interference {
    /// CPU time of all cores (user, nice, system, irq, softirq, steal) less this
    /// process's user + sys time over the run.
    pub others_cpu_ns: u64,
    /// `others_cpu_ns` / wall: how many cores others held on average.
    pub others_cores: f64,
    /// Others held more than [`DISTURBED_CORES`] even after the counters' error is taken
    /// off (see [`Interference::from_parts`]).
    pub disturbed: bool,
}

impl Interference {
    /// The figure from its parts: the machine's busy time, this process's CPU time and the
    /// wall time of the same period, all ns. `error_ns` is what the counters can be off by:
    /// `/proc/stat` counts in clock ticks, so each of the two reads may miss up to a tick
    /// per core. The run is disturbed only when others took more than [`DISTURBED_CORES`]
    /// with that error taken off, so a short run on a quiet machine is not marked for the
    /// counters' coarseness. Pure.
    pub fn from_parts(machine_busy_ns: u64, own_cpu_ns: u64, wall_ns: u64, error_ns: u64) -> Self {
        let others_cpu_ns = machine_busy_ns.saturating_sub(own_cpu_ns);
        let others_cores = if wall_ns == 0 {
            0.0
        } else {
            others_cpu_ns as f64 / wall_ns as f64
        };
        Self {
            others_cpu_ns,
            others_cores,
            disturbed: wall_ns > 0
                && others_cpu_ns.saturating_sub(error_ns) as f64 / wall_ns as f64 > DISTURBED_CORES,
        }
    }
}

/// The counters at a run's start; [`Probe::finish`] at its end gives the run's
/// [`Interference`].
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    busy_ticks: u64,
    own_cpu_ns: u64,
    /// Waited-for children count as this process.
    children: bool,
    at: Instant,
}

impl Probe {
    /// Starts measuring: the machine's busy time and this process's CPU time now.
    pub fn start() -> Option<Self> {
        Self::start_counting(false)
    }

    /// As [`Probe::start`], also counting as this process's own the CPU time of the
    /// children it waits for before [`Probe::finish`]: a Dask run's Python and the
    /// LocalCluster workers it starts and reaps are the run, not others.
    pub fn start_with_children() -> Option<Self> {
        Self::start_counting(true)
    }

    fn start_counting(children: bool) -> Option<Self> {
        Some(Self {
            busy_ticks: machine_busy_ticks()?,
            own_cpu_ns: own_cpu_ns(children),
            children,
            at: Instant::now(),
        })
    }

    /// What others took since [`Probe::start`]; `None` where `/proc/stat` cannot be read.
    pub fn finish(&self) -> Option<Interference> {
        let busy_ticks = machine_busy_ticks()?;
        let own_ns = own_cpu_ns(self.children);
        let wall_ns = u64::try_from(self.at.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let tick_ns = tick_ns()?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        Some(Interference::from_parts(
            busy_ticks.saturating_sub(self.busy_ticks) * tick_ns,
            own_ns.saturating_sub(self.own_cpu_ns),
            wall_ns,
            2 * tick_ns * cores,
        ))
    }
}

/// This process's user + system CPU time, with its waited-for children's when asked.
fn own_cpu_ns(children: bool) -> u64 {
    let own = ProcessTimes::now();
    own.user_ns + own.sys_ns + if children { children_cpu_ns() } else { 0 }
}

/// User + system CPU time of the children this process has waited for (and theirs).
fn children_cpu_ns() -> u64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage for the call to fill.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } != 0 {
        return 0;
    }
    let tv_ns = |tv: libc::timeval| {
        u64::try_from(tv.tv_sec).unwrap_or(0) * 1_000_000_000
            + u64::try_from(tv.tv_usec).unwrap_or(0) * 1_000
    };
    tv_ns(usage.ru_utime) + tv_ns(usage.ru_stime)
}

fn tick_ns() -> Option<u64> {
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz)
        .ok()
        .filter(|&hz| hz > 0)
        .map(|hz| 1_000_000_000 / hz)
}

/// Busy ticks of all cores together so far; `None` without `/proc/stat`.
fn machine_busy_ticks() -> Option<u64> {
    parse_busy_ticks(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// Busy ticks from the aggregate `cpu ` line of `/proc/stat`. Fields (proc(5)): user nice
/// system idle iowait irq softirq steal guest guest_nice; busy is all of the first eight
/// but idle and iowait (guest time is already inside user and nice). Steal counts: a
/// hypervisor that gave the core to another guest took it from this run as surely as a
/// local process.
fn parse_busy_ticks(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    if fields.len() < 4 {
        return None;
    }
    let at = |i: usize| fields.get(i).copied().unwrap_or(0);
    Some(at(0) + at(1) + at(2) + at(5) + at(6) + at(7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_ticks_leave_out_idle_and_iowait_and_keep_steal() {
        let text = "cpu  10 1 5 900 7 2 3 4 6 0\ncpu0 5 0 2 450 3 1 1 2 3 0\n";
        assert_eq!(parse_busy_ticks(text), Some(10 + 1 + 5 + 2 + 3 + 4));
        assert_eq!(parse_busy_ticks("intr 1 2 3\n"), None);
    }

    #[test]
    fn others_take_what_the_machine_spent_beyond_this_process() {
        // 2 s of the machine's busy time in a 1 s run, 1.2 s of it ours: others held 0.8.
        let i = Interference::from_parts(2_000_000_000, 1_200_000_000, 1_000_000_000, 20_000_000);
        assert_eq!(i.others_cpu_ns, 800_000_000);
        assert!((i.others_cores - 0.8).abs() < 1e-9);
        assert!(i.disturbed);
        // A tenth of a core: quiet.
        let quiet =
            Interference::from_parts(1_300_000_000, 1_200_000_000, 1_000_000_000, 20_000_000);
        assert!(!quiet.disturbed);
        // Ticks lag the precise process clock: never below zero.
        let lag = Interference::from_parts(1_190_000_000, 1_200_000_000, 1_000_000_000, 20_000_000);
        assert_eq!(lag.others_cpu_ns, 0);
        // 70 ms of others in a 240 ms run, 40 ms of which the counters' error: 0.13 cores
        // beyond it, quiet; 0.29 cores as measured.
        let short = Interference::from_parts(290_000_000, 220_000_000, 240_000_000, 40_000_000);
        assert!(short.others_cores > DISTURBED_CORES);
        assert!(!short.disturbed);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_waited_child_is_the_runs_own_with_children_and_others_without() {
        // Both probes over one window: their difference is the child's CPU alone, whatever
        // else the machine does meanwhile.
        let before = children_cpu_ns();
        let (with, without) = (
            Probe::start_with_children().expect("/proc/stat"),
            Probe::start().expect("/proc/stat"),
        );
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done"])
            .status()
            .expect("sh runs");
        assert!(status.success());
        let (with, without) = (with.finish().unwrap(), without.finish().unwrap());
        let child_ns = children_cpu_ns() - before;
        assert!(child_ns > 100_000_000, "the child burned {child_ns} ns");
        let seen = without.others_cpu_ns.saturating_sub(with.others_cpu_ns);
        assert!(
            seen as f64 > 0.5 * child_ns as f64,
            "{seen} ns of the child's {child_ns} ns moved from others to the run's own"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_probe_measures_on_linux() {
        let probe = Probe::start().expect("/proc/stat on Linux");
        let i = probe.finish().expect("and at the end");
        assert!(i.others_cores >= 0.0);
    }
}
