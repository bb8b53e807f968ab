//! The search form (`F` on the scenes screen), drawn over the scene list. Pure.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::Theme;
use crate::tui::model::search::{Field, FormStatus, SearchForm};
use chunkscope::convert;

/// The footer while the form is open.
pub const FOOTER: &str = "type · Tab/↑↓ field · Enter search · Esc close";

/// ```text
/// ┌ Search a STAC API · the lesson's first step ─────────────────────────┐
/// │ API URL    https://earth-search.aws.element84.com/v1                  │
/// │ collection sentinel-2-l2a                                             │
/// │▶area       27.95,36.33▏       LON,LAT point or W,S,E,N box; …         │
/// │ dates      2023-07-01/2023-08-31                                      │
/// │ cloud <    5                  % (the lesson: 5); empty: any           │
/// │ max items                                                             │
/// │ save as    search.json                                                │
/// │                                                                       │
/// │ ✗ area: "1,2,3" is not a bounding box: give four numbers …            │
/// └───────────────────────────────────────────────────────────────────────┘
/// ```
/// The hint beside a field shows for the focused one only, and only where it fits.
pub fn render(form: &SearchForm, theme: Theme, area: Rect, buf: &mut Buffer) {
    let height = (convert::clamp_u16(Field::ALL.len()) + 5).min(area.height);
    let width = area.width.min(100);
    let rect = Rect::new(area.x, area.y, width, height);
    Clear.render(rect, buf);
    let inner_w = usize::from(width.saturating_sub(2));
    let mut lines: Vec<Line> = Field::ALL
        .iter()
        .map(|&field| {
            let focused = field == form.focus;
            let value = form.value(field);
            let cursor = if focused && !form.searching() {
                "▏"
            } else {
                ""
            };
            let text = format!(
                "{}{:<10} {value}{cursor}",
                if focused { "▶" } else { " " },
                field.label()
            );
            let mut spans = vec![Span::styled(
                text.clone(),
                if focused {
                    theme.bold()
                } else {
                    ratatui::style::Style::new()
                },
            )];
            let hint = field.hint();
            let used = text.chars().count();
            if focused && used + 3 + hint.chars().count() <= inner_w {
                spans.push(Span::styled(
                    format!("{:>w$}", hint, w = inner_w - used),
                    theme.dim(),
                ));
            }
            Line::from(spans)
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(match &form.status {
        FormStatus::Editing => Line::from(Span::styled(
            "Enter searches; the result replaces the scenes here and is saved as a search.json",
            theme.dim(),
        )),
        FormStatus::Searching => Line::from(vec![
            Span::styled("… ", theme.fg(Color::Cyan)),
            Span::raw(format!("searching {}", form.value(Field::Url))),
        ]),
        FormStatus::Invalid(message) | FormStatus::Failed(message) => Line::from(vec![
            Span::styled("✗ ", theme.fg(Color::Red)),
            Span::raw(message.clone()),
        ]),
    });
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(" Search a STAC API · the lesson's first step "))
        .render(rect, buf);
}
