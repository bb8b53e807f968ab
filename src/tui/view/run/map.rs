//! The chunk map: a cell per chunk with its state's glyph, done chunks shaded by their
//! busy time on a log scale, the legend under them, and the geometry that mouse clicks
//! are mapped back through.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Widget};

use chunkscope::convert;
use chunkscope::profile::units;
use chunkscope::task::Stage;

use crate::tui::model::run::{ChunkState, RunView, chunk_busy, chunk_states_at};
use crate::tui::view::Theme;

/// Glyph and colour of a chunk state; the glyph alone tells the state. A chunk done with
/// all stages is drawn with [`heat_glyph`] instead.
pub fn chunk_glyph(s: ChunkState, theme: Theme) -> (&'static str, Style) {
    match s {
        ChunkState::Queued => ("·", theme.dim()),
        ChunkState::Running(Stage::Load) => ("L", theme.fg(Color::Yellow)),
        ChunkState::Done(Stage::Load) => ("l", theme.fg(Color::Yellow)),
        ChunkState::Running(Stage::Mask) => ("M", theme.fg(Color::Magenta)),
        ChunkState::Done(Stage::Mask) => ("m", theme.fg(Color::Magenta)),
        ChunkState::Running(_) => ("W", theme.fg(Color::Cyan)),
        ChunkState::Done(_) => ("█", theme.fg(Color::Green)),
        ChunkState::Failed(_) => ("X", theme.fg(Color::Red)),
    }
}

/// Heat of a done chunk, level 0 (fastest) to 3 (slowest): taller glyph, warmer colour.
pub fn heat_glyph(level: usize, theme: Theme) -> (&'static str, Style) {
    match level {
        0 => ("▂", theme.fg(Color::Blue)),
        1 => ("▄", theme.fg(Color::Cyan)),
        2 => ("▆", theme.fg(Color::Yellow)),
        _ => ("█", theme.fg(Color::Red)),
    }
}

/// Level of `ns` within `min..=max`, in four steps on a log scale: chunk times are skewed
/// (a few cold first loads are many times the rest), and on a linear scale everything but
/// them would read "fast".
pub fn heat_level(ns: u64, min: u64, max: u64) -> usize {
    if max <= min {
        return 3;
    }
    let (lo, hi) = ((min.max(1) as f64).ln(), (max.max(1) as f64).ln());
    let x = (ns.clamp(min, max).max(1) as f64).ln();
    convert::round_usize(((x - lo) / (hi - lo)) * 3.0).min(3)
}

/// What the chunk map shows: each chunk's state and busy time. Live from the events;
/// after the run from the report's task records (complete even if events were dropped;
/// failures from the events); in a replay, at the replay time.
pub fn map_view(r: &RunView) -> (Vec<ChunkState>, Vec<u64>) {
    let n = r.chunks.len();
    match &r.report {
        Some(rep) => {
            let t = r.replay.map_or(u64::MAX, |p| p.t_ns);
            let mut states = chunk_states_at(&rep.tasks, n, t);
            if r.replay.is_none() {
                for (s, live) in states.iter_mut().zip(&r.chunks) {
                    if matches!(live, ChunkState::Failed(_)) {
                        *s = *live;
                    }
                }
            }
            (states, chunk_busy(&rep.tasks, n))
        }
        None => (r.chunks.clone(), r.live.chunk_busy_ns.clone()),
    }
}

