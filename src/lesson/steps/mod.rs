//! What each lesson step runs and how it turns the measurements into figures and words.
//! Each step is split in two: *measuring* (a method of [`Context`] that runs what the step
//! needs and returns its figures as a struct of named fields) and *describing* (a pure
//! function from those figures to the step's big numbers, rows, conclusion and
//! explanation, tested branch by branch with figures made by hand). Every sentence is built
//! from measured values or from the chunk plan; comparisons are worded by
//! [`crate::profile::verdict`] alone, and where a difference is inside the noise of the runs,
//! the sentence says so. Runs on the lesson's thread.

mod alignment;
mod auto;
pub(super) mod example;
mod graph;
mod load;
mod mask_write;
mod memory;
mod scene;
mod tiny;

use std::num::NonZeroUsize;

use crate::catalog::AssetRole;
use crate::chunks::{ChunkPlan, ChunkRequest};
use crate::dask::export::{ExportSettings, Scheduler};
use crate::dask::runner::DaskRunner;
use crate::experiment::rounds::{
    self, PlanFigures, Progress, Repetition, RunBase, RunSample, Trial, plan_figures,
};
use crate::graph::{Order, TaskGraph};
use crate::network::NetworkSim;
use crate::output::{OutputFormat, OutputSpec};
use crate::pipeline::{self, CloudClasses, Resolution, RunReport, Scene, Schedule};
use crate::profile::stats::Timing;
use crate::task::{CancelFlag, Stage};

use super::dask::{self, DaskFigures, DaskSide};
use super::{
    Chart, Figure, Lesson, LessonError, MemoryProbe, NamedTiming, Step, StepResult, WriterLock,
};

/// The engine a conclusion measured: every conclusion names it, as Dask's figures stand
/// beside chunkscope's in several steps.
const CHUNKSCOPE: &str = "chunkscope's engine";

/// What a describing function gives a step: everything it shows in words.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Words {
    pub big: Vec<Figure>,
    pub figures: Vec<Figure>,
    pub conclusion: String,
    pub explanation: Vec<String>,
    pub decided: Option<bool>,
    pub chart: Option<Chart>,
}

impl StepResult {
    fn say(&mut self, words: Words) {
        self.big = words.big;
        self.figures = words.figures;
        self.conclusion = words.conclusion;
        self.explanation = words.explanation;
        self.decided = words.decided;
        self.chart = words.chart;
    }
}

/// Runs `step`: measures, then describes.
pub(super) fn run(
    ctx: &Context<'_>,
    step: Step,
    memory: &dyn MemoryProbe,
    out: &mut StepResult,
) -> Result<(), LessonError> {
    match step {
        Step::Scene => scene::run(ctx, out),
        Step::LoadLocal => load::run(ctx, out, false),
        Step::LoadNetwork => load::run(ctx, out, true),
        Step::MaskWrite => mask_write::run(ctx, out),
        Step::Graph => graph::run(ctx, out),
        Step::TinyChunks => tiny::run(ctx, out),
        Step::Alignment => alignment::run(ctx, out),
        Step::AutoChunks => auto::run(ctx, out),
        Step::Memory => memory::run(ctx, out, memory),
    }
}

/// What every step needs: the lesson, its scene read locally (or as the catalog serves it),
/// the runs' common settings.
pub(super) struct Context<'a> {
    lesson: &'a Lesson,
    scene: Scene,
    base: RunBase,
    cancel: &'a CancelFlag,
    progress: Progress<'a>,
}

/// Per-trial full reports' figures that a [`RunSample`] does not keep.
#[derive(Debug, Clone, Default)]
pub(super) struct Extra {
    scheduling_ns: Vec<u64>,
    write_wait_ns: Vec<u64>,
    locks: Vec<WriterLock>,
    /// Time workers spent helping another worker's write (encoding its tiles), in all.
    helping_ns: Vec<u64>,
}

