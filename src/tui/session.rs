//! The side of the TUI that does things: executes the [`Cmd`]s that [`App::update`]
//! returns (inspect rasters, prepare a plan, start and cancel runs) and turns what comes
//! back — engine events, run results, GDAL messages — into [`Msg`]s. Owns the background
//! work, all of it in one [`Slot`]. Used by the terminal loop and, without a terminal, by
//! tests.

use std::path::PathBuf;
use std::time::Instant;

use crossbeam_channel::Receiver;

use chunkscope::catalog::{AssetRole, Item};
use chunkscope::error::chain;
use chunkscope::network::Probe;
use chunkscope::output::guard::WriteGuard;
use chunkscope::pipeline::{self, CloudClasses, Mode, Resolution, RunConfig, Scene};
use chunkscope::raster::{self, RasterSource};
use chunkscope::task::CancelFlag;

use super::app::{App, Cmd, Msg};

use super::model::assets::AssetView;
use super::model::busy::Kind;
use super::model::setup::RunSettings;

use super::dask_job::DaskJob;
use super::export;
use super::lesson_job::{LessonJob, LessonStart};
use super::model::screen::Screen;
use super::run_job::RunJob;
use super::sweep_job::SweepJob;
use super::work::{Background, Inspection, Slot};

/// The app plus what executes its commands.
pub struct Session {
    pub app: App,
    out_dir: PathBuf,
    /// Where `s` saves results; `out_dir` unless [`Session::with_export_dir`] says otherwise.
    export_dir: PathBuf,
    /// The terminal's size, so a saved screen matches the one drawn.
    viewport: (u16, u16),
    /// Runs, sweeps, lesson steps, Dask runs (`D`) and inspections.
    work: Slot,
    /// The Python that runs Dask (`tui --python`); `None`: the environment `chunkscope dask
    /// setup` made.
    python: Option<PathBuf>,
    /// Where the lesson's steps take Dask's figures from.
    lesson_dask: chunkscope::lesson::DaskSide,
    /// chunkscope's own executable, for the lesson's memory step (a child process per
    /// run); `None` measures in this process.
    exe: Option<PathBuf>,
    log: Option<Receiver<String>>,
    quit: bool,
    /// When the previous pump ran: replays advance by the real time between pumps.
    last_pump: Instant,
    /// Inspecting and preparing run on threads of their own when set (the terminal loop:
    /// over /vsicurl they take seconds, and the screen must keep drawing meanwhile); tests
    /// and screenshots leave it off so each command has answered when `send` returns.
    background: bool,
    /// The simulated network's server the catalog is read through, if any: runs count
    /// their traffic with it.
    server: Option<Probe>,
}

impl Session {
    /// `out_dir` receives `masked-<item>.tif`; it is created when a run starts.
    pub fn new(app: App, out_dir: PathBuf) -> Self {
        Self {
            app,
            export_dir: out_dir.clone(),
            viewport: (120, 36),
            out_dir,
            work: Slot::default(),
            python: None,
            lesson_dask: chunkscope::lesson::DaskSide::Recorded,
            exe: None,
            log: None,
            quit: false,
            last_pump: Instant::now(),
            background: false,
            server: None,
        }
    }

    /// The lesson's memory step starts `exe` (chunkscope itself) for each of its runs.
    pub fn with_exe(mut self, exe: Option<PathBuf>) -> Self {
        self.exe = exe;
        self
    }

    /// The lesson's steps take Dask's figures from `dask` (live runs or the recordings).
    pub fn with_lesson_dask(mut self, dask: chunkscope::lesson::DaskSide) -> Self {
        self.lesson_dask = dask;
        self
    }

    /// `D` runs Dask with `python` (checked when it starts) rather than the set-up
    /// environment.
    pub fn with_python(mut self, python: Option<PathBuf>) -> Self {
        self.python = python;
        self
    }

    /// Opens the lesson on catalog item `item` before the first frame.
    pub fn open_lesson(&mut self, item: usize) {
        self.app.selected = self
            .app
            .visible_items()
            .iter()
            .position(|&i| i == item)
            .unwrap_or(0);
        self.send(Msg::Key(crossterm::event::KeyCode::Char('L').into()));
    }

    /// Runs read the catalog's scenes through `server` (the simulated network's).
    pub fn with_server(mut self, server: Option<Probe>) -> Self {
        self.server = server;
        self
    }

    /// Inspect and prepare on background threads; their answers arrive through `pump`.
    pub fn in_background(mut self) -> Self {
        self.background = true;
        self
    }

    /// Lines from this channel (GDAL's messages) are shown in the app's log.
    pub fn with_log(mut self, log: Receiver<String>) -> Self {
        self.log = Some(log);
        self
    }

    /// `s` on the Results and Sweep screens saves into `dir`.
    pub fn with_export_dir(mut self, dir: PathBuf) -> Self {
        self.export_dir = dir;
        self
    }

