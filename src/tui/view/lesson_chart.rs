//! A lesson step's chart: bars of medians with their fastest…slowest runs, one run's task
//! stream, or the block grid with the chunks over it. Each says in its title what it
//! shows, and every mark has a glyph, so it reads without colour. Pure; UI thread.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use chunkscope::convert;
use chunkscope::lesson::Chart;
use chunkscope::lesson::chart::{Bars, BlockMap, Stream, Unit};
use chunkscope::profile::units;
use chunkscope::task::Stage;

use super::Theme;
use super::gantt::{self, Window};

/// Most block rows the block map draws (a larger grid is cut, and says so).
const MAX_BLOCK_ROWS: usize = 8;

/// Rows the chart wants: its title and its body.
pub fn height(chart: &Chart) -> u16 {
    let body = match chart {
        Chart::Bars(b) => b.bars.len(),
        // Lanes and the time axis with the legend.
        Chart::Stream(s) => s.lanes.max(1) + 1,
        Chart::Blocks(m) => m.blocks.0.min(MAX_BLOCK_ROWS),
    };
    1 + convert::clamp_u16(body)
}

/// Draws `chart` into `area` (its title on the first row).
pub fn render(chart: &Chart, theme: Theme, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || area.width < 20 {
        return;
    }
    let title = Rect { height: 1, ..area };
    let body = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    let legend = match chart {
        Chart::Bars(b) => bars(b, theme, body, buf),
        Chart::Stream(s) => stream(s, theme, body, buf),
        Chart::Blocks(m) => blocks(m, theme, body, buf),
    };
    let mut spans = vec![Span::styled(chart.title().to_string(), theme.bold())];
    let used = chart.title().chars().count() + 3;
    if legend.width() > 0 && used + legend.width() <= usize::from(area.width) {
        spans.push(Span::raw(" · "));
        spans.extend(legend.spans);
    }
    Paragraph::new(Line::from(spans)).render(title, buf);
}

// ```text
// load, 3 runs each: median, fastest…slowest · █ fastest ▒ median ─┤ slowest
// load  serial        ████████████████████▒▒▒────┤          405 ms
//       chunked x 1   ███████████████████▒▒▒▒─────┤         400 ms
//       chunked x 2   █████████▒▒──┤                        205 ms
// ```
fn bars(b: &Bars, theme: Theme, area: Rect, buf: &mut Buffer) -> Line<'static> {
    let value = |v: u64| match b.unit {
        Unit::Nanoseconds => units::duration_ns(v),
        Unit::Bytes => units::bytes(v),
    };
    let group_w = b
        .bars
        .iter()
        .map(|x| x.group.chars().count())
        .max()
        .unwrap_or(0);
    let label_w = b
        .bars
        .iter()
        .map(|x| x.label.chars().count())
        .max()
        .unwrap_or(0)
        .min(22);
    let value_w = b
        .bars
        .iter()
        .map(|x| value(x.median).chars().count())
        .max()
        .unwrap_or(0);
    let fixed = group_w + 1 + label_w + 2 + 1 + value_w;
    let bar_w = usize::from(area.width).saturating_sub(fixed).max(4);
    let scale = b.max().max(1) as f64;
    let col = |v: u64| convert::round_usize((v as f64 / scale) * bar_w as f64);
    for (i, bar) in b.bars.iter().take(usize::from(area.height)).enumerate() {
        let (lo, mid, hi) = (col(bar.min), col(bar.median).max(1), col(bar.max));
        let mut cells = String::with_capacity(bar_w * 3);
        for c in 0..bar_w {
            let glyph = if c < lo.min(mid) {
                '█'
            } else if c < mid {
                '▒'
            } else if bar.n > 1 && c + 1 < hi {
                '─'
            } else if bar.n > 1 && c + 1 == hi && hi > mid {
                '┤'
            } else {
                ' '
            };
            cells.push(glyph);
        }
        let label: String = bar.label.chars().take(label_w).collect();
        let line = Line::from(vec![
            Span::styled(format!("{:<group_w$} ", bar.group), theme.bold()),
            Span::raw(format!("{label:<label_w$}  ")),
            Span::styled(cells, theme.fg(ratatui::style::Color::Cyan)),
            Span::raw(format!(" {:>value_w$}", value(bar.median))),
        ]);
        Paragraph::new(line).render(
            Rect {
                y: area.y + convert::clamp_u16(i),
                height: 1,
                ..area
            },
            buf,
        );
    }
    let what = match b.unit {
        Unit::Nanoseconds => ("fastest", "slowest"),
        Unit::Bytes => ("least", "most"),
    };
    Line::from(format!("█ {} ▒ median ─┤ {}", what.0, what.1))
}

