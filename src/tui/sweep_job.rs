//! A chunk-size sweep started from the TUI: the engine's [`sweep::sweep`] on its own
//! thread, its progress and result turned into [`Msg`]s for the app. The session owns the
//! job and polls it each frame; cancelling stops between runs (the run in flight finishes
//! and is discarded, as the engine does).

use std::path::{Path, PathBuf};

use chunkscope::catalog::{AssetRole, Item};
use chunkscope::chunks::ChunkShape;
use chunkscope::dask::export::{ExportSettings, Scheduler};
use chunkscope::dask::runner::DaskRunner;
use chunkscope::error::chain;
use chunkscope::experiment::engine::Engines;
use chunkscope::experiment::rounds::{Repetition, RunBase};
use chunkscope::experiment::sweep::{self, SweepResult, SweepSpec};
use chunkscope::network::Probe;
use chunkscope::pipeline::{CloudClasses, Scene};
use chunkscope::task::CancelFlag;

use super::app::{App, Msg};
use super::job::Job;
use super::model::sweep::SweepRequest;
use super::work::Background;

/// What the Dask side of a sweep needs (`e` chose Dask or both): the Python asked for
/// (`tui --python`, else the environment `chunkscope dask setup` made) and the settings
/// every Dask run shares; chunks and threads are set per run.
pub struct DaskSide {
    pub python: Option<PathBuf>,
    pub settings: ExportSettings,
}

impl DaskSide {
    /// The Dask side of a sweep of `item` with `request`'s settings, or why there is none.
    pub fn of(
        app: &App,
        python: Option<PathBuf>,
        item: usize,
        request: &SweepRequest,
    ) -> Result<Self, String> {
        if app.network.is_some() {
            return Err(
                "Dask cannot read through chunkscope's simulated network; serve the folder \
                 with `chunkscope serve` and open its URL, or sweep chunkscope alone (e)"
                    .into(),
            );
        }
        let item = app
            .catalog
            .items
            .get(item)
            .ok_or("the scene is not in the catalog")?;
        let key = |role: AssetRole| -> Result<String, String> {
            Ok(item.asset(role).map_err(|e| chain(&e))?.key.clone())
        };
        let t = &request.settings;
        let tile = app
            .setup
            .as_ref()
            .and_then(|s| s.layout)
            .map_or(1024, |l| l.block_rows.max(l.block_cols));
        Ok(Self {
            python,
            settings: ExportSettings {
                catalog: super::dask_script::script_catalog(app)?,
                item: item.id.clone(),
                visual_key: key(AssetRole::Visual)?,
                scl_key: key(AssetRole::Scl)?,
                resolution: t.resolution,
                request: String::new(),
                chunks: ChunkShape {
                    bands: 1,
                    rows: 1,
                    cols: 1,
                },
                threads: 1,
                schedule: request.schedule,
                cloud_classes: CloudClasses::default().to_vec(),
                format: t.format,
                codec: t.codec,
                tile,
                gdal_cache_mb: t.gdal_cache_mb,
                scheduler: Scheduler::LocalCluster,
                out: String::new(),
                stream: String::new(),
                source: "a sweep of a chunkscope TUI session".into(),
            },
        })
    }

    /// The runner, once its Python is found and checked: a message that leads with the
    /// fix when it is not (as `D` says it).
    fn runner(self, dir: PathBuf) -> Result<DaskRunner, String> {
        let env = chunkscope::dask::python::resolve(self.python.as_deref())
            .map_err(|e| super::dask_job::python_failure(&e).short)?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create the folder \"{}\": {e}", dir.display()))?;
        let runner = DaskRunner::new(env.python, self.settings, dir, None);
        runner
            .check()
            .map_err(|e| format!("Dask cannot run these settings: {}", chain(&e)))?;
        Ok(runner)
    }
}

/// A sweep running on its own thread.
pub struct SweepJob {
    job: Job<SweepResult>,
}

