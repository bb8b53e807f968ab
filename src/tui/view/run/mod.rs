//! The run screen: status, progress with ETA, the chunk map with a heat colour for done
//! chunks, the task stream (Gantt), per-stage progress, CPU and memory, the overhead meter
//! and, when done, the `%%time` figures from the run report (or the error), the spread of a
//! repeat, and the replay of the finished run. Pure: draws a
//! [`RunView`](crate::tui::model::run::RunView).
//!
//! The panels each have a file: `status` (the top line), `progress` (the gauge and the
//! stage bars), `map` (the chunk map), `overhead`, `summary` (`%%time`) and `history` (the
//! session's runs); the task stream and the CPU panel are the views' own `gantt` and
//! `cpu`. `layout` places them, wide or compact.

mod history;
mod layout;
mod map;
mod overhead;
mod progress;
mod status;
mod summary;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Clear, Widget};

use super::{Theme, graph};
use crate::tui::app::App;
use crate::tui::model::graph::GraphView;
use layout::{CompactAreas, WideAreas, render_compact, render_wide};
use map::MapGeom;

pub use map::map_view;

/// At least this big, the run screen shows every panel side by side.
pub const WIDE_WIDTH: u16 = 120;
pub const WIDE_HEIGHT: u16 = 32;

/// Draws the run screen in the layout the area allows.
pub fn render(app: &App, theme: Theme, area: Rect, buf: &mut Buffer) {
    let Some(r) = &app.run else { return };
    let wide = area.width >= WIDE_WIDTH && area.height >= WIDE_HEIGHT;
    if wide {
        render_wide(r, &app.results, theme, area, buf);
    } else {
        render_compact(r, &app.results, theme, area, buf);
    }
    if let Some(at) = graph_area(app, area, wide)
        && let Some(view) = GraphView::of_run(r)
    {
        Clear.render(at, buf);
        graph::render(&view, theme, at, buf);
    }
}

/// Where the task graph goes when `g` shows it: over the chunk map and the task stream
/// (with the stage progress when wide; with the CPU line and `%%time` when compact).
fn graph_area(app: &App, area: Rect, wide: bool) -> Option<Rect> {
    let r = app.run.as_ref()?;
    if !app.graph_panel || r.graph.is_none() {
        return None;
    }
    Some(if wide {
        let a = WideAreas::new(area);
        a.map.union(a.stages)
    } else {
        let a = CompactAreas::new(area);
        a.map.union(a.time)
    })
}