    /// The terminal's current size (a saved screen is drawn at this size).
    pub fn set_viewport(&mut self, width: u16, height: u16) {
        self.viewport = (width, height);
        self.app.viewport = (width, height);
    }

    /// Runs the app's first command.
    pub fn start(&mut self) {
        if let Some(msg) = self.app.init().and_then(|cmd| self.execute(cmd)) {
            self.send(msg);
        }
    }

    pub fn quit_requested(&self) -> bool {
        self.quit
    }

    /// Feeds `msg` to the app and executes what it asks for, until nothing is left.
    pub fn send(&mut self, msg: Msg) {
        let mut next = Some(msg);
        while let Some(m) = next.take() {
            if let Some(cmd) = self.app.update(m) {
                next = self.execute(cmd);
            }
        }
    }

    /// Folds in what arrived since the last call: GDAL messages, engine events, a tick
    /// with the elapsed time, and the run's result when it is there.
    pub fn pump(&mut self) {
        let lines: Vec<String> = self
            .log
            .as_ref()
            .map(|rx| rx.try_iter().collect())
            .unwrap_or_default();
        for l in lines {
            self.send(Msg::Log(l));
        }
        let now = Instant::now();
        let dt = now.saturating_duration_since(self.last_pump);
        self.last_pump = now;
        if self.app.replaying() {
            self.send(Msg::Frame {
                dt_ns: u64::try_from(dt.as_nanos()).unwrap_or(u64::MAX),
            });
        }
        for msg in self.work.poll() {
            self.send(msg);
        }
    }

    /// Cancels the background work and waits for every thread of it (a run stops after
    /// the tasks in flight).
    pub fn shutdown(&mut self) {
        self.work.shutdown();
    }

    fn execute(&mut self, cmd: Cmd) -> Option<Msg> {
        match cmd {
            Cmd::Inspect(i) => {
                let item = self.app.catalog.items[i].clone();
                self.job(CancelFlag::new(), move || inspect(i, &item))
            }
            Cmd::Prepare {
                item: i,
                resolution,
            } => {
                let item = self.app.catalog.items[i].clone();
                self.job(CancelFlag::new(), move || prepare(i, &item, resolution))
            }
            Cmd::StartRun {
                item,
                mode,
                settings,
            } => self
                .start_run(item, mode, settings)
                .err()
                .map(|e| Msg::RunFinished(Err(e))),
            Cmd::Cancel => {
                self.work.cancel();
                None
            }
            Cmd::LoadSweep(path) => Some(Msg::SweepFinished(
                chunkscope::experiment::sweep::SweepResult::load(&path)
                    .map(|r| Box::new((r, path.display().to_string())))
                    .map_err(|e| chain(&e)),
            )),
            Cmd::StartLessonStep { item, step } => self
                .work
                .start(Kind::LessonStep, || {
                    let start = LessonStart {
                        catalog: self.app.catalog.clone(),
                        item,
                        server: self.server.clone(),
                        out_dir: self.out_dir.clone(),
                        exe: self.exe.clone(),
                        dask: self.lesson_dask.clone(),
                    };
                    Ok(Box::new(LessonJob::start(start, step)?))
                })
                .err()
                .map(|e| Msg::LessonFinished {
                    step,
                    result: Err(e),
                }),
            Cmd::SaveLessonStep(step) => Some(Msg::Exported(self.save_lesson_step(step))),
            Cmd::StartSweep { item, request } => self
                .work
                .start(Kind::Sweep, || {
                    let dask = if request.choice.engines.wants_dask() {
                        Some(super::sweep_job::DaskSide::of(
                            &self.app,
                            self.python.clone(),
                            item,
                            &request,
                        )?)
                    } else {
                        None
                    };
                    Ok(Box::new(SweepJob::start(
                        &self.app.catalog.items[item],
                        self.server.clone(),
                        request,
                        &self.out_dir,
                        dask,
                    )?))
                })
                .err()
                .map(|e| Msg::SweepFinished(Err(e))),
            Cmd::StartDask { run } => self.start_dask(run).err().map(|e| {
                Msg::DaskFinished(Err(super::model::dask::DaskFailure {
                    short: e.clone(),
                    detail: e,
                }))
            }),
            Cmd::Export => Some(Msg::Exported(self.export())),
            Cmd::Search {
                request,
                out,
                cancel,
            } => self.job(cancel.clone(), move || search(&request, &out, &cancel)),
            Cmd::ExportDask => Some(Msg::Exported(
                super::dask_script::save(&self.app, &self.export_dir, std::time::SystemTime::now())
                    .map(|path| vec![path.display().to_string()]),
            )),
            Cmd::Quit => {
                self.quit = true;
                self.work.cancel();
                None
            }
        }
    }