/// Legend items packed into lines of `width`.
fn pack(items: Vec<Vec<Span<'static>>>, width: usize) -> Vec<Line<'static>> {
    let mut lines: Vec<Vec<Span>> = vec![Vec::new()];
    let mut used = 0;
    for item in items {
        let w: usize = item.iter().map(|s| s.content.chars().count()).sum();
        if used > 0 && used + w > width {
            lines.push(Vec::new());
            used = 0;
        }
        used += w;
        if let Some(last) = lines.last_mut() {
            last.extend(item);
        }
    }
    lines.into_iter().map(Line::from).collect()
}

/// Where the chunk cells sit inside the map's block: cells grow with the room there is
/// (up to 8 wide and 4 high, a gap between), so a big terminal shows a big map.
#[derive(Debug, Clone, Copy)]
pub(super) struct MapGeom {
    /// Width of a cell, its gap included.
    pub(super) cell: usize,
    pub(super) cell_h: usize,
    pub(super) cols: usize,
    pub(super) shown_rows: usize,
    pub(super) legend_h: u16,
}

impl MapGeom {
    /// `None` when `inner` is too small to draw anything. The geometry depends on the run's
    /// grid and `inner` only, never on the run's state: a live map and the finished one
    /// show (and hide) the same chunks.
    pub(super) fn new(r: &RunView, inner: Rect) -> Option<Self> {
        if inner.height < 2 || inner.width < 2 {
            return None;
        }
        let legend_lines = legend_rows(inner.width);
        let (nb, nr, nc) = r.grid;
        let map_rows = nb * nr;
        // The chunks first, the legend in the rows left (at least one).
        let legend_h = convert::clamp_u16(legend_lines)
            .min(inner.height - convert::clamp_u16(map_rows.min(inner.height as usize)))
            .max(u16::from(inner.height > 2));
        let cell = (inner.width as usize / nc.max(1)).clamp(1, 8);
        let cols = nc.min(inner.width as usize / cell).max(1);
        let rows_avail = (inner.height - legend_h) as usize;
        let cell_h = (rows_avail / map_rows.max(1)).clamp(1, 4);
        Some(Self {
            cell,
            cell_h,
            cols,
            shown_rows: map_rows.min(rows_avail / cell_h),
            legend_h,
        })
    }
}

/// Rows the map's legend is given at `width`: the legend's own line count with the heat
/// range at its widest (`12.3 ms` .. `45.6 ms`), so that the rows do not change as real
/// durations arrive (a map that lost a row at the end of a run would hide more chunks).
fn legend_rows(width: u16) -> usize {
    let placeholder = RunView::new(String::new(), String::new(), (1, 1, 1), 1);
    map_legend(
        &placeholder,
        Theme { color: false },
        Some((12_300_000, 45_600_000)),
        width,
    )
    .len()
}

/// The busy time of the fastest and slowest done chunk.
fn heat_range(states: &[ChunkState], busy: &[u64]) -> Option<(u64, u64)> {
    let done: Vec<u64> = states
        .iter()
        .zip(busy)
        .filter(|(s, _)| **s == ChunkState::Done(Stage::Write))
        .map(|(_, &b)| b)
        .collect();
    Some((*done.iter().min()?, *done.iter().max()?))
}

/// The map's legend lines for `width`: while running the states' legend leads, once done
/// the heat's.
fn map_legend(
    r: &RunView,
    theme: Theme,
    range: Option<(u64, u64)>,
    width: u16,
) -> Vec<Line<'static>> {
    let mut items: Vec<Vec<Span>> = Vec::new();
    for (s, label) in [
        (ChunkState::Queued, "queued"),
        (ChunkState::Running(Stage::Load), "load"),
        (ChunkState::Running(Stage::Mask), "mask"),
        (ChunkState::Running(Stage::Write), "write"),
        (ChunkState::Failed(Stage::Load), "failed"),
    ] {
        let (g, st) = chunk_glyph(s, theme);
        items.push(vec![Span::styled(g, st), Span::raw(format!(" {label} "))]);
    }
    items.push(vec![
        Span::styled("l m", theme.dim()),
        Span::raw(" stage done "),
    ]);
    let mut heat = vec![Span::raw("heat ")];
    match range {
        // One duration (or one done chunk): one level, the top one (see `heat_level`).
        Some((lo, hi)) if lo == hi => {
            let (g3, s3) = heat_glyph(3, theme);
            heat.push(Span::styled(g3, s3));
            heat.push(Span::raw(format!(" {}", units::duration_ns(hi))));
        }
        Some((lo, hi)) => {
            let (g0, s0) = heat_glyph(0, theme);
            heat.push(Span::styled(g0, s0));
            heat.push(Span::raw(format!(" {} ", units::duration_ns(lo))));
            for l in 1..3 {
                let (g, st) = heat_glyph(l, theme);
                heat.push(Span::styled(g, st));
            }
            let (g3, s3) = heat_glyph(3, theme);
            heat.push(Span::raw(" "));
            heat.push(Span::styled(g3, s3));
            heat.push(Span::raw(format!(" {}", units::duration_ns(hi))));
        }
        None => heat.push(Span::styled("when chunks are done", theme.dim())),
    }
    heat.push(Span::raw(" "));
    let states_legend = pack(items, width as usize);
    let heat_legend = pack(
        vec![heat, vec![Span::raw("= chunk busy time, log scale")]],
        width as usize,
    );
    if r.finished() {
        heat_legend.into_iter().chain(states_legend).collect()
    } else {
        // Live, the heat scale's first line (done chunks are drawn in it), then the states.
        let mut heat = heat_legend.into_iter();
        heat.next()
            .into_iter()
            .chain(states_legend)
            .chain(heat)
            .collect()
    }
}

