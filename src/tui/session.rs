//! The side of the TUI that does things: executes the [`Cmd`]s that [`App::update`]
//! returns (inspect rasters, prepare a plan, start and cancel runs) and turns what comes
//! back — engine events, run results, GDAL messages — into [`Msg`]s. Owns the run's
//! background thread. Used by the terminal loop and, without a terminal, by tests.

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, TryRecvError};

use chunkscope::catalog::AssetRole;
use chunkscope::pipeline::{
    self, CancelFlag, CloudClasses, Event, EventSink, Mode, Resolution, RunConfig, RunControl,
    RunReport, Scene,
};
use chunkscope::raster::{self, OutputFormat, OutputSpec, RasterSource};

use super::app::{App, AssetView, Cmd, Msg, Screen};
use super::export;
use super::sweep_job::SweepJob;

/// Engine events buffered between two frames; beyond this they are dropped and counted.
const EVENT_CAPACITY: usize = 16 * 1024;

struct RunHandle {
    events: Receiver<Event>,
    done: Receiver<Result<RunReport, String>>,
    cancel: CancelFlag,
    sink: EventSink,
    started: Instant,
    thread: Option<JoinHandle<()>>,
}

/// The app plus what executes its commands.
pub struct Session {
    pub app: App,
    out_dir: PathBuf,
    /// Where `s` saves results; `out_dir` unless [`Session::with_export_dir`] says otherwise.
    export_dir: PathBuf,
    /// The terminal's size, so a saved screen matches the one drawn.
    viewport: (u16, u16),
    run: Option<RunHandle>,
    sweep: Option<SweepJob>,
    log: Option<Receiver<String>>,
    quit: bool,
}

impl Session {
    /// `out_dir` receives `masked-<item>.tif`; it is created when a run starts.
    pub fn new(app: App, out_dir: PathBuf) -> Self {
        Self {
            app,
            export_dir: out_dir.clone(),
            viewport: (120, 36),
            out_dir,
            run: None,
            sweep: None,
            log: None,
            quit: false,
        }
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
        if let Some(job) = self.sweep.as_mut() {
            let (msgs, over) = job.poll();
            if over {
                self.sweep = None;
            }
            for m in msgs {
                self.send(m);
            }
        }
        let Some(run) = &self.run else { return };
        let events: Vec<Event> = run.events.try_iter().collect();
        let tick = Msg::Tick {
            elapsed_ns: u64::try_from(run.started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            dropped: run.sink.dropped(),
        };
        let done = match run.done.try_recv() {
            Ok(result) => Some(result),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(
                "the run stopped without a report (see the log)".to_string(),
            )),
        };
        for ev in events {
            self.send(Msg::Engine(ev));
        }
        self.send(tick);
        if let Some(result) = done {
            if let Some(mut run) = self.run.take() {
                // Events sent just before the result.
                let late: Vec<Event> = run.events.try_iter().collect();
                for ev in late {
                    self.send(Msg::Engine(ev));
                }
                if let Some(t) = run.thread.take() {
                    let _ = t.join();
                }
            }
            self.send(Msg::RunFinished(result.map(Box::new)));
        }
    }

