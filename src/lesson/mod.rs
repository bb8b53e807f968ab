//! The lesson, step by step: each claim of the Carpentries lesson "Parallel raster
//! computations using Dask" as a step that runs what it needs on the chosen scene, keeps
//! the measured figures (medians of at least three runs with their spread) and explains,
//! in a few lines written from those figures, what happened. Knows nothing of terminals;
//! a step runs on whichever thread calls [`run_step`] (the TUI's lesson thread).
//!
//! Adding a step is one entry in [`STEPS`] and its runner in `steps.rs`.

mod steps;

pub mod chart;
pub mod dask;
pub mod lock;
pub mod verdict;

use std::num::NonZeroUsize;
use std::path::PathBuf;

use serde::Serialize;

use crate::catalog::Catalog;
use crate::chunks::ChunkRequest;
use crate::experiment::rounds::PlanFigures;
use crate::graph::TaskGraph;
use crate::network::{NetworkSpec, Probe, Rate};
use crate::profile::memory::MemoryRow;
use crate::profile::stats::{MIN_DECIDING_RUNS, Timing};
use crate::task::{CancelFlag, TaskRecord};

pub use crate::experiment::memory::{InProcess, MemoryProbe, MemorySchedule};
pub use chart::Chart;
pub use dask::DaskSide;
pub use lock::WriterLock;
pub use verdict::Comparison;

/// The lesson's steps, in the order the episode teaches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The scene and its COG blocks (`r.block_shapes`).
    Scene,
    /// Serial vs chunked load from the local disk.
    LoadLocal,
    /// Serial vs chunked load through the simulated network: download-bound.
    LoadNetwork,
    /// Mask and write, serial vs parallel, and the output's lock.
    MaskWrite,
    /// Laziness: the task graph built before anything runs, then executed.
    Graph,
    /// Tiny chunks lose, and why.
    TinyChunks,
    /// Chunks aligned with the blocks vs not.
    Alignment,
    /// Dask's `auto` chunks for B02 and for the visual.
    AutoChunks,
    /// Memory per schedule with a bounded GDAL cache.
    Memory,
}

/// Every step, in order.
pub const STEPS: &[Step] = &[
    Step::Scene,
    Step::LoadLocal,
    Step::LoadNetwork,
    Step::MaskWrite,
    Step::Graph,
    Step::TinyChunks,
    Step::Alignment,
    Step::AutoChunks,
    Step::Memory,
];

impl Step {
    /// Short name, for file names and JSON.
    pub fn id(self) -> &'static str {
        match self {
            Step::Scene => "scene",
            Step::LoadLocal => "load-local",
            Step::LoadNetwork => "load-network",
            Step::MaskWrite => "mask-write",
            Step::Graph => "graph",
            Step::TinyChunks => "tiny-chunks",
            Step::Alignment => "alignment",
            Step::AutoChunks => "auto-chunks",
            Step::Memory => "memory",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Step::Scene => "The scene and its COG blocks",
            Step::LoadLocal => "Load: serial vs chunked, local disk",
            Step::LoadNetwork => "Load: serial vs chunked, through a network",
            Step::MaskWrite => "Mask and write, and the writer's lock",
            Step::Graph => "Laziness and the task graph",
            Step::TinyChunks => "Tiny chunks lose",
            Step::Alignment => "Chunks aligned with blocks, or not",
            Step::AutoChunks => "chunks=\"auto\", Dask's rule",
            Step::Memory => "Memory per schedule",
        }
    }

    /// What the lesson claims, which the step puts to the test.
    pub fn claim(self) -> &'static str {
        match self {
            Step::Scene => "A COG is stored in blocks; r.block_shapes tells their size.",
            Step::LoadLocal => "Loading in chunks on several workers is faster than one read.",
            Step::LoadNetwork => {
                "Reading a remote COG in parallel is faster: the lesson's load went 40.5 s -> 12.6 s."
            }
            Step::MaskWrite => {
                "Mask and write run in parallel too; writes to one file are serialised by a Lock()."
            }
            Step::Graph => {
                "Dask is lazy: the task graph is built before anything runs, then executed."
            }
            Step::TinyChunks => "Chunks that are too small make a computation slower, not faster.",
            Step::Alignment => {
                "Chunks should be multiples of the blocks, or blocks are read twice."
            }
            Step::AutoChunks => {
                "chunks=\"auto\" picks block multiples near 128 MiB: (1, 8192, 8192) for B02."
            }
            Step::Memory => "Chunks keep memory small: only the chunks in flight are held.",
        }
    }
}