    /// Saves lesson step `step`'s figures as `lesson-<step>-<UTC time>.json` in the export
    /// folder.
    fn save_lesson_step(&self, step: usize) -> Result<Vec<String>, String> {
        let r = self
            .app
            .lesson_result(step)
            .ok_or("no figures to save yet: the step has not run")?;
        std::fs::create_dir_all(&self.export_dir).map_err(|e| {
            format!(
                "cannot create the export folder \"{}\": {e}",
                self.export_dir.display()
            )
        })?;
        let path = self.export_dir.join(format!(
            "lesson-{}-{}.json",
            r.step.id(),
            super::export::timestamp(std::time::SystemTime::now())
        ));
        let text = serde_json::to_string_pretty(&r.to_json()).map_err(|e| e.to_string())?;
        self.write_guard()
            .write(&path, text.as_bytes())
            .map_err(|e| format!("cannot save \"{}\": {}", path.display(), chain(&e)))?;
        Ok(vec![path.display().to_string()])
    }

    /// Saves what the screen in front shows, and the screen itself drawn as it is now.
    fn export(&self) -> Result<Vec<String>, String> {
        let (w, h) = self.viewport;
        let area = ratatui::layout::Rect::new(0, 0, w, h);
        let mut buf = ratatui::buffer::Buffer::empty(area);
        super::view::render(&self.app, area, &mut buf);
        let svg = super::svg::to_svg(&buf);
        let content = match (&self.app.screen, &self.app.results.sweep) {
            (Screen::Sweep, Some(sweep)) => export::Content::Sweep(&sweep.result),
            (Screen::Sweep, None) => return Err("no sweep to save: load one first".into()),
            _ => export::Content::Runs(&self.app.results.runs),
        };
        export::save(
            &self.write_guard(),
            &self.export_dir,
            content,
            &svg,
            std::time::SystemTime::now(),
        )
        .map(|paths| paths.iter().map(|p| p.display().to_string()).collect())
    }

    /// What every file the TUI writes goes through: never over a file of the catalog.
    fn write_guard(&self) -> WriteGuard {
        WriteGuard::for_catalog(&self.app.catalog, self.server.as_ref())
    }

    /// Answers `work` now, or on a thread of its own beside whatever else runs in
    /// background mode; `cancel` is the flag `work` checks, if any, set at shutdown.
    fn job(
        &mut self,
        cancel: CancelFlag,
        work: impl FnOnce() -> Msg + Send + 'static,
    ) -> Option<Msg> {
        if !self.background {
            return Some(work());
        }
        match Inspection::spawn(cancel, work) {
            Ok(inspection) => {
                self.work.inspect(inspection);
                None
            }
            Err(e) => Some(Msg::Log(e)),
        }
    }

    /// Starts the settings of `results.runs[run]` on Dask.
    fn start_dask(&mut self, run: usize) -> Result<(), String> {
        self.work.start(Kind::Dask, || {
            let report = self
                .app
                .results
                .runs
                .get(run)
                .ok_or("no run to repeat on Dask")?;
            let source = format!(
                "the settings of \"{}\", run on Dask from a chunkscope TUI session",
                report.label()
            );
            let settings = super::dask_script::export_settings(&self.app, report, source)?;
            let job = DaskJob::start(self.python.clone(), settings, self.out_dir.join("dask"))?;
            Ok(Box::new(job))
        })
    }

    fn start_run(&mut self, i: usize, mode: Mode, settings: RunSettings) -> Result<(), String> {
        self.work.start(Kind::Run, || {
            let item = &self.app.catalog.items[i];
            let scene = Scene::from_item(item)
                .map_err(|e| chain(&e))?
                .served_by(self.server.clone());
            std::fs::create_dir_all(&self.out_dir).map_err(|e| {
                format!(
                    "cannot create the output folder \"{}\": {e}",
                    self.out_dir.display()
                )
            })?;
            let asked = self
                .out_dir
                .join(chunkscope::output::target::default_output_name(&item.id));
            let target = WriteGuard::for_catalog(&self.app.catalog, self.server.as_ref())
                .check(&asked)
                .map_err(|e| chain(&e))?;
            let config = RunConfig {
                mode,
                resolution: settings.resolution,
                cloud_classes: CloudClasses::default(),
                output: settings.output(target.path),
                gdal_cache_mb: settings.gdal_cache_mb,
                blocks: settings.blocks,
            };
            Ok(Box::new(RunJob::start(scene, config)?) as Box<dyn Background>)
        })
    }
}

