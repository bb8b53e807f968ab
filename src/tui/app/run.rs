//! The Run screen's keys and messages: starting runs and repeats, engine events, ticks and
//! samples folded into the run's view, its end, cancelling, and the replay's controls.

use super::{App, Cmd, Msg};
use crate::tui::keys::Action;
use crate::tui::model::busy::Kind;
use crate::tui::model::live::{REPEAT_RUNS, Repeat, Replay};
use crate::tui::model::results::Notice;
use crate::tui::model::run::RunView;
use crate::tui::model::screen::Screen;

impl App {
    /// What arrives while a run goes on, and its end.
    pub(super) fn on_run_msg(&mut self, msg: Msg) -> Option<Cmd> {
        match msg {
            Msg::Engine(ev) => {
                if let Some(r) = self.run.as_mut() {
                    r.fold(ev);
                }
                None
            }
            Msg::Tick {
                elapsed_ns,
                dropped,
                samples_dropped,
            } => {
                if let Some(r) = self.run.as_mut().filter(|r| !r.finished()) {
                    r.elapsed_ns = elapsed_ns;
                    r.dropped = dropped;
                    r.live.samples_dropped = samples_dropped;
                }
                None
            }
            Msg::Sample(sample) => {
                if let Some(r) = self.run.as_mut().filter(|r| !r.finished()) {
                    r.live.sample(sample);
                }
                None
            }
            Msg::Frame { dt_ns } => {
                if let Some(p) = self.run.as_mut().and_then(|r| r.replay.as_mut()) {
                    p.advance(dt_ns);
                }
                None
            }
            Msg::SelectChunk(chunk) => {
                if let Some(r) = self.run.as_mut().filter(|_| self.screen == Screen::Run) {
                    r.selected = chunk.filter(|&i| i < r.chunks.len());
                }
                None
            }
            Msg::RunFinished(result) => {
                if let Some(r) = self.run.as_mut() {
                    match result {
                        Ok(report) => {
                            r.elapsed_ns = report.wall_ns;
                            r.dropped = report.events_dropped;
                            // A repeat's warm-up is not measured: it stays out of the
                            // history, where it would join the configuration's runs.
                            let warmup = r.repeat.as_ref().is_some_and(Repeat::in_warmup);
                            if let Some(rep) = r.repeat.as_mut() {
                                rep.record(&report);
                            }
                            if !warmup {
                                let dropped = self.results.dropped;
                                self.results.push((*report).clone());
                                // `v`: the serial run is in; Results shows the chunked run
                                // against it (the panels take the latest serial baseline).
                                if let Some(i) = self.compare_with.take() {
                                    let shift = self.results.dropped - dropped;
                                    if let Some(i) = i.checked_sub(shift) {
                                        self.results.selected = i;
                                        self.results.a = Some(self.results.runs.len() - 1);
                                        self.results.b = Some(i);
                                        self.screen = Screen::Results;
                                    }
                                }
                            }
                            r.report = Some(*report);
                        }
                        Err(e) => {
                            if let Some(rep) = r.repeat.as_mut() {
                                rep.stopped = true;
                            }
                            r.error = Some(e);
                            self.compare_with = None;
                        }
                    }
                    if let Some(e) = r.error.clone() {
                        self.push_log(format!("run failed: {e}"));
                    }
                }
                if self.quit_pending {
                    return Some(Cmd::Quit);
                }
                self.continue_repeat()
            }
            Msg::SweepProgress { .. } | Msg::SweepFinished(_) => self.on_sweep_msg(msg),
            _ => None,
        }
    }

    pub(super) fn on_run(&mut self, action: Action) -> Option<Cmd> {
        let replaying = self.replaying();
        match action {
            Action::Cancel if self.running() => {
                if let Some(r) = self.run.as_mut() {
                    r.cancelling = true;
                    if let Some(rep) = r.repeat.as_mut() {
                        rep.stopped = true;
                    }
                }
                Some(Cmd::Cancel)
            }
            Action::Cancel if replaying => {
                self.run.as_mut()?.replay = None;
                None
            }
            Action::Cancel if self.run.as_ref().is_some_and(|r| r.selected.is_some()) => {
                self.run.as_mut()?.selected = None;
                None
            }
            Action::Cancel => {
                // A run imported from Dask (tui --dask) may come before any chunk setup.
                self.screen = if self.setup.is_some() {
                    Screen::Setup
                } else {
                    Screen::Scenes
                };
                None
            }
            Action::Run if !self.running() => self.start_run(),
            Action::Repeat if !self.running() => self.start_repeat(),
            Action::VsSerial => self.start_vs_serial(),
            Action::Replay => {
                let r = self.run.as_mut()?;
                let wall = r.report.as_ref().map(|rep| rep.wall_ns)?;
                r.replay = match r.replay {
                    Some(_) => None,
                    None => Some(Replay::new(wall)),
                };
                None
            }
            Action::NextView => {
                self.screen = Screen::Results;
                None
            }
            Action::Export if !self.running() => Some(Cmd::Export),
            Action::ExportDask if !self.running() => Some(Cmd::ExportDask),
            Action::Graph => {
                self.graph_panel = !self.graph_panel;
                None
            }
            _ if replaying => {
                let p = self.run.as_mut()?.replay.as_mut()?;
                match action {
                    Action::Pause => p.toggle_pause(),
                    Action::Left => p.scrub(-1),
                    Action::Right => p.scrub(1),
                    Action::Faster => p.faster(),
                    Action::Slower => p.slower(),
                    _ => {}
                }
                None
            }
            _ => None,
        }
    }

