//! CPU and memory sampled at a fixed rate while a run goes on: per-core utilisation of the
//! machine, this process's CPU use and its resident memory. The sampling runs on a thread of
//! its own ("chunkscope-sampler"); the run's workers never touch it, and a reader (the TUI)
//! only takes a short lock to copy the latest sample.
//!
//! Per-core figures come from `/proc/stat` on Linux, the file sysinfo itself reads there:
//! sysinfo refuses to refresh CPU usage more often than every
//! [`sysinfo::MINIMUM_CPU_UPDATE_INTERVAL`] (200 ms on Linux), which is too slow for the
//! 10 Hz this view needs. Where `/proc/stat` is missing, sysinfo is used and per-core values
//! are only measured every `MINIMUM_CPU_UPDATE_INTERVAL` (see [`Sample::per_core_pct`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use serde::{Deserialize, Serialize};

use super::{ProcessTimes, current_rss_bytes};

/// 10 Hz: fast enough to see stages start and stop, slow enough to cost nothing.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);

/// Shorter intervals are raised to this, so a zero interval cannot spin.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// One measurement, covering the time since the previous one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When it was taken, in ns since the run clock's origin.
    pub t_ns: u64,
    /// Utilisation of each CPU of the machine (all processes), 0..=100, in the kernel's CPU
    /// order. `/proc/stat` counts in ticks of 10 ms, so at 10 Hz one core's value moves in
    /// steps of about 10 %. Empty when this sample has no per-core measurement (only with
    /// the sysinfo fallback, between its refreshes).
    pub per_core_pct: Vec<f32>,
    /// CPU time this process used (user + sys, all its threads) over wall time, in % of one
    /// core: 200 means two cores' worth. From getrusage deltas, µs-accurate.
    pub process_cpu_pct: f32,
    /// Resident memory of this process at the sample (0 when it cannot be read).
    pub rss_bytes: u64,
}

impl Sample {
    /// Cores other processes held over this sample's interval: all cores' busy share less
    /// this process's, never below 0; `None` without per-core figures. The live form of
    /// the run's `others_cores` (see `profile::interference`).
    pub fn others_cores(&self) -> Option<f64> {
        if self.per_core_pct.is_empty() {
            return None;
        }
        let all: f64 = self.per_core_pct.iter().map(|&p| f64::from(p)).sum();
        Some(((all - f64::from(self.process_cpu_pct)) / 100.0).max(0.0))
    }
}

/// Where per-core figures came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoreSource {
    /// `/proc/stat` deltas at every sample.
    ProcStat,
    /// sysinfo, refreshed at most every `sysinfo::MINIMUM_CPU_UPDATE_INTERVAL`.
    Sysinfo,
}

/// Everything a sampler measured, with its summary; this goes into the run report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuSeries {
    /// The requested sampling interval.
    pub interval_ns: u64,
    /// Samples per second actually delivered: 1 / mean spacing between samples (0 with
    /// fewer than two samples).
    pub achieved_hz: f64,
    /// CPUs the machine reported when sampling started.
    pub cores: usize,
    pub per_core_source: CoreSource,
    /// Mean of each core's utilisation over the samples that measured it.
    pub per_core_mean_pct: Vec<f32>,
    pub per_core_peak_pct: Vec<f32>,
    pub process_cpu_mean_pct: f32,
    pub process_cpu_peak_pct: f32,
    /// Highest resident memory seen at a sample (getrusage's high-water mark can be higher:
    /// it sees peaks between samples and before the run).
    pub peak_rss_bytes: u64,
    pub mean_rss_bytes: u64,
    /// Why there are no samples, when the sampling thread could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// CPU time the sampling thread itself used (its own thread clock): what sampling cost.
    #[serde(default)]
    pub sampler_cpu_ns: u64,
    pub samples: Vec<Sample>,
}

