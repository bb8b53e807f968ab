//! The run screen: status, progress with ETA, the chunk map with a heat colour for done
//! chunks, the task stream (Gantt), per-stage progress, CPU and memory, the overhead meter
//! and, when done, the `%%time` figures from the run report (or the error), the spread of a
//! repeat, and the replay of the finished run. Pure: draws a [`RunView`].

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Gauge, Paragraph, Widget, Wrap};

use chunkscope::profile::{progress, units};
use chunkscope::task::Stage;

use super::{Theme, cpu, gantt, graph};

use crate::tui::app::App;

use crate::tui::model::graph::GraphView;
use crate::tui::model::results::Results;
use crate::tui::model::run::{ChunkState, RunView};
use crate::tui::model::run::{chunk_busy, chunk_states_at};

/// At least this big, the run screen shows every panel side by side.
pub const WIDE_WIDTH: u16 = 120;
pub const WIDE_HEIGHT: u16 = 32;

/// Draws the run screen in the layout the area allows.
pub fn render(app: &App, theme: Theme, area: Rect, buf: &mut Buffer) {
    let Some(r) = &app.run else { return };
    let wide = area.width >= WIDE_WIDTH && area.height >= WIDE_HEIGHT;
    if wide {
        render_wide(r, &app.results, theme, area, buf);
    } else {
        render_compact(r, &app.results, theme, area, buf);
    }
    if let Some(at) = graph_area(app, area, wide)
        && let Some(view) = GraphView::of_run(r)
    {
        Clear.render(at, buf);
        graph::render(&view, theme, at, buf);
    }
}

/// Where the task graph goes when `g` shows it: over the chunk map and the task stream
/// (with the stage progress when wide; with the CPU line and `%%time` when compact).
fn graph_area(app: &App, area: Rect, wide: bool) -> Option<Rect> {
    let r = app.run.as_ref()?;
    if !app.graph_panel || r.graph.is_none() {
        return None;
    }
    Some(if wide {
        let a = WideAreas::new(area);
        a.map.union(a.stages)
    } else {
        let a = CompactAreas::new(area);
        a.map.union(a.time)
    })
}

/// Large terminals:
///
/// ```text
/// REPLAY 0.1x — real time 123 ms of 456 ms · chunked x 2 (3,256,256, staged) · DEMO_1 · …
/// [██████████████████████░░░░░░░░░ 45/81 tasks · ETA ≈ 0.8 s (estimate) ]
/// ┌ Chunks 1x3x3 ────────┐┌ Task stream · 1 col = 5 ms ──────┐┌ CPU and memory ─────────┐
/// │▂▂▂ ▆▆▆ ███           ││w0 ░░░░▒▒▓▓▓ ░░▒                  ││per core, live           │
/// │MMM mmm ···           ││w1 ░░░ ▒▒▒▓▓                      ││c0 ██████▌         65 %  │
/// │LLL ··· ···           ││   0 ns                   450 ms  ││process CPU 98 %         │
/// │                      ││░ load ▒ mask ▓ write █ finalize  ││▁▃▅█▇▆                   │
/// │ · queued L load …    │└──────────────────────────────────┘│RSS 120 MiB · peak …     │
/// │ done by busy time:   │┌ Stages · ETA is an estimate ─────┐└─────────────────────────┘
/// │ ▂ 12 ms ▄ ▆ █ 40 ms  ││load  ██████████ 9/9  wall 12 ms  │┌ Overhead ───────────────┐
/// │                      ││mask  ████░░░░░░ 4/9  ETA ≈ 20 ms ││live 12.3 % of capacity  │
/// └──────────────────────┘└──────────────────────────────────┘└─────────────────────────┘
/// ┌ %%time ───────────────────────────────────────────────────────────────────────────┐
/// │ repeat 5/5 · wall median 123 ms ± 4 ms, 118 ms … 131 ms, n = 5                   │
/// │ CPU times: user 1.2 s, sys 80 ms, total 1.3 s                                     │
/// │ Wall time: 700 ms                                                                 │
/// └───────────────────────────────────────────────────────────────────────────────────┘
/// ```
fn render_wide(r: &RunView, history: &Results, theme: Theme, area: Rect, buf: &mut Buffer) {
    let a = WideAreas::new(area);
    render_status(r, theme, a.status, buf);
    render_gauge(r, theme, a.gauge, buf);
    render_map(r, theme, a.map, buf);
    gantt::render(r, theme, a.stream, buf);
    render_stages(r, theme, a.stages, buf);
    cpu::render(r, theme, a.meters, buf);
    render_overhead(r, theme, a.overhead, buf);
    render_summary(r, theme, summary_lines(r, false), Borders::ALL, a.time, buf);
    render_history(history, theme, a.runs, buf);
}

/// The panels of [`render_wide`].
struct WideAreas {
    status: Rect,
    gauge: Rect,
    map: Rect,
    stream: Rect,
    stages: Rect,
    meters: Rect,
    overhead: Rect,
    time: Rect,
    runs: Rect,
}

