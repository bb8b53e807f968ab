//! The `?` overlay: the key table, for the screen in front and the global keys.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::Theme;
use crate::tui::keys;
use crate::tui::model::screen::Screen;

/// ```text
///        ┌ Keys (any key closes) ─────────────────┐
///        │ ↑↓/jk    choose a field ...             │
///        │ ←→/hl    decrease / increase ...        │
///        │ ?        show / hide this help          │
///        │ q        quit                           │
///        └─────────────────────────────────────────┘
/// ```
pub fn render(screen: Screen, theme: Theme, area: Rect, buf: &mut Buffer) {
    let lines: Vec<Line> = keys::visible(screen)
        .map(|b| {
            Line::from(vec![
                Span::styled(format!("{:<8} ", b.keys), theme.bold()),
                Span::raw(b.help),
            ])
        })
        .collect();
    let w = area.width.saturating_sub(4).min(90);
    // Long help lines wrap: count the rows they take inside the borders.
    let inner = usize::from(w.saturating_sub(2).max(1));
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let h = (rows as u16 + 2).min(area.height.saturating_sub(2));
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(popup, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(" Keys (any key closes) "))
        .render(popup, buf);
}