impl CpuSeries {
    /// Folds samples into their summary.
    pub fn from_samples(
        samples: Vec<Sample>,
        interval: Duration,
        cores: usize,
        per_core_source: CoreSource,
    ) -> Self {
        let n = samples.len();
        let mut sum = vec![0f64; cores];
        let mut seen = vec![0u32; cores];
        let mut peak = vec![0f32; cores];
        let (mut cpu_sum, mut cpu_peak, mut rss_sum, mut rss_peak) = (0f64, 0f32, 0u128, 0u64);
        for s in &samples {
            for (core, &pct) in s.per_core_pct.iter().enumerate().take(cores) {
                sum[core] += f64::from(pct);
                seen[core] += 1;
                peak[core] = peak[core].max(pct);
            }
            cpu_sum += f64::from(s.process_cpu_pct);
            cpu_peak = cpu_peak.max(s.process_cpu_pct);
            rss_sum += u128::from(s.rss_bytes);
            rss_peak = rss_peak.max(s.rss_bytes);
        }
        let per_core_mean_pct = sum
            .iter()
            .zip(&seen)
            .map(|(&total, &k)| {
                if k == 0 {
                    0.0
                } else {
                    crate::convert::to_f32(total / f64::from(k))
                }
            })
            .collect();
        let achieved_hz = match (samples.first(), samples.last()) {
            (Some(first), Some(last)) if n >= 2 && last.t_ns > first.t_ns => {
                (n - 1) as f64 * 1e9 / (last.t_ns - first.t_ns) as f64
            }
            _ => 0.0,
        };
        Self {
            interval_ns: duration_ns(interval),
            achieved_hz,
            cores,
            per_core_source,
            per_core_mean_pct,
            per_core_peak_pct: peak,
            process_cpu_mean_pct: if n == 0 {
                0.0
            } else {
                crate::convert::to_f32(cpu_sum / n as f64)
            },
            process_cpu_peak_pct: cpu_peak,
            peak_rss_bytes: rss_peak,
            mean_rss_bytes: if n == 0 {
                0
            } else {
                u64::try_from(rss_sum / n as u128).unwrap_or(u64::MAX)
            },
            error: None,
            sampler_cpu_ns: 0,
            samples,
        }
    }
}

/// The sending side of a live sample feed: every sample is also offered to this bounded
/// channel with `try_send`, so a slow reader costs the sampler nothing; what does not fit
/// is dropped and counted. The sampler thread is the only sender (run workers never are).
#[derive(Debug, Clone)]
pub struct SampleFeed {
    tx: Sender<Sample>,
    dropped: Arc<AtomicU64>,
}

impl SampleFeed {
    /// A bounded channel of `capacity` samples and the feed that fills it.
    pub fn bounded(capacity: usize) -> (Self, Receiver<Sample>) {
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        (
            Self {
                tx,
                dropped: Arc::default(),
            },
            rx,
        )
    }

    /// Samples dropped so far because the reader did not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// A running sampler. [`Sampler::stop`] ends it and returns what it measured; dropping it
/// without `stop` also ends the thread, and the samples are lost.
#[derive(Debug)]
pub struct Sampler {
    stop_tx: Option<Sender<()>>,
    handle: Option<JoinHandle<(Vec<Sample>, u64)>>,
    latest: Arc<Mutex<Option<Sample>>>,
    feed_dropped: Arc<AtomicU64>,
    interval: Duration,
    cores: usize,
    source: CoreSource,
    spawn_error: Option<String>,
}

impl Sampler {
    /// Starts sampling every `interval` (see [`DEFAULT_INTERVAL`]) on a new thread.
    /// Timestamps are ns since `clock_origin` (the run clock's start); samples taken before
    /// it read 0. The first sample comes one interval after the start and measures that
    /// interval, so no value is a first-refresh artefact.
    pub fn start(interval: Duration, clock_origin: Instant) -> Sampler {
        Self::spawn(interval, clock_origin, None)
    }

    /// Like [`Sampler::start`], and also sends every sample on a bounded channel of
    /// `capacity` with `try_send`: when the reader falls behind, samples are dropped and
    /// counted ([`Sampler::feed_dropped`]); the series returned by `stop` is complete anyway.
    pub fn start_with_feed(
        interval: Duration,
        clock_origin: Instant,
        capacity: usize,
    ) -> (Sampler, Receiver<Sample>) {
        let (feed, rx) = SampleFeed::bounded(capacity);
        (Self::spawn(interval, clock_origin, Some(feed)), rx)
    }

    /// Like [`Sampler::start_with_feed`], on a feed the caller made (and may keep a clone
    /// of, to read its drop count): how a run passes its samples to an observer.
    pub fn start_feeding(interval: Duration, clock_origin: Instant, feed: SampleFeed) -> Sampler {
        Self::spawn(interval, clock_origin, Some(feed))
    }

