//! The Sweep screen's keys and messages: `r` starts a sweep around the chunk setup, `o` and a
//! typed path load one, and the progress and end of a sweep run here.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{App, Cmd, Msg};
use crate::tui::keys::Action;
use crate::tui::model::busy::Kind;
use crate::tui::model::screen::Screen;
use crate::tui::model::sweep::{SweepProgress, SweepView, sweep_request};

impl App {
    /// Keys on the Sweep screen.
    pub(super) fn on_sweep(&mut self, action: Action) -> Option<Cmd> {
        match action {
            Action::Run => return self.start_sweep(),
            Action::Open => self.results.path_input = Some(String::new()),
            Action::Cancel => {
                let job = self.results.sweep_job.as_mut()?;
                job.cancelling = true;
                return Some(Cmd::Cancel);
            }
            Action::Export => return Some(Cmd::Export),
            Action::Engine => {
                let c = &mut self.results.sweep_choice;
                c.engines = c.engines.next();
            }
            Action::Budget => self.results.sweep_choice.next_budget(),
            // Within what the notes' box leaves unseen on this terminal (the views' layout,
            // which only computes).
            Action::Up => self.results.notes_scroll = self.results.notes_scroll.saturating_sub(1),
            Action::Down => {
                let (w, h) = self.viewport;
                let area = ratatui::layout::Rect::new(0, 0, w, h);
                let most = crate::tui::view::sweep_notes_scroll_max(self, area);
                self.results.notes_scroll = (self.results.notes_scroll + 1).min(most);
            }
            Action::NextView => self.screen = Screen::Results,
            Action::Back => self.screen = self.back_from_results(),
            _ => {}
        }
        None
    }

    /// The lesson's sweep, with the chunk setup's output, resolution and cache settings:
    /// see [`sweep_request`]; serial is run too.
    fn start_sweep(&mut self) -> Option<Cmd> {
        match self.busy() {
            // The sweep going on is on this screen, with its progress.
            Some(Kind::Sweep) => return None,
            Some(kind) => {
                self.results.sweep_error = Some(kind.busy_message());
                return None;
            }
            None => {}
        }
        let Some(s) = self.setup.as_ref().filter(|s| s.layout.is_some()) else {
            self.results.sweep_error =
                Some("choose a scene first (Enter on the scenes screen), then Tab here".into());
            return None;
        };
        let mut request = sweep_request(s)?;
        request.choice = self.results.sweep_choice;
        self.results.sweep_error = None;
        self.results.sweep_job = Some(SweepProgress::default());
        Some(Cmd::StartSweep {
            item: s.item,
            request,
        })
    }

    /// Typing a sweep file's path: Enter loads it, Esc gives up.
    pub(super) fn on_path_key(&mut self, key: KeyEvent) -> Option<Cmd> {
        let input = self.results.path_input.as_mut()?;
        match key.code {
            KeyCode::Enter => {
                let path = std::mem::take(input);
                self.results.path_input = None;
                let path = path.trim();
                if !path.is_empty() {
                    return Some(Cmd::LoadSweep(path.into()));
                }
            }
            KeyCode::Esc => self.results.path_input = None,
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.results.path_input = None;
            }
            KeyCode::Char(c) => input.push(c),
            _ => {}
        }
        None
    }

    /// Progress and the end of a sweep started here.
    pub(super) fn on_sweep_msg(&mut self, msg: Msg) -> Option<Cmd> {
        match msg {
            Msg::SweepProgress { done, total, label } => {
                if let Some(job) = self.results.sweep_job.as_mut() {
                    (job.done, job.total, job.label) = (done, total, label);
                }
            }
            Msg::SweepFinished(result) => {
                self.results.sweep_job = None;
                match result {
                    Ok(result) => {
                        self.results.sweep_error = None;
                        self.results.notes_scroll = 0;
                        self.results.sweep = Some(SweepView {
                            result: result.0,
                            source: result.1,
                        })
                    }
                    Err(e) => self.results.sweep_error = Some(e),
                }
            }
            _ => {}
        }
        None
    }
}