/// The chunk under the terminal cell (`x`, `y`) of the run screen drawn in `area`, if any
/// (for mouse clicks). Uses the layout and geometry the drawing uses.
pub fn chunk_at(app: &App, area: Rect, x: u16, y: u16) -> Option<usize> {
    let r = app.run.as_ref()?;
    if app.graph_panel && r.graph.is_some() {
        return None;
    }
    let map = if area.width >= WIDE_WIDTH && area.height >= WIDE_HEIGHT {
        WideAreas::new(area).map
    } else {
        CompactAreas::new(area).map
    };
    let inner = Block::bordered().inner(map);
    let (states, _) = map_view(r);
    let g = MapGeom::new(r, inner)?;
    if !inner.contains(ratatui::layout::Position { x, y }) {
        return None;
    }
    let (dx, dy) = (usize::from(x - inner.x), usize::from(y - inner.y));
    let (col, row) = (dx / g.cell, dy / g.cell_h);
    let in_gap = g.cell > 1 && dx % g.cell == g.cell - 1;
    let i = row * r.grid.2 + col;
    (!in_gap && col < g.cols && row < g.shown_rows && i < states.len()).then_some(i)
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use chunkscope::profile::sampler::Sample;
    use chunkscope::task::{Event, Stage, TaskRecord};

    use super::super::cpu::meters;

    use crate::tui::app::{Cmd, Msg};

    use crate::tui::model::screen::Screen;
    use crate::tui::view::{buffer_text, fixtures, render};

    #[test]
    fn others_taking_the_cores_are_marked_live_and_when_done() {
        let mut app = fixtures::setup_app();
        app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        app.update(Msg::Engine(Event::RunStarted {
            chunks: 9,
            threads: 2,
        }));
        let draw = |app: &crate::tui::app::App, w: u16, h: u16| {
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| render(app, f.area(), f.buffer_mut()))
                .unwrap();
            buffer_text(term.backend().buffer())
        };
        // Quiet: this process is the only one busy.
        app.update(Msg::Sample(sample(100_000_000, vec![60.0, 50.0], 105.0, 1)));
        assert!(!draw(&app, 80, 24).contains("others"));
        // Both cores full, this process on one of them: others hold a core.
        for k in 2..12 {
            app.update(Msg::Sample(sample(
                k * 100_000_000,
                vec![100.0, 100.0],
                100.0,
                1,
            )));
        }
        for (w, h) in [(80, 24), (160, 48)] {
            let text = draw(&app, w, h);
            assert!(text.contains("▶ running · ⚠ others: 1.0 core"), "{text}");
        }
        // Finished: the report's measured figure, not the last samples'.
        let mut report = crate::tui::testdata::data().chunked.clone();
        report.others_cpu_ns = Some(report.wall_ns * 9 / 10);
        report.others_cores = Some(0.9);
        report.disturbed = true;
        app.update(Msg::RunFinished(Ok(Box::new(report))));
        let text = draw(&app, 80, 24);
        assert!(text.contains("✓ done · ⚠ others: 0.9 cores"), "{text}");
    }

    #[test]
    fn the_header_keeps_the_time_at_80x24_and_names_a_stage_only_while_running() {
        let draw = |app: &crate::tui::app::App, w: u16, h: u16| {
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| render(app, f.area(), f.buffer_mut()))
                .unwrap();
            buffer_text(term.backend().buffer())
        };
        let header = |text: &str| text.lines().nth(1).unwrap_or_default().to_string();
        let mut app = fixtures::setup_app();
        // A real Sentinel-2 id, as long as they come.
        app.catalog.items[0].id =
            "S2B_MSIL2A_20230611T105619_N0509_R094_T31UFU_20230611T134110".into();
        app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        app.update(Msg::Engine(Event::RunStarted {
            chunks: 9,
            threads: 2,
        }));
        app.update(Msg::Engine(Event::StageStarted {
            stage: Stage::Load,
            at_ns: 0,
        }));
        app.update(Msg::Tick {
            elapsed_ns: 83_400_000_000,
            dropped: 0,
            samples_dropped: 0,
        });
        for (w, h) in [(80, 24), (120, 36)] {
            let line = header(&draw(&app, w, h));
            assert!(
                line.starts_with("▶ running · 1min 23s · stage load · chunked x 2"),
                "{w}x{h}: {line}"
            );
        }
        let report = crate::tui::testdata::data().chunked.clone();
        let wall = chunkscope::profile::units::duration_ns(report.wall_ns);
        app.update(Msg::RunFinished(Ok(Box::new(report))));
        for (w, h) in [(80, 24), (120, 36)] {
            let line = header(&draw(&app, w, h));
            assert!(
                line.starts_with(&format!("✓ done · {wall} · chunked x 2")),
                "{w}x{h}: {line} ({wall})"
            );
            // Done is done: no stage is going on.
            assert!(!line.contains("· stage"), "{w}x{h}: {line}");
        }
    }

    #[test]
    fn run_screen_shows_the_chunk_map_and_lanes() {
        let mut app = fixtures::setup_app();
        let cmd = app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        assert!(
            matches!(cmd, Some(Cmd::StartRun { item: 0, .. })),
            "{cmd:?}"
        );
        assert_eq!(app.screen, Screen::Run);
        app.update(Msg::Engine(Event::RunStarted {
            chunks: 9,
            threads: 2,
        }));
        app.update(Msg::Engine(Event::TaskStarted {
            chunk: 0,
            stage: Stage::Load,
            worker: 0,
            at_ns: 0,
            helping: false,
        }));
        app.update(Msg::Engine(Event::TaskFinished(TaskRecord {
            chunk: 1,
            stage: Stage::Load,
            worker: 1,
            start_ns: 0,
            end_ns: 5_000_000,
            bytes: 100,
            wait_ns: 0,
            alloc_ns: 0,
            append_wait_ns: 0,
            tiles: 0,
            lock_hold_ns: 0,
            helping: false,
        })));
        for (w, h) in [(80, 24), (160, 48)] {
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| render(&app, f.area(), f.buffer_mut()))
                .unwrap();
            let text = buffer_text(term.backend().buffer());
            assert!(text.contains("chunked x 2 (3,2048,2048, staged)"), "{text}");
            assert!(text.contains("1/27 tasks"), "{text}");
            // Cells fill the room: seven glyphs and a gap each at both sizes.
            assert!(text.contains("LLLLLLL lllllll ·······"), "{text}");
            assert!(text.contains("running"), "{text}");
            assert!(text.contains("Task stream"), "{text}");
            // Both lanes: w1's finished load, w0's load still running, drawn as load cells.
            let lane = |w: &str| {
                text.lines()
                    .find_map(|l| l.split_once(&format!("│{w} ")).map(|(_, r)| r.to_string()))
                    .unwrap_or_else(|| panic!("no lane {w}:\n{text}"))
            };
            assert!(lane("w0").contains('░'), "{text}");
            assert!(lane("w1").contains('░'), "{text}");
            assert!(text.contains("ETA ≈"), "{text}");
            assert!(text.contains("(estimate)"), "{text}");
            assert!(text.contains("1/9"), "{text}");
            assert!(text.contains("0/9"), "{text}");
        }
    }

    #[test]
    fn no_color_run_screen_draws_no_colour() {
        let mut app = fixtures::setup_app();
        app.color = false;
        app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        app.update(Msg::Engine(Event::TaskFinished(TaskRecord {
            chunk: 1,
            stage: Stage::Write,
            worker: 1,
            start_ns: 0,
            end_ns: 5_000_000,
            bytes: 100,
            wait_ns: 0,
            alloc_ns: 0,
            append_wait_ns: 0,
            tiles: 0,
            lock_hold_ns: 0,
            helping: false,
        })));
        app.update(Msg::Sample(sample(
            100_000_000,
            vec![10.0, 90.0],
            30.0,
            1 << 20,
        )));
        for (w, h) in [(80, 24), (160, 48)] {
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| render(&app, f.area(), f.buffer_mut()))
                .unwrap();
            let buf = term.backend().buffer();
            assert!(
                buf.content()
                    .iter()
                    .all(|c| c.fg == ratatui::style::Color::Reset
                        && c.bg == ratatui::style::Color::Reset)
            );
            // The glyphs still tell the states and stages apart.
            let text = buffer_text(buf);
            assert!(text.contains("▓ write"), "{text}");
            assert!(text.contains("heat █ 5.00 ms"), "{text}");
        }
    }

    #[test]
    fn a_click_on_a_chunk_lists_its_tasks() {
        use crate::tui::view::chunk_at;
        let mut app = fixtures::setup_app();
        app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        app.update(Msg::Engine(Event::TaskFinished(TaskRecord {
            chunk: 4,
            stage: Stage::Load,
            worker: 1,
            start_ns: 0,
            end_ns: 1_500_000,
            bytes: 100,
            wait_ns: 0,
            alloc_ns: 0,
            append_wait_ns: 0,
            tiles: 0,
            lock_hold_ns: 0,
            helping: false,
        })));
        app.update(Msg::Engine(Event::TaskStarted {
            chunk: 4,
            stage: Stage::Mask,
            worker: 0,
            at_ns: 2_000_000,
            helping: false,
        }));
        for (w, h) in [(80, 24), (160, 48)] {
            let area = ratatui::layout::Rect::new(0, 0, w, h);
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| render(&app, f.area(), f.buffer_mut()))
                .unwrap();
            let buf = term.backend().buffer().clone();
            // Every cell drawn with chunk 4's glyph (M: mask running) maps to chunk 4.
            let cells: Vec<(u16, u16)> = (0..h)
                .flat_map(|y| (0..w / 2).map(move |x| (x, y)))
                // Map cells are several glyphs wide; the legend's "M mask" is one.
                .filter(|&(x, y)| {
                    buf[(x, y)].symbol() == "M"
                        && (buf[(x + 1, y)].symbol() == "M"
                            || buf[(x.saturating_sub(1), y)].symbol() == "M")
                })
                .collect();
            assert!(!cells.is_empty());
            for (x, y) in cells {
                assert_eq!(chunk_at(&app, area, x, y), Some(4), "{w}x{h} at {x},{y}");
                // The cell after the last M of a row is the gap.
                if buf[(x + 1, y)].symbol() == " " {
                    assert_eq!(chunk_at(&app, area, x + 1, y), None);
                }
            }
            assert_eq!(chunk_at(&app, area, 5, 0), None, "the header");
        }
        app.update(Msg::SelectChunk(Some(4)));
        let text = draw(&app, 160, 48);
        assert!(
            text.contains("chunk #4 (row 1, col 1): load w1 1.50 ms at 0 ns · busy 1.50 ms"),
            "{text}"
        );
        app.update(Msg::SelectChunk(None));
        assert_eq!(
            app.run.as_ref().unwrap().selected,
            None,
            "a click beside clears"
        );
        app.update(Msg::SelectChunk(Some(4)));
        let cmd = app.update(Msg::Key(crossterm::event::KeyCode::Esc.into()));
        assert_eq!(cmd, Some(Cmd::Cancel), "Esc still cancels a run");
    }

    fn sample(t_ns: u64, cores: Vec<f32>, cpu: f32, rss: u64) -> Sample {
        Sample {
            t_ns,
            per_core_pct: cores,
            process_cpu_pct: cpu,
            rss_bytes: rss,
        }
    }

    fn draw(app: &crate::tui::app::App, w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| render(app, f.area(), f.buffer_mut()))
            .unwrap();
        let text = buffer_text(term.backend().buffer());
        if std::env::var_os("CHUNKSCOPE_DUMP_SCREENS").is_some() {
            eprintln!("{text}");
        }
        text
    }

    #[test]
    fn live_samples_feed_the_cpu_bars_and_sparklines() {
        let mut app = fixtures::setup_app();
        app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        let r = app.run.as_ref().unwrap();
        let m = meters(r, 80);
        assert!(m.cpu_pct.is_empty() && m.rss.is_empty());
        app.update(Msg::Sample(sample(
            100_000_000,
            vec![10.0, 20.0],
            30.0,
            1 << 20,
        )));
        app.update(Msg::Sample(sample(200_000_000, vec![], 150.0, 3 << 20)));
        app.update(Msg::Sample(sample(
            300_000_000,
            vec![65.0, 33.0],
            98.4,
            2 << 20,
        )));
        let r = app.run.as_ref().unwrap();
        let m = meters(r, 80);
        assert_eq!(m.cpu_pct, vec![30, 150, 98]);
        assert_eq!(m.rss, vec![1 << 20, 3 << 20, 2 << 20]);
        assert_eq!(m.cores_pct, vec![65.0, 33.0]);
        assert_eq!(m.rss_peak, 3 << 20);
        assert_eq!(
            meters(r, 2).cpu_pct,
            vec![150, 98],
            "the latest samples fit"
        );
        assert_eq!(r.live.now_ns, 300_000_000, "samples move the run clock on");

        let text = draw(&app, 160, 48);
        assert!(text.contains("CPU and memory"), "{text}");
        assert!(text.contains("per core, live"), "{text}");
        assert!(text.contains("c0"), "{text}");
        assert!(text.contains("65 %"), "{text}");
        assert!(text.contains("33 %"), "{text}");
        assert!(text.contains("process CPU 98 %"), "{text}");
        assert!(text.contains("RSS 2.00 MiB · peak 3.00 MiB"), "{text}");
        assert!(text.contains("live 100 % of capacity"), "{text}");
        let text = draw(&app, 80, 24);
        assert!(text.contains("CPU c0 65 % c1 33 %"), "{text}");
        assert!(text.contains("RSS 2.00 MiB"), "{text}");
        assert!(text.contains("overhead 100 % live"), "{text}");
    }

    #[test]
    fn run_errors_show_in_a_panel() {
        let mut app = fixtures::setup_app();
        app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        app.update(Msg::RunFinished(Err("cannot open \"x.tif\"".into())));
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        term.draw(|f| render(&app, f.area(), f.buffer_mut()))
            .unwrap();
        let text = buffer_text(term.backend().buffer());
        assert!(text.contains("✗ failed"), "{text}");
        assert!(text.contains("run failed: cannot open"), "{text}");
    }
}
