//! The runs of this session on the run screen: with their `%%time` lines when wide, one
//! line each when compact.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};

use chunkscope::profile::units;

use crate::tui::model::results::Results;
use crate::tui::view::Theme;

/// ```text
/// ┌ Runs this session, newest first ───────────────────────┐
/// │#2 chunked x 2 (3,512,512, staged)                       │
/// │CPU times: user 183 ms, sys 77.1 ms, total 260 ms; Wall time: 593 ms    │
/// │#1 serial                                                │
/// └─────────────────────────────────────────────────────────┘
/// ```
pub(super) fn render_history(history: &Results, theme: Theme, area: Rect, buf: &mut Buffer) {
    let mut lines = Vec::new();
    // Numbered like the Results screen's rows: from the session's first run.
    for (i, run) in history.runs.iter().enumerate().rev() {
        lines.push(Line::from(vec![
            Span::styled(format!("#{} ", history.dropped + i + 1), theme.dim()),
            Span::styled(run.label(), theme.bold()),
            Span::raw(if run.cancelled { " — cancelled" } else { "" }),
        ]));
        lines.push(Line::from(run.time_line()));
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "each finished run adds its %%time line here",
            theme.dim(),
        )));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(" Runs this session, newest first "))
        .render(area, buf);
}

/// One line per finished run, newest first: `#2 chunked x 2 (3,256,256, staged) · 700 ms`.
pub(super) fn render_runs(history: &Results, theme: Theme, area: Rect, buf: &mut Buffer) {
    let mut lines = Vec::new();
    for (i, run) in history.runs.iter().enumerate().rev() {
        lines.push(Line::from(vec![
            Span::styled(format!("#{} ", history.number(i)), theme.dim()),
            Span::styled(run.label(), theme.bold()),
            Span::raw(format!(
                " · {}{}",
                units::duration_ns(run.wall_ns),
                if run.cancelled { " — cancelled" } else { "" }
            )),
        ]));
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "each finished run is listed here",
            theme.dim(),
        )));
    }
    Paragraph::new(lines)
        .block(
            Block::new()
                .borders(Borders::TOP)
                .title(" Runs this session, newest first "),
        )
        .render(area, buf);
}