impl WideAreas {
    fn new(area: Rect) -> Self {
        // From the area alone, so the map keeps its size from live to finished.
        let bottom_h = area.height / 3 + 2;
        let [status, gauge, main, bottom] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(8),
            Constraint::Length(bottom_h),
        ])
        .areas(area);
        let [map, centre, right] = Layout::horizontal([
            Constraint::Percentage(30),
            Constraint::Percentage(42),
            Constraint::Percentage(28),
        ])
        .areas(main);
        let [stream, stages] =
            Layout::vertical([Constraint::Min(5), Constraint::Length(6)]).areas(centre);
        let [meters, overhead] =
            Layout::vertical([Constraint::Min(8), Constraint::Length(11)]).areas(right);
        let [time, runs] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(bottom);
        Self {
            status,
            gauge,
            map,
            stream,
            stages,
            meters,
            overhead,
            time,
            runs,
        }
    }
}

/// ```text
/// ┌ Runs this session, newest first ───────────────────────┐
/// │#2 chunked x 2 (3,512,512, staged)                       │
/// │CPU times: user 183 ms, sys 77.1 ms, total 260 ms; Wall time: 593 ms    │
/// │#1 serial                                                │
/// └─────────────────────────────────────────────────────────┘
/// ```
fn render_history(history: &Results, theme: Theme, area: Rect, buf: &mut Buffer) {
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

/// Small terminals (80x24 and up): the essentials. The panels keep their sizes from the
/// first event to the end (and in a replay), so the chunk map shows as many chunks live as
/// finished; what changes is what the bottom panels say.
///
/// ```text
/// ✓ done · chunked x 2 (3,256,256, staged) · 1.23 s · COG DEFLATE · 20 m · … · DEMO_1
/// [██████████████████████ 81/81 tasks · overhead 12.3 % measured ]
/// ┌ Chunks 1x3x3 ──────┐┌ Task stream · 1 col = 5 ms ────────────┐
/// │▂▂▂ ▆▆▆ ███         ││w0 ░░░░▒▒▓▓▓ ░░▒                        │
/// │ heat ▂ 12 ms … █ … ││░ load ▒ mask ▓ write █ finalize        │
/// └────────────────────┘└────────────────────────────────────────┘
/// CPU c0 65 % c1 33 % · process 98 % ▁▃▅█ · RSS 120 MiB
/// ─ %%time · COG DEFLATE · 20 m · cache 1.56 GiB ──────────────────
/// CPU times: user 1.2 s, sys 80 ms, total 1.3 s         (live: stage progress)
/// Wall time: 700 ms
///   load      wall  12 ms  busy  20 ms  9 tasks  123 MB/s
///   mask …
/// ─ Runs this session, newest first ─────────────────────────────
/// #2 chunked x 2 (3,256,256, staged) · 700 ms
/// #1 serial · 1.52 s
/// ```
fn render_compact(r: &RunView, history: &Results, theme: Theme, area: Rect, buf: &mut Buffer) {
    let a = CompactAreas::new(area);
    render_status(r, theme, a.status, buf);
    render_gauge(r, theme, a.gauge, buf);
    render_map(r, theme, a.map, buf);
    gantt::render(r, theme, a.stream, buf);
    Paragraph::new(cpu::line(r, theme, a.meters.width)).render(a.meters, buf);
    render_summary(r, theme, summary_lines(r, true), Borders::TOP, a.time, buf);
    render_runs(history, theme, a.runs, buf);
}

/// The panels of [`render_compact`]: sizes from the area alone.
struct CompactAreas {
    status: Rect,
    gauge: Rect,
    map: Rect,
    stream: Rect,
    meters: Rect,
    time: Rect,
    runs: Rect,
}

impl CompactAreas {
    fn new(area: Rect) -> Self {
        // `%%time` needs its two lines and the four stage walls under its title; the runs
        // list at least two runs. The chunk map and the task stream get the rest.
        let time_h = (area.height / 3).clamp(7, 12);
        let runs_h = (area.height / 8).clamp(3, 6);
        let [status, gauge, middle, meters, time, runs] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(4),
            Constraint::Length(1),
            Constraint::Length(time_h),
            Constraint::Length(runs_h),
        ])
        .areas(area);
        let [map, stream] =
            Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)])
                .areas(middle);
        Self {
            status,
            gauge,
            map,
            stream,
            meters,
            time,
            runs,
        }
    }
}

