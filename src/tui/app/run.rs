//! The Run screen's keys and messages: starting runs and repeats, engine events, ticks and
//! samples folded into the run's view, its end, cancelling, and the replay's controls.

use super::{App, Cmd, Msg};
use crate::tui::keys::Action;
use crate::tui::model::live::{REPEAT_RUNS, Repeat, Replay};
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
                                self.results.push((*report).clone());
                            }
                            r.report = Some(*report);
                        }
                        Err(e) => {
                            if let Some(rep) = r.repeat.as_mut() {
                                rep.stopped = true;
                            }
                            r.error = Some(e);
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

    pub(super) fn start_run(&mut self) -> Option<Cmd> {
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
