//! Repeated measurements and what they can support: a timing summary with its spread,
//! outliers, speedup with propagated error, efficiency, an Amdahl fit, and warnings when
//! the numbers should not be trusted. Also the runner that takes several configurations in
//! alternated rounds (A B C A B C ...), and the serial-vs-chunked comparison built on it.
//!
//! Everything runs on the caller's thread (each pipeline run builds its own pool) and
//! nothing here prints: the CLI and the TUI read the same result types. hyperfine is the
//! model for the statistics (`src/benchmark/relative_speed.rs`, `src/outlier_detection.rs`,
//! `src/output/warnings.rs`), though the speedup here is one of medians.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroUsize;

use serde::{Deserialize, Serialize};

use crate::chunks::{ChunkRequest, ChunkShape, PlanSummary};
use crate::output::OutputSpec;
use crate::pipeline::{
    self, CancelFlag, CloudClasses, Mode, PipelineError, Resolution, RunConfig, RunControl,
    RunReport, Scene, Schedule, Stage,
};
use crate::profile::{stats, units};

/// Bumped whenever a field of [`CompareResult`] or
/// [`SweepResult`](crate::profile::sweep::SweepResult) changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// Modified z-score above which a run is an outlier: Iglewicz and Hoaglin's recommended
/// cut-off (B. Iglewicz, D. Hoaglin, "How to Detect and Handle Outliers", ASQC 1993).
pub const OUTLIER_THRESHOLD: f64 = 3.5;

/// Below this median wall time, timer resolution and startup noise dominate.
pub const MIN_TRUSTED_WALL_NS: u64 = 5_000_000;

/// A first run slower than this many times the median of the others ran on cold caches.
pub const COLD_FIRST_RUN_FACTOR: f64 = 1.5;

// ---------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------

/// Summary of repeated wall times of one configuration (or one stage of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Number of runs.
    pub n: usize,
    pub mean_ns: f64,
    /// Sample standard deviation (divides by n - 1); `None` for a single run, which has no
    /// spread to show.
    pub stdev_ns: Option<f64>,
    /// Median (mean of the middle two for even counts).
    pub median_ns: u64,
    pub min_ns: u64,
    pub max_ns: u64,
    /// Positions in `values_ns` of the runs the modified z-score flags as outliers.
    pub outliers: Vec<usize>,
    /// Every run's value, in the order the runs were taken.
    pub values_ns: Vec<u64>,
}

impl Timing {
    /// Summarises `values` (ns, in run order); `None` when there are none.
    pub fn from_ns(values: &[u64]) -> Option<Self> {
        let median_ns = stats::median(values)?;
        let (min_ns, max_ns) = stats::range(values)?;
        let as_f: Vec<f64> = values.iter().map(|&v| v as f64).collect();
        Some(Self {
            n: values.len(),
            mean_ns: mean(&as_f)?,
            stdev_ns: sample_stdev(&as_f),
            median_ns,
            min_ns,
            max_ns,
            outliers: outlier_indices(values),
            values_ns: values.to_vec(),
        })
    }

    /// σ / mean, the relative spread the speedup error is propagated from; `None` for one
    /// run or a zero mean.
    pub fn relative_spread(&self) -> Option<f64> {
        let sd = self.stdev_ns?;
        (self.mean_ns > 0.0).then(|| sd / self.mean_ns)
    }
}

/// Arithmetic mean; `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Sample standard deviation (Bessel's n - 1); `None` for fewer than two values.
pub fn sample_stdev(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values)?;
    let ss: f64 = values.iter().map(|v| (v - m).powi(2)).sum();
    Some((ss / (values.len() - 1) as f64).sqrt())
}