impl SweepJob {
    /// Starts the sweep on `item`, read through `server` if the catalog is served by one;
    /// every run writes (and replaces) `out_dir/sweep-<item>.tif`.
    pub fn start(
        item: &Item,
        server: Option<Probe>,
        request: SweepRequest,
        out_dir: &Path,
        dask: Option<DaskSide>,
    ) -> Result<Self, String> {
        let scene = Scene::from_item(item)
            .map_err(|e| chain(&e))?
            .served_by(server);
        std::fs::create_dir_all(out_dir).map_err(|e| {
            format!(
                "cannot create the output folder \"{}\": {e}",
                out_dir.display()
            )
        })?;
        let settings = request.settings;
        let base = RunBase {
            resolution: settings.resolution,
            cloud_classes: CloudClasses::default(),
            output: settings.output(out_dir.join(format!(
                "sweep-{}.tif",
                chunkscope::output::target::file_safe(&item.id)
            ))),
            gdal_cache_mb: settings.gdal_cache_mb,
            blocks: settings.blocks,
        };
        let spec = SweepSpec {
            chunks: request.chunks,
            threads: request.threads,
            schedule: request.schedule,
            repetition: Repetition {
                repeat: request.repeat.max(1),
                // The first run reads the files from disk, not the page cache: unmeasured.
                warmup: 1,
            },
            budget: request.choice.budget,
        };
        let engines = request.choice.engines.list();
        let dask_dir = out_dir.join("dask");
        let cancel = CancelFlag::new();
        let flag = cancel.clone();
        let job = Job::spawn("chunkscope-sweep", "the sweep", cancel, move |report| {
            // Finding and checking the Python starts a process: here, not on the UI thread.
            let runner = match dask {
                Some(side) => Some(side.runner(dask_dir)?),
                None => None,
            };
            let engines = Engines {
                asked: engines.as_deref(),
                dask: runner.as_ref(),
            };
            sweep::sweep_on(&scene, &base, &spec, engines, &flag, report)
                .map_err(|e| format!("the sweep failed: {}", chain(&e)))
        })?;
        Ok(Self { job })
    }
}

impl Background for SweepJob {
    fn cancel(&self) {
        self.job.cancel();
    }

    /// What happened since the last poll; the last message is [`Msg::SweepFinished`] once
    /// the sweep is over (then the job is done and can be dropped).
    fn poll(&mut self) -> (Vec<Msg>, bool) {
        let mut msgs: Vec<Msg> = self
            .job
            .progress()
            .into_iter()
            .map(|(done, total, label)| Msg::SweepProgress { done, total, label })
            .collect();
        let finished = self.job.finished();
        let over = finished.is_some();
        if let Some(result) = finished {
            msgs.push(Msg::SweepFinished(
                result.map(|r| Box::new((r, "this session".to_string()))),
            ));
        }
        (msgs, over)
    }

