//! Progress on the run screen: the tasks gauge with its ETA and overhead, and a bar per
//! stage (live from the events, from the report when done, at the replay time in a
//! replay).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Widget};

use chunkscope::convert;
use chunkscope::profile::{progress, units};
use chunkscope::task::Stage;

use crate::tui::model::run::RunView;
use crate::tui::view::{Theme, cpu, gantt};

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

pub(super) fn render_gauge(r: &RunView, theme: Theme, area: Rect, buf: &mut Buffer) {
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
pub(super) fn stage_rows(r: &RunView) -> Vec<(Stage, usize, usize, String)> {
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
pub(super) fn render_stages(r: &RunView, theme: Theme, area: Rect, buf: &mut Buffer) {
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
        if convert::clamp_u16(i) >= inner.height {
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
        buf.set_line(inner.x, inner.y + convert::clamp_u16(i), &line, inner.width);
    }
}

/// `overhead 12.3 % live` or `overhead 8.2 % measured`.
fn overhead_note(r: &RunView) -> String {
    match &r.report {
        Some(rep) => format!("overhead {} measured", units::share(rep.overhead.share)),
        None => format!("overhead {} live", units::share(r.live.overhead_share())),
    }
}