/// Median of floats (mean of the middle two for even counts); `None` when empty.
pub fn median_f64(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Modified z-scores, M_i = 0.6745 (x_i - median) / MAD, where MAD is the median absolute
/// deviation from the median and 0.6745 the 0.75 quantile of the standard normal, which
/// makes MAD / 0.6745 estimate σ for normal data (Iglewicz and Hoaglin 1993).
///
/// When more than half the values are equal, MAD is 0; then the mean absolute deviation
/// stands in, M_i = (x_i - median) / (1.253314 MeanAD), 1.253314 = sqrt(pi / 2) being its
/// ratio to σ (the fallback IBM SPSS documents for the same score). All zeros when every
/// value is the same.
pub fn modified_z_scores(values: &[f64]) -> Vec<f64> {
    let Some(med) = median_f64(values) else {
        return Vec::new();
    };
    let deviations: Vec<f64> = values.iter().map(|x| (x - med).abs()).collect();
    let mad = median_f64(&deviations).unwrap_or(0.0);
    let scale = if mad > 0.0 {
        mad / 0.6745
    } else {
        1.253_314 * mean(&deviations).unwrap_or(0.0)
    };
    if scale <= 0.0 {
        return vec![0.0; values.len()];
    }
    values.iter().map(|x| (x - med) / scale).collect()
}

/// Positions of the values whose |modified z-score| exceeds [`OUTLIER_THRESHOLD`]. Fewer
/// than three values never have outliers: there is no majority to stand out from.
pub fn outlier_indices(values: &[u64]) -> Vec<usize> {
    if values.len() < 3 {
        return Vec::new();
    }
    let as_f: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    modified_z_scores(&as_f)
        .iter()
        .enumerate()
        .filter(|(_, z)| z.abs() > OUTLIER_THRESHOLD)
        .map(|(i, _)| i)
        .collect()
}

/// serial / parallel, with one standard deviation of error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Speedup {
    pub value: f64,
    /// Propagated from both sides' relative spreads; `None` when either side ran once, and
    /// for the serial reference itself.
    pub error: Option<f64>,
}

impl Speedup {
    /// The serial baseline against itself: exactly 1, with no error.
    pub const REFERENCE: Speedup = Speedup {
        value: 1.0,
        error: None,
    };

    /// Ratio of medians, serial / parallel. `None` when the parallel median is 0.
    ///
    /// Error: for a quotient r = a / b of independent quantities, first-order propagation
    /// of uncertainty gives σ_r = |r| sqrt((σ_a / a)² + (σ_b / b)²) (Wikipedia,
    /// "Propagation of uncertainty", example formulae; hyperfine's `relative_speed.rs` does
    /// the same with means). The relative spreads σ / mean of each side's runs stand in for
    /// σ_a / a and σ_b / b.
    pub fn of(serial: &Timing, parallel: &Timing) -> Option<Self> {
        if parallel.median_ns == 0 {
            return None;
        }
        let value = serial.median_ns as f64 / parallel.median_ns as f64;
        let error = match (serial.relative_spread(), parallel.relative_spread()) {
            (Some(a), Some(b)) => Some(value * (a * a + b * b).sqrt()),
            _ => None,
        };
        Some(Self { value, error })
    }

    /// Speedup per thread: 1 is perfect scaling.
    pub fn efficiency(&self, threads: usize) -> f64 {
        efficiency(self.value, threads)
    }
}

/// speedup / threads.
pub fn efficiency(speedup: f64, threads: usize) -> f64 {
    speedup / threads.max(1) as f64
}

/// Amdahl's law fitted to measured (threads, wall) points: T(n) = T1 (f + (1 - f) / n),
/// where f is the share of the 1-thread time that does not get faster with more threads.
/// A model of the measurements, not a measurement: front ends say "fitted".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AmdahlFit {
    /// f, clamped to [0, 1].
    pub serial_fraction: f64,
    /// T1 in ns: the measured 1-thread median when there is one, else fitted.
    pub t1_ns: f64,
    pub t1_measured: bool,
    /// Root mean square of model minus measurement over the points, ns.
    pub rms_residual_ns: f64,
    /// The (threads, median wall ns) points the fit used.
    pub points: Vec<(usize, f64)>,
}

