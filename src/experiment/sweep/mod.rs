//! The chunk-size sweep: every chunk request x every thread count, plus the serial
//! baseline, in alternated rounds; one row of medians per configuration, the best one named
//! with its reason, and flags for what the lesson teaches when the data shows it (chunks too
//! small for their overhead, misaligned chunks paying read amplification, fewer chunks than
//! threads).
//!
//! "Too small" is judged on the overhead paid once per task (scheduling gaps between a
//! worker's tasks and waits for the single writer), not on the whole overhead: pool
//! start-up, handle opening and threads idle for lack of chunks do not shrink with larger
//! chunks (the last has its own flag), and on a small scene they alone pass 30 %. A [`SweepResult`] is also a file (JSON with `schema_version`) the TUI loads
//! later, and a CSV table. Runs on the caller's thread; nothing here prints.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::SCHEMA_VERSION;
use super::engine::{Engine, Engines, TaskCost};
use super::rounds::{
    self, ExperimentError, PlanFigures, Progress, Repetition, RunBase, RunSample, Trial,
};
use crate::chunks::ChunkRequest;
use crate::pipeline::{Scene, Schedule};
use crate::profile::stats::{self, Speedup, Timing, Warning};
use crate::profile::verdict;
use crate::task::{CancelFlag, Stage};

mod decision;
mod files;

pub use decision::{
    AMPLIFICATION_LIMIT, Flag, OVERHEAD_SHARE_FLOOR, OVERHEAD_SHARE_LIMIT, PER_TASK_OVERHEAD_LIMIT,
    disagreement,
};
use decision::{decide, engine_verdict, flags};
pub use files::SweepFileError;

/// The matrix to run.
#[derive(Debug, Clone)]
pub struct SweepSpec {
    /// Chunk requests, each run on every thread count.
    pub chunks: Vec<ChunkRequest>,
    pub threads: Vec<NonZeroUsize>,
    pub schedule: Schedule,
    pub repetition: Repetition,
    /// Time the sweep may spend after its rounds on more runs of the configurations still
    /// tied for fastest (see [`stats::fastest`]), bringing each to at least
    /// [`stats::MIN_DECIDING_RUNS`] and beyond while their runs overlap. Zero: no more runs.
    pub budget: Duration,
}

/// At most this many runs of one configuration, whatever the budget.
pub const MAX_RUNS_PER_CONFIG: usize = 15;

/// One configuration's medians.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// `serial` or `chunked x N @ SPEC`.
    pub label: String,
    /// The chunk request as given; `None` for serial.
    pub chunks: Option<String>,
    pub threads: usize,
    pub runs: usize,
    /// Median wall time of each stage that ran.
    pub stage_wall_ns: BTreeMap<Stage, u64>,
    /// Total wall times.
    pub wall: Timing,
    /// Against the serial row's total; exactly 1 (no error) for serial itself. `None` only
    /// if there is no serial figure to compare with.
    pub speedup: Option<Speedup>,
    /// speedup / threads.
    pub efficiency: Option<f64>,
    /// Median over runs of the overhead's share of capacity (all of it: start-up, idle,
    /// scheduling, waits).
    pub overhead_share: f64,
    /// Median over runs of overhead per task, µs.
    pub overhead_per_task_us: f64,
    /// Median over runs of the per-task overhead's share of capacity (scheduling gaps only).
    pub task_overhead_share: f64,
    /// Median over runs of the per-task overhead per task, µs.
    pub task_overhead_per_task_us: f64,
    /// Median over runs of each run's median load/mask/write task duration, µs.
    pub task_median_us: f64,
    /// The chunk plan; `None` for serial (whole-array reads). Its read amplification is
    /// what a reader that decodes per task, without a block cache, pays.
    pub plan: Option<PlanFigures>,
    /// The read amplification chunkscope's runs measured (1.00 with shared blocks); `None`
    /// for serial, for Dask's rows and for sweeps saved before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_amplification_measured: Option<f64>,
    /// Highest resident memory seen over the runs. Memory an earlier run left to the
    /// allocator may count toward a later run's figure.
    pub peak_rss_bytes: u64,
    /// Bytes the load stage decodes per run.
    pub load_bytes: u64,
    /// load bytes / median load wall, 10^6 bytes per second.
    pub decoded_mb_s: f64,
    /// The engine that ran it, when the sweep was asked for engines (`--engine`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<Engine>,
    /// The cost per task split into its parts, medians over the runs (with `--engine`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<TaskCost>,
}

impl SweepRow {
    pub fn is_serial(&self) -> bool {
        self.chunks.is_none()
    }

