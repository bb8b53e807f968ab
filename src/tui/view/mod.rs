//! Pure views: functions of the [`App`] model that draw into a buffer. Nothing here does
//! I/O or changes the model. Runs on the UI thread.
//!
//! Every screen shares the frame below; each screen's own layout is sketched above its
//! render function.
//!
//! ```text
//! chunkscope · <screen> · <catalog>                 header
//! ┌──────────────────────────────────────────────┐
//! │ screen body                                   │
//! └──────────────────────────────────────────────┘
//! log: last GDAL message or error (n)              status
//! ↑↓/jk move · / filter · ? help · q quit          footer (from the key table)
//! ```

pub mod big_digits;
pub mod cpu;
pub mod dask;
pub mod gantt;
pub mod graph;
pub mod help;
pub mod lesson;
pub mod lesson_chart;
pub mod results;
pub mod run;
pub mod scenes;
pub mod search;
pub mod setup;
pub mod small;
pub mod sweep;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::app::App;

use super::keys;
use super::model::screen::Screen;
use chunkscope::convert;

/// Below this size the screens do not fit: draw [`small::render`] instead.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

/// Colours from the terminal's 16 ANSI colours, or none at all (`NO_COLOR`). Every
/// coloured thing also has a glyph or a label, so nothing depends on colour alone.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }
    pub fn bold(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    /// The selected row: reversed, which reads without colour too.
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    pub fn dim(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }
}

/// The chunk under a mouse click at (`x`, `y`) of a screen of `area`, when the run screen
/// shows its map there.
pub fn chunk_at(app: &App, area: Rect, x: u16, y: u16) -> Option<usize> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT || app.help || app.screen != Screen::Run {
        return None;
    }
    let [_, body, _, _] = frame_areas(area, footer_lines(app, area).len());
    run::chunk_at(app, body, x, y)
}

/// How far `↓` may scroll the Sweep screen's notes on a screen of `area`.
pub fn sweep_notes_scroll_max(app: &App, area: Rect) -> u16 {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return 0;
    }
    let [_, body, _, _] = frame_areas(area, footer_lines(app, area).len());
    sweep::notes_scroll_max(app, body)
}

/// Header, body, status line and a footer of `footer_h` lines.
fn frame_areas(area: Rect, footer_h: usize) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(convert::clamp_u16(footer_h)),
    ])
    .areas(area)
}

/// The footer's lines: the key table's hints in up to two lines, or what typing a filter or
/// a path needs.
fn footer_lines(app: &App, area: Rect) -> Vec<String> {
    if app.filtering {
        vec!["type to filter · Enter keep · Esc clear".to_string()]
    } else if app.search.is_some() && app.screen == Screen::Scenes {
        vec![search::FOOTER.to_string()]
    } else if let Some(path) = &app.results.path_input {
        vec![format!("sweep file: {path}▏ · Enter open · Esc cancel")]
    } else {
        let offered =
            |a: keys::Action| a != keys::Action::VsSerial || app.vs_serial_offer().is_some();
        keys::footer_lines_offering(app.screen, area.width, 2, &offered)
    }
}

/// Draws the whole screen for `app`.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        small::render(area, buf);
        return;
    }
    let theme = Theme { color: app.color };
    let hint = footer_lines(app, area);
    let [header, body, status, footer] = frame_areas(area, hint.len());
    let screen = match app.screen {
        Screen::Scenes => "scenes",
        Screen::Setup => "chunks",
        Screen::Run => "run",
        Screen::Results => "results",
        Screen::Sweep => "sweep",
        Screen::Lesson => "lesson",
    };
    let mut title = vec![
        Span::styled("chunkscope", theme.bold()),
        Span::raw(format!(" · {screen}")),
    ];
    // Before the catalog, which may be a long URL: the label must stay on screen.
    if let Some(network) = &app.network {
        title.push(Span::styled(
            format!(" · {network}"),
            theme.fg(Color::Yellow),
        ));
    }
    title.push(Span::raw(format!(
        " · catalog {}",
        app.catalog.path.display()
    )));
    Paragraph::new(Line::from(title)).render(header, buf);
    match app.screen {
        Screen::Scenes => scenes::render(app, theme, body, buf),
        Screen::Setup => setup::render(app, theme, body, buf),
        Screen::Run => run::render(app, theme, body, buf),
        Screen::Results => results::render(app, theme, body, buf),
        Screen::Sweep => sweep::render(app, theme, body, buf),
        Screen::Lesson => lesson::render(app, theme, body, buf),
    }
    Paragraph::new(status_line(app, theme)).render(status, buf);
    Paragraph::new(
        hint.into_iter()
            .map(|l| Line::from(Span::styled(l, theme.dim())))
            .collect::<Vec<_>>(),
    )
    .render(footer, buf);
    if app.help {
        help::render(app.screen, app.help_page, theme, area, buf);
    }
}

