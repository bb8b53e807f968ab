//! A lesson step run from the TUI: the engine's [`lesson::run_step`] on its own thread, its
//! progress and result turned into [`Msg`]s. The session owns the job and polls it each
//! frame; cancelling stops between runs (the run in flight finishes and is discarded).

use std::path::PathBuf;

use crossbeam_channel::Receiver;

use chunkscope::catalog::Catalog;
use chunkscope::experiment::rounds::RunBase;
use chunkscope::graph::TaskGraph;
use chunkscope::lesson::{self, InProcess, Lesson, LessonError, MemoryProbe, StepResult};
use chunkscope::network::Probe;
use chunkscope::output::{OutputFormat, OutputSpec};
use chunkscope::pipeline::{CloudClasses, Resolution, Scene};
use chunkscope::task::CancelFlag;

use super::app::Msg;
use super::job::Job;
use super::work::Background;

/// What a lesson step needs from the session.
pub struct LessonStart {
    pub catalog: Catalog,
    pub item: usize,
    pub server: Option<Probe>,
    pub out_dir: PathBuf,
    /// chunkscope's own executable, for the memory step's child processes; `None` runs
    /// them in this process (and the step says so).
    pub exe: Option<PathBuf>,
    /// Where the steps take Dask's figures from.
    pub dask: lesson::DaskSide,
}

/// `path` with a leading `~/` put back as the home folder.
fn untilde(path: &std::path::Path) -> PathBuf {
    match (path.strip_prefix("~"), dirs::home_dir()) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

/// A step running on its own thread.
pub struct LessonJob {
    step: usize,
    /// The laziness step's graph, sent before the step runs.
    built: Receiver<TaskGraph>,
    job: Job<StepResult>,
}

impl LessonJob {
    /// Starts step `step` (an index into [`lesson::STEPS`]).
    pub fn start(start: LessonStart, step: usize) -> Result<Self, String> {
        let kind = *lesson::STEPS
            .get(step)
            .ok_or_else(|| format!("the lesson has no step {}", step + 1))?;
        let item = start
            .catalog
            .items
            .get(start.item)
            .cloned()
            .ok_or_else(|| format!("the catalog has no item {}", start.item + 1))?;
        // The screenshot tool shows the catalog under `~`; the steps need the file itself.
        let mut catalog = start.catalog.clone();
        catalog.path = untilde(&catalog.path);
        let mut plan = Lesson::new(catalog.clone(), start.item, start.out_dir.clone());
        plan.server = start.server.clone();
        plan.dask = start.dask;
        let cancel = CancelFlag::new();
        let local = catalog.path.is_file() && start.server.is_none();
        let probe: Box<dyn MemoryProbe> = match start.exe.filter(|_| local) {
            Some(exe) => Box::new(chunkscope::experiment::child::ChildProbe {
                exe,
                catalog: catalog.path.clone(),
                item: item.id.clone(),
                out: start.out_dir.clone(),
                cancel: cancel.clone(),
            }),
            None => Box::new(InProcess {
                scene: Scene::from_item(&item)
                    .map_err(|e| chunkscope::error::chain(&e))?
                    .served_by(start.server.clone()),
                base: RunBase {
                    resolution: Resolution::R20,
                    cloud_classes: CloudClasses::default(),
                    output: OutputSpec::new(
                        start.out_dir.join("lesson-memory.tif"),
                        OutputFormat::Gtiff,
                    ),
                    gdal_cache_mb: None,
                    blocks: Default::default(),
                },
                cancel: cancel.clone(),
            }),
        };
        let (built_tx, built) = crossbeam_channel::bounded(1);
        let flag = cancel.clone();
        let job = Job::spawn("chunkscope-lesson", "the step", cancel, move |report| {
            // The laziness step's graph exists before anything runs: show it.
            if kind == lesson::Step::Graph
                && let Ok(graph) = lesson::build_graph(&plan)
            {
                let _ = built_tx.send(graph);
            }
            lesson::run_step(kind, &plan, probe.as_ref(), &flag, report).map_err(|e| match e {
                LessonError::Cancelled => "cancelled: r runs the step again".to_string(),
                e => chunkscope::error::chain(&e),
            })
        })?;
        Ok(Self { step, built, job })
    }
}

impl Background for LessonJob {
    fn cancel(&self) {
        self.job.cancel();
    }

    /// What happened since the last poll; the last message is [`Msg::LessonFinished`] once
    /// the step is over (then the job can be dropped).
    fn poll(&mut self) -> (Vec<Msg>, bool) {
        let step = self.step;
        let mut msgs: Vec<Msg> = self
            .job
            .progress()
            .into_iter()
            .map(|(done, total, label)| Msg::LessonProgress {
                step,
                done,
                total,
                label,
            })
            .collect();
        msgs.extend(self.built.try_iter().map(|graph| Msg::LessonGraphBuilt {
            step,
            graph: Box::new(graph),
        }));
        let finished = self.job.finished();
        let over = finished.is_some();
        if let Some(result) = finished {
            msgs.push(Msg::LessonFinished {
                step,
                result: result.map(Box::new),
            });
        }
        (msgs, over)
    }

    /// Cancels and waits for the thread (after the run in flight).
    fn shutdown(self: Box<Self>) {
        self.job.shutdown();
    }
}
