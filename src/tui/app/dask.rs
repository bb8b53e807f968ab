//! `D` on the Run and Results screens: the last chunked run's settings run on Dask (the
//! lesson's code in a child Python, see [`crate::tui::dask_job`]); its progress on the
//! status line, Esc to cancel, and its report beside chunkscope's run when it ends.

use chunkscope::pipeline::RunReport;

use super::{App, Cmd, Msg};
use crate::tui::model::dask::{DaskFailure, DaskLive};
use crate::tui::model::results::Notice;
use crate::tui::model::run::RunView;
use crate::tui::model::screen::Screen;

impl App {
    /// The latest finished chunked run of chunkscope's own: the settings `D` runs on Dask.
    pub fn last_chunked_run(&self) -> Option<usize> {
        self.results.runs.iter().rposition(|r| {
            !chunkscope::dask::report::is_dask(r) && !r.cancelled && r.config.chunks.is_some()
        })
    }

    /// `D`: starts the Dask run, or says on the status line why it cannot start.
    pub(super) fn start_dask(&mut self) -> Option<Cmd> {
        let refused = match (self.busy(), self.last_chunked_run()) {
            (Some(kind), _) => Err(kind.busy_message()),
            (None, None) => Err(
                "no chunked run to repeat yet: run one first (r); a serial run has no chunks"
                    .to_string(),
            ),
            (None, Some(i)) => Ok(i),
        };
        match refused {
            Ok(run) => {
                let r = &self.results.runs[run];
                self.dask = Some(DaskLive::new(r.label(), r.config.threads));
                Some(Cmd::StartDask { run })
            }
            Err(why) => {
                self.say(Notice::Dask(Err(format!("Dask: {why}"))));
                None
            }
        }
    }

    /// Esc while Dask runs: its processes are ended (the status line says so meanwhile).
    pub(super) fn cancel_dask(&mut self) -> Option<Cmd> {
        let d = self.dask.as_mut()?;
        d.cancelling = true;
        Some(Cmd::Cancel)
    }

    pub(super) fn on_dask_msg(&mut self, msg: Msg) -> Option<Cmd> {
        match msg {
            Msg::DaskProgress { elapsed_ns, line } => {
                if let Some(d) = self.dask.as_mut() {
                    d.elapsed_ns = elapsed_ns;
                    if line.is_some() {
                        d.line = line;
                    }
                }
                None
            }
            Msg::DaskFinished(result) => {
                let of = self.dask.take().map(|d| d.of).unwrap_or_default();
                let notice = match result {
                    Ok(Some(report)) => {
                        let said = format!(
                            "Dask ran {of} in {}: its task stream is on the Run screen, \
                             Results (Tab) set it beside ours",
                            chunkscope::profile::units::duration_ns(report.wall_ns)
                        );
                        self.open_dask_report(*report);
                        Notice::Dask(Ok(said))
                    }
                    Ok(None) => Notice::Dask(Ok(
                        "Dask run cancelled: its Python processes are ended".into(),
                    )),
                    Err(DaskFailure { short, detail }) => {
                        self.push_log(format!("Dask: {detail}"));
                        Notice::Dask(Err(format!("Dask: {short}")))
                    }
                };
                self.say(notice);
                None
            }
            _ => None,
        }
    }

    /// A report of Dask's (run here, or imported from a stream): on the Run screen when one
    /// of the run's screens is in front, and in Results beside chunkscope's runs.
    pub fn open_dask_report(&mut self, report: RunReport) {
        self.run = Some(RunView::from_report(&report));
        self.results.push(report);
        if matches!(self.screen, Screen::Run | Screen::Results | Screen::Scenes) {
            self.screen = Screen::Run;
        }
    }

    /// `notice` on the status line as the newest news.
    pub(super) fn say(&mut self, notice: Notice) {
        self.results.notice = Some(notice);
        self.notice_is_latest = true;
    }
}

#[cfg(test)]
mod tests {
    //! What `D` and the lesson's `r` say while a sweep holds the machine: each refuses with
    //! the reason and the way out, and starts nothing.
    use crossterm::event::KeyCode;

    use crate::tui::app::{Cmd, Msg};
    use crate::tui::model::screen::Screen;
    use crate::tui::model::sweep::SweepProgress;
    use crate::tui::testdata;

    fn sweeping() -> Option<SweepProgress> {
        Some(SweepProgress {
            done: 3,
            total: 49,
            label: "chunked x 2 @ 256".into(),
            cancelling: false,
        })
    }

    #[test]
    fn d_during_a_sweep_starts_nothing_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let mut app = testdata::app_after(&testdata::data().chunked, dir.path());
        app.results.sweep_job = sweeping();
        let cmd = app.update(Msg::Key(KeyCode::Char('D').into()));
        assert!(!matches!(cmd, Some(Cmd::StartDask { .. })), "{cmd:?}");
        assert!(app.dask.is_none());
        let said = format!("{:?}", app.results.notice);
        assert!(
            said.contains("a sweep is going: wait for it, or cancel it (c on the sweep"),
            "{said}"
        );
    }

    #[test]
    fn a_lesson_step_during_a_sweep_starts_nothing_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let mut app = testdata::app_after(&testdata::data().chunked, dir.path());
        app.results.sweep_job = sweeping();
        let cmd = app.update(Msg::Key(KeyCode::Char('L').into()));
        assert_eq!(app.screen, Screen::Lesson);
        assert!(!matches!(cmd, Some(Cmd::StartLessonStep { .. })), "{cmd:?}");
        let cmd = app.update(Msg::Key(KeyCode::Char('r').into()));
        assert!(!matches!(cmd, Some(Cmd::StartLessonStep { .. })), "{cmd:?}");
        let lesson = app.lesson.as_ref().expect("the lesson is open");
        assert_eq!(lesson.running, None);
        let why = lesson.errors[lesson.step].as_deref().unwrap_or("");
        assert!(
            why.contains("a sweep is going: wait for it, or cancel it (c on the sweep"),
            "{why}"
        );
    }
}
