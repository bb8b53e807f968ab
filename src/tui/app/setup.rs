//! The chunk setup screen's keys and messages: the engine's layout arriving, fields stepped
//! and toggled, and `r` / `R` on to a run (started in [`super::run`]).

use chunkscope::chunks::{ChunkRequest, RasterLayout};
use chunkscope::pipeline::report::Grid;

use super::{App, Cmd};
use crate::tui::keys::Action;
use crate::tui::model::screen::Screen;
use crate::tui::model::setup::{plan_shape, step_field};

impl App {
    /// `pipeline::prepare` answered for `item`: the setup gets its layout and a first plan.
    pub(super) fn on_prepared(
        &mut self,
        item: usize,
        result: Result<(RasterLayout, Grid), String>,
    ) -> Option<Cmd> {
        if let Some(s) = self.setup.as_mut().filter(|s| s.item == item) {
            match result {
                Ok((layout, grid)) => {
                    s.layout = Some(layout);
                    s.grid = Some(grid);
                    s.error = None;
                    let shape = plan_shape(layout, &ChunkRequest::Blocks(2));
                    s.chunks = shape.unwrap_or([layout.bands, layout.rows, layout.cols]);
                    s.replan();
                }
                Err(e) => {
                    s.error = Some(e.clone());
                    self.push_log(e);
                }
            }
        }
        None
    }

    pub(super) fn on_setup(&mut self, action: Action) -> Option<Cmd> {
        let s = self.setup.as_mut()?;
        match action {
            Action::Back => self.screen = Screen::Scenes,
            Action::Up => s.field = step_field(s.field, -1),
            Action::Down => s.field = step_field(s.field, 1),
            Action::Left => s.adjust(-1),
            Action::Right => s.adjust(1),
            Action::FreeMode => s.free = !s.free,
            Action::Preset(p) => s.preset(p),
            Action::Schedule => s.toggle_schedule(),
            Action::Serial => s.serial = !s.serial,
            Action::Writer => s.toggle_writer(),
            Action::Run => return self.start_run(),
            Action::Repeat => return self.start_repeat(),
            Action::NextView => self.screen = Screen::Results,
            _ => {}
        }
        None
    }
}
