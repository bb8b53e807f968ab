//! `d` on the Run screen: the finished run on screen saved as the lesson's Dask script, with
//! its settings, into the export folder. The engine writes the text
//! ([`chunkscope::dask::export`]); this picks the run, names the file and writes it. Runs on
//! the UI thread when the session executes [`super::app::Cmd::ExportDask`].

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chunkscope::catalog;
use chunkscope::dask::export::{ExportSettings, Scheduler};
use chunkscope::output::guard::WriteGuard;

use super::app::App;
use super::export::timestamp;

/// The lesson's Dask code for the settings of `report` (a chunked run of this session's
/// catalog), on a `LocalCluster`; or why Dask cannot run them. Reads the file system (the
/// catalog's absolute path): the session calls it, not the app.
pub fn export_settings(
    app: &App,
    report: &chunkscope::pipeline::RunReport,
    source: String,
) -> Result<ExportSettings, String> {
    if app.network.is_some() {
        return Err(
            "this session reads the scene through chunkscope's simulated network, which a Dask \
             script cannot use; serve the folder with `chunkscope serve` and open its URL"
                .into(),
        );
    }
    let item = app
        .catalog
        .items
        .iter()
        .find(|i| i.id == report.config.item)
        .ok_or_else(|| format!("item \"{}\" is not in the catalog", report.config.item))?;
    let catalog = script_catalog(app)?;
    let tile = app
        .setup
        .as_ref()
        .and_then(|s| s.layout)
        .map_or(1024, |l| l.block_rows.max(l.block_cols));
    ExportSettings::from_report(
        &report.config,
        catalog,
        item,
        tile,
        Scheduler::LocalCluster,
        source,
    )
    .map_err(|e| chunkscope::error::chain(&e))
}

/// The catalog as a script run elsewhere opens it: its URL, or its absolute path.
pub fn script_catalog(app: &App) -> Result<String, String> {
    let catalog_path = app.catalog.path.to_string_lossy().into_owned();
    if catalog::is_http_url(&catalog_path) {
        return Ok(catalog_path);
    }
    Ok(std::fs::canonicalize(&app.catalog.path)
        .map_err(|e| format!("cannot find the catalog \"{catalog_path}\": {e}"))?
        .to_string_lossy()
        .into_owned())
}

/// Opens a run imported from a Dask task stream: on the Run screen, and in Results where
/// it is compared with chunkscope's runs of the same chunks and threads.
pub fn open_imported(app: &mut App, report: chunkscope::pipeline::RunReport) {
    app.open_dask_report(report);
    app.screen = super::model::screen::Screen::Run;
}