    /// The chunked run on screen (an index into `results.runs`) when `v` is on offer: it
    /// finished, it is chunkscope's, the session has no serial run of its settings, and the
    /// chunk setup still holds its settings (so the serial run `v` starts matches it).
    pub fn vs_serial_offer(&self) -> Option<usize> {
        if self.busy().is_some() {
            return None;
        }
        let r = self.run.as_ref()?;
        let report = r.report.as_ref()?;
        let chunked = report.config.chunks.is_some()
            && !report.cancelled
            && !chunkscope::dask::report::is_dask(report);
        let runs = &self.results.runs;
        let s = self.setup.as_ref()?;
        let same_setup = self.catalog.items.get(s.item).map(|i| &i.id) == Some(&r.item)
            && s.planned_run().is_some_and(|p| p.settings == r.settings);
        let baseline = chunkscope::experiment::history::serial_baseline(runs, report);
        // The history holds a copy of the report on screen: the same run has the same
        // label and clocks.
        let same = |x: &chunkscope::pipeline::RunReport| {
            x.label() == report.label()
                && x.wall_ns == report.wall_ns
                && x.cpu_user_ns == report.cpu_user_ns
        };
        (chunked && same_setup && baseline.is_none())
            .then(|| runs.iter().rposition(same))
            .flatten()
    }

    /// `v`: a serial run with the chunked run's settings, then Results with the two.
    fn start_vs_serial(&mut self) -> Option<Cmd> {
        let chunked = self.vs_serial_offer()?;
        let s = self.setup.as_mut()?;
        let was = s.serial;
        s.serial = true;
        let cmd = self.start_run();
        if let Some(s) = self.setup.as_mut() {
            s.serial = was;
        }
        if cmd.is_some() {
            self.compare_with = Some(chunked);
        }
        cmd
    }

    /// Starts the first run of a repeat ([`REPEAT_RUNS`] runs of the current setup).
    pub(super) fn start_repeat(&mut self) -> Option<Cmd> {
        let cmd = self.start_run();
        if let Some(r) = self.run.as_mut().filter(|_| cmd.is_some()) {
            r.repeat = Some(Repeat::new(REPEAT_RUNS));
        }
        cmd
    }

    /// Whether a finished run is being replayed.
    pub fn replaying(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.replay.is_some())
    }

    /// After a run of a repeat: the next run, carrying the repeat over.
    fn continue_repeat(&mut self) -> Option<Cmd> {
        let r = self.run.as_mut()?;
        if !r.repeat.as_ref().is_some_and(Repeat::wants_more) {
            return None;
        }
        let repeat = r.repeat.take();
        let cmd = self.start_run();
        if let Some(r) = self.run.as_mut() {
            r.repeat = repeat;
        }
        cmd
    }

    /// Why no run may start now, if it may not: one thing at a time, as each would disturb
    /// the other's timings (the session refuses too, but by then the screen would have
    /// left the run going for an empty one).
    fn run_busy(&self) -> Option<String> {
        self.busy().map(Kind::busy_message)
    }

    pub(super) fn start_run(&mut self) -> Option<Cmd> {
        if let Some(why) = self.run_busy() {
            self.say(Notice::Refused(format!("run: {why}")));
            return None;
        }
        let s = self.setup.as_ref()?;
        let planned = s.planned_run()?;
        let item = s.item;
        let settings = s.run_settings();
        let mut view = RunView::new(
            planned.label,
            self.catalog.items[item].id.clone(),
            planned.grid,
            planned.threads,
        );
        view.settings = planned.settings;
        view.graph = s.task_graph(&planned.mode);
        self.run = Some(view);
        self.screen = Screen::Run;
        Some(Cmd::StartRun {
            item,
            mode: planned.mode,
            settings,
        })
    }
}

