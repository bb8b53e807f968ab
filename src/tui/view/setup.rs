//! The chunk setup screen: chunk shape, threads, schedule and mode, with the plan's
//! figures and a diagram of the block grid and the chunk grid.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use chunkscope::chunks::RasterLayout;
use chunkscope::convert;
use chunkscope::output::WriterKind;
use chunkscope::pipeline::{BlockSharing, Resolution};
use chunkscope::profile::units;

use super::Theme;
use crate::tui::app::App;
use crate::tui::keys::{self, Action};
use crate::tui::model::screen::Screen;
use crate::tui::model::setup::{Field, Setup, cache_name, default_codec, format_name};

/// The key that changes `f` directly, from the key table (blank when only ←→ do).
fn field_key(f: Field) -> &'static str {
    let action = match f {
        Field::Schedule => Action::Schedule,
        Field::Mode => Action::Serial,
        Field::Writer => Action::Writer,
        Field::Format => Action::Format,
        Field::Codec => Action::Codec,
        Field::Resolution => Action::Resolution,
        Field::Blocks => Action::Blocks,
        _ => return "",
    };
    keys::keys_for(Screen::Setup, action).unwrap_or("")
}

/// ```text
/// ┌ Chunks · S2A_… ───────────────┐┌ Grid 5490x5490 · blocks 1024x1024 ┐
/// │   bands        3              ││ ·····│·····│·····│               │
/// │ ▶ rows      2048  2 blocks    ││ ─────┼─────┼─────┼               │
/// │   cols      2048  2 blocks    ││ ·····│·····│·····│               │
/// │   threads      2  of 2 cores  ││ │─ chunk edges  · block edges     │
/// │   schedule staged             ││                                   │
/// │   mode     chunked            ││                                   │
/// │ steps: whole blocks (f: free) ││                                   │
/// ├ Plan ─────────────────────────┤│                                   │
/// │ 12.0 MiB per chunk · 9 chunks ││                                   │
/// │ ✓ aligned with blocks         ││                                   │
/// │ blocks touched max 4 mean 2.8 ││                                   │
/// │ read amplification 1.00x      ││                                   │
/// ├ Warnings ─────────────────────┤│                                   │
/// │ ! small chunks ...            ││                                   │
/// └───────────────────────────────┘└───────────────────────────────────┘
/// ```
pub fn render(app: &App, theme: Theme, area: Rect, buf: &mut Buffer) {
    let Some(s) = &app.setup else { return };
    let left_w = (area.width / 2).max(44).min(area.width.saturating_sub(20));
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(0)]).areas(area);
    let fields_h = convert::clamp_u16(Field::ALL.len()) + 3;
    let [fields, plan, left_rest] = Layout::vertical([
        Constraint::Length(fields_h),
        Constraint::Length(6),
        Constraint::Min(0),
    ])
    .areas(left);
    let item = &app.catalog.items[s.item].id;

    if let Some(err) = &s.error {
        Paragraph::new(vec![
            Line::from(Span::styled(
                "✗ cannot use this scene",
                theme.fg(Color::Red),
            )),
            Line::from(err.as_str()),
            Line::from("Esc: back to the scenes"),
        ])
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(format!(" Chunks · {item} ")))
        .render(area, buf);
        return;
    }
    let Some(layout) = s.layout else {
        Paragraph::new(format!("opening the scene at {} m…", s.resolution.metres()))
            .block(Block::bordered().title(format!(" Chunks · {item} ")))
            .render(area, buf);
        return;
    };

    render_fields(s, layout, theme, fields, buf, item);
    render_plan(s, theme, plan, buf);
    let warnings = s.warnings();
    let lines: Vec<Line> = if warnings.is_empty() {
        vec![Line::from(Span::styled("✓ none", theme.fg(Color::Green)))]
    } else {
        warnings
            .iter()
            .map(|w| {
                Line::from(vec![
                    Span::styled("! ", theme.fg(Color::Yellow)),
                    Span::raw(w.as_str()),
                ])
            })
            .collect()
    };
    let para = Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .block(Block::bordered().title(" Warnings "));
    // Below the plan when they fit there (a tall terminal); otherwise under the diagram,
    // which gives up the rows: the warnings are read before a run, the diagram is a picture.
    let wanted = |w: u16| {
        let inner = usize::from(w.saturating_sub(2)).max(1);
        let rows: usize = warnings
            .iter()
            .map(|t| (t.chars().count() + 2).div_ceil(inner))
            .sum();
        convert::clamp_u16(rows.max(1)) + 2
    };
    let (warn, diagram) = if left_rest.height >= wanted(left_rest.width).max(3) {
        (left_rest, right)
    } else {
        let h = wanted(right.width).min(right.height.saturating_sub(5));
        let [d, w] = Layout::vertical([Constraint::Min(0), Constraint::Length(h)]).areas(right);
        (w, d)
    };
    para.render(warn, buf);
    render_diagram(s, layout, theme, diagram, buf);
}

