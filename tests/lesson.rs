//! The lesson's steps on a small demo scene, with real GDAL and real runs: each step's
//! figures are consistent with each other and its words with its numbers.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test fails (clippy.toml covers #[test] fns only)"
)]

use std::path::Path;

use chunkscope::catalog::Catalog;
use chunkscope::demo::{self, DemoSpec};
use chunkscope::experiment::rounds::RunBase;
use chunkscope::lesson::{self, InProcess, Lesson, STEPS, Step, StepResult};
use chunkscope::output::{OutputFormat, OutputSpec};
use chunkscope::pipeline::{CloudClasses, Resolution, Scene};
use chunkscope::profile::units;
use chunkscope::task::{CancelFlag, Stage};

fn lesson_on_demo(dir: &Path) -> Lesson {
    let path =
        demo::generate(DemoSpec::new(1024, 2).unwrap(), &dir.join("demo"), &|_| {}).expect("demo");
    let catalog = Catalog::load(&path).expect("catalog");
    let last = catalog.items.len() - 1;
    Lesson::new(catalog, last, dir.join("out"))
}

fn run(lesson: &Lesson, step: Step) -> StepResult {
    let scene = Scene::from_item(&lesson.catalog.items[lesson.item]).unwrap();
    let probe = InProcess {
        scene,
        base: RunBase {
            resolution: Resolution::R20,
            cloud_classes: CloudClasses::default(),
            output: OutputSpec::new(lesson.out_dir.join("memory.tif"), OutputFormat::Gtiff),
            gdal_cache_mb: None,
            blocks: Default::default(),
        },
        cancel: CancelFlag::new(),
    };
    let runs = std::cell::Cell::new(0);
    let progress = |_: usize, _: usize, _: &str| runs.set(runs.get() + 1);
    lesson::run_step(step, lesson, &probe, &CancelFlag::new(), &progress)
        .unwrap_or_else(|e| panic!("step {}: {e}", step.id()))
}

/// What every step owes its reader: a title, big figures, a conclusion and two or three
/// lines of explanation; every timing of at least three runs; the conclusion says "inside
/// the noise" exactly when the main comparison's runs overlap.
fn check_common(r: &StepResult) {
    assert!(!r.conclusion.is_empty(), "{}", r.step.id());
    assert!((1..=3).contains(&r.big.len()), "{:?}", r.big);
    assert!(
        (2..=3).contains(&r.explanation.len()),
        "{:?}",
        r.explanation
    );
    for t in &r.timings {
        assert!(t.timing.n >= 3, "{} has {} runs", t.label, t.timing.n);
    }
    if let Some(c) = r.comparisons.first() {
        let noise = c.differ == Some(false);
        assert_eq!(
            r.conclusion.contains("inside the noise"),
            noise,
            "{}: {}",
            r.step.id(),
            r.conclusion
        );
        assert_eq!(r.conclusion.contains("beyond the noise"), c.decided());
    }
    // Every conclusion says how it stands against the noise and names its engine, and
    // every step draws a chart.
    assert!(
        r.conclusion.contains(r.noise()),
        "{}: {:?} not in {}",
        r.step.id(),
        r.noise(),
        r.conclusion
    );
    assert!(
        r.conclusion.starts_with("chunkscope's engine") || r.conclusion.starts_with("GDAL"),
        "{}",
        r.conclusion
    );
    assert!(r.chart.is_some(), "{} has no chart", r.step.id());
    let json = r.to_json();
    assert_eq!(json["kind"], "lesson_step");
    assert_eq!(json["step"]["step"], serde_json::json!(r.step));
}