/// One line per finished run, newest first: `#2 chunked x 2 (3,256,256, staged) · 700 ms`.
fn render_runs(history: &Results, theme: Theme, area: Rect, buf: &mut Buffer) {
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

/// The chunk under the terminal cell (`x`, `y`) of the run screen drawn in `area`, if any
/// (for mouse clicks). Uses the layout and geometry the drawing uses.
pub fn chunk_at(app: &App, area: Rect, x: u16, y: u16) -> Option<usize> {
    let r = app.run.as_ref()?;
    if app.graph_panel && r.graph.is_some() {
        return None;
    }
    let map = if area.width >= WIDE_WIDTH && area.height >= WIDE_HEIGHT {
        WideAreas::new(area).map
    } else {
        CompactAreas::new(area).map
    };
    let inner = Block::bordered().inner(map);
    let (states, _) = map_view(r);
    let g = MapGeom::new(r, inner)?;
    if !inner.contains(ratatui::layout::Position { x, y }) {
        return None;
    }
    let (dx, dy) = (usize::from(x - inner.x), usize::from(y - inner.y));
    let (col, row) = (dx / g.cell, dy / g.cell_h);
    let in_gap = g.cell > 1 && dx % g.cell == g.cell - 1;
    let i = row * r.grid.2 + col;
    (!in_gap && col < g.cols && row < g.shown_rows && i < states.len()).then_some(i)
}

/// The replay label, always with the real time scale: `REPLAY 0.1x — real time 123 ms of
/// 456 ms`.
pub fn replay_label(r: &RunView) -> Option<String> {
    let p = r.replay.as_ref()?;
    Some(format!(
        "REPLAY {} — real time {} of {}",
        units::factor(p.speed()),
        units::duration_ns(p.t_ns),
        units::duration_ns(p.end_ns)
    ))
}

fn render_status(r: &RunView, theme: Theme, area: Rect, buf: &mut Buffer) {
    let mut head = Vec::new();
    if let Some(label) = replay_label(r) {
        // Never mistaken for a live run: reversed (and yellow, with colour) and bold.
        let badge = if theme.color {
            Style::new().fg(Color::Black).bg(Color::Yellow)
        } else {
            theme.selected()
        };
        head.push(Span::styled(label, badge.patch(theme.bold())));
        if r.replay.is_some_and(|p| p.paused) {
            head.push(Span::raw(" ‖ paused"));
        }
        head.push(Span::raw(" · "));
    }
    let state = if let Some(rep) = &r.report {
        if rep.cancelled {
            Span::styled("■ cancelled", theme.fg(Color::Yellow))
        } else {
            Span::styled("✓ done", theme.fg(Color::Green))
        }
    } else if r.error.is_some() {
        Span::styled("✗ failed", theme.fg(Color::Red))
    } else if r.cancelling {
        Span::styled("… cancelling", theme.fg(Color::Yellow))
    } else {
        Span::styled("▶ running", theme.fg(Color::Cyan))
    };
    head.push(state);
    // Right after the state, so it shows on a narrow screen too.
    if let Some(mark) = others_mark(r) {
        head.push(Span::styled(format!(" · {mark}"), theme.fg(Color::Yellow)));
    }
    // The time next, then what goes on: at 80 columns the item id (the longest part, and
    // the same on every run of a session) is what gets cut.
    head.push(Span::raw(format!(
        " · {}",
        units::duration_ns(r.elapsed_ns)
    )));
    if !r.finished() {
        head.push(Span::raw(format!(
            " · stage {}",
            r.stage.map_or("-", Stage::name)
        )));
    }
    if let Some(rep) = &r.repeat {
        let k = if r.finished() {
            rep.walls_ns.len()
        } else {
            rep.walls_ns.len() + 1
        };
        head.push(Span::raw(if rep.in_warmup() {
            format!(" · repeat: warm-up {}/{}", rep.warmups_done + 1, rep.warmup)
        } else {
            format!(" · repeat {k}/{}", rep.n)
        }));
    }
    if r.dropped > 0 {
        head.push(Span::raw(format!(" · {} events dropped", r.dropped)));
    }
    head.extend([
        Span::raw(" · "),
        Span::styled(r.label.clone(), theme.bold()),
        Span::raw(format!(" · {}", r.item)),
    ]);
    Paragraph::new(Line::from(head)).render(area, buf);
}

/// Samples the live "others" figure averages over: about a second at 10 Hz, so one busy
/// tick does not make it flicker.
const OTHERS_WINDOW: usize = 10;

/// `⚠ others: 0.9 cores` when other processes take more than
/// [`DISTURBED_CORES`](chunkscope::profile::interference::DISTURBED_CORES): the finished
/// run's measured figure, or while running the mean over the latest samples.
pub fn others_mark(r: &RunView) -> Option<String> {
    if let Some(rep) = &r.report {
        return rep.disturbed_mark();
    }
    let recent: Vec<f64> = r
        .live
        .samples
        .iter()
        .rev()
        .take(OTHERS_WINDOW)
        .filter_map(|s| s.others_cores())
        .collect();
    let mean = chunkscope::profile::stats::mean(&recent)?;
    (mean > chunkscope::profile::interference::DISTURBED_CORES).then(|| units::disturbed(mean))
}

/// Tasks done (load, mask, write) out of all, at the replay time when replaying.
fn tasks_done(r: &RunView) -> usize {
    match (&r.report, &r.replay) {
        (Some(rep), Some(p)) => rep
            .tasks
            .iter()
            .filter(|t| t.stage != Stage::Finalize && !t.helping && t.end_ns <= p.t_ns)
            .count(),
        _ => r.tasks_done,
    }
}

fn render_gauge(r: &RunView, theme: Theme, area: Rect, buf: &mut Buffer) {
    let total = r.tasks_total().max(1);
    let done = tasks_done(r).min(total);
    let mut label = format!("{done}/{total} tasks");
    if r.report.is_some() || !r.finished() {
        label.push_str(&format!(" · {}", overhead_note(r)));
    }
    if !r.finished() {
        match progress::eta_ns(r.tasks_done, total, r.live.now_ns) {
            _ if r.tasks_done >= total && !r.cancelling => {
                label.push_str(" · finalize: completing the output file")
            }
            Some(eta) => {
                label.push_str(&format!(" · ETA ≈ {} (estimate)", units::duration_ns(eta)))
            }
            None => label.push_str(" · ETA: after the first task"),
        }
    }
    Gauge::default()
        .ratio(done as f64 / total as f64)
        .label(label)
        .gauge_style(theme.fg(Color::Green))
        .use_unicode(true)
        .render(area, buf);
}

/// Per stage: (stage, done, total, what is left or how long it took).
fn stage_rows(r: &RunView) -> Vec<(Stage, usize, usize, String)> {
    let n = r.chunks.len();
    Stage::ALL
        .iter()
        .map(|&s| {
            let total = if s == Stage::Finalize { 1 } else { n };
            match (&r.report, &r.replay) {
                (Some(rep), Some(p)) => {
                    let done = rep
                        .tasks
                        .iter()
                        .filter(|t| t.stage == s && !t.helping && t.end_ns <= p.t_ns)
                        .count();
                    (s, done, total, String::new())
                }
                (Some(rep), None) => {
                    let st = rep.stage(s);
                    let done = st.map_or(0, |x| x.tasks);
                    let note = st.map_or(String::new(), |x| {
                        format!("wall {}", units::duration_ns(x.wall_ns))
                    });
                    (s, done, total, note)
                }
                (None, _) => {
                    let done = r.live.stage(s).done;
                    let note = if done >= total {
                        "done".to_string()
                    } else {
                        r.live.stage_eta_ns(s, total).map_or(String::new(), |e| {
                            format!("ETA ≈ {}", units::duration_ns(e))
                        })
                    };
                    (s, done, total, note)
                }
            }
        })
        .collect()
}

/// ```text
/// ┌ Stages · ETA is an estimate ──────────┐
/// │load     ██████████████ 9/9  wall 12 ms│
/// │mask     █████▌         4/9  ETA ≈ 8 ms│
/// └───────────────────────────────────────┘
/// ```
fn render_stages(r: &RunView, theme: Theme, area: Rect, buf: &mut Buffer) {
    let title = if r.finished() {
        " Stages "
    } else {
        " Stages · ETA is an estimate "
    };
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let bar_w = (inner.width as usize).saturating_sub(10 + 8 + 18).max(4);
    for (i, (s, done, total, note)) in stage_rows(r).into_iter().enumerate() {
        if i as u16 >= inner.height {
            break;
        }
        let (g, st) = gantt::stage_glyph(s, theme);
        let pct = done as f64 * 100.0 / total.max(1) as f64;
        let line = Line::from(vec![
            Span::styled(g, st),
            Span::raw(format!(" {:<9}", s.name())),
            Span::styled(cpu::bar(pct, bar_w), st),
            Span::raw(format!(" {:>6} ", format!("{done}/{total}"))),
            Span::styled(note, theme.dim()),
        ]);
        buf.set_line(inner.x, inner.y + i as u16, &line, inner.width);
    }
}

/// `overhead 12.3 % live` or `overhead 8.2 % measured`.
fn overhead_note(r: &RunView) -> String {
    match &r.report {
        Some(rep) => format!("overhead {} measured", units::share(rep.overhead.share)),
        None => format!("overhead {} live", units::share(r.live.overhead_share())),
    }
}

/// ```text
/// ┌ Overhead ────────────────────────────┐
/// │measured 23.4 % of capacity, 120 µs/task│
/// │handle open  ██▌          12.3 ms      │
/// │barrier idle █████        24.0 ms      │
/// └──────────────────────────────────────┘
/// ```
fn render_overhead(r: &RunView, theme: Theme, area: Rect, buf: &mut Buffer) {
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
                    units::duration_ns((o.per_task_us * 1e3).round() as u64),
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

/// The tasks of chunk `i` (clicked on the map), from the report's records or the events
/// so far: `chunk #5 (row 1, col 1): load w0 1.23 ms at 4.56 ms · mask … · busy 3.4 ms`.
fn chunk_line(r: &RunView, i: usize) -> Option<String> {
    let nc = r.grid.2.max(1);
    let tasks = r.report.as_ref().map_or(&r.live.tasks, |rep| &rep.tasks);
    let mine: Vec<_> = tasks
        .iter()
        .filter(|t| t.chunk as usize == i && t.stage != Stage::Finalize)
        .collect();
    let mut parts: Vec<String> = mine
        .iter()
        .map(|t| {
            format!(
                "{}{} w{} {} at {}",
                t.stage.name(),
                if t.helping { " (help)" } else { "" },
                t.worker,
                units::duration_ns(t.duration_ns()),
                units::duration_ns(t.start_ns)
            )
        })
        .collect();
    if parts.is_empty() {
        parts.push("no task finished yet".into());
    }
    let busy: u64 = mine.iter().map(|t| t.duration_ns()).sum();
    Some(format!(
        "chunk #{i} (row {}, col {}): {} · busy {} (a click beside the map clears)",
        i / nc,
        i % nc,
        parts.join(" · "),
        units::duration_ns(busy)
    ))
}

/// The `%%time` panel's lines: the clicked chunk's tasks, then a repeat's figures (the
/// engine's median ± σ, min…max and n, in total and per stage, and its warnings), then the
/// run's `%%time` lines and its stage walls (in a repeat, named as the last run's), or the
/// error, or while running each stage's progress. Compact: without the label, which the
/// status line shows. What matters comes first: a small panel cuts from the end.
fn summary_lines(r: &RunView, compact: bool) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(line) = r.selected.and_then(|i| chunk_line(r, i)) {
        out.push(line);
    }
    if let Some(rep) = &r.repeat {
        match &rep.timing {
            Some(t) => {
                out.push(format!(
                    "{}{} · wall {}",
                    rep.count(),
                    if rep.stopped { " (stopped)" } else { "" },
                    units::spread(t.median_ns, t.stdev_ns, t.min_ns, t.max_ns, t.n)
                ));
                for (stage, t) in &rep.stages {
                    out.push(format!(
                        "  {:<9} {}",
                        stage.name(),
                        units::spread(t.median_ns, t.stdev_ns, t.min_ns, t.max_ns, t.n)
                    ));
                }
                out.extend(rep.warnings.iter().map(|w| format!("⚠ {w}")));
            }
            None if rep.stopped => out.push("repeat stopped before a run finished".into()),
            None if rep.in_warmup() => out.push(format!(
                "repeat: warm-up run (not measured), then {} runs…",
                rep.n
            )),
            None => out.push(format!("repeat: run 1 of {}…", rep.n)),
        }
    }
    let in_repeat = r.repeat.as_ref().is_some_and(|rep| rep.timing.is_some());
    match (&r.report, &r.error) {
        (Some(_), _) if in_repeat && r.finished() => {
            // The repeat's figures are above; this run is one of its samples.
            if let Some(rep) = &r.report {
                out.push(format!("last run: {}", rep.time_line()));
            }
        }
        (Some(rep), _) => {
            let text = rep.time_summary();
            let mut lines = text.lines();
            let label = lines.next().map(str::to_string);
            if !compact {
                out.extend(label);
            }
            let (stages, rest): (Vec<&str>, Vec<&str>) = lines.partition(|l| l.starts_with("  "));
            let (time, rest): (Vec<&str>, Vec<&str>) = rest
                .into_iter()
                .partition(|l| l.starts_with("CPU times:") || l.starts_with("Wall time:"));
            out.extend(time.into_iter().map(str::to_string));
            out.extend(stages.into_iter().map(str::to_string));
            out.extend(rest.into_iter().map(str::to_string));
        }
        (None, Some(e)) => out.push(format!("✗ run failed: {e}")),
        _ if r.cancelling => out.push("cancelling after the tasks in flight…".into()),
        _ => {
            out.push("running… (c or Esc cancels); then CPU times and wall per stage".into());
            if compact {
                for (s, done, total, note) in stage_rows(r) {
                    out.push(format!(
                        "  {:<9} {:>9}  {note}",
                        s.name(),
                        format!("{done}/{total}")
                    ));
                }
            }
        }
    }
    out
}

/// The `%%time` panel, boxed (`Borders::ALL`) or under a title rule (`Borders::TOP`).
fn render_summary(
    r: &RunView,
    theme: Theme,
    summary: Vec<String>,
    borders: Borders,
    area: Rect,
    buf: &mut Buffer,
) {
    let style = if r.error.is_some() {
        theme.fg(Color::Red)
    } else {
        Style::new()
    };
    let settings = match &r.report {
        Some(rep) => crate::tui::model::setup::report_settings(rep),
        None => r.settings.clone(),
    };
    let title = if r.error.is_some() {
        " Error ".to_string()
    } else if settings.is_empty() {
        " %%time ".to_string()
    } else {
        format!(" %%time · {settings} ")
    };
    let block = Block::new().borders(borders).title(title);
    let width = block.inner(area).width as usize;
    Paragraph::new(
        summary
            .into_iter()
            .map(|l| Line::from(Span::styled(fit_columns(&l, width), style)))
            .collect::<Vec<_>>(),
    )
    .wrap(Wrap { trim: false })
    .block(block)
    .render(area, buf);
}

/// A line of aligned columns (`  load      wall    540 ms  busy …`) that is wider than
/// `width` with its column padding squeezed to single spaces, so a narrow panel shows each
/// stage on one line instead of wrapping its last figure onto a line of its own.
fn fit_columns(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_string();
    }
    let indent = line.len() - line.trim_start().len();
    let squeezed = line.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("{}{squeezed}", &line[..indent])
}

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
    (((x - lo) / (hi - lo)) * 3.0).round().clamp(0.0, 3.0) as usize
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
struct MapGeom {
    /// Width of a cell, its gap included.
    cell: usize,
    cell_h: usize,
    cols: usize,
    shown_rows: usize,
    legend_h: u16,
}

