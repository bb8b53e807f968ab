//! Executes a prepared run: the task wrapper (cancellation, timing, events, records), the
//! three stages, and the serial, staged and fused orders they run in. Runs on the caller's
//! thread, and on a rayon pool built for the run when it is chunked.
//!
//! - [`state`]: what the tasks share ([`Exec`]) and hand each other;
//! - [`windows`]: the windows a chunk reads and the block stores that count them;
//! - [`traffic`]: where a remote run's traffic figures come from;
//! - [`task`]: the wrapper every task goes through;
//! - [`stages`] (load, mask) and [`write`] (write, finalize): the work of each stage;
//! - [`schedule`]: the orders the tasks go in;
//! - [`report`]: the run measured as a whole and folded into its report.

mod report;
mod schedule;
mod stages;
mod state;
mod task;
mod traffic;
mod windows;
mod write;

use super::report::RunReport;
use super::{Mode, PipelineError, Prepared, RunConfig, RunControl, Scene};
use crate::task::Event;
use report::Meters;
use state::Exec;

pub(super) fn execute(
    scene: &Scene,
    config: &RunConfig,
    prepared: &Prepared,
    control: &RunControl,
) -> Result<RunReport, PipelineError> {
    let threads = match &config.mode {
        Mode::Serial => 1,
        Mode::Chunked { threads, .. } => threads.get(),
    };
    // The pool is built before the clock starts: its start-up is not the run's.
    let pool = match &config.mode {
        Mode::Chunked { .. } => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("chunkscope-worker-{i}"))
                .build()
                .map_err(|source| PipelineError::ThreadPool { threads, source })?,
        ),
        Mode::Serial => None,
    };
    let exec = Exec::new(scene, config, prepared, control, threads)?;
    let meters = Meters::start(control, &exec.clock);
    let chunk_count = prepared.plan.as_ref().map_or(1, |p| p.chunks.len());
    control.events.send(Event::RunStarted {
        chunks: u32::try_from(chunk_count).unwrap_or(u32::MAX),
        threads: u16::try_from(threads).unwrap_or(u16::MAX),
    });

    let outcome = exec
        .run_tasks(pool.as_ref())
        .and_then(|()| exec.finalize(threads));
    let cancelled = matches!(outcome, Err(PipelineError::Cancelled));
    let output = match outcome {
        Ok(path) => Some(path),
        Err(PipelineError::Cancelled) => None,
        Err(e) => {
            meters.abandon();
            exec.control.events.send(Event::RunFinished {
                at_ns: exec.clock.now_ns(),
                cancelled: false,
            });
            return Err(e);
        }
    };
    // Drops an unfinished writer, removing its temporary files.
    exec.drop_writer();
    let wall_ns = exec.clock.now_ns();
    let measured = meters.stop();
    control.events.send(Event::RunFinished {
        at_ns: wall_ns,
        cancelled,
    });
    Ok(exec.report(threads, wall_ns, measured, output, cancelled))
}