impl<'a> Context<'a> {
    pub(super) fn new(
        lesson: &'a Lesson,
        cancel: &'a CancelFlag,
        progress: Progress<'a>,
    ) -> Result<Self, LessonError> {
        let item = lesson.catalog.items.get(lesson.item).ok_or_else(|| {
            LessonError::failed(
                "the lesson",
                format!("the catalog has no item {}", lesson.item + 1),
            )
        })?;
        let scene = Scene::from_item(item)
            .map_err(|e| LessonError::failed(format!("item \"{}\"", item.id), e))?
            .served_by(lesson.server.clone());
        std::fs::create_dir_all(&lesson.out_dir).map_err(|e| {
            LessonError::failed(
                format!("the output folder \"{}\"", lesson.out_dir.display()),
                e,
            )
        })?;
        let base = RunBase {
            resolution: Resolution::R20,
            cloud_classes: CloudClasses::default(),
            output: OutputSpec::new(
                lesson.out_dir.join(format!(
                    "lesson-{}.tif",
                    crate::output::target::file_safe(&item.id)
                )),
                OutputFormat::Cog,
            ),
            gdal_cache_mb: None,
            // The lesson's engine runs each task on its own: the steps read blocks per
            // task too, so misaligned chunks show what they cost a task engine without a
            // block cache (chunkscope's shared blocks would hide it).
            blocks: crate::pipeline::BlockSharing::PerTask,
        };
        Ok(Self {
            lesson,
            scene,
            base,
            cancel,
            progress,
        })
    }

    fn threads(&self) -> NonZeroUsize {
        self.lesson.threads
    }

    fn chunked(&self, chunks: ChunkRequest) -> Trial {
        Trial::chunked(chunks, self.threads(), Schedule::Staged)
    }

    /// Runs `trials` in alternated rounds (one warm-up), keeping what the full reports
    /// tell beyond a [`RunSample`].
    fn rounds(
        &self,
        scene: &Scene,
        trials: &[Trial],
    ) -> Result<(Vec<Vec<RunSample>>, Vec<Extra>), LessonError> {
        self.rounds_on(&self.base, scene, trials)
    }

    /// [`Self::rounds`] with other run settings than the lesson's.
    fn rounds_on(
        &self,
        base: &RunBase,
        scene: &Scene,
        trials: &[Trial],
    ) -> Result<(Vec<Vec<RunSample>>, Vec<Extra>), LessonError> {
        let mut extra = vec![Extra::default(); trials.len()];
        let mut observe = |i: usize, report: &RunReport| {
            let threads = report.config.threads.max(1) as u64;
            let e = &mut extra[i];
            e.scheduling_ns
                .push(report.overhead.parts.scheduling_ns / threads);
            e.write_wait_ns
                .push(report.overhead.parts.write_wait_ns / threads);
            e.helping_ns.push(
                report
                    .tasks
                    .iter()
                    .filter(|t| t.helping)
                    .map(|t| t.duration_ns())
                    .sum(),
            );
            if let Some(lock) = WriterLock::from_tasks(&report.tasks) {
                e.locks.push(lock);
            }
        };
        let r = rounds::run_rounds_observed(
            scene,
            base,
            trials,
            Repetition {
                repeat: self.lesson.repeat,
                warmup: 1,
            },
            self.cancel,
            self.progress,
            &mut observe,
        )
        .map_err(|e| LessonError::failed("a run", e))?;
        if r.cancelled {
            return Err(LessonError::Cancelled);
        }
        Ok((r.samples, extra))
    }

    /// The visual grid's block side (rows), from the plan of one block.
    fn block_side(&self) -> Result<usize, LessonError> {
        let plan = self.plan(&ChunkRequest::Blocks(1))?;
        Ok(plan.shape.rows)
    }

    fn plan(&self, chunks: &ChunkRequest) -> Result<PlanFigures, LessonError> {
        plan_figures(&self.scene, self.base.resolution, chunks)
            .map_err(|e| LessonError::failed("the chunk plan", e))
    }

    /// Serves the catalog's folder through the lesson's simulated network and finds the
    /// same item in the served catalog.
    fn serve(&self) -> Result<(NetworkSim, Scene), LessonError> {
        let path = &self.lesson.catalog.path;
        let root = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let spec = self.lesson.network;
        crate::network::remote::configure_with(&crate::network::remote::RemoteOptions {
            stall: crate::network::remote::DEFAULT_STALL
                .max(spec.latency * 2 + std::time::Duration::from_secs(1)),
            ..crate::network::remote::RemoteOptions::default()
        });
        let sim = NetworkSim::start(root, spec.settings(), 0)
            .map_err(|e| LessonError::failed("cannot start the simulated network", e))?;
        let catalog = sim
            .catalog(path)
            .map_err(|e| LessonError::failed(format!("cannot serve \"{}\"", path.display()), e))?;
        let id = &self.lesson.catalog.items[self.lesson.item].id;
        let item = catalog
            .item(Some(id))
            .map_err(|e| LessonError::failed("the served catalog", e))?;
        let scene = Scene::from_item(item)
            .map_err(|e| LessonError::failed("the served catalog", e))?
            .served_by(Some(sim.probe()));
        Ok((sim, scene))
    }