    /// Cancels a running run and waits for it to stop (after the tasks in flight).
    pub fn shutdown(&mut self) {
        if let Some(job) = self.sweep.take() {
            job.shutdown();
        }
        if let Some(mut run) = self.run.take() {
            run.cancel.cancel();
            let _ = run.done.recv();
            if let Some(t) = run.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn execute(&mut self, cmd: Cmd) -> Option<Msg> {
        match cmd {
            Cmd::Inspect(i) => Some(self.inspect(i)),
            Cmd::Prepare(i) => Some(self.prepare(i)),
            Cmd::StartRun { item, mode } => self
                .start_run(item, mode)
                .err()
                .map(|e| Msg::RunFinished(Err(e))),
            Cmd::Cancel => {
                if let Some(run) = &self.run {
                    run.cancel.cancel();
                }
                if let Some(job) = &self.sweep {
                    job.cancel();
                }
                None
            }
            Cmd::LoadSweep(path) => Some(Msg::SweepFinished(
                chunkscope::profile::sweep::SweepResult::load(&path)
                    .map(|r| Box::new((r, path.display().to_string())))
                    .map_err(|e| format!("{:#}", anyhow::Error::new(e))),
            )),
            Cmd::StartSweep { item, request } => {
                if self.sweep.is_some() || self.run.is_some() {
                    return Some(Msg::SweepFinished(Err(
                        "a run or sweep is already going".into()
                    )));
                }
                match SweepJob::start(&self.app.catalog.items[item], request, &self.out_dir) {
                    Ok(job) => {
                        self.sweep = Some(job);
                        None
                    }
                    Err(e) => Some(Msg::SweepFinished(Err(e))),
                }
            }
            Cmd::Export => Some(Msg::Exported(self.export())),
            Cmd::Quit => {
                self.quit = true;
                if let Some(run) = &self.run {
                    run.cancel.cancel();
                }
                if let Some(job) = &self.sweep {
                    job.cancel();
                }
                None
            }
        }
    }

    /// Saves what the screen in front shows, and the screen itself drawn as it is now.
    fn export(&self) -> Result<Vec<String>, String> {
        let (w, h) = self.viewport;
        let area = ratatui::layout::Rect::new(0, 0, w, h);
        let mut buf = ratatui::buffer::Buffer::empty(area);
        super::view::render(&self.app, area, &mut buf);
        let svg = super::screenshot::to_svg(&buf);
        let runs = self.app.results.runs();
        let content = match (&self.app.screen, &self.app.results.sweep) {
            (Screen::Sweep, Some(sweep)) => export::Content::Sweep(&sweep.result),
            (Screen::Sweep, None) => return Err("no sweep to save: load one first".into()),
            _ => export::Content::Runs(&runs),
        };
        export::save(
            &self.export_dir,
            content,
            &svg,
            std::time::SystemTime::now(),
        )
        .map(|paths| paths.iter().map(|p| p.display().to_string()).collect())
    }

    fn inspect(&self, i: usize) -> Msg {
        let item = &self.app.catalog.items[i];
        let assets = AssetRole::ALL
            .iter()
            .map(|&role| match item.asset(role) {
                Ok(asset) => AssetView {
                    key: asset.key.clone(),
                    info: raster::inspect(&RasterSource::new(
                        format!("asset \"{}\" of item \"{}\"", asset.key, item.id),
                        asset.gdal_path.clone(),
                    ))
                    .map_err(|e| e.to_string()),
                },
                Err(e) => AssetView {
                    key: role.to_string(),
                    info: Err(e.to_string()),
                },
            })
            .collect();
        Msg::Inspected { item: i, assets }
    }

    fn prepare(&self, i: usize) -> Msg {
        let item = &self.app.catalog.items[i];
        let result = Scene::from_item(item)
            .map_err(|e| e.to_string())
            .and_then(|scene| {
                pipeline::prepare(&scene, Resolution::R20, None).map_err(|e| e.to_string())
            })
            .and_then(|p| {
                p.visual
                    .layout(p.visual_overview)
                    .map(|l| (l, p.grid))
                    .ok_or_else(|| "visual has no overview to read at 20 m".to_string())
            });
        Msg::Prepared { item: i, result }
    }

    fn start_run(&mut self, i: usize, mode: Mode) -> Result<(), String> {
        if self.run.is_some() {
            return Err("a run is already going".into());
        }
        if self.sweep.is_some() {
            // Two at once would each disturb the other's timings.
            return Err(
                "a sweep is running: wait for it, or cancel it (c on the sweep screen)".into(),
            );
        }
        let item = &self.app.catalog.items[i];
        let scene = Scene::from_item(item).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&self.out_dir).map_err(|e| {
            format!(
                "cannot create the output folder \"{}\": {e}",
                self.out_dir.display()
            )
        })?;
        let config = RunConfig {
            mode,
            resolution: Resolution::R20,
            cloud_classes: CloudClasses::default(),
            output: OutputSpec {
                path: self.out_dir.join(format!("masked-{}.tif", item.id)),
                format: OutputFormat::Cog,
                compress: None,
            },
        };
        let (sink, events) = EventSink::bounded(EVENT_CAPACITY);
        let cancel = CancelFlag::new();
        let control = RunControl {
            events: sink.clone(),
            cancel: cancel.clone(),
            ..RunControl::default()
        };
        let (tx, done) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name("chunkscope-run".into())
            .spawn(move || {
                let result = pipeline::run(&scene, &config, &control).map_err(|e| e.to_string());
                let _ = tx.send(result);
            })
            .map_err(|e| format!("cannot start the run thread: {e}"))?;
        self.run = Some(RunHandle {
            events,
            done,
            cancel,
            sink,
            started: Instant::now(),
            thread: Some(thread),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The flow on the real engine: a small demo scene, keys in, screens out.
    use std::time::{Duration, Instant};

    use crossterm::event::KeyCode;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use chunkscope::catalog::Catalog;
    use chunkscope::demo::{self, DemoSpec};

    use super::*;
    use crate::tui::app::Screen;
    use crate::tui::view::{buffer_text, render};

    fn key(s: &mut Session, code: KeyCode) {
        s.send(Msg::Key(code.into()));
    }

    fn screen(s: &Session) -> String {
        let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
        term.draw(|f| render(&s.app, f.area(), f.buffer_mut()))
            .unwrap();
        buffer_text(term.backend().buffer())
    }

    fn pump_until_finished(s: &mut Session) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while s.app.run.as_ref().is_some_and(|r| !r.finished()) {
            assert!(Instant::now() < deadline, "run did not finish");
            s.pump();
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn keys_drive_a_chunked_run_on_the_real_engine() {
        let dir = tempfile::tempdir().unwrap();
        let spec = DemoSpec::new(1024, 3).unwrap();
        let catalog = demo::generate(spec, &dir.path().join("demo"), &|_| {}).unwrap();
        let catalog = Catalog::load(&catalog).unwrap();
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

    #[test]
    fn cancel_and_quit_during_a_run() {
        let dir = tempfile::tempdir().unwrap();
        let spec = DemoSpec::new(1024, 1).unwrap();
        let catalog = demo::generate(spec, &dir.path().join("demo"), &|_| {}).unwrap();
        let catalog = Catalog::load(&catalog).unwrap();
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
    fn a_missing_asset_file_is_an_error_panel_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let spec = DemoSpec::new(1024, 1).unwrap();
        let catalog = demo::generate(spec, &dir.path().join("demo"), &|_| {}).unwrap();
        let catalog = Catalog::load(&catalog).unwrap();
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