    fn spawn(interval: Duration, clock_origin: Instant, feed: Option<SampleFeed>) -> Sampler {
        let interval = interval.max(MIN_INTERVAL);
        // Readers are built here, so `cores` is known before the first sample.
        let reader = CoreReader::new();
        let (cores, source) = (reader.cores(), reader.source());
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(1);
        let latest = Arc::new(Mutex::new(None));
        let feed_dropped = feed
            .as_ref()
            .map_or_else(Arc::default, |f| Arc::clone(&f.dropped));
        let worker = Worker {
            interval,
            clock_origin,
            stop_rx,
            latest: Arc::clone(&latest),
            feed: feed.map(|f| f.tx),
            feed_dropped: Arc::clone(&feed_dropped),
            reader,
        };
        let spawned = std::thread::Builder::new()
            .name("chunkscope-sampler".into())
            .spawn(move || worker.run());
        let (handle, spawn_error) = match spawned {
            Ok(handle) => (Some(handle), None),
            Err(e) => (None, Some(format!("cannot start the sampler thread: {e}"))),
        };
        Sampler {
            stop_tx: Some(stop_tx),
            handle,
            latest,
            feed_dropped,
            interval,
            cores,
            source,
            spawn_error,
        }
    }

    /// A copy of the most recent sample, `None` before the first one. Holds the lock only
    /// for the copy.
    pub fn latest(&self) -> Option<Sample> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Samples the feed channel dropped because its reader did not keep up.
    pub fn feed_dropped(&self) -> u64 {
        self.feed_dropped.load(Ordering::Relaxed)
    }

    /// CPUs the per-core vectors cover.
    pub fn cores(&self) -> usize {
        self.cores
    }

    /// Stops sampling at once (mid-interval, without waiting for the next tick) and returns
    /// every sample with its summary.
    pub fn stop(mut self) -> CpuSeries {
        if let Some(tx) = self.stop_tx.take() {
            // Full means a stop is already pending; disconnected means the thread is gone.
            let _ = tx.try_send(());
        }
        let (samples, own_cpu_ns, error) = match self.handle.take().map(JoinHandle::join) {
            Some(Ok((samples, own))) => (samples, own, self.spawn_error.take()),
            Some(Err(_)) => (
                Vec::new(),
                0,
                Some("the sampler thread panicked".to_string()),
            ),
            None => (Vec::new(), 0, self.spawn_error.take()),
        };
        let mut series = CpuSeries::from_samples(samples, self.interval, self.cores, self.source);
        series.error = error;
        series.sampler_cpu_ns = own_cpu_ns;
        series
    }
}

/// Everything the sampling thread owns.
struct Worker {
    interval: Duration,
    clock_origin: Instant,
    stop_rx: Receiver<()>,
    latest: Arc<Mutex<Option<Sample>>>,
    feed: Option<Sender<Sample>>,
    feed_dropped: Arc<AtomicU64>,
    reader: CoreReader,
}

impl Worker {
    /// Samples until stopped; returns the samples and the CPU time this thread used.
    fn run(mut self) -> (Vec<Sample>, u64) {
        let mut samples = Vec::new();
        let mut prev_at = Instant::now();
        let mut prev_cpu = ProcessTimes::now();
        let mut next = prev_at + self.interval;
        loop {
            // Waiting on the stop channel, not sleeping, so `stop` is prompt.
            let wait = next.saturating_duration_since(Instant::now());
            match self.stop_rx.recv_timeout(wait) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = Instant::now();
            let cpu = ProcessTimes::now();
            let per_core_pct = self.reader.read();
            let cpu_ns =
                (cpu.user_ns + cpu.sys_ns).saturating_sub(prev_cpu.user_ns + prev_cpu.sys_ns);
            let wall_ns = duration_ns(now - prev_at);
            let sample = Sample {
                t_ns: duration_ns(now.saturating_duration_since(self.clock_origin)),
                per_core_pct,
                process_cpu_pct: if wall_ns == 0 {
                    0.0
                } else {
                    crate::convert::to_f32(cpu_ns as f64 * 100.0 / wall_ns as f64)
                },
                rss_bytes: current_rss_bytes().unwrap_or_else(sysinfo_rss_bytes),
            };
            (prev_at, prev_cpu) = (now, cpu);
            self.publish(&sample);
            samples.push(sample);
            // Ticks stay on a fixed grid; after a stall longer than an interval, missed ticks
            // are skipped rather than taken in a burst.
            next += self.interval;
            if next <= now {
                next = now + self.interval;
            }
        }
        (samples, thread_cpu_ns())
    }