#[cfg(test)]
mod busy {
    //! What `r` on the chunk setup says while a run or a sweep holds the machine: it
    //! refuses with the reason and the way out, starts nothing, and leaves the run on
    //! screen as it was.
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
    fn r_on_the_setup_during_a_sweep_starts_nothing_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let mut app = testdata::app_after(&testdata::data().chunked, dir.path());
        app.results.sweep_job = sweeping();
        app.screen = Screen::Setup;
        let shown = app.run.as_ref().map(|r| r.label.clone());
        for key in ['r', 'R'] {
            let cmd = app.update(Msg::Key(KeyCode::Char(key).into()));
            assert!(!matches!(cmd, Some(Cmd::StartRun { .. })), "{key}: {cmd:?}");
            assert_eq!(app.screen, Screen::Setup, "{key}: stays on the setup");
            assert_eq!(app.run.as_ref().map(|r| r.label.clone()), shown);
            let said = app.results.notice.as_ref().map(|n| n.line());
            let said = said.as_deref().unwrap_or("");
            assert!(
                said.contains(
                    "✗ run: a sweep is going: wait for it, or cancel it (c on the sweep screen)"
                ),
                "{key}: {said}"
            );
            assert!(app.notice_is_latest, "{key}: the status line says it");
        }
    }

    #[test]
    fn r_on_the_setup_during_a_run_starts_nothing_and_says_why() {
        let mut app = crate::tui::view::fixtures::setup_app();
        let Some(Cmd::StartRun { .. }) = app.update(Msg::Key(KeyCode::Char('r').into())) else {
            panic!("the first run starts");
        };
        assert!(app.running());
        // Back on the setup while it goes (the run's events still arrive).
        app.screen = Screen::Setup;
        let cmd = app.update(Msg::Key(KeyCode::Char('r').into()));
        assert!(!matches!(cmd, Some(Cmd::StartRun { .. })), "{cmd:?}");
        assert!(app.running(), "the run going is still the one on screen");
        let said = app.results.notice.as_ref().map(|n| n.line());
        let said = said.as_deref().unwrap_or("");
        assert!(
            said.contains("✗ run: a run is going: wait for it, or cancel it (c on the run screen)"),
            "{said}"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crossterm::event::KeyCode;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use crate::tui::app::{App, Msg};
    use crate::tui::model::screen::Screen;
    use crate::tui::session::Session;
    use crate::tui::view::{buffer_text, render};

    fn draw(s: &Session, w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| render(&s.app, f.area(), f.buffer_mut()))
            .unwrap();
        buffer_text(term.backend().buffer())
    }

    fn key(s: &mut Session, code: KeyCode) {
        s.send(Msg::Key(code.into()));
    }

    fn pump_until_done(s: &mut Session) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while s.app.running() || s.app.setup.as_ref().is_some_and(|st| st.layout.is_none()) {
            assert!(Instant::now() < deadline, "the run did not finish");
            s.pump();
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn one_key_after_a_chunked_run_runs_serial_and_compares() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 1);
        let mut s = Session::new(App::new(catalog, 2, false), dir.path().join("out"));
        s.start();
        key(&mut s, KeyCode::Enter);
        pump_until_done(&mut s);
        // Before any run nothing is offered; after a chunked run, v is, in the footer.
        assert_eq!(s.app.vs_serial_offer(), None);
        key(&mut s, KeyCode::Char('r'));
        pump_until_done(&mut s);
        assert_eq!(s.app.vs_serial_offer(), Some(0));
        for (w, h) in [(80, 24), (120, 36)] {
            let text = draw(&s, w, h);
            assert!(text.contains("v vs serial"), "{w}x{h}:\n{text}");
        }

        // One key: the serial run with the same settings, then Results with both.
        key(&mut s, KeyCode::Char('v'));
        assert_eq!(s.app.screen, Screen::Run);
        assert_eq!(s.app.run.as_ref().unwrap().label, "serial");
        pump_until_done(&mut s);
        assert_eq!(s.app.screen, Screen::Results);
        assert_eq!(s.app.results.runs.len(), 2);
        assert_eq!((s.app.results.a, s.app.results.b), (Some(1), Some(0)));
        for (w, h) in [(80, 24), (120, 36)] {
            let text = draw(&s, w, h);
            assert!(
                text.contains("Wall per stage: serial #2 vs #1"),
                "{w}x{h}:\n{text}"
            );
        }
        // The chunked run has its serial baseline now: v is no longer offered.
        key(&mut s, KeyCode::Esc);
        assert_eq!(s.app.screen, Screen::Run);
        assert_eq!(s.app.vs_serial_offer(), None);
        assert!(!draw(&s, 120, 36).contains("vs serial"));
        // A key that is not on offer does nothing.
        key(&mut s, KeyCode::Char('v'));
        assert!(!s.app.running());
    }
}