fn render_fields(
    s: &Setup,
    l: RasterLayout,
    theme: Theme,
    area: Rect,
    buf: &mut Buffer,
    item: &str,
) {
    let blocks = |v: usize, b: usize| {
        if v.is_multiple_of(b) {
            format!("{} block(s)", v / b)
        } else {
            format!("{} blocks", units::number(v as f64 / b as f64))
        }
    };
    let mut lines = Vec::new();
    for f in Field::ALL {
        let (value, note) = match f {
            Field::Bands => (s.chunks[0].to_string(), format!("of {}", l.bands)),
            Field::Rows => (s.chunks[1].to_string(), blocks(s.chunks[1], l.block_rows)),
            Field::Cols => (s.chunks[2].to_string(), blocks(s.chunks[2], l.block_cols)),
            Field::Threads => (s.threads.to_string(), format!("of {} cores", s.cores)),
            Field::Schedule => (s.schedule.name().to_string(), String::new()),
            Field::Mode => (
                if s.serial { "serial" } else { "chunked" }.to_string(),
                if s.serial {
                    "whole arrays, 1 thread".into()
                } else {
                    String::new()
                },
            ),
            Field::Writer => (
                s.writer.name().to_string(),
                match s.writer {
                    WriterKind::Chunked => "tasks encode tiles".into(),
                    WriterKind::Gdal => "COG copy at end".into(),
                },
            ),
            Field::Format => (format_name(s.format).to_string(), String::new()),
            Field::Codec => (
                s.codec.name().to_string(),
                if s.codec == default_codec(s.format) {
                    format!("{}'s default", format_name(s.format))
                } else {
                    String::new()
                },
            ),
            Field::Resolution => (
                format!("{} m", s.resolution.metres()),
                match s.resolution {
                    Resolution::R20 => "overview 0 (lesson)".into(),
                    Resolution::R10 => "full res, 4x pixels".into(),
                },
            ),
            Field::GdalCache => (
                cache_name(s.gdal_cache_mb),
                if s.gdal_cache_mb.is_none() {
                    "GDAL's".into()
                } else {
                    String::new()
                },
            ),
            Field::Blocks => (
                s.blocks.name().to_string(),
                match s.blocks {
                    BlockSharing::Shared => "each decoded once".into(),
                    BlockSharing::PerTask => "decoded per chunk".into(),
                },
            ),
        };
        let key = field_key(f);
        let sel = f == s.field;
        let text = format!(
            "{} {:<9}{:>8} {key:<1} {note}",
            if sel { "▶" } else { " " },
            f.label(),
            value
        );
        lines.push(Line::from(Span::styled(
            text,
            if sel { theme.selected() } else { Style::new() },
        )));
    }
    lines.push(Line::from(Span::styled(
        if s.free {
            format!(
                "steps: free, {} px (f: whole blocks)",
                crate::tui::model::setup::free_step(l.block_rows)
            )
        } else {
            "steps: whole blocks (f: free)".to_string()
        },
        theme.dim(),
    )));
    Paragraph::new(lines)
        .block(Block::bordered().title(format!(" Chunks · {item} ")))
        .render(area, buf);
}

fn render_plan(s: &Setup, theme: Theme, area: Rect, buf: &mut Buffer) {
    let lines = match &s.plan {
        None => vec![Line::from("…")],
        Some(Err(e)) => vec![Line::from(Span::styled(
            format!("✗ {e}"),
            theme.fg(Color::Red),
        ))],
        Some(Ok(p)) => {
            let (b, r, c) = p.grid;
            vec![
                Line::from(format!(
                    "{} per chunk · {} chunks ({b}x{r}x{c})",
                    units::bytes(p.chunk_bytes),
                    p.chunk_count
                )),
                if p.aligned {
                    Line::from(Span::styled(
                        "✓ aligned with blocks",
                        theme.fg(Color::Green),
                    ))
                } else {
                    Line::from(Span::styled(
                        "✗ not aligned: chunks straddle blocks",
                        theme.fg(Color::Yellow),
                    ))
                },
                Line::from(format!(
                    "blocks touched per chunk: max {} mean {}",
                    p.blocks_touched_max,
                    units::number(p.blocks_touched_mean)
                )),
                Line::from(
                    if s.blocks == BlockSharing::Shared && p.read_amplification > 1.0 {
                        // The plan's figure is what a per-task reader decodes; the store
                        // decodes each block once.
                        format!(
                            "read ampl. {} per task, 1x shared",
                            units::ratio(p.read_amplification)
                        )
                    } else {
                        format!("read amplification {}", units::ratio(p.read_amplification))
                    },
                ),
            ]
        }
    };
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .block(Block::bordered().title(" Plan "))
        .render(area, buf);
}