/// What a step runs on, and how.
#[derive(Debug, Clone)]
pub struct Lesson {
    /// The catalog as loaded (through the simulated network if the front end serves it).
    pub catalog: Catalog,
    pub item: usize,
    /// The simulated network the catalog is already read through, if any.
    pub server: Option<Probe>,
    /// Every run writes (and replaces) its output here.
    pub out_dir: PathBuf,
    pub threads: NonZeroUsize,
    /// Measured runs per configuration (at least [`MIN_DECIDING_RUNS`]).
    pub repeat: usize,
    /// The network the download-bound step reads through when the catalog is local.
    pub network: NetworkSpec,
    /// GDAL's block cache bound in the memory step, MiB.
    pub gdal_cache_mb: u32,
    /// Where the load, tiny-chunks and lock steps take Dask's figures from: the shipped
    /// recordings (the default, no Python started) or live runs.
    pub dask: DaskSide,
}

/// The lesson's simulated network: 50 ms before each answer, 25 MiB/s per connection.
pub fn lesson_network() -> NetworkSpec {
    NetworkSpec {
        latency: std::time::Duration::from_millis(50),
        bandwidth: Rate::from_bytes_per_s(25 * 1024 * 1024),
    }
}

impl Lesson {
    /// The lesson on `catalog`'s item `item` (the lesson itself uses the last item of its
    /// search, `items[-1]`), with 2 to 4 threads as the machine has cores, 3 runs each.
    pub fn new(catalog: Catalog, item: usize, out_dir: PathBuf) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            catalog,
            item,
            server: None,
            out_dir,
            threads: NonZeroUsize::new(cores.clamp(2, 4)).unwrap_or(NonZeroUsize::MIN),
            repeat: MIN_DECIDING_RUNS,
            network: lesson_network(),
            gdal_cache_mb: 64,
            dask: DaskSide::Recorded,
        }
    }

    /// The chunks the lesson's comparisons use: 2 x 2 blocks.
    pub fn chunks(&self) -> ChunkRequest {
        ChunkRequest::Blocks(2)
    }
}

/// One figure as shown: a label and its value, already formatted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub label: String,
    pub value: String,
    /// The step's chart draws it too, so a short screen may leave the row out.
    #[serde(skip)]
    pub in_chart: bool,
}

impl Figure {
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            value: value.into(),
            in_chart: false,
        }
    }

    /// This figure, marked as drawn in the step's chart too.
    pub fn charted(self) -> Self {
        Self {
            in_chart: true,
            ..self
        }
    }
}

/// A timing with what it measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedTiming {
    pub label: String,
    pub timing: Timing,
}

/// A chunk plan with its request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedPlan {
    pub label: String,
    pub plan: PlanFigures,
}

/// A task graph's size, as counted from the graph before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GraphCounts {
    /// `staged` or `fused`.
    pub order: &'static str,
    pub nodes: usize,
    /// Task nodes: load, mask and write per chunk, and finalize.
    pub tasks: usize,
    pub barriers: usize,
    pub edges: usize,
}

impl GraphCounts {
    pub fn of(graph: &TaskGraph) -> Self {
        Self {
            order: graph.order.name(),
            nodes: graph.node_count(),
            tasks: graph.task_count(),
            barriers: graph.barriers().len(),
            edges: graph.edge_count(),
        }
    }
}

/// The laziness step's graph: built from the chunk plan before any pixel is read, timed
/// building and executing, with the task records of one run to light it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LazyGraph {
    /// The staged graph the runs executed (the lesson's `persist` then compute).
    #[serde(skip)]
    pub graph: TaskGraph,
    pub chunks: usize,
    /// Chunks along (bands, rows, cols).
    pub grid: (usize, usize, usize),
    pub staged: GraphCounts,
    /// The same chunks in the fused schedule: chains, no barrier.
    pub fused: GraphCounts,
    /// Reading the headers, planning the chunks and building the graph: no pixel read.
    pub build: Timing,
    /// Whole runs of the graph.
    pub execute: Timing,
    /// The tasks of the run whose wall time was the median.
    pub tasks: Vec<TaskRecord>,
}