#[test]
fn every_step_runs_on_a_demo_and_its_words_match_its_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let lesson = lesson_on_demo(dir.path());
    assert_eq!(lesson.item, 1, "the lesson takes the last item, items[-1]");
    let threads = lesson.threads.get();
    for &step in STEPS {
        let r = run(&lesson, step);
        check_common(&r);
        match step {
            Step::Scene => {
                assert_eq!(r.big[0].value, "128x128", "{:?}", r.big);
                assert!(r.figures.iter().any(|f| f.label == "SCL"));
                assert!(r.explanation[0].contains("overview 0"));
            }
            Step::LoadLocal | Step::LoadNetwork => {
                let c = &r.comparisons[0];
                let (s, p) = (&r.timings[0].timing, &r.timings[1].timing);
                let ratio = s.median_ns as f64 / p.median_ns as f64;
                assert!((c.speedup.value - ratio).abs() < 1e-9);
                if step == Step::LoadNetwork {
                    assert!(
                        r.figures[0].value.contains("simulated network"),
                        "{:?}",
                        r.figures
                    );
                    assert!(r.explanation[2].contains("40.5 s -> 12.6 s"));
                }
            }
            Step::MaskWrite => {
                let lock = r.lock.as_ref().expect("a lock");
                assert!(!lock.holders.is_empty() && lock.holders.len() <= threads);
                // 2x2 blocks of 128 on a 512 grid: 4 chunks, each written once.
                assert_eq!(lock.holders.iter().map(|h| h.writes).sum::<usize>(), 4);
                assert!(lock.held_ns > 0, "the appender is taken for every tile");
                assert!(lock.held_share() <= 1.0);
                assert!(r.explanation[0].contains("Lock()"), "{:?}", r.explanation);
                // The lesson's writer (GDAL's, under the lock) beside chunkscope's, both
                // timed: the conclusion compares them.
                assert!(r.conclusion.contains("GDAL's writer"), "{}", r.conclusion);
                assert!(r.timings.iter().any(|t| t.label.contains("GDAL's writer")));
            }
            Step::Graph => {
                let g = r.graph.as_ref().expect("the graph");
                // 2x2 blocks of 128 on the 512 grid: 4 chunks, staged.
                assert_eq!((g.chunks, g.grid), (4, (1, 2, 2)));
                assert_eq!(
                    (
                        g.staged.nodes,
                        g.staged.tasks,
                        g.staged.barriers,
                        g.staged.edges
                    ),
                    (15, 13, 2, 4 * 2 + 4 * 4 + 4)
                );
                assert_eq!(
                    (g.fused.nodes, g.fused.barriers, g.fused.edges),
                    (13, 0, 12)
                );
                assert_eq!(g.graph.node_count(), g.staged.nodes);
                // The graph as the step builds it before any run is the one it executed.
                assert_eq!(lesson::build_graph(&lesson).expect("built"), g.graph);
                // The kept run executed every task node of the graph, once (help with a
                // write is part of that write's node).
                let tasks = g
                    .tasks
                    .iter()
                    .filter(|t| t.stage != Stage::Finalize && !t.helping);
                assert_eq!(tasks.count(), 3 * g.chunks);
                assert_eq!(
                    g.tasks
                        .iter()
                        .filter(|t| t.stage == Stage::Finalize)
                        .count(),
                    1
                );
                assert!(g.tasks.iter().all(|t| (t.chunk as usize) < g.chunks));
                assert_eq!((g.build.n, g.execute.n), (3, 3));
                // The words are the numbers.
                let built = units::duration_ns(g.build.median_ns);
                let ran = units::duration_ns(g.execute.median_ns);
                assert_eq!(r.big[0].value, "13");
                assert_eq!((&r.big[1].value, &r.big[2].value), (&built, &ran));
                assert!(
                    r.conclusion
                        .contains(&format!("13 tasks was built in {built}"))
                );
                assert!(
                    r.conclusion
                        .contains(&format!("executed in {ran} ({})", r.noise())),
                    "{}",
                    r.conclusion
                );
                assert!(
                    r.explanation[0].contains("planned 4 chunks"),
                    "{:?}",
                    r.explanation
                );
                assert!(r.explanation[0].contains("2 barriers, 28 edges"));
                let times = g.execute.median_ns as f64 / g.build.median_ns as f64;
                assert!(
                    r.explanation[1].contains(&format!("took {ran}: {}", units::ratio(times))),
                    "{:?}",
                    r.explanation
                );
                assert_eq!(
                    r.explanation[1].contains("not in the graph"),
                    times >= 10.0,
                    "{:?}",
                    r.explanation
                );
                assert!(r.explanation[2].contains("13 nodes and 12 edges instead of 15 and 28"));
            }
            Step::TinyChunks => {
                let (tiny, good) = (&r.plans[0].plan, &r.plans[1].plan);
                // A quarter of the 128-pixel blocks: only the task count changes, as the
                // load shares blocks (each decoded once) though a per-task reader would not.
                assert_eq!(r.plans[0].label, "32");
                assert!(tiny.chunk_count > good.chunk_count);
                assert!(tiny.read_amplification > good.read_amplification);
                assert_eq!(r.big[1].value, tiny.chunk_count.to_string());
                let load = r
                    .figures
                    .iter()
                    .find(|f| f.label.contains("read amplification"))
                    .expect("the load's cause");
                assert!(
                    load.value
                        .ends_with("(1.00x vs 1.00x decoded, blocks shared)"),
                    "{}",
                    load.value
                );
                // No Dask stream was recorded on this small scene: the step says how to
                // measure one rather than show another scene's.
                assert!(
                    r.explanation[1].starts_with("No Dask stream is recorded for 32 px"),
                    "{}",
                    r.explanation[1]
                );
                assert!(!r.figures.iter().any(|f| f.label.contains("recorded")));
            }
            Step::Alignment => {
                assert!(r.plans[0].plan.aligned);
                assert!(!r.plans[1].plan.aligned);
                assert_eq!(r.plans[1].label, "125");
                assert!(r.explanation[0].contains("not aligned"));
                // The steps decode per task, as a task engine without a block cache does:
                // the run measured what the plan predicts for the misaligned chunks.
                let decoded = r
                    .figures
                    .iter()
                    .find(|f| f.label == "125 px decoded")
                    .unwrap_or_else(|| panic!("the measured amplification: {:?}", r.figures));
                assert_eq!(
                    decoded.value,
                    format!(
                        "{} (measured, per task)",
                        chunkscope::profile::units::ratio(r.plans[1].plan.read_amplification)
                    )
                );
            }
            Step::AutoChunks => {
                // B02 of the demo: 1024 x 1024 uint16, 128 blocks: all of it fits in 128 MiB.
                let blue = &r.plans[1].plan;
                assert_eq!(blue.shape.bands, 1);
                assert_eq!(blue.shape.rows, 1024);
                assert!(
                    r.explanation[2].contains("(1, 1024, 1024)"),
                    "{:?}",
                    r.explanation
                );
                // Timed now: the claim about idle workers is checked against serial.
                let visual = &r.plans[0].plan;
                assert!(
                    r.conclusion
                        .contains(&format!("({} chunk(s) on the visual)", visual.chunk_count)),
                    "{}",
                    r.conclusion
                );
                assert_eq!(r.comparisons.len(), 4, "total, load, mask, write");
            }
            Step::Memory => {
                assert_eq!(r.memory.len(), 3);
                assert!(r.memory.iter().all(|m| m.runs == 3));
                let (staged, fused) = (&r.memory[1], &r.memory[2]);
                assert!(fused.buffers_peak_bytes.median <= staged.buffers_peak_bytes.median);
                assert!(r.explanation[1].contains("bounded here at 64 MiB"));
                assert!(r.explanation[2].contains("shared one process"));
            }
        }
    }
}