/// The raster in character cells: `·` where a block edge falls in the cell, `│ ─ ┼` where a
/// chunk edge does (chunk edges win). One cell is about twice as tall as wide, so a cell
/// covers twice as many rows as columns.
fn render_diagram(s: &Setup, l: RasterLayout, theme: Theme, area: Rect, buf: &mut Buffer) {
    let title = format!(
        " Grid {}x{} · blocks {}x{} ",
        l.rows, l.cols, l.block_rows, l.block_cols
    );
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 4 || inner.height < 3 {
        return;
    }
    let (crow, ccol) = match &s.plan {
        Some(Ok(p)) => (p.shape.rows, p.shape.cols),
        _ => (l.rows, l.cols),
    };
    let avail_w = inner.width as usize;
    // The legend's scale depends on the cells, and the room for cells on the legend's
    // lines: one line when it fits, else two (at 80 columns the scale goes below).
    let legend_rows = |px_w: usize| -> usize {
        let one = format!(
            "│─┼ chunk edges  · block edges  (1 cell ≈ {px_w}x{} px)",
            px_w * 2
        );
        let one = one.chars().count();
        if one <= avail_w { 1 } else { 2 }
    };
    let cells = |legend: usize| {
        let avail_h = (inner.height as usize).saturating_sub(1 + legend).max(1);
        // Pixels per cell: keep the aspect (cells are ~2:1), fit both ways.
        let px_w = l
            .cols
            .div_ceil(avail_w)
            .max(l.rows.div_ceil(avail_h * 2))
            .max(1);
        (avail_h, px_w)
    };
    let (mut avail_h, mut px_w) = cells(1);
    let legend = legend_rows(px_w);
    if legend > 1 {
        (avail_h, px_w) = cells(legend);
    }
    let px_h = px_w * 2;
    let w = l.cols.div_ceil(px_w).min(avail_w);
    let h = l.rows.div_ceil(px_h).min(avail_h);
    // Is there a multiple of `step` (other than 0) in [a, b)?
    let edge_in = |a: usize, b: usize, step: usize| {
        let next = a.div_ceil(step).max(1) * step;
        next < b
    };
    let chunk_style = theme.fg(Color::Cyan);
    let block_style = theme.dim();
    for y in 0..h {
        let (r0, r1) = (y * px_h, ((y + 1) * px_h).min(l.rows));
        let row_chunk = edge_in(r0, r1, crow);
        let row_block = edge_in(r0, r1, l.block_rows);
        for x in 0..w {
            let (c0, c1) = (x * px_w, ((x + 1) * px_w).min(l.cols));
            let col_chunk = edge_in(c0, c1, ccol);
            let col_block = edge_in(c0, c1, l.block_cols);
            let (sym, style) = match (row_chunk, col_chunk) {
                (true, true) => ("┼", chunk_style),
                (true, false) => ("─", chunk_style),
                (false, true) => ("│", chunk_style),
                _ if row_block || col_block => ("·", block_style),
                _ => (" ", Style::new()),
            };
            buf.set_string(
                inner.x + convert::clamp_u16(x),
                inner.y + convert::clamp_u16(y),
                sym,
                style,
            );
        }
    }
    let scale = format!("(1 cell ≈ {px_w}x{px_h} px)");
    let mut first = vec![
        Span::styled("│─┼", chunk_style),
        Span::raw(" chunk edges  "),
        Span::styled("·", block_style),
        Span::raw(" block edges"),
    ];
    let y = inner.y + convert::clamp_u16(h) + 1;
    if legend == 1 {
        first.push(Span::raw(format!("  {scale}")));
    } else if y + 1 < inner.bottom() {
        buf.set_line(inner.x, y + 1, &Line::raw(scale), inner.width);
    }
    buf.set_line(inner.x, y, &Line::from(first), inner.width);
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use crate::tui::view::{buffer_text, fixtures, render};

    fn draw(app: &crate::tui::app::App, w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| render(app, f.area(), f.buffer_mut()))
            .unwrap();
        buffer_text(term.backend().buffer())
    }

    #[test]
    fn the_grid_legend_is_whole_at_80x24_and_on_one_line_when_wide() {
        let app = fixtures::setup_app();
        for (w, h, lines) in [(80, 24, 2), (120, 36, 1)] {
            let text = draw(&app, w, h);
            assert!(text.contains("│─┼ chunk edges  · block edges"), "{text}");
            // The scale whole, closed by its parenthesis, on the legend's line or the next.
            let at = text
                .lines()
                .position(|l| l.contains("chunk edges"))
                .unwrap();
            let scale = text
                .lines()
                .enumerate()
                .find(|(_, l)| l.contains("(1 cell ≈"))
                .unwrap_or_else(|| panic!("{w}x{h}: no scale\n{text}"));
            assert_eq!(scale.0, at + lines - 1, "{w}x{h}:\n{text}");
            let tail = scale.1.split("(1 cell ≈").nth(1).unwrap();
            assert!(tail.contains(" px)"), "{w}x{h}: {}", scale.1);
        }
    }
}