impl MapGeom {
    /// `None` when `inner` is too small to draw anything. The geometry depends on the run's
    /// grid and `inner` only, never on the run's state: a live map and the finished one
    /// show (and hide) the same chunks.
    fn new(r: &RunView, inner: Rect) -> Option<Self> {
        if inner.height < 2 || inner.width < 2 {
            return None;
        }
        let legend_lines = legend_rows(inner.width);
        let (nb, nr, nc) = r.grid;
        let map_rows = nb * nr;
        // The chunks first, the legend in the rows left (at least one).
        let legend_h = (legend_lines as u16)
            .min(inner.height - (map_rows.min(inner.height as usize) as u16))
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

fn render_map(r: &RunView, theme: Theme, area: Rect, buf: &mut Buffer) {
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
                let y = inner.y + (row * g.cell_h + dy) as u16;
                buf.set_string(inner.x + (c * g.cell) as u16, y, &text, st);
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
        let y = inner.bottom() - g.legend_h + i as u16;
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
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use chunkscope::profile::sampler::Sample;
    use chunkscope::task::{Event, Stage, TaskRecord};

    use super::super::cpu::meters;

    use crate::tui::app::{Cmd, Msg};

    use crate::tui::model::screen::Screen;
    use crate::tui::view::{buffer_text, fixtures, render};

    #[test]
    fn columns_are_squeezed_only_when_the_line_is_too_wide() {
        let line = "  load      wall    540 ms  busy    835 ms      9 tasks  223 MB/s";
        assert_eq!(super::fit_columns(line, 80), line);
        assert_eq!(
            super::fit_columns(line, 60),
            "  load wall 540 ms busy 835 ms 9 tasks 223 MB/s"
        );
    }

    #[test]
    fn others_taking_the_cores_are_marked_live_and_when_done() {
        let mut app = fixtures::setup_app();
        app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        app.update(Msg::Engine(Event::RunStarted {
            chunks: 9,
            threads: 2,
        }));
        let draw = |app: &crate::tui::app::App, w: u16, h: u16| {
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| render(app, f.area(), f.buffer_mut()))
                .unwrap();
            buffer_text(term.backend().buffer())
        };
        // Quiet: this process is the only one busy.
        app.update(Msg::Sample(sample(100_000_000, vec![60.0, 50.0], 105.0, 1)));
        assert!(!draw(&app, 80, 24).contains("others"));
        // Both cores full, this process on one of them: others hold a core.
        for k in 2..12 {
            app.update(Msg::Sample(sample(
                k * 100_000_000,
                vec![100.0, 100.0],
                100.0,
                1,
            )));
        }
        for (w, h) in [(80, 24), (160, 48)] {
            let text = draw(&app, w, h);
            assert!(text.contains("▶ running · ⚠ others: 1.0 core"), "{text}");
        }
        // Finished: the report's measured figure, not the last samples'.
        let mut report = crate::tui::testdata::data().chunked.clone();
        report.others_cpu_ns = Some(report.wall_ns * 9 / 10);
        report.others_cores = Some(0.9);
        report.disturbed = true;
        app.update(Msg::RunFinished(Ok(Box::new(report))));
        let text = draw(&app, 80, 24);
        assert!(text.contains("✓ done · ⚠ others: 0.9 cores"), "{text}");
    }

    #[test]
    fn the_header_keeps_the_time_at_80x24_and_names_a_stage_only_while_running() {
        let draw = |app: &crate::tui::app::App, w: u16, h: u16| {
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| render(app, f.area(), f.buffer_mut()))
                .unwrap();
            buffer_text(term.backend().buffer())
        };
        let header = |text: &str| text.lines().nth(1).unwrap_or_default().to_string();
        let mut app = fixtures::setup_app();
        // A real Sentinel-2 id, as long as they come.
        app.catalog.items[0].id =
            "S2B_MSIL2A_20230611T105619_N0509_R094_T31UFU_20230611T134110".into();
        app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        app.update(Msg::Engine(Event::RunStarted {
            chunks: 9,
            threads: 2,
        }));
        app.update(Msg::Engine(Event::StageStarted {
            stage: Stage::Load,
            at_ns: 0,
        }));
        app.update(Msg::Tick {
            elapsed_ns: 83_400_000_000,
            dropped: 0,
            samples_dropped: 0,
        });
        for (w, h) in [(80, 24), (120, 36)] {
            let line = header(&draw(&app, w, h));
            assert!(
                line.starts_with("▶ running · 1min 23s · stage load · chunked x 2"),
                "{w}x{h}: {line}"
            );
        }
        let report = crate::tui::testdata::data().chunked.clone();
        let wall = chunkscope::profile::units::duration_ns(report.wall_ns);
        app.update(Msg::RunFinished(Ok(Box::new(report))));
        for (w, h) in [(80, 24), (120, 36)] {
            let line = header(&draw(&app, w, h));
            assert!(
                line.starts_with(&format!("✓ done · {wall} · chunked x 2")),
                "{w}x{h}: {line} ({wall})"
            );
            // Done is done: no stage is going on.
            assert!(!line.contains("· stage"), "{w}x{h}: {line}");
        }
    }