/// What a step measured and what it says about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepResult {
    pub step: Step,
    pub title: String,
    pub claim: String,
    pub item: String,
    /// The item is the catalog's last, the one the lesson itself takes (`items[-1]`).
    pub item_is_last: bool,
    /// The few figures a projector shows large (up to three).
    pub big: Vec<Figure>,
    /// Every figure, in reading order.
    pub figures: Vec<Figure>,
    /// One line: what the measurements say.
    pub conclusion: String,
    /// Two or three lines, written from the figures: what happened, what to notice.
    pub explanation: Vec<String>,
    /// Whether the step's main comparison is beyond the noise (`None`: nothing compared).
    pub decided: Option<bool>,
    /// The comparisons made, the one the conclusion states first.
    pub comparisons: Vec<Comparison>,
    pub timings: Vec<NamedTiming>,
    pub plans: Vec<NamedPlan>,
    pub lock: Option<WriterLock>,
    pub memory: Vec<MemoryRow>,
    /// The task graph step's graph, as built and as executed.
    pub graph: Option<LazyGraph>,
    /// What the step draws beside its conclusion.
    pub chart: Option<Chart>,
    /// Measured runs per configuration.
    pub repeat: usize,
    pub threads: usize,
}

impl StepResult {
    fn new(step: Step, lesson: &Lesson) -> Self {
        Self {
            step,
            title: step.title().into(),
            claim: step.claim().into(),
            item: lesson
                .catalog
                .items
                .get(lesson.item)
                .map(|i| i.id.clone())
                .unwrap_or_default(),
            item_is_last: lesson.item + 1 == lesson.catalog.items.len(),
            big: Vec::new(),
            figures: Vec::new(),
            conclusion: String::new(),
            explanation: Vec::new(),
            decided: None,
            comparisons: Vec::new(),
            timings: Vec::new(),
            plans: Vec::new(),
            lock: None,
            memory: Vec::new(),
            graph: None,
            chart: None,
            repeat: lesson.repeat,
            threads: lesson.threads.get(),
        }
    }

    /// How the conclusion stands against the noise of its runs, as it says it: "beyond the
    /// noise", "inside the noise", ... or "nothing timed". Every conclusion carries it.
    pub fn noise(&self) -> &'static str {
        match (self.comparisons.first(), self.decided) {
            (Some(c), _) => verdict::noise_words(c),
            (None, Some(true)) => "beyond the noise",
            (None, Some(false)) => "inside the noise",
            (None, None) => "nothing timed",
        }
    }

    /// The step's figures as JSON, with a schema version, for saving.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "schema_version": crate::pipeline::SCHEMA_VERSION,
            "kind": "lesson_step",
            "step": self,
        })
    }
}

/// Why a step could not give its figures.
#[derive(Debug, thiserror::Error)]
pub enum LessonError {
    #[error("the step was cancelled")]
    Cancelled,
    /// `what` failed; `cause` is the error that made it fail, or the lesson's own words
    /// (a `String` boxed). Show it with [`crate::error::chain`].
    #[error("{what}")]
    Failed {
        what: String,
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl LessonError {
    fn failed(
        what: impl Into<String>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        LessonError::Failed {
            what: what.into(),
            cause: cause.into(),
        }
    }
}

/// The graph the laziness step executes, built as that step builds it (headers read,
/// chunks planned, no pixel read): what a front end shows before the step's runs.
pub fn build_graph(lesson: &Lesson) -> Result<TaskGraph, LessonError> {
    let cancel = CancelFlag::new();
    let ctx = steps::Context::new(lesson, &cancel, &|_, _, _| {})?;
    Ok(ctx.build_graph()?.0)
}

/// Step `step`'s result from fixed figures of the full demo's shape, worded by the step's
/// own describing function and labelled as not measured (its item says so): for drawing the
/// lesson's screens without running anything.
pub fn example(step: Step) -> StepResult {
    steps::example::result(step)
}

/// Runs `step` of `lesson`. `progress` hears (runs done, runs planned, label) before each
/// run; `memory` measures the memory step's runs (a child process per run in the front
/// ends). Stops between runs when `cancel` is set.
pub fn run_step(
    step: Step,
    lesson: &Lesson,
    memory: &dyn MemoryProbe,
    cancel: &CancelFlag,
    progress: crate::experiment::rounds::Progress<'_>,
) -> Result<StepResult, LessonError> {
    if lesson.repeat < MIN_DECIDING_RUNS {
        return Err(LessonError::failed(
            "the lesson",
            format!(
                "every comparison needs at least {MIN_DECIDING_RUNS} runs, not {}",
                lesson.repeat
            ),
        ));
    }
    let ctx = steps::Context::new(lesson, cancel, progress)?;
    let mut result = StepResult::new(step, lesson);
    steps::run(&ctx, step, memory, &mut result)?;
    Ok(result)
}