    pub fn stage_ns(&self, stage: Stage) -> Option<u64> {
        self.stage_wall_ns.get(&stage).copied()
    }
}

/// The best configuration and why, in one sentence. Named only when it beat every other
/// configuration in every run (see [`stats::fastest`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Index into [`SweepResult::rows`].
    pub row: usize,
    pub label: String,
    pub reason: String,
    /// The lesson's flags this configuration carries, which go with its name wherever it
    /// is shown (fewer chunks than threads, misaligned, superlinear ...).
    #[serde(default)]
    pub caveats: Vec<String>,
}

/// When no configuration is named best: the fastest by median and the ones whose runs
/// overlap its runs, so which is fastest is within the noise (or too few runs to tell).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoClearWinner {
    /// Indices into [`SweepResult::rows`], fastest by median first.
    pub rows: Vec<usize>,
    pub labels: Vec<String>,
    pub reason: String,
}

/// A finished (or cancelled) sweep: the table, the pick, the flags. Loads back from JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    pub schema_version: u32,
    pub item: String,
    pub resolution_m: u32,
    pub schedule: Schedule,
    /// Measured runs per configuration.
    pub repeat: usize,
    /// Unmeasured warm-up runs of serial before the rounds.
    pub warmup: usize,
    pub runs_done: usize,
    pub runs_planned: usize,
    pub cancelled: bool,
    /// Serial first, then each chunk request on each thread count, in the order asked;
    /// configurations that never ran (after a cancel) are left out.
    pub rows: Vec<SweepRow>,
    /// Runs of all rows that other processes disturbed (see
    /// `profile::interference::DISTURBED_CORES`); the verdict says so when above 0.
    #[serde(default)]
    pub disturbed_runs: usize,
    /// Named only when one configuration beat all others in every run.
    pub best: Option<Recommendation>,
    /// Otherwise, the configurations tied for fastest.
    #[serde(default)]
    pub no_clear_winner: Option<NoClearWinner>,
    /// Runs added after the rounds to separate the leaders (within the budget).
    #[serde(default)]
    pub extra_runs: usize,
    pub flags: Vec<Flag>,
    pub warnings: Vec<Warning>,
    /// With `--engine`: each engine's own verdict, over its own rows (the top-level `best`
    /// is the first engine's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_engine: Vec<EngineVerdict>,
    /// With both engines: where their best configurations differ and why, from the
    /// measured figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disagreement: Option<String>,
}

/// One engine's best configuration (or why none is named), and its rows fastest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineVerdict {
    pub engine: Engine,
    pub best: Option<Recommendation>,
    pub no_clear_winner: Option<NoClearWinner>,
    /// Indices into [`SweepResult::rows`], by median wall time, fastest first.
    pub ranking: Vec<usize>,
}

/// Runs the matrix: serial, then every chunk request on every thread count, alternated,
/// `repeat` rounds. Each request is planned first, so a bad one fails before any run. A
/// cancel stops between runs and returns the rows that have runs.
pub fn sweep(
    scene: &Scene,
    base: &RunBase,
    spec: &SweepSpec,
    cancel: &CancelFlag,
    progress: Progress<'_>,
) -> Result<SweepResult, ExperimentError> {
    sweep_on(scene, base, spec, Engines::default(), cancel, progress)
}

