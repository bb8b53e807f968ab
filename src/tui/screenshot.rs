//! Screenshots: the TUI driven headlessly through its own session (real engine, real
//! run) and each screen's drawn buffer written as SVG ([`super::svg`]). Used by
//! `chunkscope screenshot` to produce the images in screenshots/; with `--view`, one screen
//! rendered from saved reports and sweeps, without running anything.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use chunkscope::catalog::{Catalog, Item};
use chunkscope::output::guard::WriteGuard;
use chunkscope::output::scratch::ScratchDir;
use chunkscope::pipeline::RunReport;
use chunkscope::profile::units::tilde;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::KeyCode;

use super::app::{App, Msg};

use super::model::run::RunView;

use super::model::screen::Screen;
use super::model::sweep::SweepView;
use super::session::Session;
use super::svg::to_svg;
use super::view::render;

/// A screen `chunkscope screenshot --view` can draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum View {
    Scenes,
    Setup,
    Run,
    Results,
    Help,
    Sweep,
}

impl View {
    /// Whether the view shows a scene's rasters (and so needs a catalog to inspect).
    pub fn needs_catalog(self, have_reports: bool) -> bool {
        match self {
            View::Scenes | View::Setup => true,
            View::Help => !have_reports,
            View::Run | View::Results | View::Sweep => false,
        }
    }
}

/// A catalog of the reports' scenes only, for views that draw no raster: nothing is opened.
pub fn catalog_of_reports(reports: &[RunReport], shown_path: &Path) -> Catalog {
    let mut items: Vec<Item> = Vec::new();
    for r in reports {
        if !items.iter().any(|i| i.id == r.config.item) {
            items.push(Item {
                id: r.config.item.clone(),
                datetime: None,
                cloud_cover: None,
                platform: None,
                assets: vec![],
            });
        }
    }
    Catalog {
        path: tilde(shown_path),
        items,
    }
}

/// Draws one screen from saved reports (the history, oldest first) and a sweep, without
/// running anything; scenes and setup inspect the catalog's first scene with GDAL.
pub fn capture_view(
    view: View,
    mut catalog: Catalog,
    reports: Vec<RunReport>,
    sweep: Option<SweepView>,
    width: u16,
    height: u16,
) -> anyhow::Result<Buffer> {
    catalog.path = tilde(&catalog.path);
    let needs_reports = matches!(view, View::Run | View::Results);
    anyhow::ensure!(
        !needs_reports || !reports.is_empty(),
        "--view {} needs a run report: --report FILE, written by `chunkscope run --json`",
        view_name(view)
    );
    anyhow::ensure!(
        view != View::Sweep || sweep.is_some(),
        "--view sweep needs a sweep file: --sweep FILE, written by `chunkscope sweep --json FILE`"
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let scratch = ScratchDir::create("screenshot").context("cannot create a scratch folder")?;
    let mut s = Session::new(App::new(catalog, cores, true), scratch.path().to_path_buf());
    if view.needs_catalog(!reports.is_empty()) {
        s.start();
    }
    s.app.results.sweep = sweep;

    for mut r in reports {
        r.output = r.output.map(|o| tilde(Path::new(&o)).display().to_string());
        s.app.results.push(r);
    }
    if let Some(last) = s.app.results.runs.last() {
        s.app.run = Some(RunView::from_report(last));
    }
    match view {
        View::Scenes => {}
        View::Setup => s.send(Msg::Key(KeyCode::Enter.into())),
        View::Run => s.app.screen = Screen::Run,
        View::Results => s.app.screen = Screen::Results,
        View::Sweep => s.app.screen = Screen::Sweep,
        View::Help if s.app.results.runs.is_empty() => {
            s.send(Msg::Key(KeyCode::Enter.into()));
            s.app.help = true;
        }
        View::Help => {
            s.app.screen = Screen::Results;
            s.app.help = true;
        }
    }
    let buf = draw(&s, width, height);
    s.shutdown();
    buf
}

fn view_name(v: View) -> &'static str {
    match v {
        View::Scenes => "scenes",
        View::Setup => "setup",
        View::Run => "run",
        View::Results => "results",
        View::Help => "help",
        View::Sweep => "sweep",
    }
}

/// Pumps the session until the lesson step in front has its figures (or its error).
fn wait_for_lesson_step(s: &mut Session) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let lesson = s.app.lesson.as_ref().context("the lesson did not open")?;
        if lesson.running.is_none() && (lesson.result().is_some() || lesson.error().is_some()) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the lesson step did not finish within 30 minutes"
        );
        s.pump();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pumps the session until its run has finished.
