//! The Scenes screen's keys and messages: choosing a scene (and filtering the list), its
//! assets inspected as the selection moves, Enter on to its chunk setup.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{App, Cmd};
use crate::tui::keys::Action;
use crate::tui::model::assets::AssetView;
use crate::tui::model::screen::Screen;
use crate::tui::model::setup::Setup;

impl App {
    /// An inspection answered.
    pub(super) fn on_inspected(&mut self, item: usize, assets: Vec<AssetView>) -> Option<Cmd> {
        // Answers can arrive out of order when inspecting runs in the background:
        // only the selected scene's is kept.
        if Some(item) == self.selected_item() {
            self.assets = Some((item, assets));
        }
        None
    }

    pub(super) fn on_filter_key(&mut self, key: KeyEvent) -> Option<Cmd> {
        let before = self.selected_item();
        match key.code {
            KeyCode::Enter => self.filtering = false,
            KeyCode::Esc => {
                self.filtering = false;
                self.filter.clear();
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return Some(Cmd::Quit);
            }
            KeyCode::Char(c) => self.filter.push(c),
            _ => {}
        }
        self.selected = 0;
        self.inspect_if_changed(before)
    }

    fn inspect_if_changed(&self, before: Option<usize>) -> Option<Cmd> {
        let now = self.selected_item()?;
        let have = self.assets.as_ref().map(|(i, _)| *i);
        (Some(now) != before || have != Some(now)).then_some(Cmd::Inspect(now))
    }

    pub(super) fn on_scenes(&mut self, action: Action) -> Option<Cmd> {
        let n = self.visible_items().len();
        let before = self.selected_item();
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(n.saturating_sub(1)),
            Action::Filter => {
                self.filtering = true;
                return None;
            }
            Action::Search => return self.open_search(),
            Action::LessonScene => {
                let lesson = self.catalog.lesson_index()?;
                if !self.visible_items().contains(&lesson) {
                    self.filter.clear();
                }
                self.selected = self.visible_items().iter().position(|&i| i == lesson)?;
            }
            Action::Enter => {
                let item = self.selected_item()?;
                self.screen = Screen::Setup;
                if self
                    .setup
                    .as_ref()
                    .is_some_and(|s| s.item == item && s.layout.is_some())
                {
                    return None;
                }
                self.setup = Some(Setup::new(item, self.cores));
                return Some(Cmd::Prepare {
                    item,
                    resolution: chunkscope::pipeline::Resolution::R20,
                });
            }
            _ => return None,
        }
        self.inspect_if_changed(before)
    }
}