/// Each asset of `item` inspected (or why it could not be). May take seconds on remote
/// files: runs off the UI thread in the terminal loop.
/// Searches, checks the result as a catalog, saves it through the same guard as `chunkscope
/// search` and reads it back from where it was saved (relative hrefs are relative to it).
pub(crate) fn search(
    request: &chunkscope::catalog::search::SearchRequest,
    out: &std::path::Path,
    cancel: &CancelFlag,
) -> Msg {
    let result = (|| -> Result<Box<super::app::SearchDone>, String> {
        let guard = chunkscope::output::guard::WriteGuard::for_search_result(out);
        guard.check(out).map_err(|e| chain(&e))?;
        let outcome =
            chunkscope::catalog::search::search(request, cancel, |_| {}).map_err(|e| chain(&e))?;
        outcome.to_catalog(out).map_err(|e| {
            format!(
                "the API answered items chunkscope cannot use: {}",
                chain(&e)
            )
        })?;
        // Cancelled while the last page came: nothing is written.
        if cancel.is_cancelled() {
            return Err("the search was cancelled".into());
        }
        let saved = guard
            .write(out, outcome.to_json().as_bytes())
            .map_err(|e| format!("cannot save \"{}\": {}", out.display(), chain(&e)))?;
        let catalog = chunkscope::catalog::Catalog::load(&saved).map_err(|e| chain(&e))?;
        Ok(Box::new(super::app::SearchDone {
            catalog,
            saved,
            pages: outcome.pages,
            truncated: outcome.truncated,
        }))
    })();
    Msg::SearchFinished(result)
}

fn inspect(i: usize, item: &Item) -> Msg {
    let assets: Vec<AssetView> = AssetRole::ALL
        .iter()
        .map(|&role| match item.asset(role) {
            Ok(asset) => AssetView {
                key: asset.key.clone(),
                info: raster::inspect(&RasterSource::new(
                    format!("asset \"{}\" of item \"{}\"", asset.key, item.id),
                    asset.gdal_path.clone(),
                ))
                .map_err(|e| chain(&e)),
            },
            Err(e) => AssetView {
                key: role.to_string(),
                info: Err(chain(&e)),
            },
        })
        .collect();
    Msg::Inspected { item: i, assets }
}