    #[test]
    fn run_screen_shows_the_chunk_map_and_lanes() {
        let mut app = fixtures::setup_app();
        let cmd = app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        assert!(
            matches!(cmd, Some(Cmd::StartRun { item: 0, .. })),
            "{cmd:?}"
        );
        assert_eq!(app.screen, Screen::Run);
        app.update(Msg::Engine(Event::RunStarted {
            chunks: 9,
            threads: 2,
        }));
        app.update(Msg::Engine(Event::TaskStarted {
            chunk: 0,
            stage: Stage::Load,
            worker: 0,
            at_ns: 0,
            helping: false,
        }));
        app.update(Msg::Engine(Event::TaskFinished(TaskRecord {
            chunk: 1,
            stage: Stage::Load,
            worker: 1,
            start_ns: 0,
            end_ns: 5_000_000,
            bytes: 100,
            wait_ns: 0,
            alloc_ns: 0,
            append_wait_ns: 0,
            tiles: 0,
            lock_hold_ns: 0,
            helping: false,
        })));
        for (w, h) in [(80, 24), (160, 48)] {
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| render(&app, f.area(), f.buffer_mut()))
                .unwrap();
            let text = buffer_text(term.backend().buffer());
            assert!(text.contains("chunked x 2 (3,2048,2048, staged)"), "{text}");
            assert!(text.contains("1/27 tasks"), "{text}");
            // Cells fill the room: seven glyphs and a gap each at both sizes.
            assert!(text.contains("LLLLLLL lllllll ·······"), "{text}");
            assert!(text.contains("running"), "{text}");
            assert!(text.contains("Task stream"), "{text}");
            // Both lanes: w1's finished load, w0's load still running, drawn as load cells.
            let lane = |w: &str| {
                text.lines()
                    .find_map(|l| l.split_once(&format!("│{w} ")).map(|(_, r)| r.to_string()))
                    .unwrap_or_else(|| panic!("no lane {w}:\n{text}"))
            };
            assert!(lane("w0").contains('░'), "{text}");
            assert!(lane("w1").contains('░'), "{text}");
            assert!(text.contains("ETA ≈"), "{text}");
            assert!(text.contains("(estimate)"), "{text}");
            assert!(text.contains("1/9"), "{text}");
            assert!(text.contains("0/9"), "{text}");
        }
    }

    #[test]
    fn no_color_run_screen_draws_no_colour() {
        let mut app = fixtures::setup_app();
        app.color = false;
        app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        app.update(Msg::Engine(Event::TaskFinished(TaskRecord {
            chunk: 1,
            stage: Stage::Write,
            worker: 1,
            start_ns: 0,
            end_ns: 5_000_000,
            bytes: 100,
            wait_ns: 0,
            alloc_ns: 0,
            append_wait_ns: 0,
            tiles: 0,
            lock_hold_ns: 0,
            helping: false,
        })));
        app.update(Msg::Sample(sample(
            100_000_000,
            vec![10.0, 90.0],
            30.0,
            1 << 20,
        )));
        for (w, h) in [(80, 24), (160, 48)] {
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| render(&app, f.area(), f.buffer_mut()))
                .unwrap();
            let buf = term.backend().buffer();
            assert!(
                buf.content()
                    .iter()
                    .all(|c| c.fg == ratatui::style::Color::Reset
                        && c.bg == ratatui::style::Color::Reset)
            );
            // The glyphs still tell the states and stages apart.
            let text = buffer_text(buf);
            assert!(text.contains("▓ write"), "{text}");
            assert!(text.contains("heat █ 5.00 ms"), "{text}");
        }
    }

    #[test]
    fn a_click_on_a_chunk_lists_its_tasks() {
        use crate::tui::view::chunk_at;
        let mut app = fixtures::setup_app();
        app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        app.update(Msg::Engine(Event::TaskFinished(TaskRecord {
            chunk: 4,
            stage: Stage::Load,
            worker: 1,
            start_ns: 0,
            end_ns: 1_500_000,
            bytes: 100,
            wait_ns: 0,
            alloc_ns: 0,
            append_wait_ns: 0,
            tiles: 0,
            lock_hold_ns: 0,
            helping: false,
        })));
        app.update(Msg::Engine(Event::TaskStarted {
            chunk: 4,
            stage: Stage::Mask,
            worker: 0,
            at_ns: 2_000_000,
            helping: false,
        }));
        for (w, h) in [(80, 24), (160, 48)] {
            let area = ratatui::layout::Rect::new(0, 0, w, h);
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| render(&app, f.area(), f.buffer_mut()))
                .unwrap();
            let buf = term.backend().buffer().clone();
            // Every cell drawn with chunk 4's glyph (M: mask running) maps to chunk 4.
            let cells: Vec<(u16, u16)> = (0..h)
                .flat_map(|y| (0..w / 2).map(move |x| (x, y)))
                // Map cells are several glyphs wide; the legend's "M mask" is one.
                .filter(|&(x, y)| {
                    buf[(x, y)].symbol() == "M"
                        && (buf[(x + 1, y)].symbol() == "M"
                            || buf[(x.saturating_sub(1), y)].symbol() == "M")
                })
                .collect();
            assert!(!cells.is_empty());
            for (x, y) in cells {
                assert_eq!(chunk_at(&app, area, x, y), Some(4), "{w}x{h} at {x},{y}");
                // The cell after the last M of a row is the gap.
                if buf[(x + 1, y)].symbol() == " " {
                    assert_eq!(chunk_at(&app, area, x + 1, y), None);
                }
            }
            assert_eq!(chunk_at(&app, area, 5, 0), None, "the header");
        }
        app.update(Msg::SelectChunk(Some(4)));
        let text = draw(&app, 160, 48);
        assert!(
            text.contains("chunk #4 (row 1, col 1): load w1 1.50 ms at 0 ns · busy 1.50 ms"),
            "{text}"
        );
        app.update(Msg::SelectChunk(None));
        assert_eq!(
            app.run.as_ref().unwrap().selected,
            None,
            "a click beside clears"
        );
        app.update(Msg::SelectChunk(Some(4)));
        let cmd = app.update(Msg::Key(crossterm::event::KeyCode::Esc.into()));
        assert_eq!(cmd, Some(Cmd::Cancel), "Esc still cancels a run");
    }

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

    fn sample(t_ns: u64, cores: Vec<f32>, cpu: f32, rss: u64) -> Sample {
        Sample {
            t_ns,
            per_core_pct: cores,
            process_cpu_pct: cpu,
            rss_bytes: rss,
        }
    }

    fn draw(app: &crate::tui::app::App, w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| render(app, f.area(), f.buffer_mut()))
            .unwrap();
        let text = buffer_text(term.backend().buffer());
        if std::env::var_os("CHUNKSCOPE_DUMP_SCREENS").is_some() {
            eprintln!("{text}");
        }
        text
    }

    #[test]
    fn live_samples_feed_the_cpu_bars_and_sparklines() {
        let mut app = fixtures::setup_app();
        app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        let r = app.run.as_ref().unwrap();
        let m = meters(r, 80);
        assert!(m.cpu_pct.is_empty() && m.rss.is_empty());
        app.update(Msg::Sample(sample(
            100_000_000,
            vec![10.0, 20.0],
            30.0,
            1 << 20,
        )));
        app.update(Msg::Sample(sample(200_000_000, vec![], 150.0, 3 << 20)));
        app.update(Msg::Sample(sample(
            300_000_000,
            vec![65.0, 33.0],
            98.4,
            2 << 20,
        )));
        let r = app.run.as_ref().unwrap();
        let m = meters(r, 80);
        assert_eq!(m.cpu_pct, vec![30, 150, 98]);
        assert_eq!(m.rss, vec![1 << 20, 3 << 20, 2 << 20]);
        assert_eq!(m.cores_pct, vec![65.0, 33.0]);
        assert_eq!(m.rss_peak, 3 << 20);
        assert_eq!(
            meters(r, 2).cpu_pct,
            vec![150, 98],
            "the latest samples fit"
        );
        assert_eq!(r.live.now_ns, 300_000_000, "samples move the run clock on");

        let text = draw(&app, 160, 48);
        assert!(text.contains("CPU and memory"), "{text}");
        assert!(text.contains("per core, live"), "{text}");
        assert!(text.contains("c0"), "{text}");
        assert!(text.contains("65 %"), "{text}");
        assert!(text.contains("33 %"), "{text}");
        assert!(text.contains("process CPU 98 %"), "{text}");
        assert!(text.contains("RSS 2.00 MiB · peak 3.00 MiB"), "{text}");
        assert!(text.contains("live 100 % of capacity"), "{text}");
        let text = draw(&app, 80, 24);
        assert!(text.contains("CPU c0 65 % c1 33 %"), "{text}");
        assert!(text.contains("RSS 2.00 MiB"), "{text}");
        assert!(text.contains("overhead 100 % live"), "{text}");
    }

    #[test]
    fn run_errors_show_in_a_panel() {
        let mut app = fixtures::setup_app();
        app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        app.update(Msg::RunFinished(Err("cannot open \"x.tif\"".into())));
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        term.draw(|f| render(&app, f.area(), f.buffer_mut()))
            .unwrap();
        let text = buffer_text(term.backend().buffer());
        assert!(text.contains("✗ failed"), "{text}");
        assert!(text.contains("run failed: cannot open"), "{text}");
    }
}
