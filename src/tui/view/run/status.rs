//! The run screen's status line: replay badge, state, other programs' load, elapsed
//! time, stage, repeat and dropped events, then the run's label and item.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use chunkscope::profile::units;
use chunkscope::task::Stage;

use crate::tui::model::run::RunView;
use crate::tui::view::Theme;

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

pub(super) fn render_status(r: &RunView, theme: Theme, area: Rect, buf: &mut Buffer) {
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
