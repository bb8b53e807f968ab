//! Snapshot tests: every screen of the TUI drawn at 80x24 and 120x36 into a test buffer,
//! as plain text, and compared with the text committed under `tests/snapshots/screens/`,
//! so that a screen cannot change unnoticed. Runs on the test thread.
//!
//! The screens are drawn from fixed figures only: run reports and a sweep recorded once
//! and committed (`tests/snapshots/reports/`, see the README there), a Dask task stream
//! from `tests/fixtures/dask/`, the lesson's fixed figures (`lesson::example`), a machine
//! of 2 cores. Nothing is measured while the tests run, so the text is the same on every
//! machine and every run.
//!
//! A screen that changed fails with the rows that differ. When the change is meant, write
//! the new screens and review them with `git diff`:
//!
//! ```text
//! UPDATE_SNAPSHOTS=1 cargo test --bin chunkscope snapshots
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chunkscope::experiment::sweep::SweepResult;
use chunkscope::lesson::{self, STEPS};
use chunkscope::pipeline::RunReport;
use chunkscope::profile::sampler::Sample;
use chunkscope::task::{Event, Stage};
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{App, Msg};
use super::model::dask::DaskLive;
use super::model::live::{REPEAT_RUNS, Repeat};
use super::model::run::RunView;
use super::model::screen::Screen;
use super::model::search::{FormStatus, SearchForm};
use super::model::sweep::{SweepProgress, SweepView};
use super::view::{buffer_text, fixtures, render};

/// The sizes every screen is drawn at: the smallest the screens are laid out for, and a
/// common larger one.
const SIZES: [(u16, u16); 2] = [(80, 24), (120, 36)];

/// Set (to anything) to write the screens drawn now as the expected ones.
const UPDATE: &str = "UPDATE_SNAPSHOTS";

fn screens_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/screens")
}

/// The committed figures the screens are drawn from, read once.
struct Fixed {
    serial: RunReport,
    /// Chunked x 2, one block per chunk, staged.
    chunked: RunReport,
    /// Chunked x 2, 2x2 blocks per chunk, fused.
    fused: RunReport,
    sweep: SweepResult,
    /// A Dask task stream imported (`tui --dask`).
    dask: RunReport,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let report = |json: &str| -> RunReport {
            serde_json::from_str(json).expect("a committed run report parses")
        };
        let stream = chunkscope::dask::DaskStream::read(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/dask/demo-2048-chunks256-threads2.json"),
        )
        .expect("the Dask fixture reads");
        let summary = chunkscope::dask::DaskSummary::of(&stream).expect("a summary");
        Fixed {
            serial: report(include_str!("../../tests/snapshots/reports/serial.json")),
            chunked: report(include_str!("../../tests/snapshots/reports/chunked.json")),
            fused: report(include_str!("../../tests/snapshots/reports/fused.json")),
            sweep: serde_json::from_str(include_str!("../../tests/snapshots/reports/sweep.json"))
                .expect("the committed sweep parses"),
            dask: chunkscope::dask::report::run_report(&stream, &summary),
        }
    })
}

fn draw(app: &App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    term.draw(|f| render(app, f.area(), f.buffer_mut()))
        .expect("a frame");
    // Trailing blanks are invisible and editors strip them: not part of the snapshot.
    buffer_text(term.backend().buffer())
        .lines()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect()
}

fn key(app: &mut App, code: KeyCode) {
    app.update(Msg::Key(code.into()));
}

fn char_key(app: &mut App, c: char) {
    key(app, KeyCode::Char(c));
}

/// The chunk setup of the fixed scene (a 5490 x 5490 grid of 1024 blocks), on 2 cores.
fn setup() -> App {
    fixtures::setup_app()
}

/// The setup with `runs` finished (oldest first): the last on the Run screen.
fn after(runs: &[&RunReport]) -> App {
    let mut app = setup();
    for r in runs {
        app.results.push((*r).clone());
    }
    if let Some(last) = runs.last() {
        app.run = Some(RunView::from_report(last));
    }
    app.screen = Screen::Run;
    app
}

