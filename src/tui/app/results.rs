//! The Results screen's keys and the end of a save: the selected row, the A/B marks, `s`
//! to save, Tab on to the Sweep screen, Esc back to where the run came from.

use super::{App, Cmd};
use crate::tui::keys::Action;
use crate::tui::model::results::Notice;
use crate::tui::model::screen::Screen;

impl App {
    /// Keys on the Results screen.
    pub(super) fn on_results(&mut self, action: Action) -> Option<Cmd> {
        let r = &mut self.results;
        let n = r.runs.len();
        match action {
            Action::Up => r.selected = r.selected.saturating_sub(1),
            Action::Down => r.selected = (r.selected + 1).min(n.saturating_sub(1)),
            Action::MarkA if n > 0 => r.a = Some(r.selected),
            Action::MarkB if n > 0 => r.b = Some(r.selected),
            Action::ClearMarks => {
                r.a = None;
                r.b = None;
            }
            Action::Export => return Some(Cmd::Export),
            Action::NextView => self.screen = Screen::Sweep,
            Action::Back => self.screen = self.back_from_results(),
            _ => {}
        }
        None
    }

    /// What a save ([`Cmd::Export`]) wrote, or why it could not.
    pub(super) fn on_exported(&mut self, result: Result<Vec<String>, String>) -> Option<Cmd> {
        let notice = match result {
            Ok(paths) => Notice::Saved(paths),
            Err(e) => Notice::Failed(e),
        };
        // A failure is kept in the log with the other errors; a save is not a message to
        // read later, only news for the status line.
        if let Notice::Failed(_) = notice {
            self.push_log(notice.line());
        }
        self.results.notice = Some(notice);
        self.notice_is_latest = true;
        None
    }

    /// Where Esc leads from Results and Sweep: the run, else the chunk setup, else scenes.
    pub(super) fn back_from_results(&self) -> Screen {
        if self.run.is_some() {
            Screen::Run
        } else if self.setup.is_some() {
            Screen::Setup
        } else {
            Screen::Scenes
        }
    }
}
