//! The task stream: a Gantt lane per worker, x = run time, one glyph and colour per stage,
//! and one more for a worker's help with another worker's write.
//! Live it scrolls with the run clock; after the run it fits the whole run, from the
//! report's task records; in a replay it is cut at the replay time. Pure.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Widget};

use chunkscope::convert;
use chunkscope::profile::units;
use chunkscope::task::{Stage, TaskRecord};

use super::Theme;
use crate::tui::model::live::Running;
use crate::tui::model::run::RunView;

/// While running, a column never covers more than this: longer runs scroll instead of
/// squeezing (one column is then one sampler tick).
pub const LIVE_MAX_COL_NS: u64 = 100_000_000;

/// Glyph and colour of a stage in the task stream; the glyph alone tells the stage.
pub fn stage_glyph(stage: Stage, theme: Theme) -> (&'static str, Style) {
    match stage {
        Stage::Load => ("░", theme.fg(Color::Yellow)),
        Stage::Mask => ("▒", theme.fg(Color::Magenta)),
        Stage::Write => ("▓", theme.fg(Color::Cyan)),
        Stage::Finalize => ("█", theme.fg(Color::Blue)),
    }
}

/// Glyph of help with another worker's write: the write's colour, a glyph of its own.
const HELP_GLYPH: &str = "▚";

/// What a lane's column shows: the stage of the work there, and whether it was help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub stage: Stage,
    pub helping: bool,
}

impl Cell {
    fn glyph(self, theme: Theme) -> (&'static str, Style) {
        let (glyph, style) = stage_glyph(self.stage, theme);
        (if self.helping { HELP_GLYPH } else { glyph }, style)
    }
}

/// The time window a Gantt of `width` columns shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub t0_ns: u64,
    pub col_ns: u64,
    pub width: usize,
    /// The replay's time, drawn as a cursor.
    pub cursor_ns: Option<u64>,
}

impl Window {
    pub fn end_ns(&self) -> u64 {
        self.t0_ns + self.col_ns * self.width as u64
    }

    /// Live: a round column size that fits the run so far, at most [`LIVE_MAX_COL_NS`];
    /// past that the window follows `now_ns`.
    pub fn live(now_ns: u64, width: usize) -> Self {
        let width = width.max(1);
        let col_ns = nice_step(now_ns.div_ceil(width as u64)).min(LIVE_MAX_COL_NS);
        let span = col_ns * width as u64;
        Self {
            t0_ns: now_ns.saturating_sub(span),
            col_ns,
            width,
            cursor_ns: None,
        }
    }