/// The fixed chunked run as the Run screen shows it while it goes: every event of the
/// tasks that had started by half its wall time, and the samples taken until then.
fn live_chunked() -> App {
    let f = fixed();
    let report = &f.chunked;
    let mut app = after(&[&f.serial]);
    let plan = report.plan.as_ref().expect("a chunked report has a plan");
    let mut view = RunView::new(
        report.label(),
        report.config.item.clone(),
        plan.grid,
        report.config.threads,
    );
    view.settings = super::model::setup::report_settings(report);
    view.graph = Some(super::model::run::report_graph(report));
    app.run = Some(view);
    let cut = report.wall_ns / 2;
    let mut events = vec![Event::RunStarted {
        chunks: u32::try_from(plan.chunk_count).unwrap(),
        threads: u16::try_from(report.config.threads).unwrap(),
    }];
    let mut timed: Vec<(u64, Event)> = Vec::new();
    // A staged run's stages as the engine marks them: from the first task to the last.
    for stage in Stage::ALL {
        let of = || report.tasks.iter().filter(move |t| t.stage == stage);
        if let Some(at_ns) = of().map(|t| t.start_ns).min().filter(|&at| at <= cut) {
            timed.push((at_ns, Event::StageStarted { stage, at_ns }));
        }
        if let Some(at_ns) = of().map(|t| t.end_ns).max().filter(|&at| at <= cut) {
            timed.push((at_ns, Event::StageFinished { stage, at_ns }));
        }
    }
    for t in report.tasks.iter().filter(|t| t.start_ns <= cut) {
        timed.push((
            t.start_ns,
            Event::TaskStarted {
                chunk: t.chunk,
                stage: t.stage,
                worker: t.worker,
                at_ns: t.start_ns,
                helping: t.helping,
            },
        ));
        if t.end_ns <= cut {
            timed.push((t.end_ns, Event::TaskFinished(*t)));
        }
    }
    timed.sort_by_key(|(at, _)| *at);
    events.extend(timed.into_iter().map(|(_, e)| e));
    for e in events {
        app.update(Msg::Engine(e));
    }
    for s in report.cpu.samples.iter().filter(|s| s.t_ns <= cut) {
        app.update(Msg::Sample(Sample::clone(s)));
    }
    app.update(Msg::Tick {
        elapsed_ns: cut,
        dropped: 0,
        samples_dropped: 0,
    });
    app
}

/// The lesson on step `step` with the fixed figures of every step.
fn lesson(step: usize, presenter: bool) -> App {
    let mut app = setup();
    char_key(&mut app, 'L');
    let l = app.lesson.as_mut().expect("L opens the lesson");
    l.running = None;
    l.progress = None;
    for (i, &s) in STEPS.iter().enumerate() {
        l.results[i] = Some(lesson::example(s));
    }
    l.step = step;
    l.presenter = presenter;
    app
}

/// A sweep running in this session, 3 runs of 49 done.
fn sweeping() -> Option<SweepProgress> {
    Some(SweepProgress {
        done: 3,
        total: 49,
        label: "chunked x 2 @ 256".into(),
        cancelling: false,
    })
}