    fn publish(&self, sample: &Sample) {
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = Some(sample.clone());
        if let Some(feed) = &self.feed {
            match feed.try_send(sample.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    self.feed_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Reads per-core utilisation since its previous read.
enum CoreReader {
    ProcStat {
        prev: Vec<CoreTicks>,
    },
    Sysinfo {
        system: Box<sysinfo::System>,
        last_refresh: Instant,
    },
}

impl CoreReader {
    /// `/proc/stat` where it can be read, sysinfo otherwise. Takes the baseline reading.
    fn new() -> Self {
        match std::fs::read_to_string("/proc/stat")
            .ok()
            .map(|text| parse_proc_stat(&text))
        {
            Some(prev) if !prev.is_empty() => CoreReader::ProcStat { prev },
            // Neither source: no cores, so every read is empty (nothing is shown
            // rather than made up).
            _ => Self::sysinfo().unwrap_or(CoreReader::ProcStat { prev: Vec::new() }),
        }
    }

    fn sysinfo() -> Option<Self> {
        use sysinfo::{CpuRefreshKind, RefreshKind};
        // This first refresh is the baseline; usage is valid from the next one on.
        let system = sysinfo::System::new_with_specifics(
            RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing().with_usage()),
        )
        .ok()?;
        Some(CoreReader::Sysinfo {
            system: Box::new(system),
            last_refresh: Instant::now(),
        })
    }

    fn cores(&self) -> usize {
        match self {
            CoreReader::ProcStat { prev } => prev.len(),
            CoreReader::Sysinfo { system, .. } => system.cpus().len(),
        }
    }

    fn source(&self) -> CoreSource {
        match self {
            CoreReader::ProcStat { .. } => CoreSource::ProcStat,
            CoreReader::Sysinfo { .. } => CoreSource::Sysinfo,
        }
    }

    /// Utilisation of each core since the previous read, or an empty vector when nothing
    /// could be measured this time.
    fn read(&mut self) -> Vec<f32> {
        match self {
            CoreReader::ProcStat { prev } => {
                let Ok(text) = std::fs::read_to_string("/proc/stat") else {
                    return Vec::new();
                };
                let now = parse_proc_stat(&text);
                let pct = prev
                    .iter()
                    .enumerate()
                    .map(|(core, before)| {
                        now.get(core).map_or(0.0, |after| after.pct_since(before))
                    })
                    .collect();
                // A core that went offline keeps its last counters, so it reads 0 % until it
                // is back.
                for (core, after) in now.into_iter().enumerate().take(prev.len()) {
                    prev[core] = after;
                }
                pct
            }
            CoreReader::Sysinfo {
                system,
                last_refresh,
            } => {
                // sysinfo ignores refreshes closer than this (it would repeat old values).
                if last_refresh.elapsed() < sysinfo::MINIMUM_CPU_UPDATE_INTERVAL {
                    return Vec::new();
                }
                system.refresh_cpu_usage();
                *last_refresh = Instant::now();
                system
                    .cpus()
                    .iter()
                    .map(|c| c.usage().clamp(0.0, 100.0))
                    .collect()
            }
        }
    }
}

/// This process's resident memory through sysinfo, where /proc/self/statm is missing.
fn sysinfo_rss_bytes() -> u64 {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate};
    let Ok(pid) = sysinfo::get_current_pid() else {
        return 0;
    };
    let Ok(mut system) = sysinfo::System::new() else {
        return 0;
    };
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        false,
        ProcessRefreshKind::nothing().with_memory(),
    );
    system.process(pid).map_or(0, sysinfo::Process::memory)
}

/// One core's cumulative time counters from `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct CoreTicks {
    busy: u64,
    total: u64,
}

impl CoreTicks {
    fn pct_since(&self, before: &CoreTicks) -> f32 {
        let total = self.total.saturating_sub(before.total);
        let busy = self.busy.saturating_sub(before.busy);
        if total == 0 {
            0.0
        } else {
            crate::convert::to_f32((busy as f64 * 100.0 / total as f64).clamp(0.0, 100.0))
        }
    }
}

/// The `cpuN` lines of `/proc/stat`, in order. Fields (proc(5)): user nice system idle
/// iowait irq softirq steal guest guest_nice; guest time is already inside user and nice, so
/// total is the first eight and idle is idle + iowait (as top and sysinfo count it).
fn parse_proc_stat(text: &str) -> Vec<CoreTicks> {
    text.lines()
        .filter(|line| {
            line.strip_prefix("cpu")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .map(|line| {
            let fields: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .take(8)
                .map(|f| f.parse().unwrap_or(0))
                .collect();
            let total: u64 = fields.iter().sum();
            let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
            CoreTicks {
                busy: total.saturating_sub(idle),
                total,
            }
        })
        .collect()
}

/// CPU time used so far by the calling thread (0 where the clock is unavailable).
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes into the timespec we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// CPU time over the capacity that was available: `cpu_ns / (wall_ns × threads)`, as a
/// fraction (1.0 = every thread busy for the whole wall time; above 1.0 when more threads
/// ran than were counted). Returns 0.0 when `wall_ns` or `threads` is 0.
pub fn utilisation(cpu_ns: u64, wall_ns: u64, threads: usize) -> f64 {
    let capacity = wall_ns as f64 * threads as f64;
    if capacity == 0.0 {
        0.0
    } else {
        cpu_ns as f64 / capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_lines_parse_to_busy_and_total() {
        let text = "cpu  10 0 10 80 0 0 0 0 0 0\n\
                    cpu0 4 1 5 30 10 0 0 0 2 0\n\
                    cpu1 0 0 0 100 0 0 0 0 0 0\n\
                    intr 12345\n";
        assert_eq!(
            parse_proc_stat(text),
            vec![
                CoreTicks {
                    busy: 10,
                    total: 50
                },
                CoreTicks {
                    busy: 0,
                    total: 100
                }
            ]
        );
        let before = CoreTicks {
            busy: 10,
            total: 50,
        };
        let after = CoreTicks {
            busy: 13,
            total: 60,
        };
        assert_eq!(after.pct_since(&before), 30.0);
        assert_eq!(before.pct_since(&before), 0.0);
    }

    #[test]
    fn summary_of_known_samples() {
        let sample = |t_ns, cores: Vec<f32>, cpu, rss| Sample {
            t_ns,
            per_core_pct: cores,
            process_cpu_pct: cpu,
            rss_bytes: rss,
        };
        let series = CpuSeries::from_samples(
            vec![
                sample(100_000_000, vec![10.0, 50.0], 20.0, 100),
                sample(200_000_000, vec![], 40.0, 300),
                sample(300_000_000, vec![30.0, 70.0], 60.0, 200),
            ],
            DEFAULT_INTERVAL,
            2,
            CoreSource::Sysinfo,
        );
        assert_eq!(series.per_core_mean_pct, vec![20.0, 60.0]);
        assert_eq!(series.per_core_peak_pct, vec![30.0, 70.0]);
        assert_eq!(series.process_cpu_mean_pct, 40.0);
        assert_eq!(series.process_cpu_peak_pct, 60.0);
        assert_eq!(series.peak_rss_bytes, 300);
        assert_eq!(series.mean_rss_bytes, 200);
        assert!((series.achieved_hz - 10.0).abs() < 1e-9);
        assert_eq!(series.interval_ns, 100_000_000);
    }

    #[test]
    fn sysinfo_fallback_measures_only_after_its_minimum_interval() {
        let mut reader = CoreReader::sysinfo().expect("sysinfo reads this machine");
        let cores = reader.cores();
        assert!(cores > 0);
        // Too soon after the baseline: no measurement rather than a bogus one.
        assert!(reader.read().is_empty());
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL + Duration::from_millis(20));
        let pct = reader.read();
        assert_eq!(pct.len(), cores);
        assert!(pct.iter().all(|p| (0.0..=100.0).contains(p)));
        assert!(reader.read().is_empty());
        assert!(sysinfo_rss_bytes() > 0);
    }
}
