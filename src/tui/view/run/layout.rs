//! The run screen's two layouts: every panel side by side on a large terminal, the
//! essentials on a small one. Each sizes its panels from the area alone, so that nothing
//! moves between the live run, the finished one and its replay.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Borders, Paragraph, Widget};

use super::history::{render_history, render_runs};
use super::map::render_map;
use super::overhead::render_overhead;
use super::progress::{render_gauge, render_stages};
use super::status::render_status;
use super::summary::{render_summary, summary_lines};
use crate::tui::model::results::Results;
use crate::tui::model::run::RunView;
use crate::tui::view::{Theme, cpu, gantt};

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
pub(super) fn render_wide(
    r: &RunView,
    history: &Results,
    theme: Theme,
    area: Rect,
    buf: &mut Buffer,
) {
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
pub(super) struct WideAreas {
    pub(super) status: Rect,
    pub(super) gauge: Rect,
    pub(super) map: Rect,
    pub(super) stream: Rect,
    pub(super) stages: Rect,
    pub(super) meters: Rect,
    pub(super) overhead: Rect,
    pub(super) time: Rect,
    pub(super) runs: Rect,
}

impl WideAreas {
    pub(super) fn new(area: Rect) -> Self {
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
pub(super) fn render_compact(
    r: &RunView,
    history: &Results,
    theme: Theme,
    area: Rect,
    buf: &mut Buffer,
) {
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
pub(super) struct CompactAreas {
    pub(super) status: Rect,
    pub(super) gauge: Rect,
    pub(super) map: Rect,
    pub(super) stream: Rect,
    pub(super) meters: Rect,
    pub(super) time: Rect,
    pub(super) runs: Rect,
}

impl CompactAreas {
    pub(super) fn new(area: Rect) -> Self {
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
