//! The screen drawn when the terminal is below the minimum size.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{MIN_HEIGHT, MIN_WIDTH};

/// ```text
/// terminal too small: 40x10, need 60x16
/// ```
pub fn render(area: Rect, buf: &mut Buffer) {
    let text = format!(
        "terminal too small: {}x{}, need {MIN_WIDTH}x{MIN_HEIGHT} (q quits)",
        area.width, area.height
    );
    Paragraph::new(text)
        .wrap(Wrap { trim: true })
        .render(area, buf);
}