// ```text
// the median run, x 2: loads, a barrier, masks, a barrier, writes
// w0 ░░░░░▒▒▓▓▓ ░░░▒▒▓▓
// w1 ░░░░ ░░▒▒▒▓▓▓▓▓ ██
//    0 ns  ░ load ▒ mask ▓ write      450 ms
// ```
fn stream(s: &Stream, theme: Theme, area: Rect, buf: &mut Buffer) -> Line<'static> {
    let label_w = 4u16;
    let width = usize::from(area.width.saturating_sub(label_w)).max(1);
    let end = s.end_ns().max(1);
    let w = Window::whole(end, width);
    let cells = gantt::lanes(&s.tasks, &[], s.lanes, w, u64::MAX);
    let lane_rows = usize::from(area.height.saturating_sub(1));
    for (i, row) in cells.iter().take(lane_rows).enumerate() {
        let y = area.y + convert::clamp_u16(i);
        buf.set_string(area.x, y, format!("w{i:<2} "), theme.dim());
        for (c, cell) in row.iter().enumerate() {
            let x = area.x + label_w + convert::clamp_u16(c);
            if x >= area.right() {
                break;
            }
            if let Some(cell) = cell {
                let (g, st) = gantt::stage_glyph(cell.stage, theme);
                buf.set_string(x, y, if cell.helping { "▚" } else { g }, st);
            }
        }
    }
    let mut legend = Vec::new();
    let shown = |stage| s.tasks.iter().any(|t| t.stage == stage);
    for stage in [Stage::Load, Stage::Mask, Stage::Write, Stage::Finalize] {
        if stage == Stage::Finalize && !shown(stage) {
            continue;
        }
        let (g, st) = gantt::stage_glyph(stage, theme);
        legend.push(Span::styled(g, st));
        legend.push(Span::raw(format!(" {} ", stage.name())));
    }
    if s.tasks.iter().any(|t| t.helping) {
        let (_, st) = gantt::stage_glyph(Stage::Write, theme);
        legend.push(Span::styled("▚", st));
        legend.push(Span::raw(" help "));
    }
    if area.height > 1 {
        // The time axis's ends, the legend between them: the glyphs are read here.
        let y = area.y + convert::clamp_u16(cells.len().min(lane_rows));
        buf.set_string(area.x + label_w, y, "0 ns", theme.dim());
        let right = units::duration_ns(end);
        let rx = area
            .right()
            .saturating_sub(convert::clamp_u16(right.chars().count()));
        buf.set_string(rx, y, &right, theme.dim());
        let legend_line = Line::from(legend);
        let lx = area.x + label_w + 6;
        if lx + convert::clamp_u16(legend_line.width()) + 1 < rx {
            buf.set_line(lx, y, &legend_line, convert::clamp_u16(legend_line.width()));
        }
    }
    // Said on the axis, not in the title.
    Line::default()
}

// ```text
// the 5490 x 5490 grid in 1024 px blocks; ... · ██ ░░ one chunk each
// ██████░░░░██
// ██████░░░░██
// ░░░░██████░░
// ```
fn blocks(m: &BlockMap, theme: Theme, area: Rect, buf: &mut Buffer) -> Line<'static> {
    let (rows, cols) = m.blocks;
    let shown_cols = cols.min(usize::from(area.width) / 2);
    let shown_rows = rows.min(MAX_BLOCK_ROWS).min(usize::from(area.height));
    for r in 0..shown_rows {
        let line: String = (0..shown_cols)
            .map(|c| {
                let (cr, cc) = m.chunk_of(r, c);
                if (cr + cc) % 2 == 0 {
                    "██"
                } else {
                    "░░"
                }
            })
            .collect();
        buf.set_string(
            area.x,
            area.y + convert::clamp_u16(r),
            line,
            theme.fg(ratatui::style::Color::Cyan),
        );
    }
    if shown_rows < rows || shown_cols < cols {
        let note = format!("({} x {} blocks, part drawn)", rows, cols);
        let x = area.x + convert::clamp_u16(shown_cols * 2 + 1);
        if x + convert::clamp_u16(note.chars().count()) <= area.right() {
            buf.set_string(x, area.y, note, theme.dim());
        }
    }
    Line::from(format!(
        "██ ░░ a chunk each, {} x {} blocks",
        m.chunk_blocks.0, m.chunk_blocks.1
    ))
}