impl AmdahlFit {
    /// Least-squares fit over at least two distinct thread counts; `None` with fewer, or
    /// when the points admit no positive T1.
    ///
    /// With T1 known (a 1-thread point), T(n) - T1/n = f T1 (1 - 1/n) is linear in f:
    /// with x = T1 (1 - 1/n) and y = T(n) - T1/n, f = Σxy / Σx². Otherwise T(n) = a + b/n
    /// is an ordinary linear regression on u = 1/n, and T1 = a + b, f = a / T1. If f must
    /// be clamped, T1 is refitted for the clamped f: T1 = ΣT g / Σg², g = f + (1 - f)/n.
    pub fn fit(points: &[(usize, f64)]) -> Option<Self> {
        let pts: Vec<(usize, f64)> = points
            .iter()
            .copied()
            .filter(|&(n, t)| n >= 1 && t.is_finite() && t >= 0.0)
            .collect();
        let mut counts: Vec<usize> = pts.iter().map(|p| p.0).collect();
        counts.sort_unstable();
        counts.dedup();
        if counts.len() < 2 {
            return None;
        }
        let ones: Vec<f64> = pts.iter().filter(|p| p.0 == 1).map(|p| p.1).collect();
        let (mut f, mut t1, t1_measured) = match mean(&ones) {
            Some(t1) => {
                let (mut sxy, mut sxx) = (0.0, 0.0);
                for &(n, t) in &pts {
                    let inv = 1.0 / n as f64;
                    let x = t1 * (1.0 - inv);
                    sxy += x * (t - t1 * inv);
                    sxx += x * x;
                }
                if sxx <= 0.0 {
                    return None;
                }
                (sxy / sxx, t1, true)
            }
            None => {
                let us: Vec<f64> = pts.iter().map(|p| 1.0 / p.0 as f64).collect();
                let ts: Vec<f64> = pts.iter().map(|p| p.1).collect();
                let (mu, mt) = (mean(&us)?, mean(&ts)?);
                let (mut suu, mut sut) = (0.0, 0.0);
                for (u, t) in us.iter().zip(&ts) {
                    suu += (u - mu) * (u - mu);
                    sut += (u - mu) * (t - mt);
                }
                if suu <= 0.0 {
                    return None;
                }
                let b = sut / suu;
                let a = mt - b * mu;
                let t1 = a + b;
                if t1 <= 0.0 {
                    return None;
                }
                (a / t1, t1, false)
            }
        };
        if !(0.0..=1.0).contains(&f) {
            f = f.clamp(0.0, 1.0);
            if !t1_measured {
                let g = |n: usize| f + (1.0 - f) / n as f64;
                let sgg: f64 = pts.iter().map(|p| g(p.0).powi(2)).sum();
                let stg: f64 = pts.iter().map(|p| p.1 * g(p.0)).sum();
                t1 = stg / sgg;
            }
        }
        if !(t1 > 0.0 && f.is_finite()) {
            return None;
        }
        let mut fit = Self {
            serial_fraction: f,
            t1_ns: t1,
            t1_measured,
            rms_residual_ns: 0.0,
            points: pts,
        };
        let sq: f64 = fit
            .points
            .iter()
            .map(|&(n, t)| (fit.predict_ns(n) - t).powi(2))
            .sum();
        fit.rms_residual_ns = (sq / fit.points.len() as f64).sqrt();
        Some(fit)
    }

    /// The model's wall time on `threads` threads, ns.
    pub fn predict_ns(&self, threads: usize) -> f64 {
        let f = self.serial_fraction;
        self.t1_ns * (f + (1.0 - f) / threads.max(1) as f64)
    }

    /// 1 / f: the most any number of threads could gain over T1 (infinite for f = 0).
    pub fn max_speedup(&self) -> f64 {
        1.0 / self.serial_fraction
    }
}

// ---------------------------------------------------------------------------------------
// Warnings
// ---------------------------------------------------------------------------------------