/// [`sweep`] on the engines asked: each configuration on each engine, alternated
/// (chunkscope's serial baseline first when chunkscope runs), with a verdict per engine
/// and, with both, where they disagree.
pub fn sweep_on(
    scene: &Scene,
    base: &RunBase,
    spec: &SweepSpec,
    engines: Engines<'_>,
    cancel: &CancelFlag,
    progress: Progress<'_>,
) -> Result<SweepResult, ExperimentError> {
    if spec.chunks.is_empty() || spec.threads.is_empty() {
        return Err(ExperimentError::EmptySweep);
    }
    let mut plans = Vec::new();
    let mut trials = Vec::new();
    if engines.runs(Engine::Chunkscope) {
        plans.push(None);
        trials.push(Trial::serial());
    }
    for chunks in &spec.chunks {
        let plan = rounds::plan_figures(scene, base.resolution, chunks)?;
        for &t in &spec.threads {
            for engine in engines.list() {
                trials.push(match engine {
                    Engine::Chunkscope => Trial::chunked(chunks.clone(), t, spec.schedule),
                    Engine::Dask => Trial::dask(chunks.clone(), t, spec.schedule),
                });
                plans.push(Some(plan.clone()));
            }
        }
    }
    let mut rounds = rounds::run_rounds_on(
        scene,
        base,
        &trials,
        engines.dask,
        spec.repetition,
        cancel,
        progress,
        &mut |_, _| {},
    )?;
    let mut extra_runs = 0;
    let deadline = Instant::now() + spec.budget;
    for engine in engines.list() {
        if rounds.cancelled {
            break;
        }
        let only: Vec<usize> = (0..trials.len())
            .filter(|&i| trials[i].engine == engine)
            .collect();
        extra_runs += separate_leaders(
            scene,
            base,
            &trials,
            &only,
            engines.dask,
            &mut rounds,
            deadline,
            cancel,
            progress,
        )?;
    }
    let serial = trials
        .first()
        .filter(|t| t.chunks().is_none())
        .and_then(|_| rounds::totals(&rounds.samples[0]));
    let asked = engines.asked.is_some();
    let kept: Vec<(&Trial, SweepRow)> = trials
        .iter()
        .zip(&rounds.samples)
        .zip(plans)
        .filter_map(|((trial, runs), plan)| {
            let baseline = serial
                .as_ref()
                .filter(|_| trial.chunks().is_some() && trial.engine == Engine::Chunkscope);
            let mut r = row(trial, runs, plan, baseline)?;
            if trial.engine == Engine::Dask {
                r.speedup = None;
                r.efficiency = None;
            }
            if asked {
                r.engine = Some(trial.engine);
                r.cost = TaskCost::median(&runs.iter().map(|s| s.cost).collect::<Vec<_>>());
            }
            Some((trial, r))
        })
        .collect();
    let rows: Vec<SweepRow> = kept.iter().map(|(_, r)| r.clone()).collect();
    let warnings = rows
        .iter()
        .flat_map(|r| Warning::check(&r.label, &r.wall))
        .collect();
    let flags: Vec<Flag> = rows.iter().flat_map(flags).collect();
    let (best, no_clear_winner, per_engine) = if asked {
        let verdicts: Vec<EngineVerdict> = engines
            .list()
            .into_iter()
            .map(|engine| {
                let idx: Vec<usize> = (0..rows.len())
                    .filter(|&i| kept[i].0.engine == engine)
                    .collect();
                engine_verdict(engine, &rows, &idx, &flags)
            })
            .collect();
        let first = verdicts.first();
        (
            first.and_then(|v| v.best.clone()),
            first.and_then(|v| v.no_clear_winner.clone()),
            verdicts,
        )
    } else {
        let (best, tie) = decide(&rows, &flags);
        (best, tie, Vec::new())
    };
    let disturbed_runs: usize = rows.iter().map(|r| r.wall.disturbed_runs).sum();
    let all_runs: usize = rows.iter().map(|r| r.wall.n).sum();
    let (mut best, mut no_clear_winner) = (best, no_clear_winner);
    if let Some(note) = verdict::disturbed_note(disturbed_runs, all_runs) {
        for reason in best
            .iter_mut()
            .map(|b| &mut b.reason)
            .chain(no_clear_winner.iter_mut().map(|n| &mut n.reason))
        {
            if !reason.ends_with('.') {
                reason.push('.');
            }
            reason.push(' ');
            reason.push_str(&note);
        }
    }
    let disagreement = match per_engine.as_slice() {
        [a, b] => disagreement(&rows, a, b),
        _ => None,
    };
    Ok(SweepResult {
        per_engine,
        disagreement,
        schema_version: SCHEMA_VERSION,
        item: scene.item.clone(),
        resolution_m: base.resolution.metres(),
        schedule: spec.schedule,
        repeat: spec.repetition.repeat,
        warmup: spec.repetition.warmup,
        runs_done: rounds.runs_done,
        runs_planned: rounds.runs_planned,
        cancelled: rounds.cancelled,
        disturbed_runs,
        best,
        no_clear_winner,
        extra_runs,
        flags,
        warnings,
        rows,
    })
}

