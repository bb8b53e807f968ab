//! What each lesson step runs and how it turns the measurements into figures and words.
//! Every sentence here is built from measured values or from the chunk plan; where a
//! difference is inside the noise of the runs, the sentence says so.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use crate::catalog::AssetRole;
use crate::chunks::{ChunkPlan, ChunkRequest};
use crate::experiment::rounds::{
    self, PlanFigures, Progress, Repetition, RunBase, RunSample, Trial, plan_figures,
};
use crate::graph::{Order, TaskGraph};
use crate::network::NetworkSim;
use crate::output::{OutputFormat, OutputSpec};
use crate::pipeline::{self, CloudClasses, Resolution, RunReport, Scene, Schedule};
use crate::profile::memory::{MemoryRow, MemoryRun, Spread};
use crate::profile::stats::{self, Timing};
use crate::profile::units;
use crate::raster::{self, RasterSource};
use crate::task::{CancelFlag, Stage};

use super::verdict::{Comparison, with_spread};
use super::{
    Figure, GraphCounts, LazyGraph, Lesson, LessonError, MemoryProbe, MemorySchedule, NamedPlan,
    NamedTiming, StepResult, WriterLock,
};

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
struct Extra {
    scheduling_ns: Vec<u64>,
    write_wait_ns: Vec<u64>,
    locks: Vec<WriterLock>,
}