/// Every screen, named as its snapshot files are.
fn screens() -> Vec<(String, App)> {
    let f = fixed();
    let mut all: Vec<(String, App)> = Vec::new();
    let mut add = |name: &str, app: App| all.push((name.to_string(), app));

    // Scenes: the catalog and the selected scene's assets; filtered; through a network.
    add("scenes", fixtures::scenes_app());
    let mut app = fixtures::scenes_app();
    char_key(&mut app, '/');
    for c in "0402".chars() {
        char_key(&mut app, c);
    }
    add("scenes-filter", app);
    let mut app = fixtures::scenes_app();
    app.network = Some("simulated network: 50 ms latency, 25 MiB/s per connection".into());
    add("scenes-network", app);

    // The search form (F): as opened, a value that does not parse, searching, failed.
    let mut app = fixtures::scenes_app();
    char_key(&mut app, 'F');
    add("search", app.clone());
    let form = |status: FormStatus| {
        let mut app = app.clone();
        let mut form = app.search.take().unwrap_or_else(|| SearchForm::new(""));
        form.status = status;
        app.search = Some(form);
        app
    };
    add(
        "search-invalid",
        form(FormStatus::Invalid(
            "area \"27.95\": give LON,LAT or W,S,E,N".into(),
        )),
    );
    add("search-searching", form(FormStatus::Searching));
    add(
        "search-failed",
        form(FormStatus::Failed(
            "cannot reach \"https://earth-search.aws.element84.com/v1\": connection refused".into(),
        )),
    );

    // The chunk setup: as opened, serial, free steps off the grid (misaligned), still
    // opening, and a scene that cannot be opened.
    add("setup", setup());
    let mut app = setup();
    char_key(&mut app, 'm');
    add("setup-serial", app);
    let mut app = setup();
    char_key(&mut app, 'f');
    key(&mut app, KeyCode::Right);
    add("setup-misaligned", app);
    let mut app = fixtures::scenes_app();
    key(&mut app, KeyCode::Enter);
    add("setup-opening", app.clone());
    app.update(Msg::Prepared {
        item: 0,
        resolution: chunkscope::pipeline::Resolution::R20,
        result: Err("the visual asset \"/data/visual.tif\": not a GeoTIFF".into()),
    });
    add("setup-error", app);

    // The run: going (half its wall time), cancelling, finished (chunked, serial), a chunk
    // clicked, its replay halfway, the task graph, failed.
    add("run-live", live_chunked());
    let mut app = live_chunked();
    key(&mut app, KeyCode::Esc);
    add("run-cancelling", app);
    let mut app = live_chunked();
    char_key(&mut app, 'g');
    add("run-live-graph", app);
    add("run-done", after(&[&f.serial, &f.chunked]));
    add("run-done-serial", after(&[&f.serial]));
    add("run-done-fused", after(&[&f.serial, &f.chunked, &f.fused]));
    let mut app = after(&[&f.serial, &f.chunked]);
    app.update(Msg::SelectChunk(Some(0)));
    add("run-chunk", app);
    let mut app = after(&[&f.serial, &f.chunked]);
    char_key(&mut app, 'p');
    app.update(Msg::Frame {
        dt_ns: f.chunked.wall_ns.saturating_mul(5),
    });
    add("run-replay", app.clone());
    char_key(&mut app, 'g');
    add("run-replay-graph", app);
    let mut app = after(&[&f.serial, &f.chunked]);
    char_key(&mut app, 'g');
    add("run-graph", app);
    let mut app = setup();
    char_key(&mut app, 'r');
    app.update(Msg::RunFinished(Err(
        "the visual asset \"/data/visual.tif\": read failed at block 3,2".into(),
    )));
    add("run-failed", app);
    // R: five runs after a warm-up, their spread (the fixed run, each a little slower).
    let runs: Vec<RunReport> = (0..=REPEAT_RUNS as u64)
        .map(|i| {
            let mut r = f.chunked.clone();
            r.wall_ns += i * (r.wall_ns / 50);
            r
        })
        .collect();
    let mut app = after(&[&f.serial]);
    let mut repeat = Repeat::new(REPEAT_RUNS);
    for r in &runs {
        repeat.record(r);
    }
    for r in &runs[1..] {
        app.results.push(r.clone());
    }
    let mut view = RunView::from_report(&runs[REPEAT_RUNS]);
    view.repeat = Some(repeat);
    app.run = Some(view);
    add("run-repeat", app);

    // Results: one run, three, two marked A and B, none.
    let mut app = after(&[&f.serial]);
    app.screen = Screen::Results;
    add("results-one", app);
    let mut app = after(&[&f.serial, &f.chunked, &f.fused]);
    app.screen = Screen::Results;
    add("results", app.clone());
    app.results.selected = 1;
    char_key(&mut app, 'a');
    app.results.selected = 2;
    char_key(&mut app, 'b');
    add("results-ab", app);
    let mut app = setup();
    app.screen = Screen::Results;
    add("results-empty", app);

    // The sweep: none yet, a finished one, one running, one failed, a path being typed.
    let mut app = after(&[&f.serial, &f.chunked]);
    app.screen = Screen::Sweep;
    add("sweep-none", app.clone());
    app.results.sweep = Some(SweepView {
        result: f.sweep.clone(),
        source: "sweep.json".into(),
    });
    add("sweep", app.clone());
    let mut running = app.clone();
    running.results.sweep_job = sweeping();
    add("sweep-running", running);
    let mut failed = app.clone();
    failed.results.sweep_error =
        Some("cannot read \"sweep.json\": No such file or directory (os error 2)".into());
    add("sweep-error", failed);
    char_key(&mut app, 'o');
    for c in "sweep.json".chars() {
        char_key(&mut app, c);
    }
    add("sweep-open", app);

    // The lesson: every step from its fixed figures, in both layouts; a step running; a
    // step that failed.
    for (i, step) in STEPS.iter().enumerate() {
        add(&format!("lesson-{}", step.id()), lesson(i, false));
        add(&format!("lesson-{}-presenter", step.id()), lesson(i, true));
    }
    let mut app = lesson(1, false);
    if let Some(l) = app.lesson.as_mut() {
        l.results[1] = None;
        l.running = Some(1);
        l.progress = Some((4, 9, "chunked x 2 (3,2048,2048)".into()));
    }
    add("lesson-running", app);
    let mut app = lesson(1, false);
    if let Some(l) = app.lesson.as_mut() {
        l.results[1] = None;
        l.errors[1] = Some("the visual asset \"/data/visual.tif\": read failed".into());
    }
    add("lesson-failed", app);

    // The help overlay on every screen, and its second page.
    for (name, mut app) in [
        ("scenes", fixtures::scenes_app()),
        ("setup", setup()),
        ("run", after(&[&f.serial, &f.chunked])),
        ("results", {
            let mut a = after(&[&f.serial, &f.chunked]);
            a.screen = Screen::Results;
            a
        }),
        ("sweep", {
            let mut a = after(&[&f.serial, &f.chunked]);
            a.screen = Screen::Sweep;
            a
        }),
        ("lesson", lesson(0, false)),
    ] {
        char_key(&mut app, '?');
        add(&format!("help-{name}"), app.clone());
        if name == "setup" {
            key(&mut app, KeyCode::PageDown);
            add("help-setup-page2", app);
        }
    }

    // The status line: the log's last message and count; a save, said apart from it; a
    // save that failed.
    let mut app = setup();
    app.update(Msg::Log(
        "GDAL: TIFFReadDirectory: unknown field with tag 42112".into(),
    ));
    app.update(Msg::Log(
        "run failed: writing \"out.tif\": no space left".into(),
    ));
    add("log", app.clone());
    app.update(Msg::Exported(Ok(vec![
        "chunkscope-out/results-20260101T000000Z.json".into(),
        "chunkscope-out/results-20260101T000000Z.csv".into(),
        "chunkscope-out/results-20260101T000000Z.svg".into(),
    ])));
    add("log-saved", app.clone());
    app.update(Msg::Exported(Err(
        "cannot create the export folder \"chunkscope-out\": read-only file system".into(),
    )));
    add("log-save-failed", app);

    // Dask: a stream imported on the Run screen and in Results; D running (status line);
    // D that could not run.
    let mut app = fixtures::scenes_app();
    super::dask_script::open_imported(&mut app, f.dask.clone());
    add("dask-imported", app.clone());
    app.screen = Screen::Results;
    add("dask-imported-results", app);
    let mut app = after(&[&f.serial, &f.chunked]);
    let mut live = DaskLive::new(f.chunked.label(), 2);
    live.elapsed_ns = 12_300_000_000;
    live.line = Some("[########################################] | 100% Completed | 1.2s".into());
    app.dask = Some(live);
    add("dask-running", app);
    let mut app = after(&[&f.serial]);
    char_key(&mut app, 'D');
    add("dask-refused", app);

    // Busy: D, a lesson step and a run asked for while a sweep goes.
    let mut app = after(&[&f.serial, &f.chunked]);
    app.results.sweep_job = sweeping();
    char_key(&mut app, 'D');
    add("busy-dask", app);
    let mut app = after(&[&f.serial, &f.chunked]);
    app.results.sweep_job = sweeping();
    char_key(&mut app, 'L');
    char_key(&mut app, 'r');
    add("busy-lesson", app);
    let mut app = after(&[&f.serial, &f.chunked]);
    app.results.sweep_job = sweeping();
    app.screen = Screen::Setup;
    char_key(&mut app, 'r');
    add("busy-run", app);

    all
}

