//! Screenshots: the TUI driven headlessly through its own session (real engine, real
//! run) and each screen's drawn buffer written as SVG with its colours. Used by
//! `chunkscope screenshot` to produce the images in screenshots/; with `--view`, one screen
//! rendered from saved reports and sweeps, without running anything.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use chunkscope::catalog::{Catalog, Item};
use chunkscope::pipeline::RunReport;
use chunkscope::profile::units::tilde;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::KeyCode;
use ratatui::style::{Color, Modifier};

use super::app::{App, Msg, RunView, Screen};
use super::history::SweepView;
use super::session::Session;
use super::view::render;

const CELL_W: f32 = 8.4;
const CELL_H: f32 = 17.0;
const BG: &str = "#1e1e1e";
const FG: &str = "#d4d4d4";
const DIM: &str = "#8c8c8c";

/// A screen `chunkscope screenshot --view` can draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum View {
    Scenes,
    Setup,
    Run,
    Results,
    Help,
    Sweep,
}

impl View {
    /// Whether the view shows a scene's rasters (and so needs a catalog to inspect).
    pub fn needs_catalog(self, have_reports: bool) -> bool {
        match self {
            View::Scenes | View::Setup => true,
            View::Help => !have_reports,
            View::Run | View::Results | View::Sweep => false,
        }
    }
}

/// A catalog of the reports' scenes only, for views that draw no raster: nothing is opened.
pub fn catalog_of_reports(reports: &[RunReport], shown_path: &Path) -> Catalog {
    let mut items: Vec<Item> = Vec::new();
    for r in reports {
        if !items.iter().any(|i| i.id == r.config.item) {
            items.push(Item {
                id: r.config.item.clone(),
                datetime: None,
                cloud_cover: None,
                platform: None,
                assets: vec![],
            });
        }
    }
    Catalog {
        path: tilde(shown_path),
        items,
    }
}

/// Draws one screen from saved reports (the history, oldest first) and a sweep, without
/// running anything; scenes and setup inspect the catalog's first scene with GDAL.
pub fn capture_view(
    view: View,
    mut catalog: Catalog,
    reports: Vec<RunReport>,
    sweep: Option<SweepView>,
    width: u16,
    height: u16,
) -> anyhow::Result<Buffer> {
    catalog.path = tilde(&catalog.path);
    let needs_reports = matches!(view, View::Run | View::Results);
    anyhow::ensure!(
        !needs_reports || !reports.is_empty(),
        "--view {} needs a run report: --report FILE, written by `chunkscope run --json`",
        view_name(view)
    );
    anyhow::ensure!(
        view != View::Sweep || sweep.is_some(),
        "--view sweep needs a sweep file: --sweep FILE, written by `chunkscope sweep --json FILE`"
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let run_dir =
        std::env::temp_dir().join(format!("chunkscope-screenshot-{}", std::process::id()));
    let mut s = Session::new(App::new(catalog, cores, true), run_dir);
    if view.needs_catalog(!reports.is_empty()) {
        s.start();
    }
    s.app.results.sweep = sweep;

    for mut r in reports {
        r.output = r.output.map(|o| tilde(Path::new(&o)).display().to_string());
        s.app.results.push(r);
    }
    if let Some(last) = s.app.results.runs.back() {
        s.app.run = Some(RunView::from_report(last));
    }
    match view {
        View::Scenes => {}
        View::Setup => s.send(Msg::Key(KeyCode::Enter.into())),
        View::Run => s.app.screen = Screen::Run,
        View::Results => s.app.screen = Screen::Results,
        View::Sweep => s.app.screen = Screen::Sweep,
        View::Help if s.app.results.runs.is_empty() => {
            s.send(Msg::Key(KeyCode::Enter.into()));
            s.app.help = true;
        }
        View::Help => {
            s.app.screen = Screen::Results;
            s.app.help = true;
        }
    }
    let buf = draw(&s, width, height);
    s.shutdown();
    buf
}

fn view_name(v: View) -> &'static str {
    match v {
        View::Scenes => "scenes",
        View::Setup => "setup",
        View::Run => "run",
        View::Results => "results",
        View::Help => "help",
        View::Sweep => "sweep",
    }
}

