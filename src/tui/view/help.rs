//! The `?` overlay: the key table for the screen in front and the global keys, then the
//! glossary of every term the screens use, in pages when it does not fit.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use chunkscope::convert;
use chunkscope::glossary::TERMS;

use super::Theme;
use crate::tui::keys;
use crate::tui::model::screen::Screen;

/// Width of the key and term columns.
const KEY_W: usize = 8;
const TERM_W: usize = 18;

/// Every line of the overlay: keys, then the terms.
fn lines(screen: Screen, theme: Theme) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = keys::visible(screen)
        .map(|b| {
            Line::from(vec![
                Span::styled(format!("{:<KEY_W$} ", b.keys), theme.bold()),
                Span::raw(b.help),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled("Terms", theme.bold()));
    lines.extend(TERMS.iter().map(|t| {
        Line::from(vec![
            Span::styled(format!("{:<TERM_W$} ", t.term), theme.bold()),
            Span::raw(t.meaning),
        ])
    }));
    lines
}

/// ```text
///        ┌ Keys and terms · page 1/2 · ↓ PgDn next · ↑ PgUp back · other keys close ┐
///        │ ↑↓/jk    choose a field ...                                               │
///        │ ?        show / hide this help                                            │
///        │                                                                           │
///        │ Terms                                                                     │
///        │ capacity           wall x threads: the worker time a run had ...          │
///        └───────────────────────────────────────────────────────────────────────────┘
/// ```
///
/// `page` counts from 0 and wraps around (−1 is the last page).
pub fn render(screen: Screen, page: i32, theme: Theme, area: Rect, buf: &mut Buffer) {
    let lines = lines(screen, theme);
    let w = area.width.saturating_sub(4).min(100);
    // Long lines wrap: count the rows each takes inside the borders.
    let inner_w = usize::from(w.saturating_sub(2).max(1));
    let rows: Vec<usize> = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_w).max(1))
        .collect();
    let h = (convert::clamp_u16(rows.iter().sum::<usize>()) + 2).min(area.height.saturating_sub(2));
    let pages = paginate(&rows, usize::from(h.saturating_sub(2)).max(1));
    let at = convert::ring_step(0, page as isize, pages.len());
    let shown = pages[at].clone();
    let title = if pages.len() > 1 {
        format!(
            " Keys and terms · page {}/{} · ↓ PgDn next · ↑ PgUp back · other keys close ",
            at + 1,
            pages.len()
        )
    } else {
        " Keys and terms (any key closes) ".to_string()
    };
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(popup, buf);
    Paragraph::new(lines[shown].to_vec())
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(title))
        .render(popup, buf);
}

/// Lines into pages of at most `height` rows, a line never split (a line taller than a
/// page gets a page of its own).
fn paginate(rows: &[usize], height: usize) -> Vec<std::ops::Range<usize>> {
    let mut pages = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, &r) in rows.iter().enumerate() {
        if used + r > height && i > start {
            pages.push(start..i);
            (start, used) = (i, 0);
        }
        used += r;
    }
    pages.push(start..rows.len());
    pages
}
