//! Numbers in large type for a projector: a 3 x 5 block font of the digits and the few
//! letters and signs the lesson's figures use (units such as `s`, `ms`, `µs`, `MiB`, `x`,
//! `%`). Pure; runs on the UI thread.

use chunkscope::convert;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

/// Rows of every glyph.
pub const HEIGHT: u16 = 5;

/// The glyph of `c`, five rows of three cells; `None` for a character the font lacks.
fn glyph(c: char) -> Option<[&'static str; 5]> {
    Some(match c {
        '0' => ["███", "█ █", "█ █", "█ █", "███"],
        '1' => [" █ ", "██ ", " █ ", " █ ", "███"],
        '2' => ["███", "  █", "███", "█  ", "███"],
        '3' => ["███", "  █", "███", "  █", "███"],
        '4' => ["█ █", "█ █", "███", "  █", "  █"],
        '5' => ["███", "█  ", "███", "  █", "███"],
        '6' => ["███", "█  ", "███", "█ █", "███"],
        '7' => ["███", "  █", "  █", "  █", "  █"],
        '8' => ["███", "█ █", "███", "█ █", "███"],
        '9' => ["███", "█ █", "███", "  █", "███"],
        '.' => ["   ", "   ", "   ", "   ", " █ "],
        ',' => ["   ", "   ", "   ", " █ ", "█  "],
        'x' => ["   ", "█ █", " █ ", "█ █", "   "],
        '%' => ["█ █", "  █", " █ ", "█  ", "█ █"],
        '-' => ["   ", "   ", "███", "   ", "   "],
        '(' => [" █ ", "█  ", "█  ", "█  ", " █ "],
        ')' => [" █ ", "  █", "  █", "  █", " █ "],
        's' => ["   ", " ██", "█▄ ", " ▀█", "██ "],
        'm' => ["   ", "   ", "█▄█", "█ █", "█ █"],
        'n' => ["   ", "   ", "██ ", "█ █", "█ █"],
        'i' => [" █ ", "   ", " █ ", " █ ", " █ "],
        'µ' => ["   ", "█ █", "█ █", "███", "█  "],
        'B' => ["██ ", "█ █", "██ ", "█ █", "██ "],
        'K' => ["█ █", "██ ", "█  ", "██ ", "█ █"],
        'M' => ["█ █", "███", "█ █", "█ █", "█ █"],
        'G' => ["███", "█  ", "█ █", "█ █", "███"],
        _ => return None,
    })
}

/// Cells `text` takes in large type, or `None` when the font lacks one of its characters.
pub fn width(text: &str) -> Option<u16> {
    let mut w = 0u16;
    for c in text.chars() {
        w += if c == ' ' { 2 } else { glyph(c).map(|_| 4)? };
    }
    Some(w.saturating_sub(1))
}

/// Draws `text` in large type at the top left of `area`, clipped to it. Returns false (and
/// draws nothing) when the font lacks a character or the text does not fit.
pub fn render(text: &str, style: Style, area: Rect, buf: &mut Buffer) -> bool {
    let Some(w) = width(text) else { return false };
    if w > area.width || area.height < HEIGHT {
        return false;
    }
    let mut x = area.x;
    for c in text.chars() {
        if c == ' ' {
            x += 2;
            continue;
        }
        let Some(rows) = glyph(c) else { return false };
        for (dy, row) in rows.iter().enumerate() {
            for (dx, cell) in row.chars().enumerate() {
                if cell != ' ' {
                    buf[(x + convert::clamp_u16(dx), area.y + convert::clamp_u16(dy))]
                        .set_char(cell)
                        .set_style(style);
                }
            }
        }
        x += 4;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::buffer::Buffer;

    #[test]
    fn digits_draw_in_five_rows_and_unknown_characters_refuse() {
        let area = Rect::new(0, 0, 12, 5);
        let mut buf = Buffer::empty(area);
        assert!(render("1.0", Style::new(), area, &mut buf));
        assert_eq!(
            buf,
            Buffer::with_lines([
                " █      ███ ",
                "██      █ █ ",
                " █      █ █ ",
                " █      █ █ ",
                "███  █  ███ ",
            ])
        );
        assert_eq!(width("2.50x"), Some(19));
        assert_eq!(width("a"), None);
        let mut buf = Buffer::empty(area);
        assert!(!render("12345", Style::new(), area, &mut buf), "too wide");
    }
}
