//! Statistics over repeated measurements, all in one place: medians and spread, a timing
//! summary with its outliers, speedup with propagated error, efficiency, an Amdahl fit,
//! and the warnings that say when numbers should not be trusted. hyperfine is the model
//! (`src/benchmark/relative_speed.rs`, `src/outlier_detection.rs`,
//! `src/output/warnings.rs`), though the speedup here is one of medians.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::units;

/// Modified z-score above which a run is an outlier: Iglewicz and Hoaglin's recommended
/// cut-off (B. Iglewicz, D. Hoaglin, "How to Detect and Handle Outliers", ASQC 1993).
pub const OUTLIER_THRESHOLD: f64 = 3.5;

/// Below this median wall time, timer resolution and startup noise dominate.
pub const MIN_TRUSTED_WALL_NS: u64 = 5_000_000;

/// A first run slower than this many times the median of the others ran on cold caches.
pub const COLD_FIRST_RUN_FACTOR: f64 = 1.5;

/// The largest gap between consecutive sorted runs above this share of their median splits
/// them into two groups (see [`two_groups`]).
pub const GROUP_GAP_SHARE: f64 = 0.25;

/// Runs each side of the gap needs: one run apart is an outlier, not a group.
pub const MIN_GROUP_RUNS: usize = 2;

/// Median of `values` (mean of the middle two for even counts); `None` when empty.
pub fn median(values: &[u64]) -> Option<u64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some(v[n / 2 - 1] / 2 + v[n / 2] / 2 + (v[n / 2 - 1] % 2 + v[n / 2] % 2) / 2),
    }
}

/// (min, max) of `values`; `None` when empty.
pub fn range(values: &[u64]) -> Option<(u64, u64)> {
    Some((*values.iter().min()?, *values.iter().max()?))
}

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
    /// How many of the runs were disturbed: other processes held more than
    /// [`super::interference::DISTURBED_CORES`] during them (0 where not measured).
    #[serde(default)]
    pub disturbed_runs: usize,
}

impl Timing {
    /// Summarises `values` (ns, in run order); `None` when there are none.
    pub fn from_ns(values: &[u64]) -> Option<Self> {
        let median_ns = median(values)?;
        let (min_ns, max_ns) = range(values)?;
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
            disturbed_runs: 0,
        })
    }

    /// The same timing, `disturbed` of its runs disturbed by other processes.
    pub fn with_disturbed(mut self, disturbed: usize) -> Self {
        self.disturbed_runs = disturbed;
        self
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

/// Runs that fell into two groups: what was below the gap and what was above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Groups {
    pub low_runs: usize,
    pub low_max_ns: u64,
    pub high_runs: usize,
    pub high_min_ns: u64,
}