/// Reasons to distrust a configuration's timings, checked on its total wall times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// The median wall time is under [`MIN_TRUSTED_WALL_NS`].
    TooShort { config: String, median_ns: u64 },
    /// Some runs are outliers by the modified z-score.
    Outliers {
        config: String,
        count: usize,
        runs: usize,
    },
    /// The first run was more than [`COLD_FIRST_RUN_FACTOR`] times the median of the rest.
    ColdFirstRun {
        config: String,
        first_ns: u64,
        rest_median_ns: u64,
    },
}

impl Warning {
    /// The checks on one configuration's total wall times.
    pub fn check(config: &str, timing: &Timing) -> Vec<Warning> {
        let mut out = Vec::new();
        if timing.median_ns < MIN_TRUSTED_WALL_NS {
            out.push(Warning::TooShort {
                config: config.to_string(),
                median_ns: timing.median_ns,
            });
        }
        if !timing.outliers.is_empty() {
            out.push(Warning::Outliers {
                config: config.to_string(),
                count: timing.outliers.len(),
                runs: timing.n,
            });
        }
        if let [first, rest @ ..] = timing.values_ns.as_slice()
            && let Some(rest_median_ns) = stats::median(rest)
            && *first as f64 > COLD_FIRST_RUN_FACTOR * rest_median_ns as f64
        {
            out.push(Warning::ColdFirstRun {
                config: config.to_string(),
                first_ns: *first,
                rest_median_ns,
            });
        }
        out
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::TooShort { config, median_ns } => write!(
                f,
                "{config}: the median wall time, {}, is under {}: too short to trust, as \
                 timer and start-up noise weigh as much as the work; use a larger scene \
                 (--res 10, or the full-size demo)",
                units::duration_ns(*median_ns),
                units::duration_ns(MIN_TRUSTED_WALL_NS),
            ),
            Warning::Outliers {
                config,
                count,
                runs,
            } => write!(
                f,
                "{config}: {count} of {runs} runs are statistical outliers (modified z-score \
                 above {OUTLIER_THRESHOLD}); other programs or I/O probably disturbed them: \
                 quieten the machine or raise --repeat"
            ),
            Warning::ColdFirstRun {
                config,
                first_ns,
                rest_median_ns,
            } => write!(
                f,
                "{config}: the first run ({}) was much slower than the others (median {}): \
                 probably cold caches (files not yet in the OS page cache); the median \
                 discounts it, or raise --repeat",
                units::duration_ns(*first_ns),
                units::duration_ns(*rest_median_ns),
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running configurations in alternated rounds
// ---------------------------------------------------------------------------------------

/// Called before each run with (runs done, runs planned, label of the run starting).
pub type Progress<'a> = &'a dyn Fn(usize, usize, &str);

/// What went wrong in a comparison or sweep.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{reason}")]
    Invalid { reason: String },
    /// The scene or a chunk request cannot be planned: raised before any run.
    #[error("cannot plan {what}")]
    Prepare {
        what: String,
        #[source]
        source: Box<PipelineError>,
    },
    /// A run failed; round 0 is the warm-up.
    #[error("{label} failed in round {round}")]
    Run {
        label: String,
        round: usize,
        #[source]
        source: Box<PipelineError>,
    },
}

/// Everything about a run except its mode: the same for every run of a comparison.
#[derive(Debug, Clone)]
pub struct RunBase {
    pub resolution: Resolution,
    pub cloud_classes: CloudClasses,
    /// Every run writes here in turn, replacing the previous run's file.
    pub output: OutputSpec,
}

impl RunBase {
    pub fn config(&self, mode: Mode) -> RunConfig {
        RunConfig {
            mode,
            resolution: self.resolution,
            cloud_classes: self.cloud_classes.clone(),
            output: self.output.clone(),
        }
    }
}

/// One configuration to measure.
#[derive(Debug, Clone)]
pub struct Trial {
    /// `serial` or `chunked x N @ SPEC`.
    pub label: String,
    pub mode: Mode,
}

impl Trial {
    pub fn serial() -> Self {
        Self {
            label: "serial".into(),
            mode: Mode::Serial,
        }
    }

    pub fn chunked(chunks: ChunkRequest, threads: NonZeroUsize, schedule: Schedule) -> Self {
        Self {
            label: format!("chunked x {threads} @ {chunks}"),
            mode: Mode::Chunked {
                chunks,
                threads,
                schedule,
            },
        }
    }

    /// Pool size: 1 for serial.
    pub fn threads(&self) -> usize {
        match &self.mode {
            Mode::Serial => 1,
            Mode::Chunked { threads, .. } => threads.get(),
        }
    }

    /// The chunk request, for chunked trials.
    pub fn chunks(&self) -> Option<&ChunkRequest> {
        match &self.mode {
            Mode::Serial => None,
            Mode::Chunked { chunks, .. } => Some(chunks),
        }
    }
}

/// The figures kept from one finished run (a full report holds every task; a sweep needs
/// only these).
#[derive(Debug, Clone)]
pub struct RunSample {
    pub wall_ns: u64,
    /// Wall time of each stage that ran.
    pub stage_wall_ns: BTreeMap<Stage, u64>,
    /// Decoded bytes of the load stage.
    pub load_bytes: u64,
    /// All overhead (capacity minus stage work) / capacity.
    pub overhead_share: f64,
    pub overhead_per_task_us: f64,
    /// The overhead paid once per task whatever its size: gaps between a worker's
    /// consecutive tasks (scheduling), / capacity. It leaves out what grows with the chunk
    /// (waits for the single writer, buffer allocation), pool start-up, handle opening and
    /// workers idle for lack of chunks: with writer waits in, large chunks were called
    /// "too small" because their long writes made the others wait.
    pub task_overhead_share: f64,
    /// The same per-task overhead / tasks, µs.
    pub task_overhead_per_task_us: f64,
    /// Median duration of the run's load, mask and write tasks.
    pub task_median_ns: u64,
    pub peak_rss_bytes: u64,
    pub plan: Option<PlanSummary>,
}

impl RunSample {
    pub fn from_report(report: &RunReport) -> Self {
        let o = &report.overhead;
        let per_task_ns = o.parts.scheduling_ns;
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let work: Vec<u64> = report
            .tasks
            .iter()
            .filter(|t| t.stage != Stage::Finalize)
            .map(|t| t.duration_ns())
            .collect();
        Self {
            wall_ns: report.wall_ns,
            stage_wall_ns: report.stages.iter().map(|s| (s.name, s.wall_ns)).collect(),
            load_bytes: report.decoded_bytes(),
            overhead_share: report.overhead.share,
            overhead_per_task_us: report.overhead.per_task_us,
            task_overhead_share: ratio(per_task_ns, o.capacity_ns),
            task_overhead_per_task_us: ratio(per_task_ns, o.tasks as u64) / 1e3,
            task_median_ns: stats::median(&work).unwrap_or(0),
            peak_rss_bytes: report.peak_rss_bytes,
            plan: report.plan.clone(),
        }
    }

    pub fn stage_ns(&self, stage: Stage) -> Option<u64> {
        self.stage_wall_ns.get(&stage).copied()
    }
}

/// The runs of every trial, `samples[i]` for `trials[i]`.
#[derive(Debug, Clone)]
pub struct Rounds {
    pub samples: Vec<Vec<RunSample>>,
    pub runs_done: usize,
    pub runs_planned: usize,
    /// Stopped by the cancel flag; the run in flight was discarded.
    pub cancelled: bool,
}

/// How often each configuration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repetition {
    /// Measured rounds: every configuration runs once per round.
    pub repeat: usize,
    /// Unmeasured runs of the first configuration before the rounds (hyperfine's
    /// `--warmup`): without one, the very first run reads its files from disk rather than
    /// the OS page cache, and whichever configuration comes first looks slower.
    pub warmup: usize,
}

/// Runs `warmup` unmeasured runs of the first trial, then every trial once per round, in
/// order, for `repeat` rounds (A B C A B C ...), so drift on a shared machine spreads over
/// every configuration alike. Stops between runs when `cancel` is set; a run the flag
/// interrupted is discarded, so each kept run is whole.
pub fn run_rounds(
    scene: &Scene,
    base: &RunBase,
    trials: &[Trial],
    repetition: Repetition,
    cancel: &CancelFlag,
    progress: Progress<'_>,
) -> Result<Rounds, BenchError> {
    let Repetition { repeat, warmup } = repetition;
    if repeat == 0 {
        return Err(BenchError::Invalid {
            reason: "the repeat count must be at least 1".into(),
        });
    }
    let runs_planned = trials.len() * repeat;
    let mut rounds = Rounds {
        samples: vec![Vec::new(); trials.len()],
        runs_done: 0,
        runs_planned,
        cancelled: false,
    };
    let control = RunControl {
        cancel: cancel.clone(),
        ..RunControl::default()
    };
    let warmups: Vec<&Trial> = trials.first().map_or(Vec::new(), |t| vec![t; warmup]);
    let total = runs_planned + warmups.len();
    let measured = (1..=repeat).flat_map(|round| {
        trials
            .iter()
            .enumerate()
            .map(move |(i, t)| (round, Some(i), t))
    });
    let schedule = warmups.into_iter().map(|t| (0, None, t)).chain(measured);
    for (started, (round, slot, trial)) in schedule.enumerate() {
        if cancel.is_cancelled() {
            rounds.cancelled = true;
            break;
        }
        let label = match slot {
            Some(_) => trial.label.clone(),
            None => format!("{} (warm-up)", trial.label),
        };
        progress(started, total, &label);
        let report =
            pipeline::run(scene, &base.config(trial.mode.clone()), &control).map_err(|source| {
                BenchError::Run {
                    label: label.clone(),
                    round,
                    source: Box::new(source),
                }
            })?;
        if report.cancelled {
            rounds.cancelled = true;
            break;
        }
        if let Some(i) = slot {
            rounds.samples[i].push(RunSample::from_report(&report));
            rounds.runs_done += 1;
        }
    }
    if !rounds.cancelled {
        progress(total, total, "");
    }
    Ok(rounds)
}

/// A chunk plan's figures, in a form that also reads back from files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFigures {
    pub shape: ChunkShape,
    pub chunk_count: usize,
    pub chunk_bytes: u64,
    /// Chunk sides are whole blocks (edges excepted).
    pub aligned: bool,
    /// Decoded block samples / chunk samples.
    pub read_amplification: f64,
    pub blocks_touched_mean: f64,
    /// What the planner adjusted (clamping), as it said it.
    #[serde(default)]
    pub notices: Vec<String>,
}