    /// The whole run in `width` columns.
    pub fn whole(end_ns: u64, width: usize) -> Self {
        let width = width.max(1);
        Self {
            t0_ns: 0,
            col_ns: end_ns.div_ceil(width as u64).max(1),
            width,
            cursor_ns: None,
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `ns` (and at least 1 µs).
fn nice_step(ns: u64) -> u64 {
    let mut p = 1_000u64;
    loop {
        for m in [1, 2, 5] {
            if p * m >= ns {
                return p * m;
            }
        }
        match p.checked_mul(10) {
            Some(next) => p = next,
            None => return u64::MAX / 8,
        }
    }
}

/// The cells of each lane: the work that occupies each column (the task started last
/// wins a shared column; a task shorter than a column still shows). Tasks up to `until_ns`
/// only, cut there; `running` tasks are drawn up to `until_ns`.
pub fn lanes(
    tasks: &[TaskRecord],
    running: &[Option<Running>],
    lanes: usize,
    w: Window,
    until_ns: u64,
) -> Vec<Vec<Option<Cell>>> {
    let mut out = vec![vec![None; w.width]; lanes];
    let col_ns = w.col_ns.max(1);
    let mut paint = |worker: u16, cell: Cell, start: u64, end: u64| {
        let Some(row) = out.get_mut(usize::from(worker)) else {
            return;
        };
        if start > until_ns || end < w.t0_ns || start >= w.end_ns() {
            return;
        }
        let end = end.min(until_ns);
        let c0 = convert::clamp_usize(start.saturating_sub(w.t0_ns) / col_ns);
        let c1 = convert::clamp_usize(end.saturating_sub(w.t0_ns).div_ceil(col_ns)).max(c0 + 1);
        for c in row.iter_mut().take(c1.min(w.width)).skip(c0) {
            *c = Some(cell);
        }
    };
    for t in tasks {
        let cell = Cell {
            stage: t.stage,
            helping: t.helping,
        };
        paint(t.worker, cell, t.start_ns, t.end_ns);
    }
    for (worker, r) in running.iter().enumerate() {
        if let Some(r) = r {
            let cell = Cell {
                stage: r.stage,
                helping: r.helping,
            };
            paint(convert::clamp_u16(worker), cell, r.start_ns, until_ns);
        }
    }
    out
}

/// ```text
/// ┌ Task stream · 1 col = 5 ms ───────────────┐
/// │w0 ░░░░░▒▒▓▓▓ ░░░▒▒▓▓                      │
/// │w1 ░░░░ ░░▒▒▒▓▓▓▓▓ █████████               │
/// │   0 ns                             450 ms │
/// │░ load ▒ mask ▓ write █ finalize ┃ replay  │
/// └───────────────────────────────────────────┘
/// ```
pub fn render(r: &RunView, theme: Theme, area: Rect, buf: &mut Buffer) {
    let label_w = 4u16;
    let inner_w = area.width.saturating_sub(2 + label_w) as usize;
    let (tasks, running, n_lanes, w, until): (&[TaskRecord], &[Option<Running>], usize, _, _) =
        match (&r.report, &r.replay) {
            (Some(rep), Some(p)) => {
                let mut w = Window::whole(rep.wall_ns, inner_w);
                w.cursor_ns = Some(p.t_ns);
                (&rep.tasks, &[], rep.config.threads, w, p.t_ns)
            }
            (Some(rep), None) => (
                &rep.tasks,
                &[],
                rep.config.threads,
                Window::whole(rep.wall_ns, inner_w),
                u64::MAX,
            ),
            (None, _) => (
                &r.live.tasks,
                &r.live.running,
                r.live.running.len(),
                Window::live(r.live.now_ns, inner_w),
                r.live.now_ns,
            ),
        };
    let block = Block::bordered().title(format!(
        " Task stream · 1 col = {} ",
        units::duration_ns(w.col_ns)
    ));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height < 3 || inner.width <= label_w + 4 {
        return;
    }
    let cells = lanes(tasks, running, n_lanes, w, until);
    let lane_rows = inner.height as usize - 2;
    // More workers than rows: the last row says how many lanes are not drawn.
    let overflow = cells.len() > lane_rows;
    let shown = if overflow { lane_rows - 1 } else { cells.len() };
    if overflow {
        buf.set_string(
            inner.x,
            inner.y + convert::clamp_u16(shown),
            format!("+{} workers not shown", cells.len() - shown),
            theme.dim(),
        );
    }
    // Few workers on a tall panel: thicker lanes, easier to read on a projector.
    let lane_h = (lane_rows / shown.max(1)).clamp(1, 3);
    let cursor_col = w
        .cursor_ns
        .map(|t| convert::clamp_usize(t.saturating_sub(w.t0_ns) / w.col_ns.max(1)));
    for (i, row) in cells.iter().take(shown).enumerate() {
        for dy in 0..lane_h {
            let y = inner.y + convert::clamp_u16(i * lane_h + dy);
            let label = if dy > 0 {
                String::new()
            } else {
                format!("w{i:<2} ")
            };
            buf.set_string(inner.x, y, &label, theme.dim());
            for (c, cell) in row.iter().enumerate() {
                let x = inner.x + label_w + convert::clamp_u16(c);
                if x >= inner.right() {
                    break;
                }
                if let Some(cell) = cell {
                    let (g, st) = cell.glyph(theme);
                    buf.set_string(x, y, g, st);
                } else if Some(c) == cursor_col {
                    buf.set_string(x, y, "┃", theme.bold());
                }
            }
        }
    }
    // Time axis: the window's ends.
    let y = inner.y + inner.height - 2;
    let left = units::duration_ns(w.t0_ns);
    let right = units::duration_ns(w.end_ns());
    buf.set_string(inner.x + label_w, y, &left, theme.dim());
    let rx = inner
        .right()
        .saturating_sub(convert::clamp_u16(right.chars().count()));
    if rx > inner.x + label_w + convert::clamp_u16(left.chars().count()) {
        buf.set_string(rx, y, &right, theme.dim());
    }
    let mut legend = Vec::new();
    for s in Stage::ALL {
        let (g, st) = stage_glyph(s, theme);
        legend.push(Span::styled(g, st));
        legend.push(Span::raw(format!(" {} ", s.name())));
    }
    // Help is named where it is drawn and the line has room after the replay's cursor.
    let helped = cells.iter().flatten().flatten().any(|c| c.helping);
    let tail = if cursor_col.is_some() { 13 } else { 0 };
    if helped && Line::from(legend.clone()).width() + 7 + tail <= inner.width as usize {
        let (_, st) = stage_glyph(Stage::Write, theme);
        legend.push(Span::styled(HELP_GLYPH, st));
        legend.push(Span::raw(" help "));
    }
    if cursor_col.is_some() {
        legend.push(Span::styled("┃", theme.bold()));
        legend.push(Span::raw(" replay time"));
    } else if r.report.is_none() {
        legend.push(Span::raw("→ now"));
    }
    buf.set_line(
        inner.x,
        inner.y + inner.height - 1,
        &Line::from(legend),
        inner.width,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(worker: u16, stage: Stage, start_ns: u64, end_ns: u64) -> TaskRecord {
        TaskRecord::span(0, stage, worker, start_ns, end_ns)
    }

    #[test]
    fn more_workers_than_rows_are_counted_not_drawn_wrong() {
        use crate::tui::app::Msg;
        use crate::tui::model::screen::Screen;
        use crate::tui::view::{buffer_text, fixtures};
        let mut app = fixtures::setup_app();
        if let Some(s) = app.setup.as_mut() {
            s.threads = 16;
        }
        app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        assert_eq!(app.screen, Screen::Run);
        let r = app.run.as_ref().unwrap();
        assert_eq!(r.live.running.len(), 16);
        let mut buf = Buffer::empty(Rect::new(0, 0, 40, 8));
        render(r, Theme { color: false }, buf.area, &mut buf);
        let text = buffer_text(&buf);
        // 8 rows: 2 borders, axis, legend; 4 lane rows: 3 lanes and the count.
        assert!(text.contains("│w2 "), "{text}");
        assert!(!text.contains("│w3 "), "{text}");
        assert!(text.contains("+13 workers not shown"), "{text}");
    }

    #[test]
    fn live_window_scrolls_once_columns_reach_the_cap() {
        let w = Window::live(45_000_000, 10);
        assert_eq!((w.t0_ns, w.col_ns), (0, 5_000_000));
        let w = Window::live(5_000_000_000, 10);
        assert_eq!(w.col_ns, LIVE_MAX_COL_NS);
        assert_eq!(w.t0_ns, 4_000_000_000);
        assert_eq!(w.end_ns(), 5_000_000_000);
    }

    #[test]
    fn tasks_paint_their_columns_and_stop_at_the_cut() {
        let tasks = [
            task(0, Stage::Load, 0, 30),
            task(0, Stage::Mask, 30, 32),
            task(1, Stage::Write, 50, 100),
        ];
        let running = [
            Some(Running {
                chunk: 0,
                stage: Stage::Mask,
                start_ns: 32,
                helping: false,
            }),
            None,
        ];
        let w = Window::whole(100, 10);
        let l = lanes(&tasks, &[], 2, w, u64::MAX);
        let s = |row: &Vec<Option<Cell>>| {
            row.iter()
                .map(|c| match c {
                    None => '.',
                    Some(c) if c.helping => 'h',
                    Some(c) => c.stage.name().chars().next().unwrap(),
                })
                .collect::<String>()
        };
        assert_eq!(s(&l[0]), "lllm......");
        assert_eq!(s(&l[1]), ".....wwwww");
        let l = lanes(&tasks, &running, 2, w, 70);
        assert_eq!(
            s(&l[0]),
            "lllmmmm...",
            "the running mask is painted up to the cut"
        );
        assert_eq!(s(&l[1]), ".....ww...");
        let l = lanes(&tasks, &[], 2, w, 20);
        assert_eq!(s(&l[0]), "ll........");
        assert_eq!(s(&l[1]), "..........");
        // Help with worker 1's write, on worker 0, has its own cells.
        let mut help = task(0, Stage::Write, 60, 80);
        help.helping = true;
        let l = lanes(&[tasks.as_slice(), &[help]].concat(), &[], 2, w, u64::MAX);
        assert_eq!(s(&l[0]), "lllm..hh..");
        assert_eq!(s(&l[1]), ".....wwwww");
    }
}