/// Compares `text` with the snapshot at `path` (or writes it, in update mode); a
/// difference is said row by row.
fn compare(path: &Path, text: &str, update: bool) -> Option<String> {
    let was = std::fs::read_to_string(path).ok();
    if was.as_deref() == Some(text) {
        return None;
    }
    if update {
        std::fs::write(path, text).expect("a snapshot written");
        return None;
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let Some(was) = was else {
        return Some(format!("{name}: no snapshot yet; drawn now:\n{text}"));
    };
    let mut said = format!("{name} changed (- committed, + drawn now):\n");
    let (old, new): (Vec<&str>, Vec<&str>) = (was.lines().collect(), text.lines().collect());
    for row in 0..old.len().max(new.len()) {
        let (o, n) = (old.get(row), new.get(row));
        if o != n {
            let _ = writeln!(said, "row {:>2} - {}", row + 1, o.unwrap_or(&""));
            let _ = writeln!(said, "       + {}", n.unwrap_or(&""));
        }
    }
    Some(said)
}

#[test]
fn snapshots_every_screen_at_80x24_and_120x36() {
    let update = std::env::var_os(UPDATE).is_some();
    let dir = screens_dir();
    if update {
        std::fs::create_dir_all(&dir).expect("the snapshots folder");
    }
    let mut expected: Vec<String> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut drawn = |name: String, text: String| {
        let path = dir.join(&name);
        failures.extend(compare(&path, &text, update));
        expected.push(name);
    };
    for (name, app) in screens() {
        for (w, h) in SIZES {
            drawn(format!("{name}.{w}x{h}.txt"), draw(&app, w, h));
        }
    }
    // Below the smallest size the screens need, every screen says so.
    drawn("too-small.59x15.txt".into(), draw(&setup(), 59, 15));

    // A snapshot no screen draws any more is stale: removed in update mode, else an error.
    let mut stale: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".txt") && !expected.contains(n))
                .collect()
        })
        .unwrap_or_default();
    stale.sort();
    if update {
        for n in &stale {
            std::fs::remove_file(dir.join(n)).expect("a stale snapshot removed");
        }
    } else if !stale.is_empty() {
        failures.push(format!("snapshots no screen draws: {}", stale.join(", ")));
    }
    assert!(
        failures.is_empty(),
        "{} of {} screens differ from tests/snapshots/screens/. If the change is meant, \
         write them with `{UPDATE}=1 cargo test --bin chunkscope snapshots` and review \
         `git diff`.\n\n{}",
        failures.len(),
        expected.len(),
        failures.join("\n")
    );
}

/// The same screen drawn twice is the same text: nothing on screen depends on the clock.
#[test]
fn snapshots_are_drawn_the_same_twice() {
    let first: Vec<(String, String)> = screens()
        .iter()
        .map(|(n, a)| (n.clone(), draw(a, 120, 36)))
        .collect();
    for ((name, text), (_, app)) in first.iter().zip(screens()) {
        assert_eq!(text, &draw(&app, 120, 36), "{name} drawn twice differs");
    }
}