/// Pumps the session until its run has finished.
fn wait_for_run(s: &mut Session) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while s.app.run.as_ref().is_some_and(|r| !r.finished()) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the run did not finish within 10 minutes"
        );
        s.pump();
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Drives scenes → chunk setup → a serial run → a chunked run → its replay → help → results
/// (→ the sweep,
/// when one is given), and writes one SVG per screen into `out_dir`. Returns the files
/// written.
pub fn capture_all(
    mut catalog: Catalog,
    sweep: Option<SweepView>,
    out_dir: &Path,
    width: u16,
    height: u16,
) -> anyhow::Result<Vec<PathBuf>> {
    // Hrefs were resolved when the catalog loaded; the path is only displayed from here on.
    catalog.path = tilde(&catalog.path);
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create \"{}\"", out_dir.display()))?;
    let run_dir =
        std::env::temp_dir().join(format!("chunkscope-screenshot-{}", std::process::id()));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut s = Session::new(App::new(catalog, cores, true), run_dir.clone());
    s.app.results.sweep = sweep;
    s.start();
    let mut written = Vec::new();
    let mut shot = |s: &Session, name: &str| -> anyhow::Result<()> {
        let path = out_dir.join(format!("{name}.svg"));
        std::fs::write(&path, to_svg(&draw(s, width, height)?))
            .with_context(|| format!("cannot write \"{}\"", path.display()))?;
        written.push(path);
        Ok(())
    };
    shot(&s, "scenes")?;
    s.send(Msg::Key(KeyCode::Enter.into()));
    shot(&s, "setup")?;
    // A serial run first, so the results have a baseline.
    s.send(Msg::Key(KeyCode::Char('m').into()));
    s.send(Msg::Key(KeyCode::Char('r').into()));
    wait_for_run(&mut s)?;
    s.send(Msg::Key(KeyCode::Esc.into()));
    s.send(Msg::Key(KeyCode::Char('m').into()));
    s.send(Msg::Key(KeyCode::Char('r').into()));
    wait_for_run(&mut s)?;
    shot(&s, "run")?;
    // The replay, halfway through the load/mask/write tasks, where chunks are still in
    // flight (at 0.1x, ten times that in real time).
    let tasks_ns = s
        .app
        .run
        .as_ref()
        .and_then(|r| r.report.as_ref())
        .map(|rep| rep.overhead.window_ns);
    if let Some(tasks_ns) = tasks_ns {
        s.send(Msg::Key(KeyCode::Char('p').into()));
        s.send(Msg::Frame {
            dt_ns: tasks_ns.saturating_mul(5),
        });
        shot(&s, "replay")?;
        s.send(Msg::Key(KeyCode::Esc.into()));
    }
    s.send(Msg::Key(KeyCode::Char('?').into()));
    shot(&s, "help")?;
    s.send(Msg::Key(KeyCode::Esc.into()));
    s.send(Msg::Key(KeyCode::Tab.into()));
    shot(&s, "results")?;
    if s.app.results.sweep.is_some() {
        s.send(Msg::Key(KeyCode::Tab.into()));
        shot(&s, "sweep")?;
    }
    s.shutdown();
    let _ = std::fs::remove_dir_all(&run_dir);
    Ok(written)
}

fn draw(s: &Session, width: u16, height: u16) -> anyhow::Result<Buffer> {
    let mut term = Terminal::new(TestBackend::new(width, height))?;
    term.draw(|f| render(&s.app, f.area(), f.buffer_mut()))?;
    Ok(term.backend().buffer().clone())
}