fn wait_for_run(s: &mut Session) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while s.app.run.as_ref().is_some_and(|r| !r.finished()) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the run did not finish within 10 minutes"
        );
        s.pump();
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Drives scenes → chunk setup → a serial run → a chunked run → its replay (and its task
/// graph) → help → results (→ the sweep, when one is given) → every step of the lesson and
/// its presenter layout, and writes one SVG per screen into `out_dir`. Returns the files
/// written.
pub fn capture_all(
    mut catalog: Catalog,
    sweep: Option<SweepView>,
    lesson_dask: chunkscope::lesson::DaskSide,
    out_dir: &Path,
    (width, height): (u16, u16),
) -> anyhow::Result<Vec<PathBuf>> {
    // Hrefs were resolved when the catalog loaded; the path is only displayed from here on.
    catalog.path = tilde(&catalog.path);
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create \"{}\"", out_dir.display()))?;
    let scratch = ScratchDir::create("screenshot").context("cannot create a scratch folder")?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut s = Session::new(App::new(catalog, cores, true), scratch.path().to_path_buf())
        .with_exe(std::env::current_exe().ok())
        .with_lesson_dask(lesson_dask);
    s.app.results.sweep = sweep;
    s.start();
    let mut written = Vec::new();
    let mut shot = |s: &Session, name: &str| -> anyhow::Result<()> {
        let path = out_dir.join(format!("{name}.svg"));
        WriteGuard::new()
            .write(&path, to_svg(&draw(s, width, height)?).as_bytes())
            .with_context(|| format!("cannot write \"{}\"", path.display()))?;
        written.push(path);
        Ok(())
    };
    shot(&s, "scenes")?;
    s.send(Msg::Key(KeyCode::Enter.into()));
    shot(&s, "setup")?;
    // A serial run first, so the results have a baseline.
    s.send(Msg::Key(KeyCode::Char('m').into()));
    s.send(Msg::Key(KeyCode::Char('r').into()));
    wait_for_run(&mut s)?;
    s.send(Msg::Key(KeyCode::Esc.into()));
    s.send(Msg::Key(KeyCode::Char('m').into()));
    s.send(Msg::Key(KeyCode::Char('r').into()));
    wait_for_run(&mut s)?;
    shot(&s, "run")?;
    // The replay, halfway through the load/mask/write tasks, where chunks are still in
    // flight (at 0.1x, ten times that in real time).
    let tasks_ns = s
        .app
        .run
        .as_ref()
        .and_then(|r| r.report.as_ref())
        .map(|rep| rep.overhead.window_ns);
    if let Some(tasks_ns) = tasks_ns {
        s.send(Msg::Key(KeyCode::Char('p').into()));
        s.send(Msg::Frame {
            dt_ns: tasks_ns.saturating_mul(5),
        });
        shot(&s, "replay")?;
        // The same moment as the task graph: what is lit, what waits at a barrier.
        s.send(Msg::Key(KeyCode::Char('g').into()));
        shot(&s, "graph")?;
        s.send(Msg::Key(KeyCode::Char('g').into()));
        s.send(Msg::Key(KeyCode::Esc.into()));
    }
    s.send(Msg::Key(KeyCode::Char('?').into()));
    shot(&s, "help")?;
    s.send(Msg::Key(KeyCode::Esc.into()));
    s.send(Msg::Key(KeyCode::Tab.into()));
    shot(&s, "results")?;
    if s.app.results.sweep.is_some() {
        s.send(Msg::Key(KeyCode::Tab.into()));
        shot(&s, "sweep")?;
    }
    // The lesson, on the scene of the runs: every step once it has run, then the last
    // one in the presenter layout.
    s.send(Msg::Key(KeyCode::Char('L').into()));
    for step in chunkscope::lesson::STEPS {
        wait_for_lesson_step(&mut s)?;
        shot(&s, &format!("lesson-{}", step.id()))?;
        s.send(Msg::Key(KeyCode::Char('l').into()));
    }
    s.send(Msg::Key(KeyCode::Char('P').into()));
    shot(&s, "lesson-presenter")?;
    s.shutdown();
    drop(scratch);
    Ok(written)
}

fn draw(s: &Session, width: u16, height: u16) -> anyhow::Result<Buffer> {
    let mut term = Terminal::new(TestBackend::new(width, height))?;
    term.draw(|f| render(&s.app, f.area(), f.buffer_mut()))?;
    Ok(term.backend().buffer().clone())
}
