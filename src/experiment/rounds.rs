//! Running several configurations in alternated rounds (A B C A B C ...), so drift on a
//! shared machine spreads over every configuration alike: the runner that compare and
//! sweep are built on, and what it keeps of each run.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use serde::{Deserialize, Serialize};

use super::engine::{Engine, TaskCost};
use crate::chunks::{ChunkRequest, ChunkShape, PlanSummary};
use crate::dask::runner::{DaskRun, DaskRunner, RunnerError};
use crate::output::{OutputSpec, WriterKind};
use crate::pipeline::{
    self, BlockSharing, CloudClasses, Mode, PipelineError, Resolution, RunConfig, RunControl,
    RunReport, Scene, Schedule,
};
use crate::profile::stats::{self, Timing};
use crate::task::{CancelFlag, Stage};

/// Called before each run with (runs done, runs planned, label of the run starting).
pub type Progress<'a> = &'a dyn Fn(usize, usize, &str);

/// What went wrong in a comparison or sweep.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("a Dask configuration needs a Python environment to run it")]
    NoPython,
    #[error("the repeat count must be at least 1")]
    NoRepeat,
    #[error("a sweep needs at least one chunk request and one thread count")]
    EmptySweep,
    #[error("compare needs at least one thread count")]
    NoThreads,
    #[error("{label}: Dask runs the chunked pipeline only")]
    DaskSerial { label: String },
    /// The chunk request does not plan on the scene (checked before, so not expected).
    #[error("{label}: chunks \"{chunks}\" cannot be planned on this scene")]
    Unplannable {
        label: String,
        chunks: String,
        #[source]
        source: Box<PipelineError>,
    },
    /// The scene prepared without a chunk plan (a serial mode; not expected here).
    #[error("chunks \"{chunks}\" gave no plan")]
    NoPlan { chunks: String },
    /// The scene or a chunk request cannot be planned: raised before any run.
    #[error("cannot plan {what}")]
    Prepare {
        what: String,
        #[source]
        source: Box<PipelineError>,
    },
    /// A Dask run failed; round 0 is the warm-up.
    #[error("{label} failed in round {round}")]
    Dask {
        label: String,
        round: usize,
        #[source]
        source: Box<RunnerError>,
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
    /// GDAL's block cache limit, MiB; `None` leaves GDAL's.
    pub gdal_cache_mb: Option<u32>,
    /// Whether load tasks share decoded blocks.
    pub blocks: BlockSharing,
}

impl RunBase {
    pub fn config(&self, mode: Mode) -> RunConfig {
        RunConfig {
            mode,
            resolution: self.resolution,
            cloud_classes: self.cloud_classes.clone(),
            output: self.output.clone(),
            gdal_cache_mb: self.gdal_cache_mb,
            blocks: self.blocks,
        }
    }
}

/// One configuration to measure.
#[derive(Debug, Clone)]
pub struct Trial {
    /// `serial`, `chunked x N @ SPEC` or, on Dask, `dask x N @ SPEC`.
    pub label: String,
    pub mode: Mode,
    /// Which engine runs it; Dask runs only chunked modes.
    pub engine: Engine,
    /// The output's writer for this trial alone (`None`: the base's), so that rounds can
    /// alternate writers.
    pub writer: Option<WriterKind>,
}

impl Trial {
    pub fn serial() -> Self {
        Self {
            label: "serial".into(),
            mode: Mode::Serial,
            engine: Engine::Chunkscope,
            writer: None,
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
            engine: Engine::Chunkscope,
            writer: None,
        }
    }

    /// The same configuration on Dask, through the lesson's code.
    pub fn dask(chunks: ChunkRequest, threads: NonZeroUsize, schedule: Schedule) -> Self {
        Self {
            label: format!("dask x {threads} @ {chunks}"),
            engine: Engine::Dask,
            ..Self::chunked(chunks, threads, schedule)
        }
    }