/// Whether the runs fall into two groups: the largest gap between consecutive sorted
/// values is more than [`GROUP_GAP_SHARE`] of the median, with at least
/// [`MIN_GROUP_RUNS`] runs on each side. A simplified form of Wainer and Schacht's
/// "gapping" (H. Wainer, S. Schacht, "Gapping", Psychometrika 43, 1978), which flags large
/// gaps between consecutive order statistics; a fixed share of the median stands in for
/// their weighted-gap statistic, so the rule can be checked on the table by eye. The
/// modified z-score misses two groups: its median sits in one of them and the MAD grows
/// with the gap. `None` when the runs form one group.
pub fn two_groups(values: &[u64]) -> Option<Groups> {
    let n = values.len();
    if n < 2 * MIN_GROUP_RUNS {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let med = median(&v)? as f64;
    // Splits after position i: v[..=i] low, v[i + 1..] high.
    let (i, gap) = (MIN_GROUP_RUNS - 1..n - MIN_GROUP_RUNS)
        .map(|i| (i, v[i + 1] - v[i]))
        .max_by_key(|&(i, gap)| (gap, std::cmp::Reverse(i)))?;
    (med > 0.0 && gap as f64 > GROUP_GAP_SHARE * med).then_some(Groups {
        low_runs: i + 1,
        low_max_ns: v[i],
        high_runs: n - i - 1,
        high_min_ns: v[i + 1],
    })
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
// Deciding which configuration is fastest
// ---------------------------------------------------------------------------------------

/// Runs a configuration needs before it can be named the fastest: with fewer, one lucky or
/// unlucky run decides.
pub const MIN_DECIDING_RUNS: usize = 3;

/// Which of several timed configurations is fastest, as far as their runs can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fastest {
    /// Every run of `best` was faster than every run of every other configuration: the
    /// difference is larger than the noise. `runner_up` is the next by median.
    Clear {
        best: usize,
        runner_up: Option<usize>,
    },
    /// The fastest by median (`by_median`) has runs that overlap those of `tied` (never
    /// empty): which is faster is within the noise.
    Tied { by_median: usize, tied: Vec<usize> },
    /// The fastest by median has fewer than [`MIN_DECIDING_RUNS`] runs; `tied` are the
    /// configurations its runs overlap (may be empty).
    TooFewRuns { by_median: usize, tied: Vec<usize> },
}

impl Fastest {
    /// The fastest by median, decided or not.
    pub fn by_median(&self) -> usize {
        match self {
            Fastest::Clear { best, .. } => *best,
            Fastest::Tied { by_median, .. } | Fastest::TooFewRuns { by_median, .. } => *by_median,
        }
    }

    /// The configurations still in contention: the fastest by median and those tied with it.
    pub fn leaders(&self) -> Vec<usize> {
        match self {
            Fastest::Clear { best, .. } => vec![*best],
            Fastest::Tied { by_median, tied } | Fastest::TooFewRuns { by_median, tied } => {
                std::iter::once(*by_median)
                    .chain(tied.iter().copied())
                    .collect()
            }
        }
    }
}

/// Decides which timing is fastest. A winner must have at least [`MIN_DECIDING_RUNS`] runs
/// and its slowest run must beat the fastest run of every other configuration (their
/// min…max ranges do not overlap): a rule a learner can check on the table, and one that
/// does not name a winner from noise. `None` when there are no timings.
pub fn fastest(timings: &[&Timing]) -> Option<Fastest> {
    let by_median = (0..timings.len()).min_by_key(|&i| (timings[i].median_ns, i))?;
    let best = timings[by_median];
    let tied: Vec<usize> = (0..timings.len())
        .filter(|&i| i != by_median && timings[i].min_ns <= best.max_ns)
        .collect();
    if best.n < MIN_DECIDING_RUNS {
        return Some(Fastest::TooFewRuns { by_median, tied });
    }
    if !tied.is_empty() {
        return Some(Fastest::Tied { by_median, tied });
    }
    let runner_up = (0..timings.len())
        .filter(|&i| i != by_median)
        .min_by_key(|&i| (timings[i].median_ns, i));
    Some(Fastest::Clear {
        best: by_median,
        runner_up,
    })
}

/// Whether two timings differ by more than their runs' spread: `Some(true)` when every run
/// of one beat every run of the other, `Some(false)` when their ranges overlap, `None` when
/// either has fewer than two runs (no spread to judge by).
pub fn differ(a: &Timing, b: &Timing) -> Option<bool> {
    if a.n < 2 || b.n < 2 {
        return None;
    }
    Some(a.max_ns < b.min_ns || b.max_ns < a.min_ns)
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
        /// Of the runs, how many other processes disturbed (marked ⚠).
        #[serde(default)]
        disturbed: usize,
    },
    /// The first run was more than [`COLD_FIRST_RUN_FACTOR`] times the median of the rest.
    ColdFirstRun {
        config: String,
        first_ns: u64,
        rest_median_ns: u64,
    },
    /// The runs fall into two groups (see [`two_groups`]).
    TwoGroups {
        config: String,
        low_runs: usize,
        low_max_ns: u64,
        high_runs: usize,
        high_min_ns: u64,
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
                disturbed: timing.disturbed_runs,
            });
        }
        if let [first, rest @ ..] = timing.values_ns.as_slice()
            && let Some(rest_median_ns) = median(rest)
            && *first as f64 > COLD_FIRST_RUN_FACTOR * rest_median_ns as f64
        {
            out.push(Warning::ColdFirstRun {
                config: config.to_string(),
                first_ns: *first,
                rest_median_ns,
            });
        }
        if let Some(g) = two_groups(&timing.values_ns) {
            out.push(Warning::TwoGroups {
                config: config.to_string(),
                low_runs: g.low_runs,
                low_max_ns: g.low_max_ns,
                high_runs: g.high_runs,
                high_min_ns: g.high_min_ns,
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
                disturbed: 0,
            } => write!(
                f,
                "{config}: {count} of {runs} runs are statistical outliers (modified z-score \
                 above {OUTLIER_THRESHOLD}), though no run was marked disturbed: a burst of \
                 another program, I/O or the CPU's clock is likelier; raise --repeat"
            ),
            Warning::Outliers {
                config,
                count,
                runs,
                disturbed,
            } => write!(
                f,
                "{config}: {count} of {runs} runs are statistical outliers (modified z-score \
                 above {OUTLIER_THRESHOLD}), and other programs took the CPU during \
                 {disturbed} of the runs (⚠): quieten the machine or raise --repeat"
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
            Warning::TwoGroups {
                config,
                low_runs,
                low_max_ns,
                high_runs,
                high_min_ns,
            } => write!(
                f,
                "{config}: the runs fall into two groups, {low_runs} at or under {} and \
                 {high_runs} at or over {} (a gap of more than {} of the median): something \
                 changed between them (another program, the CPU's clock, caches), and the \
                 median stands for neither; quieten the machine and run again",
                units::duration_ns(*low_max_ns),
                units::duration_ns(*high_min_ns),
                units::share(GROUP_GAP_SHARE),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5]), Some(5));
        assert_eq!(median(&[9, 1, 5]), Some(5));
        assert_eq!(median(&[4, 1, 3, 2]), Some(2));
        assert_eq!(median(&[3, 5]), Some(4));
        assert_eq!(median(&[u64::MAX, u64::MAX]), Some(u64::MAX));
    }

    #[test]
    fn range_is_min_and_max() {
        assert_eq!(range(&[4, 9, 1]), Some((1, 9)));
        assert_eq!(range(&[]), None);
    }

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
    fn two_groups_need_a_wide_gap_and_two_runs_each_side() {
        // The x2 @2048 runs without the first: one group.
        assert_eq!(two_groups(&[1_060, 1_220, 1_050]), None);
        // Two and two, 0.65 s apart around a median of 1.7 s: two groups.
        let g = two_groups(&[2_000, 1_350, 2_300, 1_400]).unwrap();
        assert_eq!(
            g,
            Groups {
                low_runs: 2,
                low_max_ns: 1_400,
                high_runs: 2,
                high_min_ns: 2_000
            }
        );
        // One slow run is an outlier, not a group.
        assert_eq!(two_groups(&[1_000, 1_010, 1_020, 2_000]), None);
        // A gap of 20 % of the median: one group.
        assert_eq!(two_groups(&[1_000, 1_010, 1_210, 1_220]), None);
        // Fewer than four runs cannot hold two groups of two.
        assert_eq!(two_groups(&[1_000, 3_000, 3_100]), None);
        let t =
            Timing::from_ns(&[2_000_000_000, 1_350_000_000, 2_300_000_000, 1_400_000_000]).unwrap();
        let w = Warning::check("blocks:2 x 2", &t);
        let two = w
            .iter()
            .find(|w| matches!(w, Warning::TwoGroups { .. }))
            .expect("two groups flagged");
        assert!(
            two.to_string().starts_with(
                "blocks:2 x 2: the runs fall into two groups, 2 at or under 1.40 s and 2 at or \
                 over 2.00 s"
            ),
            "{two}"
        );
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

    #[test]
    fn the_fastest_is_named_only_beyond_the_noise() {
        let t = |v: &[u64]| Timing::from_ns(v).unwrap();
        let (a, b, c) = (t(&[60, 61, 62]), t(&[80, 81, 82]), t(&[100, 101, 102]));
        assert_eq!(
            fastest(&[&c, &a, &b]),
            Some(Fastest::Clear {
                best: 1,
                runner_up: Some(2)
            })
        );
        // b's fastest run beats a's slowest: within the noise, whatever the medians say.
        let overlapping = t(&[61, 70, 63]);
        let f = fastest(&[&a, &overlapping, &c]).unwrap();
        assert_eq!(
            f,
            Fastest::Tied {
                by_median: 0,
                tied: vec![1]
            }
        );
        assert_eq!(f.leaders(), [0, 1]);
        // One run each decides nothing.
        let (one, other) = (t(&[10]), t(&[50]));
        assert_eq!(
            fastest(&[&one, &other]),
            Some(Fastest::TooFewRuns {
                by_median: 0,
                tied: vec![]
            })
        );
        assert_eq!(fastest(&[]), None);
        assert_eq!(differ(&a, &b), Some(true));
        assert_eq!(differ(&a, &overlapping), Some(false));
        assert_eq!(differ(&one, &a), None);
    }
}