/// While the fastest configurations are tied (or have too few runs to decide), runs them
/// again, alternated, until one is clear, the budget would be overrun, or each has
/// [`MAX_RUNS_PER_CONFIG`] runs. Returns how many runs it added.
#[allow(clippy::too_many_arguments)]
fn separate_leaders(
    scene: &Scene,
    base: &RunBase,
    trials: &[Trial],
    only: &[usize],
    dask: Option<&crate::dask::runner::DaskRunner>,
    rounds: &mut rounds::Rounds,
    deadline: Instant,
    cancel: &CancelFlag,
    progress: Progress<'_>,
) -> Result<usize, ExperimentError> {
    let mut added = 0;
    loop {
        let timings: Vec<(usize, Timing)> = rounds
            .samples
            .iter()
            .enumerate()
            .filter(|(i, _)| only.contains(i))
            .filter_map(|(i, runs)| Some((i, rounds::totals(runs)?)))
            .collect();
        let refs: Vec<&Timing> = timings.iter().map(|(_, t)| t).collect();
        let Some(decision) = stats::fastest(&refs) else {
            return Ok(added);
        };
        if matches!(decision, stats::Fastest::Clear { .. }) {
            return Ok(added);
        }
        let leaders: Vec<usize> = decision
            .leaders()
            .into_iter()
            .map(|k| timings[k].0)
            .filter(|&i| rounds.samples[i].len() < MAX_RUNS_PER_CONFIG)
            .collect();
        // One more round of the leaders, if it fits in what is left of the budget.
        let round_ns: u64 = leaders
            .iter()
            .filter_map(|&i| rounds::totals(&rounds.samples[i]).map(|t| t.median_ns))
            .sum();
        let fits = Instant::now() + Duration::from_nanos(round_ns) <= deadline;
        if leaders.is_empty() || !fits || cancel.is_cancelled() {
            return Ok(added);
        }
        let subset: Vec<Trial> = leaders.iter().map(|&i| trials[i].clone()).collect();
        let (done, planned) = (rounds.runs_done, rounds.runs_planned);
        let more = rounds::run_rounds_on(
            scene,
            base,
            &subset,
            dask,
            Repetition {
                repeat: 1,
                warmup: 0,
            },
            cancel,
            &|d, t, label| progress(done + d, planned + t, label),
            &mut |_, _| {},
        )?;
        for (&i, runs) in leaders.iter().zip(more.samples) {
            rounds.samples[i].extend(runs);
        }
        rounds.runs_done += more.runs_done;
        rounds.runs_planned += more.runs_planned;
        added += more.runs_done;
        if more.cancelled {
            rounds.cancelled = true;
            return Ok(added);
        }
    }
}

/// Folds one configuration's runs; `None` if it never ran. `serial` is the baseline for
/// chunked rows and `None` for the serial row itself.
fn row(
    trial: &Trial,
    runs: &[RunSample],
    plan: Option<PlanFigures>,
    serial: Option<&Timing>,
) -> Option<SweepRow> {
    let wall = rounds::totals(runs)?;
    let threads = trial.threads();
    let speedup = match (trial.chunks(), serial) {
        (None, _) => Some(Speedup::REFERENCE),
        (Some(_), serial) => serial.and_then(|s| Speedup::of(s, &wall)),
    };
    let stage_wall_ns = Stage::ALL
        .iter()
        .filter_map(|&s| Some((s, rounds::stage_timing(runs, s)?.median_ns)))
        .collect::<BTreeMap<_, _>>();
    let median_f = |f: fn(&RunSample) -> f64| {
        let v: Vec<f64> = runs.iter().map(f).collect();
        stats::median_f64(&v).unwrap_or(0.0)
    };
    let load_bytes = runs.first().map_or(0, |r| r.load_bytes);
    let load_ns = stage_wall_ns.get(&Stage::Load).copied().unwrap_or(0);
    Some(SweepRow {
        label: trial.label.clone(),
        chunks: trial.chunks().map(ToString::to_string),
        threads,
        runs: runs.len(),
        wall,
        efficiency: speedup.map(|s| s.efficiency(threads)),
        speedup,
        overhead_share: median_f(|r| r.overhead_share),
        overhead_per_task_us: median_f(|r| r.overhead_per_task_us),
        task_overhead_share: median_f(|r| r.task_overhead_share),
        task_overhead_per_task_us: median_f(|r| r.task_overhead_per_task_us),
        task_median_us: median_f(|r| r.task_median_ns as f64 / 1e3),
        // The plan the run reported wins over the one made beforehand (they agree).
        plan: runs
            .first()
            .and_then(|r| r.plan.as_ref())
            .map(PlanFigures::from)
            .or(plan),
        read_amplification_measured: runs.first().and_then(|r| r.read_amplification_measured),
        peak_rss_bytes: runs.iter().map(|r| r.peak_rss_bytes).max().unwrap_or(0),
        load_bytes,
        decoded_mb_s: if load_ns == 0 {
            0.0
        } else {
            load_bytes as f64 / 1e6 / (load_ns as f64 / 1e9)
        },
        stage_wall_ns,
        engine: None,
        cost: None,
    })
}