pub(super) fn render_map(r: &RunView, theme: Theme, area: Rect, buf: &mut Buffer) {
    let (nb, nr, nc) = r.grid;
    let title = format!(" Chunks {nb}x{nr}x{nc} ");
    let inner = Block::bordered().inner(area);
    let (states, busy) = map_view(r);
    let range = heat_range(&states, &busy);
    let legend = map_legend(r, theme, range, inner.width);
    let Some(g) = MapGeom::new(r, inner) else {
        Block::bordered().title(title).render(area, buf);
        return;
    };
    for row in 0..g.shown_rows {
        for c in 0..g.cols {
            let i = row * nc + c;
            let Some(&state) = states.get(i) else { break };
            let (glyph, mut st) = match (state == ChunkState::Done(Stage::Write), range) {
                (true, Some((lo, hi))) => {
                    heat_glyph(heat_level(busy.get(i).copied().unwrap_or(0), lo, hi), theme)
                }
                _ => chunk_glyph(state, theme),
            };
            if r.selected == Some(i) {
                st = st.patch(theme.selected());
            }
            let text = glyph.repeat((g.cell - 1).max(1));
            for dy in 0..g.cell_h {
                let y = inner.y + convert::clamp_u16(row * g.cell_h + dy);
                buf.set_string(inner.x + convert::clamp_u16(c * g.cell), y, &text, st);
            }
        }
    }
    let hidden = states.len().saturating_sub(g.shown_rows * nc)
        + if g.cols < nc {
            g.shown_rows * (nc - g.cols)
        } else {
            0
        };
    for (i, line) in legend.iter().take(g.legend_h as usize).enumerate() {
        let y = inner.bottom() - g.legend_h + convert::clamp_u16(i);
        buf.set_line(inner.x, y, line, inner.width);
    }
    // The block goes on last: its title says how many chunks did not fit.
    let title = if hidden > 0 {
        format!("{title}· +{hidden} hidden ")
    } else {
        title
    };
    Block::bordered().title(title).render(area, buf);
}

#[cfg(test)]
mod tests {
    #[test]
    fn heat_levels_spread_on_a_log_scale() {
        use super::heat_level;
        assert_eq!(heat_level(10, 10, 10_000), 0);
        assert_eq!(heat_level(100, 10, 10_000), 1);
        assert_eq!(heat_level(1_000, 10, 10_000), 2);
        assert_eq!(heat_level(10_000, 10, 10_000), 3);
        assert_eq!(
            heat_level(5, 5, 5),
            3,
            "one duration: all the same, the top"
        );
    }
}