impl<'a> Context<'a> {
    pub(super) fn new(
        lesson: &'a Lesson,
        cancel: &'a CancelFlag,
        progress: Progress<'a>,
    ) -> Result<Self, LessonError> {
        let item = lesson
            .catalog
            .items
            .get(lesson.item)
            .ok_or_else(|| LessonError::Failed {
                what: "the lesson".into(),
                reason: format!("the catalog has no item {}", lesson.item + 1),
            })?;
        let scene = Scene::from_item(item)
            .map_err(|e| LessonError::failed(format!("item \"{}\"", item.id), &e))?
            .served_by(lesson.server.clone());
        std::fs::create_dir_all(&lesson.out_dir).map_err(|e| {
            LessonError::failed(
                format!("the output folder \"{}\"", lesson.out_dir.display()),
                &e,
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
        .map_err(|e| LessonError::failed("a run", &e))?;
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
            .map_err(|e| LessonError::failed("the chunk plan", &e))
    }

    // -----------------------------------------------------------------------------------
    // The steps
    // -----------------------------------------------------------------------------------

    pub(super) fn scene(&self, out: &mut StepResult) -> Result<(), LessonError> {
        let item = &self.lesson.catalog.items[self.lesson.item];
        let prepared = pipeline::prepare(&self.scene, Resolution::R20, None)
            .map_err(|e| LessonError::failed("the scene", &e))?;
        let v = &prepared.visual;
        let s = &prepared.scl;
        let block = |i: &raster::RasterInfo| {
            i.block_shapes
                .first()
                .map_or("none".to_string(), |b| format!("{} x {}", b[0], b[1]))
        };
        let res = |i: &raster::RasterInfo| {
            i.resolution
                .map_or("?".to_string(), |r| format!("{} m", units::number(r[0])))
        };
        let describe = |name: &str, i: &raster::RasterInfo| {
            Figure::new(
                name,
                format!(
                    "{} x {}, {} x {}, {}, blocks {}, {} overview(s){}",
                    i.cols,
                    i.rows,
                    i.bands,
                    i.dtype,
                    res(i),
                    block(i),
                    i.overviews.len(),
                    if i.cog { ", COG" } else { "" }
                ),
            )
        };
        out.figures.push(describe("visual", v));
        out.figures.push(describe("SCL", s));
        if let Ok(asset) = item.asset(AssetRole::Blue) {
            let src = RasterSource::new(
                format!("asset \"{}\" of item \"{}\"", asset.key, item.id),
                asset.gdal_path.clone(),
            );
            if let Ok(b) = raster::inspect(&src) {
                out.figures.push(describe(&asset.key, &b));
            }
        }
        let grid = &prepared.grid;
        out.figures.push(Figure::new(
            "grid read",
            format!(
                "{} x {} at 20 m: visual at overview {}, SCL at its own resolution ({})",
                grid.cols,
                grid.rows,
                prepared
                    .visual_overview
                    .map_or("none (full)".into(), |l| l.to_string()),
                res(s)
            ),
        ));
        let vblock = prepared
            .visual_overview
            .and_then(|l| v.overview_blocks.get(l).copied())
            .or_else(|| v.block_shapes.first().copied())
            .unwrap_or([0, 0]);
        out.big = vec![
            Figure::new("blocks", format!("{}x{}", vblock[0], vblock[1])),
            Figure::new("grid", format!("{}x{}", grid.cols, grid.rows)),
        ];
        out.conclusion = format!(
            "GDAL decodes whole {} x {} blocks: a chunk should be made of whole blocks",
            vblock[0], vblock[1]
        );
        out.explanation = vec![
            format!(
                "visual is {} x {} pixels at {}; the lesson reads its overview {} ({} x {}), \
                 the grid of SCL, which is read as it is at {}.",
                v.cols,
                v.rows,
                res(v),
                prepared.visual_overview.unwrap_or(0),
                grid.cols,
                grid.rows,
                res(s)
            ),
            format!(
                "r.block_shapes says {} x {}: GDAL reads and decompresses a block whole, so a \
                 chunk that cuts a block makes it decode that block once for each chunk.",
                vblock[0], vblock[1]
            ),
        ];
        Ok(())
    }

    pub(super) fn load(&self, out: &mut StepResult, network: bool) -> Result<(), LessonError> {
        // The simulated server lives as long as this step's runs.
        let mut _sim: Option<NetworkSim> = None;
        let (scene, how) = if !network || self.scene.is_remote() {
            let how = if self.scene.is_remote() {
                "through the network the catalog is read through"
            } else {
                "from the local disk"
            };
            (self.scene.clone(), how.to_string())
        } else {
            let (sim, scene) = self.serve()?;
            _sim = Some(sim);
            (
                scene,
                format!("through a simulated network ({})", self.lesson.network),
            )
        };
        let chunks = self.lesson.chunks();
        let trials = [Trial::serial(), self.chunked(chunks.clone())];
        let (samples, _) = self.rounds(&scene, &trials)?;
        let n = self.threads();
        let serial = timing(&samples[0], Some(Stage::Load))?;
        let chunked = timing(&samples[1], Some(Stage::Load))?;
        let label = format!("chunked x {n}");
        let c = Comparison::of("serial", &serial, &label, &chunked).ok_or_else(no_time)?;
        let totals = [timing(&samples[0], None)?, timing(&samples[1], None)?];
        out.big = vec![
            Figure::new("serial load", units::duration_ns(serial.median_ns)),
            Figure::new(format!("x{n} load"), units::duration_ns(chunked.median_ns)),
            Figure::new("speedup", units::ratio(c.speedup.value)),
        ];
        out.figures = vec![
            Figure::new("read", how.clone()),
            Figure::new("serial load", with_spread(&serial)),
            Figure::new(format!("{label} load ({chunks})"), with_spread(&chunked)),
            Figure::new(
                "load speedup",
                units::speedup(c.speedup.value, c.speedup.error),
            ),
            Figure::new("serial total", with_spread(&totals[0])),
            Figure::new(format!("{label} total"), with_spread(&totals[1])),
        ];
        out.conclusion = format!("load: {}", c.verdict);
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        let decoded = samples[0].first().map_or(0, |r| r.load_bytes);
        let chunk_count = samples[1]
            .first()
            .and_then(|r| r.plan.as_ref())
            .map_or(0, |p| p.chunk_count);
        let faster = c.decided() && c.speedup.value > 1.0;
        out.explanation = if network && scene.is_remote() {
            vec![
                if faster {
                    format!(
                        "Read {how}, serial loading is one long download per file at one \
                         connection's pace; {n} threads keep {n} requests in flight, so they \
                         wait for the network together."
                    )
                } else {
                    format!(
                        "Read {how}, chunks were not faster here: this scene decodes to only \
                         {}, so its {chunk_count} chunks wait out the latency of each request \
                         more than the bandwidth; a full-size scene is download-bound.",
                        units::bytes(decoded)
                    )
                },
                format!(
                    "The lesson measured 40.5 s -> 12.6 s (3.2x) on 4 Dask workers against \
                     a real server; here the load went {} -> {} ({}) on {n} threads.",
                    units::duration_ns(serial.median_ns),
                    units::duration_ns(chunked.median_ns),
                    units::ratio(c.speedup.value)
                ),
            ]
        } else {
            vec![
                format!(
                    "From the local disk loading is decompression on the CPU: {n} threads on \
                     {cores} core(s) took it from {} to {} ({}).",
                    units::duration_ns(serial.median_ns),
                    units::duration_ns(chunked.median_ns),
                    units::ratio(c.speedup.value)
                ),
                if c.decided() {
                    // Which side won is the conclusion's to say (one sentence, from the
                    // verdict); this line only says why it can be trusted.
                    "The difference is larger than the spread of the runs: no run of the \
                     slower one beat a run of the faster."
                        .to_string()
                } else {
                    "The runs overlap, so this machine cannot tell the two apart: more cores \
                     or a slower source (next step) make the difference."
                        .to_string()
                },
            ]
        };
        out.decided = Some(c.decided());
        out.timings = vec![
            named("serial load", serial),
            named(format!("{label} load"), chunked),
        ];
        out.comparisons = vec![c];
        Ok(())
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
            .map_err(|e| LessonError::failed("cannot start the simulated network", &e))?;
        let catalog = sim
            .catalog(path)
            .map_err(|e| LessonError::failed(format!("cannot serve \"{}\"", path.display()), &e))?;
        let id = &self.lesson.catalog.items[self.lesson.item].id;
        let item = catalog
            .item(Some(id))
            .map_err(|e| LessonError::failed("the served catalog", &e))?;
        let scene = Scene::from_item(item)
            .map_err(|e| LessonError::failed("the served catalog", &e))?
            .served_by(Some(sim.probe()));
        Ok((sim, scene))
    }

    pub(super) fn mask_write(&self, out: &mut StepResult) -> Result<(), LessonError> {
        let n = self.threads();
        let label = format!("chunked x {n}");
        let trials = [Trial::serial(), self.chunked(self.lesson.chunks())];
        let (samples, extra) = self.rounds(&self.scene, &trials)?;
        let mut comparisons = Vec::new();
        for stage in [Stage::Mask, Stage::Write] {
            let s = timing(&samples[0], Some(stage))?;
            let c = timing(&samples[1], Some(stage))?;
            out.figures.push(Figure::new(
                format!("{} serial", stage.name()),
                with_spread(&s),
            ));
            out.figures.push(Figure::new(
                format!("{} {label}", stage.name()),
                with_spread(&c),
            ));
            let cmp = Comparison::of("serial", &s, &label, &c).ok_or_else(no_time)?;
            out.timings
                .push(named(format!("{} serial", stage.name()), s));
            out.timings
                .push(named(format!("{} {label}", stage.name()), c));
            comparisons.push(cmp);
        }
        // The lock of the chunked run whose write stage took the median time.
        let mut locks = extra[1].locks.clone();
        locks.sort_by_key(|l| l.write_wall_ns);
        let lock = locks
            .get(locks.len() / 2)
            .cloned()
            .ok_or_else(|| LessonError::Failed {
                what: "the write stage".into(),
                reason: "the chunked runs had no write tasks".into(),
            })?;
        out.figures.push(Figure::new(
            "lock",
            format!(
                "held {} in all ({} of the write stage's {}), waited for {} (median run)",
                units::duration_ns(lock.held_ns),
                units::share(lock.held_share()),
                units::duration_ns(lock.write_wall_ns),
                units::duration_ns(lock.waited_ns)
            ),
        ));
        for h in &lock.holders {
            out.figures.push(Figure::new(
                format!("  worker {}", h.worker),
                format!(
                    "{} writes, held the lock {}, waited {}",
                    h.writes,
                    units::duration_ns(h.held_ns),
                    units::duration_ns(h.waited_ns)
                ),
            ));
        }
        let (mask, write) = (&comparisons[0], &comparisons[1]);
        out.big = vec![
            Figure::new("mask speedup", units::ratio(mask.speedup.value)),
            Figure::new("write speedup", units::ratio(write.speedup.value)),
            Figure::new("lock held", units::share(lock.held_share())),
        ];
        out.conclusion = format!("write: {}", write.verdict);
        let serialised = lock.held_share() >= 0.5;
        out.explanation = vec![
            format!(
                "Masking is arithmetic on each chunk, independent of the others: {}.",
                mask.verdict
            ),
            format!(
                "Every write takes the output's one lock (the lesson's Lock()): it was held \
                 {} of the write stage, and workers waited {} in all to take it.",
                units::share(lock.held_share()),
                units::duration_ns(lock.waited_ns)
            ),
            if serialised {
                "Most of the write stage ran under the lock: writes were serialised, one \
                 worker at a time."
                    .to_string()
            } else {
                "Tiles are compressed outside the lock and only placing them in the file is \
                 serialised, so writes overlap; with GDAL's writer (w in the setup) the whole \
                 write holds it."
                    .to_string()
            },
        ];
        out.decided = Some(write.decided());
        out.lock = Some(lock);
        // The conclusion's comparison (write) first, as in every step.
        comparisons.reverse();
        out.comparisons = comparisons;
        Ok(())
    }

    /// The staged graph of the lesson's chunks, from the headers and the chunk plan alone:
    /// no pixel is read.
    pub(super) fn build_graph(&self) -> Result<(TaskGraph, ChunkPlan), LessonError> {
        let chunks = self.lesson.chunks();
        let prepared = pipeline::prepare(&self.scene, self.base.resolution, Some(&chunks))
            .map_err(|e| LessonError::failed("the chunk plan", &e))?;
        let plan = prepared.plan.ok_or_else(|| LessonError::Failed {
            what: "the chunk plan".into(),
            reason: format!("chunks \"{chunks}\" gave no plan"),
        })?;
        let graph = TaskGraph::chunked(&plan, Order::Staged, self.base.output.writer);
        Ok((graph, plan))
    }

    /// Laziness: the graph is built from the headers and the chunk plan alone (timed,
    /// `repeat` times), then the same chunks run staged through the rounds (timed); one
    /// run's task records are kept to light the graph.
    pub(super) fn graph(&self, out: &mut StepResult) -> Result<(), LessonError> {
        let chunks = self.lesson.chunks();
        let mut build_ns = Vec::with_capacity(self.lesson.repeat);
        let mut built = None;
        for _ in 0..self.lesson.repeat {
            let t0 = std::time::Instant::now();
            let (graph, plan) = self.build_graph()?;
            build_ns.push(t0.elapsed().as_nanos() as u64);
            let fused = TaskGraph::chunked(&plan, Order::Fused, graph.writer);
            built = Some((graph, fused, plan.shape));
        }
        let (graph, fused, shape) = built.ok_or_else(no_time)?;
        let build = Timing::from_ns(&build_ns).ok_or_else(no_time)?;
        let trials = [self.chunked(chunks.clone())];
        let mut runs: Vec<(u64, Vec<crate::task::TaskRecord>)> = Vec::new();
        let mut keep = |_: usize, report: &RunReport| {
            runs.push((report.wall_ns, report.tasks.clone()));
        };
        let r = rounds::run_rounds_observed(
            &self.scene,
            &self.base,
            &trials,
            Repetition {
                repeat: self.lesson.repeat,
                warmup: 1,
            },
            self.cancel,
            self.progress,
            &mut keep,
        )
        .map_err(|e| LessonError::failed("a run", &e))?;
        if r.cancelled {
            return Err(LessonError::Cancelled);
        }
        let execute = timing(&r.samples[0], None)?;
        runs.sort_by_key(|(wall, _)| *wall);
        let tasks = runs
            .get(runs.len() / 2)
            .map(|(_, t)| t.clone())
            .unwrap_or_default();
        let (staged_c, fused_c) = (GraphCounts::of(&graph), GraphCounts::of(&fused));
        let n = graph.chunks;
        let (g0, g1, g2) = graph.grid;
        let times = execute.median_ns as f64 / build.median_ns.max(1) as f64;
        out.big = vec![
            Figure::new("tasks", staged_c.tasks.to_string()),
            Figure::new("built in", units::duration_ns(build.median_ns)),
            Figure::new("executed", units::duration_ns(execute.median_ns)),
        ];
        out.figures = vec![
            Figure::new(
                "chunks",
                format!(
                    "{n} ({g0} x {g1} x {g2}) of {} x {} x {} ({chunks})",
                    shape.bands, shape.rows, shape.cols
                ),
            ),
            Figure::new(
                "staged graph",
                format!(
                    "{} nodes: {} tasks + {} barriers, {} edges",
                    staged_c.nodes, staged_c.tasks, staged_c.barriers, staged_c.edges
                ),
            ),
            Figure::new(
                "fused graph",
                format!(
                    "{} nodes: {n} chains load → mask → write + finalize, no barrier, {} edges",
                    fused_c.nodes, fused_c.edges
                ),
            ),
            Figure::new("built (no pixel read)", with_spread(&build)),
            Figure::new(
                format!("executed (staged x {})", self.threads()),
                with_spread(&execute),
            ),
            Figure::new("executing / building", units::ratio(times)),
        ];
        out.conclusion = format!(
            "the graph of {} tasks was built in {} without reading a pixel, then executed in {}",
            staged_c.tasks,
            units::duration_ns(build.median_ns),
            units::duration_ns(execute.median_ns)
        );
        out.explanation = vec![
            format!(
                "Building read only the files' headers and planned {n} chunks: {n} load, {n} \
                 mask and {n} write tasks and a finalize, {} barriers, {} edges, in {} (median \
                 of {}), as Dask builds its graph when the chunks and .where() are written.",
                staged_c.barriers,
                staged_c.edges,
                units::duration_ns(build.median_ns),
                build.n
            ),
            format!(
                "Executing it, every load, a barrier, every mask, a barrier, every write (the \
                 lesson's persist then compute), took {}: {} the building time, so {}.",
                units::duration_ns(execute.median_ns),
                units::ratio(times),
                if times >= 10.0 {
                    "the time is in the tasks, not in the graph"
                } else {
                    "on this small scene building the graph is not negligible"
                }
            ),
            format!(
                "Fused, the same {n} chunks are {n} chains with no barrier: {} nodes and {} \
                 edges instead of {} and {}.",
                fused_c.nodes, fused_c.edges, staged_c.nodes, staged_c.edges
            ),
        ];
        out.timings = vec![
            named("built", build.clone()),
            named("executed", execute.clone()),
        ];
        out.graph = Some(LazyGraph {
            chunks: n,
            grid: graph.grid,
            staged: staged_c,
            fused: fused_c,
            graph,
            build,
            execute,
            tasks,
        });
        Ok(())
    }

    pub(super) fn tiny(&self, out: &mut StepResult) -> Result<(), LessonError> {
        let b = self.block_side()?;
        // Tiny chunks of a quarter block (256 pixels against 1024-pixel blocks) that share
        // their blocks without straddling them, and blocks shared by the load (each
        // decoded once): only the number of tasks changes against the good chunks.
        let side = (b / 4).max(8);
        let tiny = ChunkRequest::Square(side);
        let good = self.lesson.chunks();
        let tiny_plan = self.plan(&tiny)?;
        let good_plan = self.plan(&good)?;
        let trials = [
            Trial::serial(),
            self.chunked(tiny.clone()),
            self.chunked(good.clone()),
        ];
        let shared = RunBase {
            blocks: crate::pipeline::BlockSharing::Shared,
            ..self.base.clone()
        };
        let (samples, extra) = self.rounds_on(&shared, &self.scene, &trials)?;
        let grid = pipeline::prepare(&self.scene, Resolution::R20, None)
            .map_err(|e| LessonError::failed("the scene", &e))?
            .grid;
        let dask = super::recorded::recorded(side, grid.rows, grid.cols);
        let serial = timing(&samples[0], None)?;
        let t = timing(&samples[1], None)?;
        let g = timing(&samples[2], None)?;
        let n = self.threads();
        let tiny_label = format!("{side} px x {n}");
        let good_label = format!("{good} x {n}");
        let vs_serial = Comparison::of("serial", &serial, &tiny_label, &t).ok_or_else(no_time)?;
        let vs_good = Comparison::of(&good_label, &g, &tiny_label, &t).ok_or_else(no_time)?;
        let med = |v: &[u64]| stats::median(v).unwrap_or(0);
        let load_t = timing(&samples[1], Some(Stage::Load))?;
        let load_g = timing(&samples[2], Some(Stage::Load))?;
        let sched = (med(&extra[1].scheduling_ns), med(&extra[2].scheduling_ns));
        let wait = (med(&extra[1].write_wait_ns), med(&extra[2].write_wait_ns));
        let load = (load_t.median_ns, load_g.median_ns);
        let delta = |(a, b): (u64, u64)| a as i64 - b as i64;
        let loss = t.median_ns as i64 - g.median_ns as i64;
        let causes = [
            ("scheduling (task overhead)", delta(sched)),
            ("read amplification (load)", delta(load)),
            ("writer wait (one writer)", delta(wait)),
        ];
        let explained: i64 = causes.iter().map(|c| c.1).sum();
        let signed = |ns: i64| {
            let sign = if ns < 0 { "-" } else { "+" };
            format!("{sign}{}", units::duration_ns(ns.unsigned_abs()))
        };
        let per_task_us = |s: &[RunSample]| {
            stats::median_f64(
                &s.iter()
                    .map(|r| r.task_overhead_per_task_us)
                    .collect::<Vec<_>>(),
            )
            .unwrap_or(0.0)
        };
        let decoded = |s: &[RunSample], plan: &PlanFigures| {
            s.first()
                .and_then(|r| r.read_amplification_measured)
                .unwrap_or(plan.read_amplification)
        };
        out.figures = vec![
            Figure::new("serial", with_spread(&serial)),
            Figure::new(
                format!("{tiny_label} ({} chunks)", tiny_plan.chunk_count),
                with_spread(&t),
            ),
            Figure::new(
                format!("{good_label} ({} chunks)", good_plan.chunk_count),
                with_spread(&g),
            ),
            Figure::new(
                format!("{tiny_label} vs {good_label}"),
                format!(
                    "{} slower by median, split by cause (per thread):",
                    signed(loss)
                ),
            ),
            Figure::new(
                format!("  {}", causes[0].0),
                format!(
                    "{}  ({} µs per task vs {} µs)",
                    signed(causes[0].1),
                    units::number(per_task_us(&samples[1])),
                    units::number(per_task_us(&samples[2]))
                ),
            ),
            Figure::new(
                format!("  {}", causes[1].0),
                format!(
                    "{}  ({} vs {} decoded, blocks shared)",
                    signed(causes[1].1),
                    units::ratio(decoded(&samples[1], &tiny_plan)),
                    units::ratio(decoded(&samples[2], &good_plan))
                ),
            ),
            Figure::new(format!("  {}", causes[2].0), signed(causes[2].1)),
            Figure::new("  not split", signed(loss - explained)),
        ];
        if let Some(d) = &dask {
            out.figures.push(Figure::new(
                format!("Dask at {side} px, recorded"),
                format!(
                    "{} per task outside tasks ({} of its threads' time)",
                    units::duration_ns((d.cost.overhead_us * 1e3).round() as u64),
                    units::share(d.overhead_share)
                ),
            ));
        }
        let biggest = causes.iter().max_by_key(|c| c.1).map_or("", |c| c.0);
        out.big = vec![
            Figure::new("vs serial", units::ratio(vs_serial.speedup.value)),
            Figure::new("chunks", tiny_plan.chunk_count.to_string()),
            match &dask {
                Some(d) => Figure::new(
                    "Dask/task",
                    units::duration_ns((d.cost.overhead_us * 1e3).round() as u64),
                ),
                None => Figure::new(
                    "per task",
                    units::duration_ns((per_task_us(&samples[1]) * 1e3).round() as u64),
                ),
            },
        ];
        out.conclusion = if vs_good.decided() && vs_good.speedup.value < 1.0 {
            format!(
                "{side} px: {}; largest measured cause: {biggest}",
                vs_good.verdict
            )
        } else {
            format!("{side} px vs {good}: {}", vs_good.verdict)
        };
        out.explanation = vec![
            format!(
                "{} chunks make {} tasks; in chunkscope's engine each cost about {} µs of \
                 scheduling, far below Dask's documented 200 µs-1 ms per task.",
                tiny_plan.chunk_count,
                tiny_plan.chunk_count * 3,
                units::number(per_task_us(&samples[1]))
            ),
            match &dask {
                Some(d) => format!(
                    "Dask, {}: {} per task outside its tasks, {} of its threads' time: in \
                     the lesson's engine task overhead is what hurts at {side} px.",
                    d.label,
                    units::duration_ns((d.cost.overhead_us * 1e3).round() as u64),
                    units::share(d.overhead_share)
                ),
                None => format!(
                    "No Dask stream is recorded for {side} px chunks of this scene: \
                     `chunkscope run --engine dask --chunks {side}` measures Dask's cost per \
                     task here."
                ),
            },
            format!(
                "{side} px chunks share {b} px blocks without straddling them, and the load \
                 decoded each block once ({} of the pixels; a reader without a block cache \
                 decodes {}); {}",
                units::ratio(decoded(&samples[1], &tiny_plan)),
                units::ratio(tiny_plan.read_amplification),
                if causes[2].1.unsigned_abs() * 10 >= loss.unsigned_abs() {
                    format!(
                        "and the many small writes queued at the one writer ({} of waiting \
                         per thread).",
                        units::duration_ns(wait.0)
                    )
                } else {
                    format!(
                        "the writes barely waited for the one writer ({} per thread).",
                        units::duration_ns(wait.0)
                    )
                }
            ),
        ];
        out.decided = Some(vs_good.decided());
        out.plans = vec![
            NamedPlan {
                label: tiny.to_string(),
                plan: tiny_plan,
            },
            NamedPlan {
                label: good.to_string(),
                plan: good_plan,
            },
        ];
        out.timings = vec![
            named("serial", serial),
            named(tiny_label, t),
            named(good_label, g),
        ];
        out.comparisons = vec![vs_good, vs_serial];
        Ok(())
    }

    pub(super) fn alignment(&self, out: &mut StepResult) -> Result<(), LessonError> {
        let b = self.block_side()?;
        // The lesson's misaligned example: 1000-pixel chunks on 1024-pixel blocks.
        let off = (b * 1000 / 1024).max(1);
        let aligned = ChunkRequest::Square(b);
        let misaligned = ChunkRequest::Square(off);
        let pa = self.plan(&aligned)?;
        let pm = self.plan(&misaligned)?;
        let trials = [
            self.chunked(aligned.clone()),
            self.chunked(misaligned.clone()),
        ];
        let (samples, _) = self.rounds(&self.scene, &trials)?;
        let la = timing(&samples[0], Some(Stage::Load))?;
        let lm = timing(&samples[1], Some(Stage::Load))?;
        let ta = timing(&samples[0], None)?;
        let tm = timing(&samples[1], None)?;
        let a_label = format!("{b} px");
        let m_label = format!("{off} px");
        let load = Comparison::of(&m_label, &lm, &a_label, &la).ok_or_else(no_time)?;
        let total = Comparison::of(&m_label, &tm, &a_label, &ta).ok_or_else(no_time)?;
        let yes_no = |p: &PlanFigures| if p.aligned { "aligned" } else { "not aligned" };
        out.figures = vec![
            Figure::new(
                format!("{a_label} plan"),
                format!(
                    "{}, {} chunks, {} blocks touched per chunk, read amplification {}",
                    yes_no(&pa),
                    pa.chunk_count,
                    units::number(pa.blocks_touched_mean),
                    units::ratio(pa.read_amplification)
                ),
            ),
            Figure::new(
                format!("{m_label} plan"),
                format!(
                    "{}, {} chunks, {} blocks touched per chunk, read amplification {}",
                    yes_no(&pm),
                    pm.chunk_count,
                    units::number(pm.blocks_touched_mean),
                    units::ratio(pm.read_amplification)
                ),
            ),
            Figure::new(
                format!("{m_label} decoded"),
                samples[1]
                    .first()
                    .and_then(|r| r.read_amplification_measured)
                    .map_or("-".to_string(), |m| {
                        format!("{} (measured, per task)", units::ratio(m))
                    }),
            ),
            Figure::new(format!("{a_label} load"), with_spread(&la)),
            Figure::new(format!("{m_label} load"), with_spread(&lm)),
            Figure::new(format!("{a_label} total"), with_spread(&ta)),
            Figure::new(format!("{m_label} total"), with_spread(&tm)),
        ];
        out.big = vec![
            Figure::new("aligned load", units::duration_ns(la.median_ns)),
            Figure::new("misaligned", units::duration_ns(lm.median_ns)),
            Figure::new("read ampl.", units::ratio(pm.read_amplification)),
        ];
        out.conclusion = format!("load: {}", load.verdict);
        out.explanation = vec![
            format!(
                "{off} px chunks are {} with {b} px blocks: a chunk touches {} blocks on \
                 average and GDAL decodes {} the pixels kept ({b} px chunks: {}).",
                yes_no(&pm),
                units::number(pm.blocks_touched_mean),
                units::ratio(pm.read_amplification),
                units::ratio(pa.read_amplification)
            ),
            format!("Over the whole run: {}.", total.verdict),
            "Both decode per task, as a task engine without a block cache does; \
             chunkscope's shared blocks \
             (--blocks shared, its default) decode each block once, so misaligned chunks \
             cost it no decoding."
                .to_string(),
        ];
        out.decided = Some(load.decided());
        out.plans = vec![
            NamedPlan {
                label: aligned.to_string(),
                plan: pa,
            },
            NamedPlan {
                label: misaligned.to_string(),
                plan: pm,
            },
        ];
        out.timings = vec![
            named(format!("{a_label} load"), la),
            named(format!("{m_label} load"), lm),
            named(format!("{a_label} total"), ta),
            named(format!("{m_label} total"), tm),
        ];
        out.comparisons = vec![load, total];
        Ok(())
    }

    pub(super) fn auto(&self, out: &mut StepResult) -> Result<(), LessonError> {
        let auto = ChunkRequest::default();
        let item = &self.lesson.catalog.items[self.lesson.item];
        let shape =
            |p: &PlanFigures| format!("({}, {}, {})", p.shape.bands, p.shape.rows, p.shape.cols);
        let visual = self.plan(&auto)?;
        let blue = match item.asset(AssetRole::Blue) {
            Ok(asset) => {
                let src = RasterSource::new(
                    format!("asset \"{}\" of item \"{}\"", asset.key, item.id),
                    asset.gdal_path.clone(),
                );
                let info =
                    raster::inspect(&src).map_err(|e| LessonError::failed("the blue band", &e))?;
                let layout = info.layout(None).ok_or_else(|| LessonError::Failed {
                    what: format!("asset \"{}\"", asset.key),
                    reason: "it has no block layout".into(),
                })?;
                let plan = ChunkPlan::new(layout, &auto)
                    .map_err(|e| LessonError::failed("the blue band's plan", &e))?;
                Some((
                    asset.key.clone(),
                    layout,
                    PlanFigures::from(&plan.summary()),
                ))
            }
            Err(_) => None,
        };
        let describe = |p: &PlanFigures| {
            format!(
                "{}: {} chunk(s) of {}, {}",
                shape(p),
                p.chunk_count,
                units::bytes(p.chunk_bytes),
                if p.aligned {
                    "whole blocks"
                } else {
                    "not aligned"
                }
            )
        };
        out.figures.push(Figure::new(
            "rule",
            "as many whole blocks as fit in 128 MiB",
        ));
        if let Some((key, _, p)) = &blue {
            out.figures
                .push(Figure::new(format!("{key} (10 m)"), describe(p)));
        }
        out.figures
            .push(Figure::new("visual (20 m grid)", describe(&visual)));
        out.big = match &blue {
            Some((key, _, p)) => vec![
                Figure::new(key.clone(), format!("{}x{}", p.shape.rows, p.shape.cols)),
                Figure::new(
                    "visual",
                    format!("{}x{}", visual.shape.rows, visual.shape.cols),
                ),
            ],
            None => vec![Figure::new(
                "visual",
                format!("{}x{}", visual.shape.rows, visual.shape.cols),
            )],
        };
        let grid_bytes = |p: &PlanFigures| p.chunk_bytes.saturating_mul(p.chunk_count as u64);
        out.conclusion = match &blue {
            Some((key, _, p)) => format!(
                "auto gives {} for {key} and {} for the visual: a plan, nothing to time",
                shape(p),
                shape(&visual)
            ),
            None => format!(
                "auto gives {} for the visual (this item has no blue band): a plan, nothing to time",
                shape(&visual)
            ),
        };
        let mut lines = Vec::new();
        if let Some((key, layout, p)) = &blue {
            lines.push(format!(
                "{key} is {} x {} of {}-byte samples in {} px blocks: {} x {} blocks are the \
                 most that fit in 128 MiB, so each chunk is {}.",
                layout.cols,
                layout.rows,
                layout.dtype_bytes,
                layout.block_rows,
                p.shape.rows / layout.block_rows.max(1),
                p.shape.cols / layout.block_cols.max(1),
                units::bytes(p.chunk_bytes)
            ));
        }
        lines.push(format!(
            "The visual at 20 m is {} in all, {} 128 MiB: auto makes {} chunk(s), {}.",
            units::bytes(grid_bytes(&visual)),
            if grid_bytes(&visual) <= crate::chunks::DEFAULT_AUTO_BYTES {
                "under"
            } else {
                "over"
            },
            visual.chunk_count,
            if visual.chunk_count < self.threads().get() {
                "fewer than the threads, so auto leaves workers idle here"
            } else {
                "enough to keep the threads busy"
            }
        ));
        out.explanation = lines;
        out.plans.push(NamedPlan {
            label: "visual auto".into(),
            plan: visual,
        });
        if let Some((key, _, p)) = blue {
            out.plans.push(NamedPlan {
                label: format!("{key} auto"),
                plan: p,
            });
        }
        Ok(())
    }

    pub(super) fn memory(
        &self,
        out: &mut StepResult,
        probe: &dyn MemoryProbe,
    ) -> Result<(), LessonError> {
        let chunks = self.lesson.chunks();
        let cache = self.lesson.gdal_cache_mb;
        let mut runs: BTreeMap<usize, Vec<MemoryRun>> = BTreeMap::new();
        let schedules = MemorySchedule::ALL;
        let total = schedules.len() * self.lesson.repeat;
        for round in 0..self.lesson.repeat {
            for (i, s) in schedules.into_iter().enumerate() {
                if self.cancel.is_cancelled() {
                    return Err(LessonError::Cancelled);
                }
                (self.progress)(round * schedules.len() + i, total, s.name());
                let run = probe
                    .run(s, &chunks, self.threads(), cache)
                    .map_err(|reason| LessonError::Failed {
                        what: format!("the {} memory run", s.name()),
                        reason,
                    })?
                    .ok_or(LessonError::Cancelled)?;
                runs.entry(i).or_default().push(run);
            }
        }
        (self.progress)(total, total, "");
        let rows: Vec<MemoryRow> = schedules
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let label = match s {
                    MemorySchedule::Serial => "serial".to_string(),
                    _ => format!("{} x {} @ {chunks}", s.name(), self.threads()),
                };
                MemoryRow::from_runs(label, runs.get(&i)?)
            })
            .collect();
        if rows.len() != schedules.len() {
            return Err(LessonError::Failed {
                what: "the memory step".into(),
                reason: "a schedule gave no runs".into(),
            });
        }
        let span = |s: &Spread| units::bytes_range(s.median, s.min, s.max);
        for r in &rows {
            out.figures.push(Figure::new(
                r.label.clone(),
                format!(
                    "buffers {}, max RSS {}, RSS growth {}",
                    span(&r.buffers_peak_bytes),
                    units::bytes(r.process_max_rss_bytes.median),
                    span(&r.rss_growth_bytes)
                ),
            ));
        }
        let (serial, staged, fused) = (&rows[0], &rows[1], &rows[2]);
        out.big = vec![
            Figure::new("serial", units::bytes(serial.buffers_peak_bytes.median)),
            Figure::new("staged", units::bytes(staged.buffers_peak_bytes.median)),
            Figure::new("fused", units::bytes(fused.buffers_peak_bytes.median)),
        ];
        let below = |a: &Spread, b: &Spread| a.max < b.min;
        let rss_clear = below(&fused.rss_growth_bytes, &staged.rss_growth_bytes);
        out.conclusion = if below(&fused.buffers_peak_bytes, &staged.buffers_peak_bytes) {
            format!(
                "fused held {} of chunk buffers at most, staged {}: only the chunks in flight",
                units::bytes(fused.buffers_peak_bytes.median),
                units::bytes(staged.buffers_peak_bytes.median)
            )
        } else {
            format!(
                "fused and staged held about the same buffers ({} vs {}): with these chunks \
                 few are in flight either way",
                units::bytes(fused.buffers_peak_bytes.median),
                units::bytes(staged.buffers_peak_bytes.median)
            )
        };
        out.explanation = vec![
            format!(
                "RSS holds GDAL's block cache (bounded here at {cache} MiB, so it cannot grow \
                 across runs), the chunk buffers and the output tiles being filled; buffers \
                 are counted from the task records."
            ),
            format!(
                "Serial and staged keep the whole image ({}) before writing; fused takes \
                 each chunk from load to write, so RSS growth {} ({} vs {}).",
                units::bytes(serial.buffers_peak_bytes.median),
                if rss_clear {
                    "is smaller beyond the noise"
                } else {
                    "differs inside the noise of the runs"
                },
                units::bytes(fused.rss_growth_bytes.median),
                units::bytes(staged.rss_growth_bytes.median)
            ),
            if probe.own_process() {
                "Each run had a process of its own, so each max RSS is that run's alone."
                    .to_string()
            } else {
                "These runs shared one process: max RSS is the process's high-water mark \
                 and earlier runs may have set it."
                    .to_string()
            },
        ];
        out.decided = Some(below(&fused.buffers_peak_bytes, &staged.buffers_peak_bytes));
        out.memory = rows;
        Ok(())
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
    LessonError::Failed {
        what: "the runs".into(),
        reason: "no time was measured".into(),
    }
}

fn named(label: impl Into<String>, timing: Timing) -> NamedTiming {
    NamedTiming {
        label: label.into(),
        timing,
    }
}
