//! A drawn screen as SVG: each cell's colours and text, in the 16 ANSI colours the TUI uses.
//! Pure text in, text out: the screenshots and the Results screen's save both write it.

use std::fmt::Write as _;

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

const CELL_W: f32 = 8.4;
const CELL_H: f32 = 17.0;
const BG: &str = "#1e1e1e";
const FG: &str = "#d4d4d4";
const DIM: &str = "#8c8c8c";

/// The buffer as an SVG: a background rectangle per coloured cell, text in runs of one
/// style per line.
pub fn to_svg(buf: &Buffer) -> String {
    let (w, h) = (buf.area.width, buf.area.height);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{:.0}" height="{:.0}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14px"><rect width="100%" height="100%" fill="{BG}"/>"#,
        f32::from(w) * CELL_W,
        f32::from(h) * CELL_H
    );
    for y in 0..h {
        for x in 0..w {
            if let (_, Some(bg)) = paint(&buf[(x, y)]) {
                let _ = write!(
                    out,
                    r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{bg}"/>"#,
                    f32::from(x) * CELL_W,
                    f32::from(y) * CELL_H,
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
                f32::from(start) * CELL_W,
                f32::from(y) * CELL_H + 13.0,
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