impl From<&PlanSummary> for PlanFigures {
    fn from(p: &PlanSummary) -> Self {
        Self {
            shape: p.shape,
            chunk_count: p.chunk_count,
            chunk_bytes: p.chunk_bytes,
            aligned: p.aligned,
            read_amplification: p.read_amplification,
            blocks_touched_mean: p.blocks_touched_mean,
            notices: p.notices.clone(),
        }
    }
}

/// Plans `chunks` on the scene's grid without reading pixels: fails early, before any run.
pub fn plan_figures(
    scene: &Scene,
    resolution: Resolution,
    chunks: &ChunkRequest,
) -> Result<PlanFigures, BenchError> {
    let prepared = pipeline::prepare(scene, resolution, Some(chunks)).map_err(|source| {
        BenchError::Prepare {
            what: format!("chunks \"{chunks}\" on item \"{}\"", scene.item),
            source: Box::new(source),
        }
    })?;
    let plan = prepared.plan.ok_or_else(|| BenchError::Invalid {
        reason: format!("chunks \"{chunks}\" gave no plan"),
    })?;
    Ok(PlanFigures::from(&plan.summary()))
}

// ---------------------------------------------------------------------------------------
// compare: serial vs chunked x N
// ---------------------------------------------------------------------------------------

/// What to compare: the serial path against the chunked path on each thread count.
#[derive(Debug, Clone)]
pub struct CompareSpec {
    pub chunks: ChunkRequest,
    /// Thread counts, run in this order after serial in every round.
    pub threads: Vec<NonZeroUsize>,
    pub schedule: Schedule,
    pub repetition: Repetition,
}