/// The status line: a Dask run (`D`) while it runs; else the last save or Dask run said
/// plainly (`✓ saved …` or `✗ cannot save: …`) when it is the newest news, else the last
/// log message (GDAL's, errors) marked `!`; then how many messages the log holds, apart
/// from either.
fn status_line(app: &App, theme: Theme) -> Line<'static> {
    let count = match app.log.len() {
        0 => String::new(),
        1 => " · 1 message in the log".to_string(),
        n => format!(" · {n} messages in the log"),
    };
    if let Some(dask) = &app.dask {
        // A Dask run in progress is the news until it ends.
        return Line::from(vec![
            Span::styled("▶ ", theme.fg(Color::Cyan)),
            Span::raw(dask.status()),
        ]);
    }
    let notice = app.results.notice.as_ref().filter(|_| app.notice_is_latest);
    match (notice, app.log.back()) {
        (Some(n), _) => {
            let color = if n.ok() { Color::Green } else { Color::Red };
            Line::from(vec![
                Span::styled(n.line(), theme.fg(color)),
                Span::styled(count, theme.dim()),
            ])
        }
        (None, Some(last)) => Line::from(vec![
            Span::styled("! ", theme.fg(Color::Yellow)),
            Span::raw(last.clone()),
            Span::styled(count, theme.dim()),
        ]),
        (None, None) => Line::from(Span::styled("no messages", theme.dim())),
    }
}

/// The buffer's text, one string per row, for tests and debugging.
#[cfg(test)]
pub fn buffer_text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
pub mod fixtures {
    //! Fixed models for view tests: no GDAL, no files.
    use std::path::PathBuf;

    use chunkscope::catalog::{Catalog, Item};
    use chunkscope::chunks::{Interleave, RasterLayout};
    use chunkscope::pipeline::report::Grid;
    use chunkscope::raster::RasterInfo;

    use crate::tui::app::{App, Msg};
    use crate::tui::model::assets::AssetView;
    use crate::tui::model::screen::Screen;
    use crate::tui::model::setup::Setup;

    pub fn catalog() -> Catalog {
        let item = |id: &str, date: &str, cloud: f64| Item {
            id: id.into(),
            datetime: Some(date.into()),
            cloud_cover: Some(cloud),
            platform: Some("sentinel-2a".into()),
            assets: vec![],
        };
        Catalog {
            path: PathBuf::from("/data/search.json"),
            items: vec![
                item("S2A_31UFU_20200328_0_L2A", "2020-03-28T10:50:00Z", 12.5),
                item("S2B_31UFU_20200402_0_L2A", "2020-04-02T10:50:00Z", 63.0),
            ],
        }
    }

    pub fn layout() -> RasterLayout {
        RasterLayout {
            bands: 3,
            rows: 5490,
            cols: 5490,
            block_rows: 1024,
            block_cols: 1024,
            dtype_bytes: 1,
            interleave: Interleave::Pixel,
        }
    }

    pub fn info(size: usize, bands: usize) -> RasterInfo {
        RasterInfo {
            path: "/data/visual.tif".into(),
            rows: size,
            cols: size,
            bands,
            dtype: "Byte".into(),
            dtype_bytes: 1,
            block_shapes: vec![[1024, 1024]; bands],
            overviews: vec![[size / 2, size / 2], [size / 4, size / 4]],
            overview_blocks: vec![[1024, 1024]; 2],
            compression: Some("DEFLATE".into()),
            interleave: Interleave::Pixel,
            tiled: true,
            cog: true,
            geo_transform: None,
            resolution: Some([10.0, 10.0]),
            epsg: Some(32631),
            nodata: Some(0.0),
            crs: None,
        }
    }

