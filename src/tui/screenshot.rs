//! Screenshots: the TUI driven headlessly through its own session (real engine, real
//! run) and each screen's drawn buffer written as SVG with its colours. Used by
//! `chunkscope screenshot` to produce the images in screenshots/.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use chunkscope::catalog::Catalog;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::KeyCode;
use ratatui::style::{Color, Modifier};

use super::app::{App, Msg};
use super::session::Session;
use super::view::render;

const CELL_W: f32 = 8.4;
const CELL_H: f32 = 17.0;
const BG: &str = "#1e1e1e";
const FG: &str = "#d4d4d4";

/// Drives scenes → chunk setup → a chunked run → its replay → help, and writes one SVG per
/// screen into `out_dir`. Returns the files written.
pub fn capture_all(
    mut catalog: Catalog,
    out_dir: &Path,
    width: u16,
    height: u16,
) -> anyhow::Result<Vec<PathBuf>> {
    // Images get shared: show the home folder as `~`, not this machine's path. (Hrefs were
    // resolved when the catalog loaded; the path is only displayed from here on.)
    let home = dirs::home_dir();
    if let Some(rest) = home.and_then(|h| catalog.path.strip_prefix(h).ok().map(Path::to_path_buf))
    {
        catalog.path = Path::new("~").join(rest);
    }
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create \"{}\"", out_dir.display()))?;
    let run_dir =
        std::env::temp_dir().join(format!("chunkscope-screenshot-{}", std::process::id()));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut s = Session::new(App::new(catalog, cores, true), run_dir.clone());
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
    s.send(Msg::Key(KeyCode::Char('r').into()));
    let deadline = Instant::now() + Duration::from_secs(600);
    while s.app.run.as_ref().is_some_and(|r| !r.finished()) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the run did not finish within 10 minutes"
        );
        s.pump();
        std::thread::sleep(Duration::from_millis(20));
    }
    shot(&s, "run")?;
    // The replay, halfway through the run (0.1x: five wall times of real time).
    let wall_ns = s
        .app
        .run
        .as_ref()
        .and_then(|r| r.report.as_ref())
        .map(|rep| rep.wall_ns);
    if let Some(wall_ns) = wall_ns {
        s.send(Msg::Key(KeyCode::Char('p').into()));
        s.send(Msg::Frame {
            dt_ns: wall_ns.saturating_mul(5),
        });
        shot(&s, "replay")?;
        s.send(Msg::Key(KeyCode::Esc.into()));
    }
    s.send(Msg::Key(KeyCode::Char('?').into()));
    shot(&s, "help")?;
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
            let cell = &buf[(x, y)];
            if let Some(bg) = rgb(cell.bg) {
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
            let first = &buf[(x, y)];
            let style = (first.fg, first.modifier.contains(Modifier::BOLD));
            let start = x;
            let mut text = String::new();
            while x < w
                && (
                    buf[(x, y)].fg,
                    buf[(x, y)].modifier.contains(Modifier::BOLD),
                ) == style
            {
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
                rgb(style.0).unwrap_or(FG),
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
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
