//! `D`: the settings of a chunked run of this session run on Dask, as background work of
//! the TUI. On its own thread: find and check the Python (as the CLI does: `--python`, else
//! the environment `chunkscope dask setup` made), then the engine's
//! [`DaskRunner`](chunkscope::dask::runner::DaskRunner) runs the lesson's code as a child
//! process group, whose printed lines come back as progress. Cancelling ends the group
//! (the runner's guard), so no Python process outlives the job. The session owns the job
//! and polls it each frame.

use std::path::PathBuf;
use std::time::Instant;

use chunkscope::dask::export::ExportSettings;
use chunkscope::dask::python::{self, PythonError};
use chunkscope::dask::runner::DaskRunner;
use chunkscope::pipeline::RunReport;
use chunkscope::task::CancelFlag;

use super::app::Msg;
use super::job::Job;
use super::model::dask::DaskFailure;
use super::work::Background;

/// How the run ended, when the thread itself did not fail.
enum Outcome {
    Ran(Box<RunReport>),
    Cancelled,
    Failed(DaskFailure),
}

/// A Dask run on its own thread.
pub struct DaskJob {
    job: Job<Outcome>,
    started: Instant,
}

impl DaskJob {
    /// Runs `settings` (chunks, threads, schedule as the run had them) on a `LocalCluster`
    /// with `python` (or the set-up environment); scripts, logs and the stream go into
    /// `dir`.
    pub fn start(
        python: Option<PathBuf>,
        settings: ExportSettings,
        dir: PathBuf,
    ) -> Result<Self, String> {
        let cancel = CancelFlag::new();
        let flag = cancel.clone();
        let job = Job::spawn("chunkscope-dask", "the Dask run", cancel, move |report| {
            Ok(run(python, settings, dir, &flag, &|line| {
                report(0, 1, line)
            }))
        })?;
        Ok(Self {
            job,
            started: Instant::now(),
        })
    }
}

impl Background for DaskJob {
    fn cancel(&self) {
        self.job.cancel();
    }

    /// The time so far with the last line printed, and [`Msg::DaskFinished`] once over
    /// (then the job is done and can be dropped).
    fn poll(&mut self) -> (Vec<Msg>, bool) {
        let line = self.job.progress().pop().map(|(_, _, line)| line);
        let elapsed_ns = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut msgs = vec![Msg::DaskProgress { elapsed_ns, line }];
        let finished = self.job.finished();
        let over = finished.is_some();
        if let Some(result) = finished {
            msgs.push(Msg::DaskFinished(match result {
                Ok(Outcome::Ran(report)) => Ok(Some(report)),
                Ok(Outcome::Cancelled) => Ok(None),
                Ok(Outcome::Failed(f)) => Err(f),
                Err(e) => Err(DaskFailure {
                    short: e.clone(),
                    detail: e,
                }),
            }));
        }
        (msgs, over)
    }

    /// Cancels and waits for the thread (the runner ends the Python processes first).
    fn shutdown(self: Box<Self>) {
        self.job.shutdown();
    }
}

fn run(
    python: Option<PathBuf>,
    settings: ExportSettings,
    dir: PathBuf,
    cancel: &CancelFlag,
    on_line: &dyn Fn(&str),
) -> Outcome {
    on_line("checking the Python for dask, distributed, rioxarray, pystac");
    let env = match python::resolve(python.as_deref()) {
        Ok(env) => env,
        Err(e) => return Outcome::Failed(python_failure(&e)),
    };
    if cancel.is_cancelled() {
        return Outcome::Cancelled;
    }
    let failed = |short: &str, detail: String| {
        Outcome::Failed(DaskFailure {
            short: short.to_string(),
            detail,
        })
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        let detail = format!("cannot create the folder \"{}\": {e}", dir.display());
        return failed(&detail, detail.clone());
    }
    on_line(&format!("starting {}", env.describe()));
    let (shape, request, threads, schedule) = (
        settings.chunks,
        settings.request.clone(),
        settings.threads,
        settings.schedule,
    );
    let runner = DaskRunner::new(env.python, settings, dir, None);
    match runner.run_watched(shape, &request, threads, schedule, cancel, on_line) {
        Ok(Some(run)) => Outcome::Ran(Box::new(run.report)),
        Ok(None) => Outcome::Cancelled,
        Err(e) => {
            let detail = chunkscope::error::chain(&e);
            let first = detail
                .lines()
                .next()
                .unwrap_or("the run failed")
                .to_string();
            failed(&format!("{first} (the log has more)"), detail)
        }
    }
}