    /// Cancels and waits for the thread (after the run in flight).
    fn shutdown(self: Box<Self>) {
        self.job.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crossterm::event::KeyCode;

    use crate::tui::app::{App, Msg};

    use crate::tui::model::screen::Screen;
    use crate::tui::session::Session;

    #[test]
    fn r_on_the_sweep_screen_sweeps_around_the_chunk_setup() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 1);
        let mut s = Session::new(App::new(catalog, 2, false), dir.path().join("out"));
        s.start();
        let key = |s: &mut Session, c: KeyCode| s.send(Msg::Key(c.into()));
        // Without a chosen scene there is nothing to sweep: the screen says so.
        key(&mut s, KeyCode::Tab);
        assert_eq!(s.app.screen, Screen::Scenes, "Tab means nothing on scenes");
        key(&mut s, KeyCode::Enter);
        key(&mut s, KeyCode::Tab);
        key(&mut s, KeyCode::Tab);
        assert_eq!(s.app.screen, Screen::Sweep);
        key(&mut s, KeyCode::Char('r'));
        assert!(s.app.results.sweep_job.is_some());
        // A run cannot start meanwhile: the setup stays, and the status line says why.
        key(&mut s, KeyCode::Esc);
        assert_eq!(s.app.screen, Screen::Setup);
        key(&mut s, KeyCode::Char('r'));
        assert_eq!(s.app.screen, Screen::Setup);
        assert!(s.app.run.is_none(), "no run started");
        let said = s.app.results.notice.as_ref().map(|n| n.line());
        let said = said.unwrap_or_default();
        assert!(said.contains("a sweep is going"), "{said:?}");
        key(&mut s, KeyCode::Tab);
        key(&mut s, KeyCode::Tab);
        assert_eq!(s.app.screen, Screen::Sweep);
        let deadline = Instant::now() + Duration::from_secs(300);
        while s.app.results.sweep_job.is_some() {
            assert!(Instant::now() < deadline, "sweep did not finish");
            s.pump();
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(s.app.results.sweep_error, None);
        let sweep = &s.app.results.sweep.as_ref().expect("a sweep").result;
        // Serial, then on this 512 x 512 grid of 128-pixel blocks: 256 (2x2 blocks, the
        // setup's too), one block and 2048 (the whole grid; 1000 and auto come to it too),
        // on 1, 2 and 4 threads.
        assert_eq!(sweep.rows.len(), 1 + 3 * 3);
        assert!(sweep.rows[0].is_serial());
        assert_eq!(sweep.rows[1].label, "chunked x 1 @ 256");
        // It concludes, one way or the other, from the leaders' extra runs.
        assert!(sweep.best.is_some() != sweep.no_clear_winner.is_some());
        assert!(sweep.extra_runs > 0 || sweep.best.is_some());
        assert_eq!(s.app.results.sweep.as_ref().unwrap().source, "this session");

        // Save it, then open the saved file with o.
        key(&mut s, KeyCode::Char('s'));
        let Some(crate::tui::model::results::Notice::Saved(paths)) = s.app.results.notice.clone()
        else {
            panic!("{:?}", s.app.results.notice);
        };
        s.app.results.sweep = None;
        key(&mut s, KeyCode::Char('o'));
        for c in "nowhere.json".chars() {
            key(&mut s, KeyCode::Char(c));
        }
        key(&mut s, KeyCode::Enter);
        let err = s
            .app
            .results
            .sweep_error
            .clone()
            .expect("a missing file is an error");
        assert!(
            err.contains("cannot read the sweep file \"nowhere.json\""),
            "{err}"
        );
        key(&mut s, KeyCode::Char('o'));
        for c in paths[0].chars() {
            key(&mut s, KeyCode::Char(c));
        }
        key(&mut s, KeyCode::Backspace);
        key(&mut s, KeyCode::Char('n'));
        key(&mut s, KeyCode::Enter);
        assert_eq!(s.app.results.sweep_error, None);
        let loaded = s.app.results.sweep.as_ref().expect("the saved sweep loads");
        assert_eq!(loaded.source, paths[0]);
        assert_eq!(loaded.result.rows.len(), 10);
    }

    #[test]
    fn a_dask_sweep_without_dask_in_the_python_says_what_is_missing_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 1);
        // A stand-in for Python whose probe answers that dask is not installed.
        let python = dir.path().join("python");
        std::fs::write(
            &python,
            "#!/bin/sh\necho '{\"python\": \"3.11.0\", \"modules\": {\"dask\": null, \
             \"distributed\": null, \"rioxarray\": \"0.18\", \"pystac\": \"1.15.2\"}}'\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut s = Session::new(App::new(catalog, 2, false), dir.path().join("out"))
            .with_python(Some(python));
        s.start();
        let key = |s: &mut Session, c: KeyCode| s.send(Msg::Key(c.into()));
        key(&mut s, KeyCode::Enter);
        key(&mut s, KeyCode::Tab);
        key(&mut s, KeyCode::Tab);
        assert_eq!(s.app.screen, Screen::Sweep);
        key(&mut s, KeyCode::Char('e'));
        key(&mut s, KeyCode::Char('r'));
        let deadline = Instant::now() + Duration::from_secs(60);
        while s.app.results.sweep_job.is_some() {
            assert!(Instant::now() < deadline, "the check did not end");
            s.pump();
            std::thread::sleep(Duration::from_millis(20));
        }
        let err = s.app.results.sweep_error.clone().unwrap_or_default();
        assert!(
            err.starts_with("run `chunkscope dask setup`") && err.contains("lacks dask"),
            "{err}"
        );
        assert!(s.app.results.sweep.is_none(), "nothing ran");
        for (w, h) in [(80, 24), (120, 36)] {
            let mut term =
                ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
            term.draw(|f| crate::tui::view::render(&s.app, f.area(), f.buffer_mut()))
                .unwrap();
            let text = crate::tui::view::buffer_text(term.backend().buffer());
            assert!(
                text.contains("✗ run `chunkscope dask setup`"),
                "{w}x{h}:\n{text}"
            );
        }
    }
}