    /// This trial with `writer` writing its output, whatever the base's.
    pub fn with_writer(self, writer: WriterKind) -> Self {
        Self {
            label: format!("{} ({} writer)", self.label, writer.name()),
            writer: Some(writer),
            ..self
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
    /// Read amplification the run measured (blocks it decoded), chunkscope's chunked runs
    /// only: 1.00 with shared blocks. A Dask run decodes per task, as the plan predicts.
    pub read_amplification_measured: Option<f64>,
    /// The cost per task, split (see [`TaskCost`]).
    pub cost: TaskCost,
    /// Cores other processes held on average during the run (`None`: not measured).
    pub others_cores: Option<f64>,
    /// Others held more than `profile::interference::DISTURBED_CORES`.
    pub disturbed: bool,
}

impl RunSample {
    pub fn from_report(report: &RunReport) -> Self {
        let o = &report.overhead;
        let per_task_ns = o.parts.scheduling_ns;
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let work: Vec<u64> = report
            .tasks
            .iter()
            .filter(|t| t.stage != Stage::Finalize && !t.helping)
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
            read_amplification_measured: report.blocks.map(|b| b.read_amplification_measured),
            cost: TaskCost::of(report, None),
            others_cores: report.others_cores,
            disturbed: report.disturbed,
        }
    }

    /// A Dask run: its stream's figures, with the walls the script measured around its
    /// calls and chunkscope's plan of the same chunks (the windows Dask reads are the
    /// same, so is their read amplification). A task stream has no memory figures (0) and
    /// its result sizes are not decoded bytes (0).
    pub fn from_dask(run: &DaskRun, plan: Option<PlanSummary>) -> Self {
        let mut sample = Self::from_report(&run.report);
        sample.wall_ns = run.wall_ns;
        sample.stage_wall_ns = run.stage_wall_ns.clone();
        sample.load_bytes = 0;
        sample.peak_rss_bytes = 0;
        sample.plan = plan;
        sample.cost = TaskCost::of(&run.report, Some(&run.extras));
        sample
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
) -> Result<Rounds, ExperimentError> {
    run_rounds_observed(
        scene,
        base,
        trials,
        repetition,
        cancel,
        progress,
        &mut |_, _| {},
    )
}

/// [`run_rounds`], handing each measured run's full report to `observe` with the index of
/// its trial (warm-ups are not handed over): for figures a [`RunSample`] does not keep,
/// such as the lesson's writer lock or overhead parts.
pub fn run_rounds_observed(
    scene: &Scene,
    base: &RunBase,
    trials: &[Trial],
    repetition: Repetition,
    cancel: &CancelFlag,
    progress: Progress<'_>,
    observe: &mut dyn FnMut(usize, &RunReport),
) -> Result<Rounds, ExperimentError> {
    run_rounds_on(
        scene, base, trials, None, repetition, cancel, progress, observe,
    )
}

/// [`run_rounds_observed`] with Dask trials among `trials`, run by `dask`. Each engine
/// present gets its own warm-ups (its first trial), so neither engine's first measured
/// run pays for a cold start (files not yet in the page cache; Python's modules).
#[allow(clippy::too_many_arguments)]
pub fn run_rounds_on(
    scene: &Scene,
    base: &RunBase,
    trials: &[Trial],
    dask: Option<&DaskRunner>,
    repetition: Repetition,
    cancel: &CancelFlag,
    progress: Progress<'_>,
    observe: &mut dyn FnMut(usize, &RunReport),
) -> Result<Rounds, ExperimentError> {
    let Repetition { repeat, warmup } = repetition;
    if dask.is_none() && trials.iter().any(|t| t.engine == Engine::Dask) {
        return Err(ExperimentError::NoPython);
    }
    if repeat == 0 {
        return Err(ExperimentError::NoRepeat);
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
    let mut firsts: Vec<&Trial> = Vec::new();
    for t in trials {
        if !firsts.iter().any(|f| f.engine == t.engine) {
            firsts.push(t);
        }
    }
    let warmups: Vec<&Trial> = (0..warmup).flat_map(|_| firsts.iter().copied()).collect();
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
        if let (Engine::Dask, Some(runner)) = (trial.engine, dask) {
            let Some(run) = dask_run(scene, base, trial, runner, cancel, &label, round)? else {
                rounds.cancelled = true;
                break;
            };
            if let Some(i) = slot {
                let plan = plan_summary(scene, base.resolution, trial);
                rounds.samples[i].push(RunSample::from_dask(&run, plan));
                rounds.runs_done += 1;
                observe(i, &run.report);
            }
            continue;
        }
        let mut config = base.config(trial.mode.clone());
        if let Some(writer) = trial.writer {
            config.output.writer = writer;
        }
        let report =
            pipeline::run(scene, &config, &control).map_err(|source| ExperimentError::Run {
                label: label.clone(),
                round,
                source: Box::new(source),
            })?;
        if report.cancelled {
            rounds.cancelled = true;
            break;
        }
        if let Some(i) = slot {
            rounds.samples[i].push(RunSample::from_report(&report));
            rounds.runs_done += 1;
            observe(i, &report);
        }
    }
    if !rounds.cancelled {
        progress(total, total, "");
    }
    Ok(rounds)
}

/// chunkscope's plan of a trial's chunks (`None` for serial or a request it cannot plan).
fn plan_summary(scene: &Scene, resolution: Resolution, trial: &Trial) -> Option<PlanSummary> {
    let prepared = pipeline::prepare(scene, resolution, trial.chunks()).ok()?;
    Some(prepared.plan?.summary())
}

/// One run of a Dask trial: the chunk shape chunkscope plans for its request, run by
/// `runner`; `None` when cancelled.
fn dask_run(
    scene: &Scene,
    base: &RunBase,
    trial: &Trial,
    runner: &DaskRunner,
    cancel: &CancelFlag,
    label: &str,
    round: usize,
) -> Result<Option<DaskRun>, ExperimentError> {
    let Mode::Chunked {
        chunks,
        threads,
        schedule,
    } = &trial.mode
    else {
        return Err(ExperimentError::DaskSerial {
            label: label.to_string(),
        });
    };
    let plan = pipeline::prepare(scene, base.resolution, trial.chunks())
        .map_err(|source| ExperimentError::Unplannable {
            label: label.to_string(),
            chunks: chunks.to_string(),
            source: Box::new(source),
        })?
        .plan
        .ok_or_else(|| ExperimentError::NoPlan {
            chunks: chunks.to_string(),
        })?
        .summary();
    runner
        .run(
            plan.shape,
            &chunks.to_string(),
            threads.get(),
            *schedule,
            cancel,
        )
        .map_err(|source| ExperimentError::Dask {
            label: label.to_string(),
            round,
            source: Box::new(source),
        })
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
) -> Result<PlanFigures, ExperimentError> {
    let prepared = pipeline::prepare(scene, resolution, Some(chunks)).map_err(|source| {
        ExperimentError::Prepare {
            what: format!("chunks \"{chunks}\" on item \"{}\"", scene.item),
            source: Box::new(source),
        }
    })?;
    let plan = prepared.plan.ok_or_else(|| ExperimentError::NoPlan {
        chunks: chunks.to_string(),
    })?;
    Ok(PlanFigures::from(&plan.summary()))
}

/// Timing of the runs' total wall times, counting the disturbed ones.
pub fn totals(runs: &[RunSample]) -> Option<Timing> {
    Timing::from_ns(&runs.iter().map(|r| r.wall_ns).collect::<Vec<_>>())
        .map(|t| t.with_disturbed(disturbed(runs)))
}

/// Timing of one stage's wall times over the runs where it ran, counting the disturbed ones.
pub fn stage_timing(runs: &[RunSample], stage: Stage) -> Option<Timing> {
    let ran: Vec<&RunSample> = runs
        .iter()
        .filter(|r| r.stage_ns(stage).is_some())
        .collect();
    Timing::from_ns(
        &ran.iter()
            .filter_map(|r| r.stage_ns(stage))
            .collect::<Vec<_>>(),
    )
    .map(|t| t.with_disturbed(ran.iter().filter(|r| r.disturbed).count()))
}

/// How many of `runs` other processes disturbed.
pub fn disturbed(runs: &[RunSample]) -> usize {
    runs.iter().filter(|r| r.disturbed).count()
}