    /// Dask's figures for chunks `plan` (requested as `request`): run live on this scene
    /// when the lesson runs Dask and reads a local catalog (Dask cannot read through
    /// chunkscope's simulated network), else the recording of chunks of `recorded_side`
    /// pixels on this grid, if there is one.
    fn dask_figures(
        &self,
        request: &ChunkRequest,
        plan: &PlanFigures,
        recorded_side: usize,
    ) -> Result<Option<DaskFigures>, LessonError> {
        let prepared = pipeline::prepare(&self.scene, self.base.resolution, None)
            .map_err(|e| LessonError::failed("the scene", e))?;
        let local = self.lesson.catalog.path.is_file()
            && self.lesson.server.is_none()
            && !self.scene.is_remote();
        let python = match &self.lesson.dask {
            DaskSide::Live { python } if local => python,
            _ => {
                let (rows, cols) = (prepared.grid.rows, prepared.grid.cols);
                return Ok(dask::recorded(recorded_side, rows, cols));
            }
        };
        let item = &self.lesson.catalog.items[self.lesson.item];
        let key = |role: AssetRole| {
            item.find_role(role)
                .map_or_else(|| role.to_string(), |a| a.key.clone())
        };
        let catalog = std::fs::canonicalize(&self.lesson.catalog.path).map_err(|e| {
            LessonError::failed(
                format!("the catalog \"{}\"", self.lesson.catalog.path.display()),
                e,
            )
        })?;
        let base = ExportSettings {
            catalog: catalog.to_string_lossy().into_owned(),
            item: item.id.clone(),
            visual_key: key(AssetRole::Visual),
            scl_key: key(AssetRole::Scl),
            resolution: self.base.resolution,
            request: String::new(),
            chunks: plan.shape,
            threads: self.threads().get(),
            schedule: Schedule::Staged,
            cloud_classes: CloudClasses::DEFAULT.to_vec(),
            format: self.base.output.format,
            codec: self.base.output.codec(),
            tile: prepared.output_geometry().block,
            gdal_cache_mb: None,
            scheduler: Scheduler::LocalCluster,
            out: String::new(),
            stream: String::new(),
            source: "chunkscope's lesson, its Dask figures run live".into(),
        };
        let runner = DaskRunner::new(
            python.clone(),
            base,
            self.lesson.out_dir.join("lesson-dask"),
            None,
        );
        std::fs::create_dir_all(self.lesson.out_dir.join("lesson-dask"))
            .map_err(|e| LessonError::failed("the lesson's Dask folder", e))?;
        match dask::live(
            &runner,
            plan.shape,
            &request.to_string(),
            self.threads().get(),
            self.lesson.repeat,
            self.cancel,
            self.progress,
        ) {
            Ok(Some(figures)) => Ok(Some(figures)),
            Ok(None) => Err(LessonError::Cancelled),
            Err(e) => Err(LessonError::failed(
                "Dask, run live (start the lesson without --live-dask for the recorded \
                 figures)",
                e,
            )),
        }
    }

    /// The staged graph of the lesson's chunks, from the headers and the chunk plan alone:
    /// no pixel is read.
    pub(super) fn build_graph(&self) -> Result<(TaskGraph, ChunkPlan), LessonError> {
        let chunks = self.lesson.chunks();
        let prepared = pipeline::prepare(&self.scene, self.base.resolution, Some(&chunks))
            .map_err(|e| LessonError::failed("the chunk plan", e))?;
        let plan = prepared.plan.ok_or_else(|| {
            LessonError::failed(
                "the chunk plan",
                format!("chunks \"{chunks}\" gave no plan"),
            )
        })?;
        let graph = TaskGraph::chunked(&plan, Order::Staged, self.base.output.writer);
        Ok((graph, plan))
    }
}

fn timing(runs: &[RunSample], stage: Option<Stage>) -> Result<Timing, LessonError> {
    match stage {
        Some(s) => rounds::stage_timing(runs, s),
        None => rounds::totals(runs),
    }
    .ok_or_else(no_time)
}

fn no_time() -> LessonError {
    LessonError::failed("the runs", "no time was measured")
}

fn named(label: impl Into<String>, timing: Timing) -> NamedTiming {
    NamedTiming {
        label: label.into(),
        timing,
    }
}

/// Timings made by hand for the describing functions' tests, in milliseconds.
#[cfg(test)]
fn ms(values: &[u64]) -> Timing {
    Timing::from_ns(&values.iter().map(|m| m * 1_000_000).collect::<Vec<_>>())
        .expect("at least one value")
}