#[cfg(test)]
thread_local! {
    /// Set on a test's thread before it calls `pipeline::run`: the run's helper jobs fail
    /// (read when the run starts, so tests on other threads are not affected).
    static FAIL_HELPERS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Tests: runs `f` with every helper job of the runs it starts failing.
#[cfg(test)]
fn fail_helpers<T>(f: impl FnOnce() -> T) -> T {
    FAIL_HELPERS.with(|c| c.set(true));
    let out = f();
    FAIL_HELPERS.with(|c| c.set(false));
    out
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    use super::*;
    use crate::catalog::Catalog;
    use crate::demo::{self, DemoSpec};
    use crate::output::{OutputFormat, OutputSpec};
    use crate::pipeline::{CloudClasses, Resolution, prepare};
    use crate::task::{EventSink, Stage, TaskRecord};

    /// The smallest demo scene, generated once for these tests with the real generator.
    fn scene() -> &'static Scene {
        static SCENE: OnceLock<(tempfile::TempDir, Scene)> = OnceLock::new();
        &SCENE
            .get_or_init(|| {
                let dir = tempfile::tempdir().unwrap();
                let spec = DemoSpec::new(DemoSpec::MIN_SIZE, 1).unwrap();
                let catalog = demo::generate(spec, dir.path(), &|_| {}).unwrap();
                let catalog = Catalog::load(&catalog).unwrap();
                let scene = Scene::from_item(&catalog.items[0]).unwrap();
                (dir, scene)
            })
            .1
    }

    fn serial(out: PathBuf) -> RunConfig {
        RunConfig {
            mode: Mode::Serial,
            resolution: Resolution::R20,
            cloud_classes: CloudClasses::default(),
            output: OutputSpec::new(out, OutputFormat::Cog),
            gdal_cache_mb: None,
            blocks: Default::default(),
        }
    }

    /// Executes `config` on the scene, cancelled before it starts or not, with every
    /// event it sent.
    fn execute_serial(config: &RunConfig, cancelled: bool) -> (RunReport, Vec<Event>) {
        let prepared = prepare(scene(), config.resolution, None).unwrap();
        let (events, rx) = EventSink::bounded(1024);
        let control = RunControl {
            events,
            sample_every: None,
            ..RunControl::default()
        };
        if cancelled {
            control.cancel.cancel();
        }
        let report = execute(scene(), config, &prepared, &control).unwrap();
        drop(control);
        (report, rx.try_iter().collect())
    }

    fn files_in(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn a_serial_run_is_four_tasks_in_a_row_each_recorded_as_its_events_tell() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.tif");
        let (report, events) = execute_serial(&serial(out.clone()), false);
        let tasks: Vec<(u32, Stage, u16)> = report
            .tasks
            .iter()
            .map(|t| (t.chunk, t.stage, t.worker))
            .collect();
        assert_eq!(
            tasks,
            [
                (0, Stage::Load, 0),
                (0, Stage::Mask, 0),
                (0, Stage::Write, 0),
                (0, Stage::Finalize, 0)
            ]
        );
        for pair in report.tasks.windows(2) {
            assert!(pair[0].end_ns <= pair[1].start_ns, "{pair:?}");
        }
        assert!(report.tasks[3].end_ns <= report.wall_ns);
        let finished: Vec<TaskRecord> = events
            .iter()
            .filter_map(|e| match e {
                Event::TaskFinished(r) => Some(*r),
                _ => None,
            })
            .collect();
        assert_eq!(finished, report.tasks, "one event per record, the same");
        let started = events
            .iter()
            .filter(|e| matches!(e, Event::TaskStarted { .. }))
            .count();
        assert_eq!(started, 4);
        assert_eq!(
            events.first(),
            Some(&Event::RunStarted {
                chunks: 1,
                threads: 1
            })
        );
        assert!(
            matches!(
                events.last(),
                Some(Event::RunFinished {
                    cancelled: false,
                    ..
                })
            ),
            "{events:?}"
        );
        assert!(!report.cancelled);
        assert_eq!(report.output.as_deref(), out.to_str());
        assert_eq!(report.workers.len(), 1);
        assert_eq!(report.workers[0].tasks, 4);
        assert_eq!(files_in(dir.path()), 1, "the output alone");
    }

    #[test]
    fn a_run_cancelled_before_its_first_task_starts_none_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (report, events) = execute_serial(&serial(dir.path().join("out.tif")), true);
        assert!(report.cancelled);
        assert!(report.tasks.is_empty(), "{:?}", report.tasks);
        assert_eq!(report.output, None);
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::TaskStarted { .. } | Event::TaskFailed { .. })),
            "{events:?}"
        );
        assert!(
            matches!(
                events.last(),
                Some(Event::RunFinished {
                    cancelled: true,
                    ..
                })
            ),
            "{events:?}"
        );
        assert_eq!(files_in(dir.path()), 0, "no output, no temporaries");
    }

    mod helper_failure {
        use std::num::NonZeroUsize;

        use crate::catalog::Catalog;
        use crate::chunks::ChunkRequest;
        use crate::demo::{self, DemoSpec};
        use crate::output::{OutputFormat, OutputSpec};
        use crate::pipeline::{
            self, CloudClasses, Mode, Resolution, RunConfig, RunControl, Scene, Schedule,
        };
        use crate::task::{Event, EventSink, Stage};

        use super::super::fail_helpers;

        /// A helper job (an idle worker encoding tiles of another worker's write task) that
        /// fails: the run returns that error, said once and not as a cancellation; the tasks
        /// not yet started stop instead of running the rest of the image; nothing is left in
        /// the output folder, and the run's end is announced once.
        #[test]
        fn a_failing_helper_surfaces_its_error_once_and_stops_the_other_tasks() {
            let dir = tempfile::tempdir().unwrap();
            let spec = DemoSpec::new(1024, 1).unwrap();
            let catalog = demo::generate(spec, &dir.path().join("demo"), &|_| {}).unwrap();
            let loaded = Catalog::load(&catalog).unwrap();
            let scene = Scene::from_item(&loaded.items[0]).unwrap();
            for schedule in [Schedule::Staged, Schedule::Fused] {
                let out_dir = dir.path().join(format!("out-{}", schedule.name()));
                std::fs::create_dir(&out_dir).unwrap();
                // 32-pixel chunks of a 512 x 512 grid with 128-pixel tiles: 256 write tasks,
                // the first tile complete after 16 of them (its owner then asks for help).
                let config = RunConfig {
                    mode: Mode::Chunked {
                        chunks: ChunkRequest::Square(32),
                        threads: NonZeroUsize::new(2).unwrap(),
                        schedule,
                    },
                    resolution: Resolution::R20,
                    cloud_classes: CloudClasses::default(),
                    output: OutputSpec::new(out_dir.join("masked.tif"), OutputFormat::Cog),
                    gdal_cache_mb: None,
                    blocks: Default::default(),
                };
                let (events, rx) = EventSink::bounded(1 << 20);
                let control = RunControl {
                    events,
                    sample_every: None,
                    ..RunControl::default()
                };
                let err = fail_helpers(|| pipeline::run(&scene, &config, &control))
                    .expect_err("a helper's write error fails the run");
                let said = crate::error::chain(&err);
                assert_eq!(
                    said.matches("a helper's write failed").count(),
                    1,
                    "{schedule:?}: {said}"
                );
                assert!(!said.contains("cancelled"), "{schedule:?}: {said}");
                let events: Vec<Event> = rx.try_iter().collect();
                let failed = events
                    .iter()
                    .filter(|e| matches!(e, Event::TaskFailed { .. }))
                    .count();
                assert_eq!(failed, 1, "{schedule:?}: one task failed, the helper");
                let ends = events
                    .iter()
                    .filter(|e| matches!(e, Event::RunFinished { .. }))
                    .count();
                assert_eq!(ends, 1, "{schedule:?}: the run's end, once");
                let writes = events
                    .iter()
                    .filter(|e| {
                        matches!(e, Event::TaskFinished(t) if t.stage == Stage::Write && !t.helping)
                    })
                    .count();
                assert!(
                    writes < 256,
                    "{schedule:?}: every write ran after the helper failed ({writes} of 256)"
                );
                let left: Vec<_> = std::fs::read_dir(&out_dir)
                    .unwrap()
                    .map(|e| e.unwrap().file_name())
                    .collect();
                assert!(
                    left.is_empty(),
                    "{schedule:?}: left in the output folder: {left:?}"
                );
            }
        }
    }
}
