//! Serial vs chunked x N on one chunk shape, in alternated rounds: per stage and in total
//! the timing, speedup and efficiency, then the fitted Amdahl serial fraction.
//!
//! Everything runs on the caller's thread (each pipeline run builds its own pool) and
//! nothing here prints: the CLI and the TUI read the same result types.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use serde::{Deserialize, Serialize};

use super::SCHEMA_VERSION;
use super::engine::{Engine, Engines, TaskCost};
use super::rounds::{
    self, ExperimentError, PlanFigures, Progress, Repetition, RunBase, Trial, plan_figures,
    run_rounds_on, stage_timing, totals,
};
use crate::chunks::ChunkRequest;
use crate::pipeline::{Scene, Schedule};
use crate::profile::stats::{AmdahlFit, Speedup, Timing, Warning};
use crate::profile::verdict::Verdict;
use crate::task::{CancelFlag, Stage};

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
    /// The engine that ran it, when engines were asked for (`--engine`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<Engine>,
    /// The cost per task split into its parts, medians over the runs (with `--engine`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<TaskCost>,
    /// Its total against serial's, in one sentence from
    /// [`crate::profile::verdict::describe`] (chunked
    /// configurations of chunkscope's engine only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
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
    /// Runs of all configurations that other processes disturbed (see
    /// `profile::interference::DISTURBED_CORES`); each verdict says so when its own were.
    #[serde(default)]
    pub disturbed_runs: usize,
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
) -> Result<CompareResult, ExperimentError> {
    compare_on(scene, base, spec, Engines::default(), cancel, progress)
}

/// [`compare`] on the engines asked: serial (chunkscope's) when chunkscope runs, then each
/// thread count on each engine, alternated. Dask's configurations have no speedup: the
/// serial baseline is chunkscope's.
pub fn compare_on(
    scene: &Scene,
    base: &RunBase,
    spec: &CompareSpec,
    engines: Engines<'_>,
    cancel: &CancelFlag,
    progress: Progress<'_>,
) -> Result<CompareResult, ExperimentError> {
    if spec.threads.is_empty() {
        return Err(ExperimentError::NoThreads);
    }
    let plan = plan_figures(scene, base.resolution, &spec.chunks)?;
    let mut trials = Vec::new();
    if engines.runs(Engine::Chunkscope) {
        trials.push(Trial::serial());
    }
    for &t in &spec.threads {
        for engine in engines.list() {
            let mut trial = match engine {
                Engine::Chunkscope => Trial::chunked(spec.chunks.clone(), t, spec.schedule),
                Engine::Dask => Trial::dask(spec.chunks.clone(), t, spec.schedule),
            };
            trial.label = match engine {
                Engine::Chunkscope => format!("chunked x {t}"),
                Engine::Dask => format!("dask x {t}"),
            };
            trials.push(trial);
        }
    }
    let rounds = run_rounds_on(
        scene,
        base,
        &trials,
        engines.dask,
        spec.repetition,
        cancel,
        progress,
        &mut |_, _| {},
    )?;

    let has_serial = trials.first().is_some_and(|t| t.chunks().is_none());
    let serial_total = totals(&rounds.samples[0]).filter(|_| has_serial);
    let serial_stages: BTreeMap<Stage, Timing> = Stage::ALL
        .iter()
        .filter(|_| has_serial)
        .filter_map(|&s| Some((s, stage_timing(&rounds.samples[0], s)?)))
        .collect();
    let mut configs = Vec::new();
    let mut warnings = Vec::new();
    for (i, (trial, runs)) in trials.iter().zip(&rounds.samples).enumerate() {
        let Some(total) = totals(runs) else { continue };
        let threads = trial.threads();
        let is_ref = i == 0 && has_serial;
        let dask = trial.engine == Engine::Dask;
        let verdict = serial_total
            .as_ref()
            .filter(|_| !is_ref && !dask)
            .and_then(|s| Verdict::of("serial", s, &trial.label, &total))
            .map(|v| v.sentence());
        warnings.extend(Warning::check(&trial.label, &total));
        let stages = Stage::ALL
            .iter()
            .filter_map(|&s| {
                let timing = stage_timing(runs, s)?;
                Some(StageComparison {
                    stage: s,
                    measured: Measured::new(
                        timing,
                        serial_stages.get(&s).filter(|_| !dask),
                        threads,
                        is_ref,
                    ),
                })
            })
            .collect();
        configs.push(ConfigComparison {
            label: trial.label.clone(),
            mode: if is_ref {
                "serial"
            } else if dask {
                "dask"
            } else {
                "chunked"
            }
            .into(),
            threads,
            stages,
            total: Measured::new(
                total,
                serial_total.as_ref().filter(|_| !dask),
                threads,
                is_ref,
            ),
            engine: engines.asked.map(|_| trial.engine),
            cost: engines
                .asked
                .and_then(|_| TaskCost::median(&runs.iter().map(|r| r.cost).collect::<Vec<_>>())),
            verdict,
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
        disturbed_runs: rounds.samples.iter().map(|r| rounds::disturbed(r)).sum(),
    })
}