/// The working grid's layout at `resolution` for the chunk setup (opens visual and SCL).
fn prepare(i: usize, item: &Item, resolution: Resolution) -> Msg {
    let result = Scene::from_item(item)
        .map_err(|e| chain(&e))
        .and_then(|scene| pipeline::prepare(&scene, resolution, None).map_err(|e| chain(&e)))
        .and_then(|p| {
            p.visual
                .layout(p.visual_overview)
                .map(|l| (l, p.grid))
                .ok_or_else(|| format!("visual has no level to read at {} m", resolution.metres()))
        });
    Msg::Prepared {
        item: i,
        resolution,
        result,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! The flow on the real engine: a small demo scene, keys in, screens out.
    use std::time::{Duration, Instant};

    use crossterm::event::KeyCode;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use chunkscope::catalog::Catalog;
    use chunkscope::demo::{self, DemoSpec};

    use super::*;
    use crate::tui::model::screen::Screen;
    use crate::tui::view::{buffer_text, render};

    /// A demo scene of `size` pixels and `items` items generated under `dir`, loaded.
    pub(crate) fn demo_catalog(dir: &std::path::Path, size: usize, items: usize) -> Catalog {
        let spec = DemoSpec::new(size, items).unwrap();
        let path = demo::generate(spec, &dir.join("demo"), &|_| {}).unwrap();
        Catalog::load(&path).unwrap()
    }

    fn key(s: &mut Session, code: KeyCode) {
        s.send(Msg::Key(code.into()));
    }

    fn screen(s: &Session) -> String {
        let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
        term.draw(|f| render(&s.app, f.area(), f.buffer_mut()))
            .unwrap();
        buffer_text(term.backend().buffer())
    }

    /// Pumps `s` while `going` holds for it, failing after `secs` with `what`.
    fn pump_while(s: &mut Session, going: impl Fn(&Session) -> bool, secs: u64, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while going(s) {
            assert!(Instant::now() < deadline, "{what}");
            s.pump();
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn pump_until_finished(s: &mut Session) {
        let running = |s: &Session| s.app.run.as_ref().is_some_and(|r| !r.finished());
        pump_while(s, running, 120, "run did not finish");
    }

    #[test]
    fn in_background_inspect_and_prepare_answer_through_pump() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 2);
        let mut s =
            Session::new(App::new(catalog, 2, false), dir.path().join("out")).in_background();
        s.start();
        // Nothing answered yet: the screen says so instead of waiting.
        assert!(screen(&s).contains("inspecting"), "{}", screen(&s));
        let settle = |s: &mut Session| {
            let waiting = |s: &Session| s.work.inspections() > 0;
            pump_while(s, waiting, 60, "background job did not answer");
        };
        settle(&mut s);
        assert!(screen(&s).contains("1024x1024"), "{}", screen(&s));
        // Two quick moves: only the selected scene's answer is kept, whatever the order.
        s.send(Msg::Key(KeyCode::Down.into()));
        s.send(Msg::Key(KeyCode::Up.into()));
        settle(&mut s);
        let first = s.app.catalog.items[0].id.clone();
        assert_eq!(s.app.assets.as_ref().map(|(i, _)| *i), Some(0));
        assert!(screen(&s).contains(&first));
        s.send(Msg::Key(KeyCode::Enter.into()));
        settle(&mut s);
        assert!(
            s.app.setup.as_ref().is_some_and(|st| st.layout.is_some()),
            "prepared in the background"
        );
    }

    /// The engine's errors say their cause only as a source: the run screen must show the
    /// whole chain, with GDAL's words once, not the top message alone.
    #[test]
    fn a_run_on_a_broken_raster_shows_its_cause_once() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = demo_catalog(dir.path(), 1024, 1);
        let visual = catalog.items[0]
            .asset(AssetRole::Visual)
            .unwrap()
            .gdal_path
            .clone();
        // Cut short: the header and the first blocks read, the later ones do not.
        let bytes = std::fs::read(&visual).unwrap();
        std::fs::write(&visual, &bytes[..bytes.len() / 5]).unwrap();
        // The oracle: what the engine itself says is under its error, deepest first.
        let scene = Scene::from_item(&catalog.items[0]).unwrap();
        let config = RunConfig {
            mode: Mode::Serial,
            resolution: Resolution::R20,
            cloud_classes: CloudClasses::default(),
            output: chunkscope::output::OutputSpec::new(
                dir.path().join("oracle.tif"),
                chunkscope::output::OutputFormat::Gtiff,
            ),
            gdal_cache_mb: None,
            blocks: Default::default(),
        };
        let err = pipeline::run(&scene, &config, &pipeline::RunControl::default()).unwrap_err();
        let mut cause: &dyn std::error::Error = &err;
        while let Some(below) = cause.source() {
            cause = below;
        }
        let cause = cause.to_string();
        assert!(
            !cause.is_empty() && !err.to_string().contains(&cause),
            "{err:?}"
        );

        let mut s = Session::new(App::new(catalog, 2, false), dir.path().join("out"));
        s.start();
        key(&mut s, KeyCode::Enter);
        key(&mut s, KeyCode::Char('m'));
        key(&mut s, KeyCode::Enter);
        pump_until_finished(&mut s);
        let shown = s.app.run.as_ref().and_then(|r| r.error.clone());
        let shown = shown.expect("the run fails");
        assert!(shown.starts_with(&err.to_string()), "{shown}");
        assert_eq!(shown.matches(&cause).count(), 1, "{shown}");
    }

    #[test]
    fn keys_drive_a_chunked_run_on_the_real_engine() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 3);
        let second = catalog.items[1].id.clone();
        let out = dir.path().join("out");
        let mut s = Session::new(App::new(catalog, 2, false), out.clone());
        s.start();
        let text = screen(&s);
        assert!(text.contains("1024x1024"), "{text}");

        // Select the second scene: its assets are inspected.
        key(&mut s, KeyCode::Down);
        assert_eq!(s.app.assets.as_ref().map(|a| a.0), Some(1));
        let text = screen(&s);
        assert!(text.contains(&format!("Assets of {second}")), "{text}");

        // Chunk setup: the 20 m grid is 512x512 with 128 blocks; blocks:2 gives 256.
        key(&mut s, KeyCode::Enter);
        assert_eq!(s.app.screen, Screen::Setup);
        let setup = s.app.setup.as_ref().unwrap();
        let plan = setup.plan.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(setup.chunks[1..], [256, 256]);
        assert_eq!(plan.chunk_count, 4);
        let text = screen(&s);
        assert!(text.contains("4 chunks"), "{text}");
        assert!(text.contains("✓ aligned"), "{text}");

        // Rows down one block: 128 x 256 chunks, 8 of them.
        key(&mut s, KeyCode::Left);
        let plan = s.app.setup.as_ref().unwrap().plan.clone().unwrap().unwrap();
        assert_eq!((plan.shape.rows, plan.shape.cols), (128, 256));
        assert_eq!(plan.chunk_count, 8);
        assert!(screen(&s).contains("8 chunks"));

        // Free mode: rows 128 -> 130 (steps of 10 on small blocks), misaligned.
        key(&mut s, KeyCode::Char('f'));
        key(&mut s, KeyCode::Right);
        let plan = s.app.setup.as_ref().unwrap().plan.clone().unwrap().unwrap();
        assert_eq!(plan.shape.rows, 130);
        assert!(!plan.aligned);
        assert!(plan.read_amplification > 1.0);
        assert!(screen(&s).contains("✗ not aligned"));

        // Back to an aligned preset, then run.
        key(&mut s, KeyCode::Char('1'));
        let plan = s.app.setup.as_ref().unwrap().plan.clone().unwrap().unwrap();
        assert_eq!((plan.shape.rows, plan.shape.cols), (128, 128));
        assert_eq!(plan.chunk_count, 16);
        key(&mut s, KeyCode::Char('r'));
        assert_eq!(s.app.screen, Screen::Run);
        pump_until_finished(&mut s);
        let run = s.app.run.as_ref().unwrap();
        assert!(run.error.is_none(), "{:?}", run.error);
        assert_eq!(run.tasks_done, 48);
        let text = screen(&s);
        assert!(text.contains("✓ done"), "{text}");
        assert!(text.contains("CPU times: user"), "{text}");
        assert!(text.contains("Wall time:"), "{text}");
        assert!(text.contains("48/48 tasks"), "{text}");
        assert!(out.join(format!("masked-{second}.tif")).exists());

        // Back to setup, serial mode, run again.
        key(&mut s, KeyCode::Esc);
        assert_eq!(s.app.screen, Screen::Setup);
        key(&mut s, KeyCode::Char('m'));
        key(&mut s, KeyCode::Enter);
        pump_until_finished(&mut s);
        let text = screen(&s);
        assert!(text.contains("serial"), "{text}");
        assert!(text.contains("Wall time:"), "{text}");
        key(&mut s, KeyCode::Char('q'));
        assert!(s.quit_requested());
    }

    fn screen_at(s: &Session, w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| render(&s.app, f.area(), f.buffer_mut()))
            .unwrap();
        let text = buffer_text(term.backend().buffer());
        if std::env::var_os("CHUNKSCOPE_DUMP_SCREENS").is_some() {
            eprintln!("{text}");
        }
        text
    }

    /// The chunks whose write had ended by `t_ns`, straight from the task records.
    /// Chunks whose write task ended by `t_ns` and on whose tiles no helper is at work
    /// then (a helped chunk shows as writing again while the help runs).
    fn written_by(tasks: &[chunkscope::task::TaskRecord], t_ns: u64) -> Vec<u32> {
        let writes = || {
            tasks
                .iter()
                .filter(|t| t.stage == chunkscope::task::Stage::Write)
        };
        let mut v: Vec<u32> = writes()
            .filter(|t| !t.helping && t.end_ns <= t_ns)
            .map(|t| t.chunk)
            .filter(|&c| {
                !writes()
                    .any(|h| h.helping && h.chunk == c && h.start_ns <= t_ns && t_ns < h.end_ns)
            })
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn a_real_run_draws_meters_gantt_replay_and_repeat() {
        use chunkscope::profile::units;
        use chunkscope::task::Stage;

        use crate::tui::model::run::ChunkState;
        use crate::tui::view::gantt::{Window, lanes};
        use crate::tui::view::run::map_view;

        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 1);
        let mut s = Session::new(App::new(catalog, 2, false), dir.path().join("out"));
        s.start();
        key(&mut s, KeyCode::Enter);
        key(&mut s, KeyCode::Char('1')); // 128 x 128 chunks: 16 of them
        key(&mut s, KeyCode::Char('r'));
        pump_until_finished(&mut s);
        let run = s.app.run.as_ref().unwrap();
        assert!(run.error.is_none(), "{:?}", run.error);
        let rep = run.report.clone().unwrap();
        assert_eq!(run.chunks.len(), 16);
        // Whatever samples arrived live are the report's, in order.
        assert!(run.live.samples.len() <= rep.cpu.samples.len());
        for (live, reported) in run.live.samples.iter().zip(&rep.cpu.samples) {
            assert_eq!(live, reported);
        }

        for (w, h) in [(80, 24), (160, 48)] {
            let text = screen_at(&s, w, h);
            assert!(text.contains("✓ done"), "{text}");
            assert!(text.contains("Task stream"), "{text}");
            assert!(text.contains("│w0 "), "{text}");
            assert!(text.contains("│w1 "), "{text}");
            assert!(text.contains("heat ▂ "), "{text}");
            assert!(text.contains("Wall time:"), "{text}");
            assert!(text.contains("overhead"), "{text}");
        }
        let text = screen_at(&s, 160, 48);
        assert!(text.contains("CPU and memory"), "{text}");
        // The sampler ticks every 100 ms; this small run may end before the first tick.
        if rep.cpu.samples.is_empty() {
            assert!(
                text.contains("no sample: the run was shorter than"),
                "{text}"
            );
        } else {
            assert!(text.contains("per core, mean over the run"), "{text}");
            assert!(text.contains("c0 "), "{text}");
            // The process figure is the run's mean too, not the last sample's.
            let mean = units::cpu_use(f64::from(rep.cpu.process_cpu_mean_pct));
            assert!(text.contains(&format!("process CPU {mean}")), "{text}");
        }
        assert!(text.contains(&format!("measured {}", units::share(rep.overhead.share))));
        assert!(text.contains("barrier idle"), "{text}");
        // Heat legend: the real fastest and slowest done chunk.
        let busy = crate::tui::model::run::chunk_busy(&rep.tasks, 16);
        let (lo, hi) = (busy.iter().min().unwrap(), busy.iter().max().unwrap());
        assert!(text.contains(&units::duration_ns(*lo)), "{text}");
        assert!(text.contains(&units::duration_ns(*hi)), "{text}");

        // The Gantt after the run comes from the report: every worker with a task has a
        // lane with cells, and every task's start column is painted.
        let w = Window::whole(rep.wall_ns, 60);
        let cells = lanes(&rep.tasks, &[], rep.config.threads, w, u64::MAX);
        for t in &rep.tasks {
            let col = usize::try_from(t.start_ns / w.col_ns).unwrap();
            assert!(cells[usize::from(t.worker)][col].is_some(), "{t:?}");
        }

        // Any size from the minimum up draws without panicking.
        for (w, h) in [
            (60, 16),
            (61, 17),
            (100, 30),
            (119, 31),
            (120, 32),
            (250, 80),
        ] {
            screen_at(&s, w, h);
        }

        // Replay: half the wall time at 0.1x takes five wall times of real time.
        key(&mut s, KeyCode::Char('p'));
        assert!(s.app.replaying());
        s.send(Msg::Frame {
            dt_ns: rep.wall_ns * 5,
        });
        let run = s.app.run.as_ref().unwrap();
        let p = run.replay.unwrap();
        assert_eq!(p.t_ns, rep.wall_ns / 2);
        let label = format!(
            "REPLAY 0.1x — real time {} of {}",
            units::duration_ns(p.t_ns),
            units::duration_ns(rep.wall_ns)
        );
        for (w, h) in [(80, 24), (160, 48)] {
            let text = screen_at(&s, w, h);
            assert!(text.contains(&label), "{label}\n{text}");
            assert!(text.contains("replay time"), "{text}");
        }
        // Scrub through the whole run: the map shows exactly the chunks written by then.
        for _ in 0..45 {
            key(&mut s, KeyCode::Char('['));
        }
        assert_eq!(s.app.run.as_ref().unwrap().replay.unwrap().t_ns, 0);
        for _ in 0..45 {
            let run = s.app.run.as_ref().unwrap();
            let t = run.replay.unwrap().t_ns;
            let (states, _) = map_view(run);
            let shown: Vec<u32> = (0..u32::try_from(states.len()).unwrap())
                .filter(|&i| states[i as usize] == ChunkState::Done(Stage::Write))
                .collect();
            assert_eq!(shown, written_by(&rep.tasks, t), "at {t} ns");
            key(&mut s, KeyCode::Char(']'));
        }
        for (w, h) in [(60, 16), (120, 32), (250, 80)] {
            screen_at(&s, w, h);
        }
        let run = s.app.run.as_ref().unwrap();
        assert_eq!(
            run.replay.unwrap().t_ns,
            run.report.as_ref().unwrap().wall_ns
        );
        assert_eq!(map_view(run).0, vec![ChunkState::Done(Stage::Write); 16]);
        key(&mut s, KeyCode::Esc);
        assert!(!s.app.replaying(), "Esc leaves the replay");
        assert_eq!(s.app.screen, Screen::Run);

        // Repeat: a warm-up, five runs, then the engine's spread of their wall times.
        key(&mut s, KeyCode::Char('R'));
        pump_until_finished(&mut s);
        let run = s.app.run.as_ref().unwrap();
        let repeat = run.repeat.as_ref().unwrap();
        assert_eq!(repeat.walls_ns.len(), 5);
        assert_eq!(repeat.warmups_done, 1);
        assert!(!repeat.wants_more());
        let t = repeat.timing.as_ref().unwrap();
        assert_eq!(t.n, 5);
        let line = format!(
            "repeat 5/5 + 1 warm-up · wall {}",
            units::spread(t.median_ns, t.stdev_ns, t.min_ns, t.max_ns, t.n)
        );
        let text = screen_at(&s, 160, 48);
        assert!(text.contains(&line), "{line}\n{text}");
        assert!(text.contains("repeat 5/5"), "{text}");
        // One `%%time` line per measured run: the first one and the five repeats (the
        // warm-up stays out of the history).
        assert_eq!(s.app.results.runs.len(), 6);
        let last = s.app.run.as_ref().unwrap().report.as_ref().unwrap();
        let text = screen_at(&s, 200, 50);
        assert!(
            text.contains("#6 chunked x 2 (3,128,128, staged)"),
            "{text}"
        );
        assert!(text.contains(&last.time_line()), "{text}");
    }

    #[test]
    fn the_label_shown_while_running_is_the_one_the_report_gives() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 1);
        let mut s = Session::new(App::new(catalog, 2, false), dir.path().join("out"));
        s.start();
        key(&mut s, KeyCode::Enter);
        key(&mut s, KeyCode::Char('1'));
        // Chunked with the chunked writer, then serial with GDAL's.
        let mut labels = Vec::new();
        for keys in [
            &[][..],
            &[KeyCode::Esc, KeyCode::Char('m'), KeyCode::Char('w')][..],
        ] {
            for k in keys {
                key(&mut s, *k);
            }
            key(&mut s, KeyCode::Char('r'));
            let shown = s.app.run.as_ref().unwrap().label.clone();
            pump_until_finished(&mut s);
            let run = s.app.run.as_ref().unwrap();
            assert!(run.error.is_none(), "{:?}", run.error);
            assert_eq!(shown, run.report.as_ref().unwrap().label());
            labels.push(shown);
        }
        assert_eq!(labels[1], "serial · GDAL writer");
    }

    #[test]
    fn cancelling_a_repeat_stops_it() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 1);
        let mut s = Session::new(App::new(catalog, 1, false), dir.path().join("out"));
        s.start();
        key(&mut s, KeyCode::Enter);
        key(&mut s, KeyCode::Char('1'));
        key(&mut s, KeyCode::Char('R'));
        assert_eq!(s.app.screen, Screen::Run);
        key(&mut s, KeyCode::Char('c'));
        pump_until_finished(&mut s);
        let run = s.app.run.as_ref().unwrap();
        let repeat = run.repeat.as_ref().unwrap();
        assert!(repeat.stopped);
        assert!(!repeat.wants_more());
        assert!(repeat.walls_ns.len() <= 1, "{:?}", repeat.walls_ns);
        assert!(
            screen(&s).contains("repeat stopped before a run finished")
                || screen(&s).contains("(stopped)"),
            "{}",
            screen(&s)
        );
        // Nothing else starts: the session has no run going.
        s.pump();
        assert!(!s.app.running());
        assert_eq!(s.work.busy(), None);
    }

    #[test]
    fn cancel_and_quit_during_a_run() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 1);
        let mut s = Session::new(App::new(catalog, 1, true), dir.path().join("out"));
        s.start();
        key(&mut s, KeyCode::Enter);
        // Smallest aligned chunks and one thread: long enough to cancel.
        key(&mut s, KeyCode::Char('1'));
        key(&mut s, KeyCode::Char('r'));
        key(&mut s, KeyCode::Char('q'));
        assert!(!s.quit_requested(), "first q cancels the run");
        assert!(s.app.run.as_ref().unwrap().cancelling);
        pump_until_finished(&mut s);
        assert!(s.quit_requested(), "quits once the run stopped");
        let run = s.app.run.as_ref().unwrap();
        assert!(run.error.is_none(), "{:?}", run.error);
    }

    #[test]
    fn while_a_run_goes_on_the_session_refuses_other_work_with_the_runs_message() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 1);
        let mut s = Session::new(App::new(catalog, 1, false), dir.path().join("out"));
        s.start();
        key(&mut s, KeyCode::Enter);
        key(&mut s, KeyCode::Char('1'));
        let r = Msg::Key(KeyCode::Char('r').into());
        let Some(Cmd::StartRun { settings, mode, .. }) = s.app.update(r) else {
            panic!("r starts a run");
        };
        let first = Cmd::StartRun {
            item: 0,
            mode: mode.clone(),
            settings,
        };
        assert!(s.execute(first).is_none());
        assert_eq!(s.work.busy(), Some(Kind::Run));
        let busy = Kind::Run.busy_message();
        // Asked of the session directly (the app refuses these keys itself first).
        match s.execute(Cmd::StartRun {
            item: 0,
            mode,
            settings,
        }) {
            Some(Msg::RunFinished(Err(e))) => assert_eq!(e, busy),
            other => panic!("{other:?}"),
        }
        match s.execute(Cmd::StartLessonStep { item: 0, step: 0 }) {
            Some(Msg::LessonFinished { result: Err(e), .. }) => assert_eq!(e, busy),
            other => panic!("{other:?}"),
        }
        match s.execute(Cmd::StartDask { run: 0 }) {
            Some(Msg::DaskFinished(Err(e))) => assert_eq!(e.short, busy),
            other => panic!("{other:?}"),
        }
        // One cancel reaches it, and the slot is free once it stopped.
        assert!(s.execute(Cmd::Cancel).is_none());
        pump_while(
            &mut s,
            |s| s.work.busy().is_some(),
            120,
            "the run did not stop",
        );
    }

    #[test]
    fn shutdown_waits_for_the_inspections_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 2);
        let mut s =
            Session::new(App::new(catalog, 2, false), dir.path().join("out")).in_background();
        s.start();
        s.send(Msg::Key(KeyCode::Down.into()));
        s.send(Msg::Key(KeyCode::Up.into()));
        s.shutdown();
        assert_eq!(s.work.inspections(), 0);
        assert_eq!(s.work.busy(), None);
    }

    #[test]
    fn a_missing_asset_file_is_an_error_panel_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 1);
        let visual = &catalog.items[0].asset_by_key("visual").unwrap().gdal_path;
        std::fs::remove_file(visual).unwrap();
        let mut s = Session::new(App::new(catalog, 1, true), dir.path().join("out"));
        s.start();
        assert!(screen(&s).contains("✗ error"));
        key(&mut s, KeyCode::Enter);
        let text = screen(&s);
        assert!(text.contains("cannot use this scene"), "{text}");
    }
}
