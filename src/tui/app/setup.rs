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
            Action::Blocks => s.toggle_blocks(),
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

#[cfg(test)]
mod tests {
    use chunkscope::output::{Codec, OutputFormat};
    use chunkscope::pipeline::Resolution;
    use chunkscope::pipeline::report::Grid;
    use crossterm::event::KeyCode;

    use crate::tui::app::{Cmd, Msg};
    use crate::tui::view::fixtures;

    #[test]
    fn settings_keys_change_the_run_and_the_resolution_replans() {
        let mut app = fixtures::setup_app();
        let key =
            |app: &mut crate::tui::app::App, c: char| app.update(Msg::Key(KeyCode::Char(c).into()));
        key(&mut app, 'O');
        key(&mut app, 'C');
        // The cache has no key of its own: down to its field, then right.
        for _ in 0..9 {
            app.update(Msg::Key(KeyCode::Down.into()));
        }
        app.update(Msg::Key(KeyCode::Right.into()));
        let s = app.setup.as_ref().unwrap();
        assert_eq!(s.format, OutputFormat::Gtiff);
        assert_eq!(
            s.codec,
            Codec::DEFLATE,
            "NONE, GeoTIFF's default, then DEFLATE"
        );
        assert_eq!(s.gdal_cache_mb, Some(16));
        // 10 m: the engine prepares the other grid; the chunks chosen are kept.
        let cmd = key(&mut app, 'Z');
        assert_eq!(
            cmd,
            Some(Cmd::Prepare {
                item: 0,
                resolution: Resolution::R10
            })
        );
        assert!(app.setup.as_ref().unwrap().plan.is_none());
        let mut layout = fixtures::layout();
        (layout.rows, layout.cols) = (10980, 10980);
        let grid = Grid {
            bands: 3,
            rows: 10980,
            cols: 10980,
        };
        // A late answer for 20 m is dropped; the 10 m one replans.
        app.update(Msg::Prepared {
            item: 0,
            resolution: Resolution::R20,
            result: Ok((fixtures::layout(), grid)),
        });
        assert!(app.setup.as_ref().unwrap().layout.is_none());
        app.update(Msg::Prepared {
            item: 0,
            resolution: Resolution::R10,
            result: Ok((layout, grid)),
        });
        let s = app.setup.as_ref().unwrap();
        assert_eq!(s.chunks, [3, 2048, 2048]);
        let plan = s.plan.clone().unwrap().unwrap();
        assert_eq!(plan.chunk_count, 36);
        // The run carries every setting.
        let Some(Cmd::StartRun { settings, .. }) = key(&mut app, 'r') else {
            panic!("a run starts");
        };
        assert_eq!(settings.resolution, Resolution::R10);
        assert_eq!(settings.format, OutputFormat::Gtiff);
        assert_eq!(settings.gdal_cache_mb, Some(16));
        assert_eq!(
            app.run.as_ref().unwrap().settings,
            "GeoTIFF DEFLATE · 10 m · cache 16 MiB"
        );
    }
}