/// The buffer as an SVG: a background rectangle per coloured cell, text in runs of one
/// style per line.
pub fn to_svg(buf: &Buffer) -> String {
    let (w, h) = (buf.area.width, buf.area.height);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{:.0}" height="{:.0}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14px"><rect width="100%" height="100%" fill="{BG}"/>"#,
        w as f32 * CELL_W,
        h as f32 * CELL_H
    );
    for y in 0..h {
        for x in 0..w {
            if let (_, Some(bg)) = paint(&buf[(x, y)]) {
                let _ = write!(
                    out,
                    r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{bg}"/>"#,
                    x as f32 * CELL_W,
                    y as f32 * CELL_H,
                    CELL_W + 0.3,
                    CELL_H
                );
            }
        }
        let mut x = 0;
        while x < w {
            let key = |c: &ratatui::buffer::Cell| (paint(c).0, c.modifier.contains(Modifier::BOLD));
            let style = key(&buf[(x, y)]);
            let start = x;
            let mut text = String::new();
            while x < w && key(&buf[(x, y)]) == style {
                text.push_str(buf[(x, y)].symbol());
                x += 1;
            }
            // Trailing blanks carry no glyphs; the cells they cover stay the background.
            let text = text.trim_end();
            if text.is_empty() {
                continue;
            }
            let cells = text.chars().count();
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" fill="{}"{} xml:space="preserve" textLength="{:.1}" lengthAdjust="spacingAndGlyphs">{}</text>"#,
                start as f32 * CELL_W,
                y as f32 * CELL_H + 13.0,
                style.0,
                if style.1 {
                    r#" font-weight="bold""#
                } else {
                    ""
                },
                cells as f32 * CELL_W,
                escape(text)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// A cell's text colour and background (`None`: the page's), with reversed cells swapped
/// and dim text without a colour of its own drawn grey.
fn paint(cell: &ratatui::buffer::Cell) -> (&'static str, Option<&'static str>) {
    let fg = match rgb(cell.fg) {
        Some(c) => c,
        None if cell.modifier.contains(Modifier::DIM) => DIM,
        None => FG,
    };
    let bg = rgb(cell.bg);
    if cell.modifier.contains(Modifier::REVERSED) {
        (bg.unwrap_or(BG), Some(fg))
    } else {
        (fg, bg)
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The 16 ANSI colours as a common dark theme draws them; `None` for the default.
fn rgb(c: Color) -> Option<&'static str> {
    Some(match c {
        Color::Reset => return None,
        Color::Black => "#000000",
        Color::Red => "#cd3131",
        Color::Green => "#0dbc79",
        Color::Yellow => "#e5e510",
        Color::Blue => "#2472c8",
        Color::Magenta => "#bc3fbc",
        Color::Cyan => "#11a8cd",
        Color::Gray => "#e5e5e5",
        Color::DarkGray => "#666666",
        Color::LightRed => "#f14c4c",
        Color::LightGreen => "#23d18b",
        Color::LightYellow => "#f5f543",
        Color::LightBlue => "#3b8eea",
        Color::LightMagenta => "#d670d6",
        Color::LightCyan => "#29b8db",
        Color::White => "#ffffff",
        _ => FG,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Style;

    #[test]
    fn svg_keeps_text_colours_and_escapes() {
        let mut buf = Buffer::empty(ratatui::layout::Rect::new(0, 0, 12, 2));
        buf.set_string(0, 0, "a<b & c", Style::default().fg(Color::Green));
        buf.set_string(0, 1, "done", Style::default().bg(Color::Red));
        let svg = to_svg(&buf);
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains(r##"fill="#0dbc79""##) && svg.contains("a&lt;b &amp; c"));
        assert!(
            svg.contains(r##"fill="#cd3131""##),
            "background of the red cells"
        );
        assert!(svg.contains(">done</text>"));
        let mut buf = Buffer::empty(ratatui::layout::Rect::new(0, 0, 4, 1));
        buf.set_string(
            0,
            0,
            "sel",
            Style::default().add_modifier(Modifier::REVERSED),
        );
        let svg = to_svg(&buf);
        assert!(
            svg.contains(&format!(r#"fill="{FG}"/>"#))
                && svg.contains(&format!(r#"fill="{BG}" xml"#)),
            "reversed cells swap text and background: {svg}"
        );
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