/// A timing with its speedup over the serial baseline's same figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub timing: Timing,
    /// `None` when the baseline lacks the figure or this median is 0.
    pub speedup: Option<Speedup>,
    /// speedup / threads.
    pub efficiency: Option<f64>,
}

impl Measured {
    fn new(timing: Timing, baseline: Option<&Timing>, threads: usize, is_ref: bool) -> Self {
        let speedup = if is_ref {
            Some(Speedup::REFERENCE)
        } else {
            baseline.and_then(|b| Speedup::of(b, &timing))
        };
        Self {
            timing,
            efficiency: speedup.map(|s| s.efficiency(threads)),
            speedup,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageComparison {
    pub stage: Stage,
    #[serde(flatten)]
    pub measured: Measured,
}

/// One configuration's figures, per stage and in total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigComparison {
    pub label: String,
    /// `serial` or `chunked`.
    pub mode: String,
    pub threads: usize,
    /// Stages in pipeline order (load, mask, write, finalize), those that ran.
    pub stages: Vec<StageComparison>,
    pub total: Measured,
}

impl ConfigComparison {
    pub fn stage(&self, stage: Stage) -> Option<&Measured> {
        self.stages
            .iter()
            .find(|s| s.stage == stage)
            .map(|s| &s.measured)
    }
}

/// The outcome of [`compare`], as printed and as `--json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareResult {
    pub schema_version: u32,
    pub item: String,
    pub resolution_m: u32,
    /// The chunk request as given (`blocks:2`, `3,512,512`, ...).
    pub chunks: String,
    pub plan: PlanFigures,
    pub schedule: Schedule,
    /// Measured runs per configuration.
    pub repeat: usize,
    /// Unmeasured warm-up runs of serial before the rounds.
    pub warmup: usize,
    pub runs_done: usize,
    pub runs_planned: usize,
    pub cancelled: bool,
    /// Serial first, then chunked x N in the order asked; configurations that never ran
    /// (after a cancel) are left out.
    pub configs: Vec<ConfigComparison>,
    /// Fitted over the chunked totals when at least two thread counts ran.
    pub amdahl: Option<AmdahlFit>,
    pub warnings: Vec<Warning>,
}

impl CompareResult {
    pub fn config(&self, label: &str) -> Option<&ConfigComparison> {
        self.configs.iter().find(|c| c.label == label)
    }
}

/// Runs serial and chunked x N (each thread count) on the same scene and chunks, alternated,
/// `repeat` rounds. A cancel stops between runs and returns what finished.
pub fn compare(
    scene: &Scene,
    base: &RunBase,
    spec: &CompareSpec,
    cancel: &CancelFlag,
    progress: Progress<'_>,
) -> Result<CompareResult, BenchError> {
    if spec.threads.is_empty() {
        return Err(BenchError::Invalid {
            reason: "compare needs at least one thread count".into(),
        });
    }
    let plan = plan_figures(scene, base.resolution, &spec.chunks)?;
    let mut trials = vec![Trial::serial()];
    for &t in &spec.threads {
        let mut trial = Trial::chunked(spec.chunks.clone(), t, spec.schedule);
        trial.label = format!("chunked x {t}");
        trials.push(trial);
    }
    let rounds = run_rounds(scene, base, &trials, spec.repetition, cancel, progress)?;

    let serial_total = totals(&rounds.samples[0]);
    let serial_stages: BTreeMap<Stage, Timing> = Stage::ALL
        .iter()
        .filter_map(|&s| Some((s, stage_timing(&rounds.samples[0], s)?)))
        .collect();
    let mut configs = Vec::new();
    let mut warnings = Vec::new();
    for (i, (trial, runs)) in trials.iter().zip(&rounds.samples).enumerate() {
        let Some(total) = totals(runs) else { continue };
        let threads = trial.threads();
        warnings.extend(Warning::check(&trial.label, &total));
        let stages = Stage::ALL
            .iter()
            .filter_map(|&s| {
                let timing = stage_timing(runs, s)?;
                Some(StageComparison {
                    stage: s,
                    measured: Measured::new(timing, serial_stages.get(&s), threads, i == 0),
                })
            })
            .collect();
        configs.push(ConfigComparison {
            label: trial.label.clone(),
            mode: if i == 0 { "serial" } else { "chunked" }.into(),
            threads,
            stages,
            total: Measured::new(total, serial_total.as_ref(), threads, i == 0),
        });
    }
    let points: Vec<(usize, f64)> = configs
        .iter()
        .filter(|c| c.mode == "chunked")
        .map(|c| (c.threads, c.total.timing.median_ns as f64))
        .collect();
    Ok(CompareResult {
        schema_version: SCHEMA_VERSION,
        item: scene.item.clone(),
        resolution_m: base.resolution.metres(),
        chunks: spec.chunks.to_string(),
        plan,
        schedule: spec.schedule,
        repeat: spec.repetition.repeat,
        warmup: spec.repetition.warmup,
        runs_done: rounds.runs_done,
        runs_planned: rounds.runs_planned,
        cancelled: rounds.cancelled,
        configs,
        amdahl: AmdahlFit::fit(&points),
        warnings,
    })
}

/// Timing of the runs' total wall times.
pub fn totals(runs: &[RunSample]) -> Option<Timing> {
    Timing::from_ns(&runs.iter().map(|r| r.wall_ns).collect::<Vec<_>>())
}

/// Timing of one stage's wall times over the runs where it ran.
pub fn stage_timing(runs: &[RunSample], stage: Stage) -> Option<Timing> {
    Timing::from_ns(
        &runs
            .iter()
            .filter_map(|r| r.stage_ns(stage))
            .collect::<Vec<_>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_of_one_run_has_no_spread() {
        let t = Timing::from_ns(&[42]).unwrap();
        assert_eq!((t.n, t.median_ns, t.min_ns, t.max_ns), (1, 42, 42, 42));
        assert_eq!(t.stdev_ns, None);
        assert_eq!(t.relative_spread(), None);
        assert!(Timing::from_ns(&[]).is_none());
    }

    #[test]
    fn equal_values_have_no_outliers_and_mad_zero_falls_back() {
        assert!(outlier_indices(&[7, 7, 7, 7]).is_empty());
        // MAD is 0 (three equal values), the mean absolute deviation still flags the odd one.
        assert_eq!(outlier_indices(&[10, 10, 10, 10, 90]), vec![4]);
    }

    #[test]
    fn a_cold_first_run_is_noticed() {
        let t = Timing::from_ns(&[30_000_000, 10_000_000, 11_000_000]).unwrap();
        let w = Warning::check("serial", &t);
        let cold = w
            .iter()
            .find(|w| matches!(w, Warning::ColdFirstRun { .. }))
            .expect("cold first run flagged");
        assert!(
            cold.to_string()
                .starts_with("serial: the first run (30.0 ms)")
        );
        // Three runs, one far off: also a statistical outlier; long enough to trust.
        assert!(
            w.iter()
                .any(|w| matches!(w, Warning::Outliers { count: 1, .. }))
        );
        assert!(!w.iter().any(|w| matches!(w, Warning::TooShort { .. })));
    }

    #[test]
    fn clamped_fits_stay_in_range() {
        // Gets slower with threads: f would exceed 1.
        let fit = AmdahlFit::fit(&[(1, 100.0), (2, 120.0), (4, 150.0)]).unwrap();
        assert_eq!(fit.serial_fraction, 1.0);
        // Superlinear: f would be negative.
        let fit = AmdahlFit::fit(&[(2, 40.0), (4, 15.0)]).unwrap();
        assert_eq!(fit.serial_fraction, 0.0);
        assert!(AmdahlFit::fit(&[(2, 40.0), (2, 41.0)]).is_none());
    }
}