/// What the status line says of a Python that cannot run Dask: the fix first, so that a
/// narrow screen keeps it; the whole message goes to the log.
pub(super) fn python_failure(e: &PythonError) -> DaskFailure {
    let setup = "run `chunkscope dask setup`";
    let short = match e {
        PythonError::NotSetUp { .. } => format!("{setup} once: no Python environment for Dask yet"),
        PythonError::Missing { missing, .. } => format!("{setup}: the Python lacks {missing}"),
        PythonError::Start { python, .. } | PythonError::NotPython { python, .. } => format!(
            "{setup} or pass tui --python PATH: \"{}\" is not a usable Python 3",
            python.display()
        ),
        other => other.to_string(),
    };
    DaskFailure {
        short,
        detail: chunkscope::error::chain(e),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use chunkscope::pipeline::RunReport;
    use crossterm::event::KeyCode;

    use crate::tui::app::{App, Msg};
    use crate::tui::model::results::Notice;
    use crate::tui::model::screen::Screen;
    use crate::tui::session::Session;
    use crate::tui::testdata;
    use crate::tui::view::{self, fixtures};

    /// The setup fixture after `report` (a chunked run) finished, on the Run screen, with
    /// the run in Results.
    fn app_after(report: &RunReport, dir: &Path) -> App {
        let mut app = testdata::app_after(report, dir);
        app.results.push(report.clone());
        app
    }

    /// An executable shell script standing in for Python: `-c` (the check) answers with
    /// `modules` as the probe would; a script to run writes its process id to `pid` beside
    /// it, prints a line, and waits with a child of its own.
    fn fake_python(dir: &Path, modules: &str) -> std::path::PathBuf {
        let fake = dir.join("python");
        let pid = dir.join("pid");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\n\
                 if [ \"$1\" = -c ]; then echo '{{\"python\": \"3.11.0\", \"modules\": {modules}}}'; exit 0; fi\n\
                 echo $$ > '{}'\n\
                 echo 'persisting the masked scene'\n\
                 sleep 60 &\n\
                 sleep 60\n",
                pid.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        fake
    }

    const ALL: &str = r#"{"dask": "2025.1.0", "distributed": "2025.1.0", "rioxarray": "0.18", "pystac": "1.15.2"}"#;
    const NO_DASK: &str =
        r#"{"dask": null, "distributed": null, "rioxarray": null, "pystac": "1.15.2"}"#;

    fn draw(app: &App, w: u16, h: u16) -> String {
        let area = ratatui::layout::Rect::new(0, 0, w, h);
        let mut buf = ratatui::buffer::Buffer::empty(area);
        view::render(app, area, &mut buf);
        view::buffer_text(&buf)
    }

    /// The status line (above the footer's lines) of the screen drawn at `w` x `h`.
    fn status(app: &App, w: u16, h: u16) -> String {
        let text = draw(app, w, h);
        let footer = crate::tui::keys::footer_lines(app.screen, w, 2).len();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len() - 1 - footer].trim_end().to_string()
    }

    fn pump_until(s: &mut Session, what: &str, done: impl Fn(&Session) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(s) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            s.pump();
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Processes of process group `pgid` still running (zombies excepted: they wait for
    /// their parent to reap them), from /proc.
    fn running_in_group(pgid: i32) -> usize {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .filter(|stat| {
                let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
                let fields: Vec<&str> = rest.split_whitespace().collect();
                fields.first() != Some(&"Z") && fields.get(2) == Some(&pgid.to_string().as_str())
            })
            .count()
    }

    #[test]
    fn without_dask_in_the_python_d_says_what_is_missing_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let python = fake_python(dir.path(), NO_DASK);
        let chunked = &testdata::data().chunked;
        let mut s = Session::new(app_after(chunked, dir.path()), dir.path().join("out"))
            .with_python(Some(python));
        s.send(Msg::Key(KeyCode::Char('D').into()));
        pump_until(&mut s, "the check", |s| s.app.dask.is_none());
        let Some(Notice::Dask(Err(why))) = s.app.results.notice.clone() else {
            panic!("{:?}", s.app.results.notice);
        };
        assert!(
            why.contains("run `chunkscope dask setup`") && why.contains("lacks dask"),
            "{why}"
        );
        // The whole message, with pip's command, is in the log.
        let log = s.app.log.back().cloned().unwrap_or_default();
        assert!(
            log.contains("-m pip install dask distributed rioxarray"),
            "{log}"
        );
        for (w, h) in [(80, 24), (120, 36)] {
            let line = status(&s.app, w, h);
            assert!(
                line.starts_with("✗ Dask: run `chunkscope dask setup`"),
                "{w}x{h}: {line}"
            );
        }
        assert!(!dir.path().join("pid").exists(), "nothing ran");
        assert_eq!(s.app.screen, Screen::Run);
        assert!(s.app.results.runs.len() == 1, "no report added");
    }

    #[test]
    fn d_runs_on_dask_with_its_output_on_the_status_line_and_esc_leaves_no_process() {
        let dir = tempfile::tempdir().unwrap();
        let python = fake_python(dir.path(), ALL);
        let chunked = &testdata::data().chunked;
        let mut s = Session::new(app_after(chunked, dir.path()), dir.path().join("out"))
            .with_python(Some(python));
        s.send(Msg::Key(KeyCode::Char('D').into()));
        assert!(s.app.dask.is_some());
        pump_until(&mut s, "the script's first line", |s| {
            s.app.dask.as_ref().and_then(|d| d.line.as_deref())
                == Some("persisting the masked scene")
        });
        for (w, h) in [(80, 24), (120, 36)] {
            let line = status(&s.app, w, h);
            assert!(
                line.starts_with("▶ Dask: running the lesson's code on 2 threads… "),
                "{w}x{h}: {line}"
            );
            assert!(line.contains("(Esc cancels)"), "{w}x{h}: {line}");
        }
        assert!(status(&s.app, 120, 36).ends_with("(Esc cancels) · persisting the masked scene"));
        // Meanwhile chunkscope does not run: the two would disturb each other's timings.
        s.send(Msg::Key(KeyCode::Char('r').into()));
        assert!(
            s.app.run.as_ref().is_some_and(|r| r.finished()),
            "the run on screen stays"
        );
        let said = s.app.results.notice.as_ref().map(|n| n.line());
        assert!(said.unwrap_or_default().contains("a Dask run is going"));

        let pid: i32 = std::fs::read_to_string(dir.path().join("pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(running_in_group(pid) >= 2, "the script and its child run");
        s.send(Msg::Key(KeyCode::Esc.into()));
        assert!(status(&s.app, 80, 24).starts_with("▶ Dask: cancelling"));
        assert_eq!(s.app.screen, Screen::Run, "Esc cancels, it does not leave");
        pump_until(&mut s, "the cancel", |s| s.app.dask.is_none());
        assert_eq!(
            running_in_group(pid),
            0,
            "a process of the run outlived Esc"
        );
        assert_eq!(
            s.app.results.notice,
            Some(Notice::Dask(Ok(
                "Dask run cancelled: its Python processes are ended".into()
            )))
        );
        assert_eq!(s.app.results.runs.len(), 1, "nothing added");
        // Esc now means back, as before.
        s.send(Msg::Key(KeyCode::Esc.into()));
        assert_eq!(s.app.screen, Screen::Setup);
    }

    #[test]
    fn without_a_chunked_run_d_says_what_to_run_first() {
        let mut app = fixtures::setup_app();
        app.results.push(testdata::data().serial.clone());
        app.screen = Screen::Results;
        assert_eq!(app.update(Msg::Key(KeyCode::Char('D').into())), None);
        let line = status(&app, 80, 24);
        assert!(
            line.starts_with("✗ Dask: no chunked run to repeat yet"),
            "{line}"
        );
    }

    /// The fixture stream as the runner returns it: its schedule and item recorded.
    fn live_report(like: &RunReport) -> RunReport {
        let path = Path::new("tests/fixtures/dask/demo-2048-chunks256-threads2.json");
        let stream = chunkscope::dask::DaskStream::read(path).unwrap();
        let summary = chunkscope::dask::DaskSummary::of(&stream).unwrap();
        let mut r = chunkscope::dask::report::run_report(&stream, &summary);
        r.config.schedule = Some("staged".into());
        r.config.chunks = like.config.chunks;
        r.config.item = like.config.item.clone();
        r
    }

    #[test]
    fn a_finished_dask_run_shows_its_stream_and_sits_beside_ours_in_results() {
        let dir = tempfile::tempdir().unwrap();
        let chunked = testdata::data().chunked.clone();
        let mut app = app_after(&chunked, dir.path());
        app.update(Msg::Key(KeyCode::Char('D').into()));
        let dask = live_report(&chunked);
        app.update(Msg::DaskFinished(Ok(Some(Box::new(dask.clone())))));
        assert!(app.dask.is_none());
        assert_eq!(app.screen, Screen::Run);
        assert_eq!(app.results.runs.len(), 2);
        let [b, r, c] = chunked.config.chunks.unwrap();
        let label = format!("Dask (live) x 2 ({b},{r},{c})");
        for (w, h) in [(80, 24), (120, 36)] {
            let text = draw(&app, w, h);
            assert!(text.contains(&label), "{w}x{h}:\n{text}");
            assert!(
                text.contains("w0") && text.contains("w1"),
                "{w}x{h}:\n{text}"
            );
            let line = status(&app, w, h);
            assert!(
                line.starts_with("✓ Dask ran chunked x 2"),
                "{w}x{h}: {line}"
            );
        }
        app.update(Msg::Key(KeyCode::Tab.into()));
        assert_eq!(app.screen, Screen::Results);
        let ratio = chunkscope::dask::report::overhead_ratio(&dask, &chunked).unwrap();
        for (w, h, head) in [(120, 36, label.as_str()), (80, 24, "Dask (live)")] {
            let text = draw(&app, w, h);
            assert!(text.contains(&format!("#2 {head}")), "{w}x{h}:\n{text}");
            assert!(text.contains("vs #1 "), "{w}x{h}:\n{text}");
            assert!(
                text.contains(&chunkscope::profile::units::ratio(ratio)),
                "{w}x{h}:\n{text}"
            );
            assert!(!text.contains("imported"), "{w}x{h}:\n{text}");
        }
    }

    /// The real thing, with the pinned environment (`./dev test` names it): a chunked run
    /// of the demo, then D, to the end.
    #[test]
    #[ignore = "needs the Dask environment: CHUNKSCOPE_DASK_PYTHON (./dev test)"]
    fn d_runs_the_last_chunked_run_on_the_real_dask() {
        let python = std::env::var("CHUNKSCOPE_DASK_PYTHON")
            .expect("CHUNKSCOPE_DASK_PYTHON names the pinned environment's python (./dev test)");
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 1);
        let mut s = Session::new(App::new(catalog, 2, false), dir.path().join("out"))
            .with_python(Some(python.into()));
        s.start();
        s.send(Msg::Key(KeyCode::Enter.into()));
        s.send(Msg::Key(KeyCode::Char('r').into()));
        let deadline = Instant::now() + Duration::from_secs(120);
        while s.app.running() {
            assert!(Instant::now() < deadline, "the run did not finish");
            s.pump();
            std::thread::sleep(Duration::from_millis(20));
        }
        let ours = s.app.results.runs.last().unwrap().clone();
        assert!(ours.config.chunks.is_some(), "{}", ours.label());
        s.send(Msg::Key(KeyCode::Char('D').into()));
        let deadline = Instant::now() + Duration::from_secs(300);
        while s.app.dask.is_some() {
            assert!(Instant::now() < deadline, "the Dask run did not finish");
            s.pump();
            std::thread::sleep(Duration::from_millis(50));
        }
        let notice = s.app.results.notice.clone();
        assert!(
            matches!(notice, Some(Notice::Dask(Ok(_)))),
            "{notice:?}\n{:?}",
            s.app.log
        );
        let dask = s.app.results.runs.last().unwrap();
        assert!(chunkscope::dask::report::is_live(dask), "{}", dask.label());
        assert_eq!(dask.config.chunks, ours.config.chunks);
        assert_eq!(dask.config.threads, ours.config.threads);
        assert_eq!(
            chunkscope::dask::report::counterpart(&s.app.results.runs, dask),
            Some(s.app.results.runs.len() - 2)
        );
        assert_eq!(s.app.screen, Screen::Run);
        s.send(Msg::Key(KeyCode::Tab.into()));
        let text = draw(&s.app, 80, 24);
        assert!(text.contains("Dask (live)"), "{text}");
    }
}
