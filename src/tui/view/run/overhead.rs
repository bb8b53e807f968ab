//! The overhead panel: capacity not spent in stage work, live as one share, and once the
//! run is done split into its measured parts.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use chunkscope::convert;
use chunkscope::profile::units;

use crate::tui::model::run::RunView;
use crate::tui::view::{Theme, cpu};

/// ```text
/// ┌ Overhead ────────────────────────────┐
/// │measured 23.4 % of capacity, 120 µs/task│
/// │handle open  ██▌          12.3 ms      │
/// │barrier idle █████        24.0 ms      │
/// └──────────────────────────────────────┘
/// ```
pub(super) fn render_overhead(r: &RunView, theme: Theme, area: Rect, buf: &mut Buffer) {
    let block = Block::bordered().title(" Overhead: capacity not in stage work ");
    let inner = block.inner(area);
    block.render(area, buf);
    let mut lines = Vec::new();
    match &r.report {
        Some(rep) => {
            let o = &rep.overhead;
            lines.push(Line::from(vec![
                Span::styled(format!("measured {}", units::share(o.share)), theme.bold()),
                Span::raw(" of capacity"),
            ]));
            lines.push(Line::from(Span::styled(
                format!(
                    "{} per task · work {} of {} x {}",
                    units::duration_ns(convert::us_to_ns(o.per_task_us)),
                    units::duration_ns(o.work_ns),
                    o.threads,
                    units::duration_ns(o.window_ns),
                ),
                theme.dim(),
            )));
            let p = o.parts;
            let bar_w = (inner.width as usize).saturating_sub(13 + 10).max(3);
            for (name, ns) in p.named() {
                if !chunkscope::dask::report::records_part(rep, name) {
                    lines.push(Line::from(vec![
                        Span::raw(format!("{name:<13}")),
                        Span::styled("not recorded", theme.dim()),
                    ]));
                    continue;
                }
                let pct = ns as f64 * 100.0 / o.total_ns.max(1) as f64;
                lines.push(Line::from(vec![
                    Span::raw(format!("{name:<13}")),
                    Span::styled(cpu::bar(pct, bar_w), theme.fg(Color::Yellow)),
                    Span::raw(format!(" {:>9}", units::duration_ns(ns))),
                ]));
            }
        }
        None => {
            let share = r.live.overhead_share();
            lines.push(Line::from(vec![
                Span::styled(format!("live {}", units::share(share)), theme.bold()),
                Span::raw(" of capacity so far"),
            ]));
            let w = inner.width.saturating_sub(1) as usize;
            lines.push(Line::from(Span::styled(
                cpu::bar(share * 100.0, w),
                theme.fg(Color::Yellow),
            )));
            lines.push(Line::from(Span::styled(
                "1 − busy / (elapsed × threads); the parts are measured when the run ends",
                theme.dim(),
            )));
        }
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}