/// Writes `dask-<item>-<UTC time>.py` into `dir` (created if needed) for the run on the Run
/// screen, and returns its path; or says why there is nothing to export.
pub fn save(app: &App, dir: &Path, now: SystemTime) -> Result<PathBuf, String> {
    let run = app.run.as_ref().ok_or("no run on screen to export")?;
    let report = run
        .report
        .as_ref()
        .ok_or("no finished run to export yet: wait for the run to end")?;
    let stamp = timestamp(now);
    let source = format!(
        "the run \"{}\" of a chunkscope TUI session, exported {stamp} UTC",
        run.label
    );
    let settings = export_settings(app, report, source)?;
    let item = &settings.item;
    let text = settings
        .script()
        .map_err(|e| chunkscope::error::chain(&e))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the folder \"{}\": {e}", dir.display()))?;
    let stem = chunkscope::output::target::file_safe(item);
    let path = (1..1000)
        .map(|n| match n {
            1 => dir.join(format!("dask-{stem}-{stamp}.py")),
            n => dir.join(format!("dask-{stem}-{stamp}-{n}.py")),
        })
        .find(|p| !p.exists())
        .ok_or("every script name for this second is taken")?;
    WriteGuard::for_catalog(&app.catalog, None)
        .write(&path, text.as_bytes())
        .map_err(|e| chunkscope::error::chain(&e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use chunkscope::pipeline::RunReport;
    use crossterm::event::KeyCode;

    use super::*;
    use crate::tui::app::Msg;
    use crate::tui::model::results::Notice;
    use crate::tui::model::screen::Screen;
    use crate::tui::session::Session;
    use crate::tui::testdata;
    use crate::tui::view::fixtures;

    fn app_after(report: &RunReport, dir: &Path) -> App {
        testdata::app_after(report, dir)
    }

    #[test]
    fn d_after_a_run_saves_its_settings_as_a_dask_script_and_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let chunked = &testdata::data().chunked;
        let out = dir.path().join("exports");
        let mut s = Session::new(app_after(chunked, dir.path()), dir.path().join("runs"))
            .with_export_dir(out.clone());
        s.send(Msg::Key(KeyCode::Char('d').into()));
        let Some(Notice::Saved(paths)) = s.app.results.notice.clone() else {
            panic!("{:?}", s.app.results.notice);
        };
        let [path] = paths.as_slice() else {
            panic!("{paths:?}")
        };
        let path = PathBuf::from(path);
        assert_eq!(path.parent(), Some(out.as_path()));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(&format!("dask-{}-", chunked.config.item)) && name.ends_with(".py"),
            "{name}"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let c = &chunked.config;
        let [b, r, col] = c.chunks.unwrap();
        for line in [
            format!("CHUNKS = ({b}, {r}, {col})"),
            format!("THREADS = {}", c.threads),
            format!("ITEM = \"{}\"", c.item),
            "SCHEDULER = \"local-cluster\"".to_string(),
            "FORMAT = \"COG\"".to_string(),
            "TILE = 1024".to_string(),
        ] {
            assert!(text.contains(&line), "missing {line:?} in\n{text}");
        }
        assert!(
            s.app
                .results
                .notice
                .as_ref()
                .unwrap()
                .line()
                .contains(".py")
        );
    }

    #[test]
    fn a_serial_run_is_refused_with_the_reason_and_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let app = app_after(&testdata::data().serial, dir.path());
        let out = dir.path().join("exports");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let err = save(&app, &out, t).unwrap_err();
        assert!(err.contains("serial run has no chunks"), "{err}");
        assert!(!out.exists());
    }

    #[test]
    fn the_key_is_in_the_footer_and_the_help() {
        use crate::tui::keys::{Action, BINDINGS, action_for};
        let d = crossterm::event::KeyEvent::from(KeyCode::Char('d'));
        assert_eq!(action_for(Screen::Run, &d), Some(Action::ExportDask));
        assert!(
            BINDINGS
                .iter()
                .any(|b| b.action == Action::ExportDask && b.keys == "d")
        );
    }

    fn imported(file: &str) -> RunReport {
        let path = Path::new("tests/fixtures/dask").join(file);
        let stream = chunkscope::dask::DaskStream::read(&path).unwrap();
        let summary = chunkscope::dask::DaskSummary::of(&stream).unwrap();
        chunkscope::dask::report::run_report(&stream, &summary)
    }

    fn draw(app: &App, w: u16, h: u16) -> String {
        let area = ratatui::layout::Rect::new(0, 0, w, h);
        let mut buf = ratatui::buffer::Buffer::empty(area);
        crate::tui::view::render(app, area, &mut buf);
        crate::tui::view::buffer_text(&buf)
    }

    #[test]
    fn an_imported_stream_opens_on_the_run_screen_and_in_results_at_80x24() {
        let report = imported("demo-2048-chunks256-threads2.json");
        let mut app = fixtures::scenes_app();
        open_imported(&mut app, report);
        assert_eq!(app.screen, Screen::Run);
        let text = draw(&app, 80, 24);
        for want in [
            "Dask (imported) x 2 (3,256,256)",
            "Chunks 1x4x4",
            "w0",
            "w1",
            "CPU times: not in a Dask task stream",
            "98/98 tasks",
            "d dask",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("user 0 ns"), "{text}");
        app.update(Msg::Key(KeyCode::Tab.into()));
        assert_eq!(app.screen, Screen::Results);
        let text = draw(&app, 80, 24);
        assert!(
            text.contains("#1 Dask (imported) · overhead/task"),
            "{text}"
        );
        assert!(text.contains("no run of ours at 3,256,256 x 2"), "{text}");
        assert!(text.contains("1 Dask (imported) x 2 (3,256,256)"), "{text}");
        // Esc leaves Results for the run, and the run (no chunk setup yet) for the scenes.
        app.update(Msg::Key(KeyCode::Esc.into()));
        app.update(Msg::Key(KeyCode::Esc.into()));
        assert_eq!(app.screen, Screen::Scenes);
    }

    #[test]
    fn results_set_dask_beside_chunkscope_s_run_of_the_same_chunks_and_threads() {
        let ours = testdata::data().chunked.clone();
        let mut dask = imported("demo-2048-chunks256-threads2.json");
        // The fixture ran 3,256,256 on 2 threads; chunkscope's test run is another shape.
        dask.config.chunks = ours.config.chunks;
        assert_eq!(dask.config.threads, ours.config.threads);
        let mut app = fixtures::scenes_app();
        app.results.push(testdata::data().serial.clone());
        app.results.push(ours.clone());
        open_imported(&mut app, dask.clone());
        app.screen = Screen::Results;
        let per_task =
            |us: f64| chunkscope::profile::units::duration_ns(chunkscope::convert::us_to_ns(us));
        let ratio = chunkscope::dask::report::overhead_ratio(&dask, &ours).unwrap();
        for (w, h, dask_word) in [(120, 36, "Dask "), (80, 24, "")] {
            let text = draw(&app, w, h);
            let want = format!(
                "overhead/task {} vs #2 {}: {dask_word}{}",
                per_task(dask.overhead.per_task_us),
                per_task(ours.overhead.per_task_us),
                chunkscope::profile::units::ratio(ratio)
            );
            assert!(
                text.contains(&want),
                "missing {want:?} at {w}x{h} in\n{text}"
            );
        }
        // The Dask run is never taken for chunkscope's counterpart of itself.
        assert_eq!(
            chunkscope::dask::report::counterpart(&app.results.runs, &dask),
            Some(1)
        );
    }
}