    pub fn scenes_app() -> App {
        let mut app = App::new(catalog(), 2, true);
        app.update(Msg::Inspected {
            item: 0,
            assets: vec![
                AssetView {
                    key: "visual".into(),
                    info: Ok(info(10980, 3)),
                },
                AssetView {
                    key: "SCL".into(),
                    info: Ok(info(5490, 1)),
                },
                AssetView {
                    key: "B02".into(),
                    info: Err("no such file".into()),
                },
            ],
        });
        app
    }

    pub fn setup_app() -> App {
        let mut app = scenes_app();
        app.screen = Screen::Setup;
        app.setup = Some(Setup::new(0, 2));
        app.update(Msg::Prepared {
            item: 0,
            resolution: chunkscope::pipeline::Resolution::R20,
            result: Ok((
                layout(),
                Grid {
                    bands: 3,
                    rows: 5490,
                    cols: 5490,
                },
            )),
        });
        app
    }
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::tui::app::Msg;

    fn draw(app: &App, w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| render(app, f.area(), f.buffer_mut()))
            .unwrap();
        buffer_text(term.backend().buffer())
    }

    #[test]
    fn too_small_says_so() {
        let app = fixtures::scenes_app();
        let text = draw(&app, 40, 10);
        assert!(text.contains("terminal too small"), "{text}");
        assert!(text.contains("40x10"), "{text}");
        assert!(text.contains("need 60x16"), "{text}");
    }

    #[test]
    fn scenes_screen_lists_items_and_assets() {
        let app = fixtures::scenes_app();
        for (w, h) in [(80, 24), (160, 48)] {
            let text = draw(&app, w, h);
            assert!(text.contains("S2A_31UFU_20200328_0_L2A"), "{text}");
            assert!(text.contains("S2B_31UFU_20200402_0_L2A"), "{text}");
            assert!(text.contains("2020-03-28"), "{text}");
            assert!(text.contains("  12 %"), "{text}");
            assert!(text.contains("sentinel-2a"), "{text}");
            assert!(text.contains("10980x10980"), "{text}");
            assert!(text.contains("1024x1024"), "{text}");
            assert!(text.contains("no such file"), "{text}");
            assert!(text.contains("/ filter"), "{text}");
        }
    }

    #[test]
    fn scenes_screen_says_what_a_run_reads_and_marks_the_lessons_scene() {
        use crossterm::event::KeyCode;
        let mut app = fixtures::scenes_app();
        for (w, h) in [(80, 24), (160, 48)] {
            let text = draw(&app, w, h);
            // SCL is read at its native 20 m, not at an overview; visual at overview 0.
            assert!(
                text.contains("visual  20 m: overview 0, 5490x5490"),
                "{text}"
            );
            assert!(text.contains("SCL     20 m: full res, 5490x5490"), "{text}");
            assert!(!text.contains("overview 0 of visual and SCL"), "{text}");
            assert!(text.contains("B02     not read by runs"), "{text}");
            assert!(text.contains("★ the lesson's: items[-1] (G)"), "{text}");
            // The last item is the lesson's, and only it is marked.
            let marked: Vec<&str> = text.lines().filter(|l| l.contains("★ lesson")).collect();
            assert_eq!(marked.len(), 1, "{text}");
            assert!(marked[0].contains("S2B_31UFU_20200402_0_L2A"), "{text}");
            assert!(text.contains("G lesson's scene"), "{text}");
        }
        let wide = draw(&app, 160, 48);
        assert!(wide.contains("10 m: full res, 10980x10980"), "{wide}");
        assert!(
            wide.contains("10 m: full res 5490x5490, pixels 2x2"),
            "{wide}"
        );
        // G selects it, and asks for its assets.
        assert_eq!(
            app.update(Msg::Key(KeyCode::Char('G').into())),
            Some(crate::tui::app::Cmd::Inspect(1))
        );
        assert_eq!(app.selected_item(), Some(1));
        // Also when a filter hides it: the filter goes.
        app.selected = 0;
        app.filter = "0328".into();
        app.update(Msg::Key(KeyCode::Char('G').into()));
        assert!(app.filter.is_empty());
        assert_eq!(app.selected_item(), Some(1));
    }

    #[test]
    fn filter_narrows_the_list() {
        let mut app = fixtures::scenes_app();
        app.filter = "0402".into();
        let text = draw(&app, 80, 24);
        assert!(text.contains("S2B_31UFU_20200402_0_L2A"), "{text}");
        assert!(!text.contains("S2A_31UFU_20200328_0_L2A"), "{text}");
        assert!(text.contains("/0402"), "{text}");
    }

    #[test]
    fn setup_screen_shows_figures_and_diagram() {
        let app = fixtures::setup_app();
        for (w, h) in [(80, 24), (160, 48)] {
            let text = draw(&app, w, h);
            assert!(text.contains("2048"), "{text}");
            assert!(text.contains("12.0 MiB"), "{text}");
            assert!(text.contains("9 chunks"), "{text}");
            assert!(text.contains("✓ aligned"), "{text}");
            assert!(text.contains("read amplification"), "{text}");
            assert!(text.contains("┼"), "{text}");
        }
    }

    #[test]
    fn help_overlay_lists_the_key_table() {
        // The overlay's title and the long help texts; the footer shows only short hints.
        let only_in_overlay = [
            "Keys and terms",
            "free mode: steps off the block grid",
            "show / hide this help",
        ];
        let mut app = fixtures::setup_app();
        for (w, h) in [(80, 24), (160, 48)] {
            app.help = false;
            let text = draw(&app, w, h);
            for s in only_in_overlay {
                assert!(!text.contains(s), "{s:?} without the overlay:\n{text}");
            }
            app.help = true;
            let text = draw(&app, w, h);
            for s in only_in_overlay {
                assert!(text.contains(s), "{s:?} missing from the overlay:\n{text}");
            }
        }
    }

    #[test]
    fn every_term_of_the_glossary_is_reachable_in_the_help_overlay() {
        use crossterm::event::KeyCode;
        for (w, h) in [(80, 24), (160, 48)] {
            let mut app = fixtures::setup_app();
            app.update(Msg::Key(KeyCode::Char('?').into()));
            let mut seen = String::new();
            let mut pages = 0;
            loop {
                let text = draw(&app, w, h);
                assert!(text.contains("Keys and terms"), "{text}");
                seen.push_str(&text);
                pages += 1;
                app.update(Msg::Key(KeyCode::PageDown.into()));
                assert!(app.help, "paging keeps the overlay open");
                if draw(&app, w, h) == draw(&fixtures_with_help(), w, h) || pages > 20 {
                    break;
                }
            }
            assert!(pages < 20, "the pages come round to the first");
            if (w, h) == (80, 24) {
                assert!(pages > 1, "80x24 needs more than one page");
                assert!(seen.contains("page 1/"), "{seen}");
            }
            let flat = seen.split_whitespace().collect::<Vec<_>>().join(" ");
            for t in chunkscope::glossary::TERMS {
                assert!(
                    seen.contains(t.term),
                    "{:?} not reachable at {w}x{h}",
                    t.term
                );
                // The start of its meaning, at least up to where a line may wrap.
                let head: String = t.meaning.chars().take(20).collect();
                let head = head.split_whitespace().collect::<Vec<_>>().join(" ");
                assert!(flat.contains(&head), "{:?} at {w}x{h}", t.meaning);
            }
            // Back a page from the first is the last; any other key closes.
            app.update(Msg::Key(KeyCode::Char('x').into()));
            assert!(!app.help);
        }
    }

    fn fixtures_with_help() -> App {
        let mut app = fixtures::setup_app();
        app.help = true;
        app
    }

    /// A run of `grid` chunks on 2 threads with the first `done` chunks through all stages.
    fn live_run(grid: (usize, usize, usize), done: u32) -> crate::tui::model::run::RunView {
        use chunkscope::task::{Event, Stage, TaskRecord};
        let mut r = crate::tui::model::run::RunView::new(
            "chunked x 2 (3,256,256, staged)".into(),
            "S2A_31UFU_20200328_0_L2A".into(),
            grid,
            2,
        );
        r.settings = "COG DEFLATE · 20 m · cache default".into();
        let n = u32::try_from(grid.0 * grid.1 * grid.2).unwrap();
        r.fold(Event::RunStarted {
            chunks: n,
            threads: 2,
        });
        for chunk in 0..done {
            for (k, stage) in [Stage::Load, Stage::Mask, Stage::Write]
                .into_iter()
                .enumerate()
            {
                let start_ns = u64::from(chunk) * 3_000_000 + k as u64 * 1_000_000;
                r.fold(Event::TaskFinished(TaskRecord {
                    chunk,
                    stage,
                    worker: (chunk % 2) as u16,
                    start_ns,
                    end_ns: start_ns + 1_000_000,
                    bytes: 1,
                    wait_ns: 0,
                    alloc_ns: 0,
                    append_wait_ns: 0,
                    tiles: 0,
                    lock_hold_ns: 0,
                    helping: false,
                }));
            }
        }
        r
    }

    fn hidden(text: &str) -> Option<String> {
        let at = text.find(" hidden")?;
        let start = text[..at].rfind('+')?;
        Some(text[start..at].to_string())
    }

    #[test]
    fn every_screen_keeps_its_essentials_at_80x24() {
        use crate::tui::model::run::RunView;
        use crate::tui::model::sweep::SweepView;
        let data = crate::tui::testdata::data();
        let sizes = [(80, 24), (120, 36)];

        // Scenes: the list, the assets, the key on to the chunks.
        let app = fixtures::scenes_app();
        for (w, h) in sizes {
            let text = draw(&app, w, h);
            assert!(text.contains("S2A_31UFU_20200328_0_L2A"), "{text}");
            assert!(text.contains("Enter chunks"), "{text}");
        }

        // Setup: every setting, the plan, the keys to run.
        let mut app = fixtures::setup_app();
        for (w, h) in sizes {
            let text = draw(&app, w, h);
            for s in [
                "bands",
                "threads",
                "schedule",
                "mode",
                "writer",
                "format",
                "COG",
                "codec",
                "DEFLATE",
                "res",
                "20 m",
                "cache",
                "default",
                "9 chunks",
                "✓ aligned",
                "r/Enter run",
                "R repeat",
                "Tab results",
                "? help",
            ] {
                assert!(text.contains(s), "{s:?} at {w}x{h}:\n{text}");
            }
        }
        // A warning is not pushed off screen by the longer field list.
        app.update(Msg::Key(crossterm::event::KeyCode::Char('f').into()));
        app.update(Msg::Key(crossterm::event::KeyCode::Right.into()));
        let text = draw(&app, 80, 24);
        assert!(text.contains("chunks straddle blocks"), "{text}");

        // Run, live: progress, stage progress, the runs list; then finished: %%time, the
        // stage walls, the runs list; the map hides as many chunks either way.
        let mut app = fixtures::setup_app();
        app.screen = crate::tui::model::screen::Screen::Run;
        app.results.push(data.serial.clone());
        app.run = Some(live_run((1, 22, 22), 40));
        for (w, h) in sizes {
            let text = draw(&app, w, h);
            assert!(text.contains("▶ running"), "{text}");
            assert!(text.contains("c/Esc cancel"), "{text}");
            assert!(text.contains("#1 serial"), "{text}");
            assert!(text.contains("%%time · COG DEFLATE · 20 m"), "{text}");
        }
        assert!(draw(&app, 80, 24).contains("load         40/484"));
        let live_hidden: Vec<_> = sizes
            .iter()
            .map(|&(w, h)| hidden(&draw(&app, w, h)))
            .collect();
        assert!(live_hidden[0].is_some(), "484 chunks do not fit at 80x24");
        let mut finished = live_run((1, 22, 22), 40);
        let mut report = data.chunked.clone();
        report.wall_ns = 200_000_000;
        finished.report = Some(report.clone());
        app.results.push(report.clone());
        app.run = Some(finished);
        for (i, &(w, h)) in sizes.iter().enumerate() {
            let text = draw(&app, w, h);
            assert_eq!(hidden(&text), live_hidden[i], "{w}x{h}:\n{text}");
            assert!(text.contains("✓ done"), "{text}");
            assert!(text.contains("CPU times: user"), "{text}");
            assert!(text.contains("Wall time:"), "{text}");
            // Each stage on one line, its rate included (a narrow panel squeezes the
            // columns rather than wrap "MB/s" onto a line of its own).
            for stage in ["load", "mask", "write", "finalize"] {
                assert!(
                    text.lines().any(|l| l.contains(&format!("  {stage} "))
                        && l.contains(" wall ")
                        && l.contains("MB/s")),
                    "{stage} at {w}x{h}:\n{text}"
                );
            }
            assert!(
                !text
                    .lines()
                    .any(|l| l.trim_matches(|c| c == '│' || c == ' ') == "MB/s")
            );
            assert!(text.contains("#2 chunked x 2"), "{text}");
            assert!(text.contains("#1 serial"), "{text}");
            assert!(text.contains("r again"), "{text}");
        }

        // Results: the history with its rows, the keys.
        app.screen = crate::tui::model::screen::Screen::Results;
        for (w, h) in sizes {
            let text = draw(&app, w, h);
            assert!(text.contains("History · 2 run(s)"), "{text}");
            assert!(text.contains("serial"), "{text}");
            assert!(text.contains("Tab sweep"), "{text}");
        }

        // Sweep: the table, every row, and the whole conclusion.
        app.screen = crate::tui::model::screen::Screen::Sweep;
        app.results.sweep = Some(SweepView {
            result: data.sweep.clone(),
            source: "this session".into(),
        });
        // The engine's sweep names no winner (one run each): its whole reason must show.
        let conclusion = data.sweep.conclusion();
        assert!(data.sweep.best.is_none());
        let last_word = conclusion
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .trim_end_matches('.')
            .to_string();
        for (w, h) in sizes {
            let text = draw(&app, w, h);
            assert!(text.contains("Configurations"), "{text}");
            assert!(text.contains("configurations x 1 run "), "{text}");
            for row in &data.sweep.rows {
                let short = super::sweep::short_label(&row.label);
                assert!(text.contains(&short), "{short:?} at {w}x{h}:\n{text}");
            }
            assert!(text.contains("≈ no clear winner"), "{text}");
            assert!(
                text.contains(&last_word),
                "the conclusion ends on screen:\n{text}"
            );
        }

        // Help overlay: the new keys with what they do.
        let mut app = fixtures::setup_app();
        app.help = true;
        let text = draw(&app, 80, 24);
        for s in [
            "output format",
            "output codec",
            "pixel size",
            "GDAL block cache",
        ] {
            assert!(text.contains(s), "{s:?}:\n{text}");
        }
        let _ = RunView::from_report(&data.chunked);
    }

    #[test]
    fn a_save_is_said_plainly_apart_from_the_log() {
        let mut app = fixtures::setup_app();
        app.update(Msg::Log("GDAL: a warning".into()));
        app.update(Msg::Exported(Ok(vec![
            "out/results-1.json".into(),
            "out/results-1.csv".into(),
            "out/results-1.svg".into(),
        ])));
        let text = draw(&app, 80, 24);
        let status = text.lines().nth(21).unwrap_or_default();
        assert!(
            status.starts_with("✓ saved out/results-1.{json,csv,svg} · 1 message in the log"),
            "{text}"
        );
        assert!(!text.contains("! ✓"), "{text}");
        assert_eq!(app.log.len(), 1, "a save is not a log message");
        // A newer message takes the line back.
        app.update(Msg::Log("GDAL: another".into()));
        let text = draw(&app, 80, 24);
        assert!(
            text.contains("! GDAL: another · 2 messages in the log"),
            "{text}"
        );
        // A failed save is an error: said, and kept in the log.
        app.update(Msg::Exported(Err("disk full".into())));
        let text = draw(&app, 80, 24);
        assert!(
            text.contains("✗ cannot save: disk full · 3 messages in the log"),
            "{text}"
        );
    }

    #[test]
    fn no_color_draws_no_colour() {
        let mut app = fixtures::setup_app();
        app.color = false;
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        term.draw(|f| render(&app, f.area(), f.buffer_mut()))
            .unwrap();
        let buf = term.backend().buffer();
        assert!(
            buf.content()
                .iter()
                .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
        );
    }
}