#[test]
fn a_cancelled_step_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let lesson = lesson_on_demo(dir.path());
    let cancel = CancelFlag::new();
    cancel.cancel();
    let probe = InProcess {
        scene: Scene::from_item(&lesson.catalog.items[0]).unwrap(),
        base: RunBase {
            resolution: Resolution::R20,
            cloud_classes: CloudClasses::default(),
            output: OutputSpec::new(dir.path().join("m.tif"), OutputFormat::Gtiff),
            gdal_cache_mb: None,
            blocks: Default::default(),
        },
        cancel: cancel.clone(),
    };
    let err = lesson::run_step(Step::LoadLocal, &lesson, &probe, &cancel, &|_, _, _| {})
        .expect_err("cancelled");
    assert!(matches!(err, lesson::LessonError::Cancelled), "{err}");
}

/// A step that fails keeps the engine's error whole under it: a caller can match on it, and
/// the chain says GDAL's reason after the step's words.
#[test]
fn a_failed_step_keeps_the_engines_error_as_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let lesson = lesson_on_demo(dir.path());
    let item = &lesson.catalog.items[lesson.item];
    let scene = Scene::from_item(item).unwrap();
    std::fs::write(&scene.visual.path, b"not a TIFF").unwrap();
    let probe = InProcess {
        scene,
        base: RunBase {
            resolution: Resolution::R20,
            cloud_classes: CloudClasses::default(),
            output: OutputSpec::new(dir.path().join("m.tif"), OutputFormat::Gtiff),
            gdal_cache_mb: None,
            blocks: Default::default(),
        },
        cancel: CancelFlag::new(),
    };
    let err = lesson::run_step(
        Step::Scene,
        &lesson,
        &probe,
        &CancelFlag::new(),
        &|_, _, _| {},
    )
    .expect_err("the visual is not a raster");
    assert!(matches!(err, lesson::LessonError::Failed { .. }), "{err:?}");
    let below = std::error::Error::source(&err).expect("the engine's error is the source");
    assert!(
        matches!(
            below.downcast_ref::<chunkscope::pipeline::PipelineError>(),
            Some(chunkscope::pipeline::PipelineError::Raster(_))
        ),
        "{below:?}"
    );
    let text = chunkscope::error::chain(&err);
    assert!(text.starts_with("the scene: cannot open"), "{text}");
    assert_eq!(
        text.matches("not a raster GDAL can read").count(),
        1,
        "{text}"
    );
}
