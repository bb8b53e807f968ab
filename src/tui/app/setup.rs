//! The chunk setup screen's keys and messages: the engine's layout arriving, fields stepped
//! and toggled, and `r` / `R` on to a run (started in [`super::run`]).

use chunkscope::chunks::{ChunkRequest, RasterLayout};
use chunkscope::pipeline::Resolution;
use chunkscope::pipeline::report::Grid;

use super::{App, Cmd};
use crate::tui::keys::Action;
use crate::tui::model::screen::Screen;
use crate::tui::model::setup::{Field, plan_shape, step_field};

impl App {
    /// `pipeline::prepare` answered for `item` at `resolution`: the setup gets its layout
    /// and a plan (a first one, or the chunks already chosen on the new grid). An answer for
    /// a resolution no longer chosen is dropped.
    pub(super) fn on_prepared(
        &mut self,
        item: usize,
        resolution: Resolution,
        result: Result<(RasterLayout, Grid), String>,
    ) -> Option<Cmd> {
        if let Some(s) = self
            .setup
            .as_mut()
            .filter(|s| s.item == item && s.resolution == resolution)
        {
            match result {
                Ok((layout, grid)) => {
                    let first = !s.prepared_once;
                    s.prepared_once = true;
                    s.layout = Some(layout);
                    s.grid = Some(grid);
                    s.error = None;
                    if first {
                        let shape = plan_shape(layout, &ChunkRequest::Blocks(2));
                        s.chunks = shape.unwrap_or([layout.bands, layout.rows, layout.cols]);
                    }
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
            Action::Left | Action::Right if s.field == Field::Resolution => {
                return self.toggle_resolution();
            }
            Action::Left => s.adjust(-1),
            Action::Right => s.adjust(1),
            Action::FreeMode => s.free = !s.free,
            Action::Preset(p) => s.preset(p),
            Action::Schedule => s.toggle_schedule(),
            Action::Serial => s.serial = !s.serial,
            Action::Writer => s.toggle_writer(),
            Action::Format => s.toggle_format(),
            Action::Codec => s.step_codec(1),
            Action::Resolution => return self.toggle_resolution(),
            Action::GdalCache => s.step_cache(1),
            Action::Run => return self.start_run(),
            Action::Repeat => return self.start_repeat(),
            Action::NextView => self.screen = Screen::Results,
            _ => {}
        }
        None
    }

    /// 20 m / 10 m: the other grid has other blocks and sizes, so the engine prepares it.
    fn toggle_resolution(&mut self) -> Option<Cmd> {
        let s = self.setup.as_mut()?;
        if s.layout.is_none() && s.error.is_none() {
            // Still opening: one change at a time.
            return None;
        }
        s.error = None;
        s.toggle_resolution();
        Some(Cmd::Prepare {
            item: s.item,
            resolution: s.resolution,
        })
    }
}
