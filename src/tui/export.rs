//! Saving what the Results and Sweep screens show: the runs as JSON (an array of run
//! reports, the report schema) and CSV (one row per run), or the sweep as its JSON and CSV,
//! and the screen as SVG, into one folder under one timestamp. Every file is written under a
//! temporary name and renamed when complete ([`WriteGuard::write`]), so a reader never sees half
//! a file. Runs on the UI thread when the session executes [`super::app::Cmd::Export`].

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chunkscope::experiment::history;
use chunkscope::experiment::sweep::SweepResult;
use chunkscope::output::guard::WriteGuard;
use chunkscope::pipeline::RunReport;

/// What to save.
pub enum Content<'a> {
    /// The session's runs (`results-STAMP.*`).
    Runs(&'a [RunReport]),
    /// A sweep (`sweep-STAMP.*`).
    Sweep(&'a SweepResult),
}

/// Writes `content` as JSON and CSV and `svg` beside them in `dir` (created if needed), named
/// `results-YYYYMMDD-HHMMSS` (UTC) or `sweep-...`, with `-2`, `-3`... when a name is taken.
/// Returns the files written, in the order json, csv, svg.
pub fn save(
    guard: &WriteGuard,
    dir: &Path,
    content: Content<'_>,
    svg: &str,
    now: SystemTime,
) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the folder \"{}\": {e}", dir.display()))?;
    let (kind, json, csv) = match content {
        Content::Runs(runs) => {
            if runs.is_empty() {
                return Err("no finished run to save yet".into());
            }
            let json =
                serde_json::to_string_pretty(runs).map_err(|e| chunkscope::error::chain(&e))?;
            let mut csv = Vec::new();
            history::write_csv(runs, &mut csv).map_err(|e| chunkscope::error::chain(&e))?;
            ("results", json, csv)
        }
        Content::Sweep(sweep) => {
            let json =
                serde_json::to_string_pretty(sweep).map_err(|e| chunkscope::error::chain(&e))?;
            let mut csv = Vec::new();
            sweep
                .write_csv(&mut csv)
                .map_err(|e| chunkscope::error::chain(&e))?;
            ("sweep", json, csv)
        }
    };
    let stamp = timestamp(now);
    let base = (1..1000)
        .map(|n| match n {
            1 => format!("{kind}-{stamp}"),
            n => format!("{kind}-{stamp}-{n}"),
        })
        .find(|b| {
            ["json", "csv", "svg"]
                .iter()
                .all(|ext| !dir.join(format!("{b}.{ext}")).exists())
        })
        .ok_or_else(|| {
            format!(
                "too many saves named {kind}-{stamp} in \"{}\"",
                dir.display()
            )
        })?;
    let mut written = Vec::new();
    for (ext, bytes) in [
        ("json", (json + "\n").into_bytes()),
        ("csv", csv),
        ("svg", svg.as_bytes().to_vec()),
    ] {
        let path = dir.join(format!("{base}.{ext}"));
        guard
            .write(&path, &bytes)
            .map_err(|e| chunkscope::error::chain(&e))?;
        written.push(path);
    }
    Ok(written)
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn timestamp(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y%m%d-%H%M%S")
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use crossterm::event::KeyCode;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::tui::app::Msg;
    use crate::tui::model::results::Notice;
    use crate::tui::model::run::RunView;
    use crate::tui::model::screen::Screen;
    use crate::tui::model::sweep::SweepView;
    use crate::tui::session::Session;
    use crate::tui::testdata;
    use crate::tui::view::{buffer_text, fixtures, render};

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101-000000");
        // 2000-02-29 12:34:56 UTC: a leap day in a century leap year.
        let t = UNIX_EPOCH + Duration::from_secs(951_827_696);
        assert_eq!(timestamp(t), "20000229-123456");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(timestamp(t), "20261118-110640");
    }

    fn session_with_runs(export_dir: PathBuf) -> Session {
        let d = testdata::data();
        let mut app = fixtures::setup_app();
        app.results.push(d.serial.clone());
        app.results.push(d.chunked.clone());
        app.screen = Screen::Results;
        let mut s = Session::new(app, export_dir.join("runs")).with_export_dir(export_dir);
        s.set_viewport(100, 30);
        s
    }

    #[test]
    fn s_saves_json_csv_and_the_screen_and_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("exports");
        let mut s = session_with_runs(out.clone());
        s.send(Msg::Key(KeyCode::Char('s').into()));
        let Some(Notice::Saved(paths)) = s.app.results.notice.clone() else {
            panic!("{:?}", s.app.results.notice);
        };
        assert_eq!(paths.len(), 3);
        let json = PathBuf::from(&paths[0]);
        let name = json.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("results-") && name.ends_with(".json"),
            "{name}"
        );
        assert_eq!(json.parent(), Some(out.as_path()));
        // JSON: the runs, in the report schema, readable again.
        let back = chunkscope::experiment::history::load_reports(&json).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].wall_ns, testdata::data().chunked.wall_ns);
        // CSV: a header and one row per run.
        let csv = std::fs::read_to_string(&paths[1]).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3, "{csv}");
        assert!(lines[0].starts_with("run,config,item,"), "{csv}");
        assert!(lines[1].starts_with("1,serial,"), "{csv}");
        assert!(
            lines[2].starts_with("2,\"chunked x 2 (3,128,128, staged)\","),
            "{csv}"
        );
        // SVG: the screen as drawn, at the terminal's size.
        let svg = std::fs::read_to_string(&paths[2]).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains(r#"width="840""#),
            "{svg:.200}"
        );
        assert!(
            svg.contains("History") && svg.contains("Wall per stage"),
            "{svg:.200}"
        );
        // No temporary files left; the screen says where the files went.
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 3);
        let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
        term.draw(|f| render(&s.app, f.area(), f.buffer_mut()))
            .unwrap();
        let text = buffer_text(term.backend().buffer());
        assert!(text.contains("✓ saved"), "{text}");
        assert!(text.contains(".{json,csv,svg}"), "{text}");
        // A second save in the same second gets its own names.
        s.send(Msg::Key(KeyCode::Char('s').into()));
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 6);
    }

    #[test]
    fn s_on_the_run_screen_saves_too_and_the_status_line_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = session_with_runs(dir.path().to_path_buf());
        s.app.run = Some(RunView::from_report(&testdata::data().chunked));
        s.app.screen = Screen::Run;
        s.send(Msg::Key(KeyCode::Char('s').into()));
        assert!(
            matches!(&s.app.results.notice, Some(Notice::Saved(p)) if p.len() == 3),
            "{:?}",
            s.app.results.notice
        );
        let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
        term.draw(|f| render(&s.app, f.area(), f.buffer_mut()))
            .unwrap();
        let text = buffer_text(term.backend().buffer());
        assert!(text.contains("saved "), "{text}");
        assert!(text.contains("s save"), "{text}");
    }

    #[test]
    fn an_unwritable_folder_is_an_error_on_screen() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, "x").unwrap();
        let mut s = session_with_runs(file.join("sub"));
        s.send(Msg::Key(KeyCode::Char('s').into()));
        assert!(
            matches!(&s.app.results.notice, Some(Notice::Failed(e)) if e.contains("cannot create")),
            "{:?}",
            s.app.results.notice
        );
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        term.draw(|f| render(&s.app, f.area(), f.buffer_mut()))
            .unwrap();
        let text = buffer_text(term.backend().buffer());
        assert!(text.contains("✗ cannot save"), "{text}");
    }

    #[test]
    fn the_sweep_screen_saves_the_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = session_with_runs(dir.path().to_path_buf());
        s.send(Msg::Key(KeyCode::Tab.into()));
        s.send(Msg::Key(KeyCode::Char('s').into()));
        assert!(
            matches!(&s.app.results.notice, Some(Notice::Failed(e)) if e.contains("no sweep")),
            "{:?}",
            s.app.results.notice
        );
        s.app.results.sweep = Some(SweepView {
            result: testdata::data().sweep.clone(),
            source: "test".into(),
        });
        s.send(Msg::Key(KeyCode::Char('s').into()));
        let Some(Notice::Saved(paths)) = s.app.results.notice.clone() else {
            panic!("{:?}", s.app.results.notice);
        };
        let back = SweepResult::load(Path::new(&paths[0])).unwrap();
        // (serde_json may round a float's last digit: compare what is shown.)
        let want = &testdata::data().sweep;
        let key = |r: &SweepResult| {
            r.rows
                .iter()
                .map(|r| (r.label.clone(), r.wall.median_ns))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&back), key(want));
        assert_eq!(back.best.map(|b| b.row), want.best.as_ref().map(|b| b.row));
        assert!(paths[1].contains("sweep-") && paths[1].ends_with(".csv"));
    }

    #[test]
    fn nothing_to_save_is_an_error_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let err = save(
            &WriteGuard::new(),
            dir.path(),
            Content::Runs(&[]),
            "<svg/>",
            UNIX_EPOCH,
        )
        .unwrap_err();
        assert!(err.contains("no finished run"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
