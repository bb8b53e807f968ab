//! The run screen: the chunk map, progress, worker lanes and, when done, the `%%time`
//! figures from the run report (or the error).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph, Widget, Wrap};

use chunkscope::pipeline::Stage;
use chunkscope::profile::units;

use super::Theme;
use crate::tui::app::{App, ChunkState, RunView};

/// ```text
/// ▶ running · chunked x 2 (3,1024,1024, staged) · S2A_… · 1.23 s · stage mask
/// [██████████████░░░░░░░░░░░░░ 45/81 tasks ]
/// ┌ Chunks 1x3x3 ─────────────────┐┌ Workers ─────────────────────────┐
/// │ █ █ █                         ││ w0 ▸ mask #4    12 tasks  230 ms │
/// │ m M m                         ││ w1   idle       11 tasks  210 ms │
/// │ L · ·                         ││   recent: l3 l5 m1 m2 ...        │
/// │ · queued L load M mask ...    ││                                  │
/// └───────────────────────────────┘└──────────────────────────────────┘
/// ┌ %%time ─────────────────────────────────────────────────────────────┐
/// │ CPU times: user 1.2 s, sys 80 ms, total 1.3 s                       │
/// │ Wall time: 700 ms                                                   │
/// └─────────────────────────────────────────────────────────────────────┘
/// ```
pub fn render(app: &App, theme: Theme, area: Rect, buf: &mut Buffer) {
    let Some(r) = &app.run else { return };
    let summary: Vec<String> = match (&r.report, &r.error) {
        (Some(rep), _) => rep.time_summary().lines().map(str::to_string).collect(),
        (None, Some(e)) => vec![format!("✗ run failed: {e}")],
        _ if r.cancelling => vec!["cancelling after the tasks in flight…".into()],
        _ => vec!["running… (c or Esc cancels)".into()],
    };
    let bottom_h = if r.finished() {
        (summary.len() as u16 + 2).min(area.height / 2 + 2)
    } else {
        3
    };
    let [status, gauge, middle, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(bottom_h),
    ])
    .areas(area);

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
    let mut head = vec![
        state,
        Span::raw(" · "),
        Span::styled(r.label.clone(), theme.bold()),
        Span::raw(format!(
            " · {} · {} · stage {}",
            r.item,
            units::duration_ns(r.elapsed_ns),
            r.stage.map_or("-", Stage::name)
        )),
    ];
    if r.dropped > 0 {
        head.push(Span::raw(format!(" · {} events dropped", r.dropped)));
    }
    Paragraph::new(Line::from(head)).render(status, buf);

    let total = r.tasks_total().max(1);
    let done = r.tasks_done.min(total);
    Gauge::default()
        .ratio(done as f64 / total as f64)
        .label(format!("{done}/{total} tasks"))
        .gauge_style(theme.fg(Color::Green))
        .use_unicode(true)
        .render(gauge, buf);

    let [map, lanes] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(middle);
    render_map(r, theme, map, buf);
    render_lanes(r, theme, lanes, buf);

    let style = if r.error.is_some() {
        theme.fg(Color::Red)
    } else {
        Style::new()
    };
    let title = if r.error.is_some() {
        " Error "
    } else {
        " %%time "
    };
    Paragraph::new(
        summary
            .into_iter()
            .map(|l| Line::from(Span::styled(l, style)))
            .collect::<Vec<_>>(),
    )
    .wrap(Wrap { trim: false })
    .block(Block::bordered().title(title))
    .render(bottom, buf);
}

/// Glyph and colour of a chunk state; the glyph alone tells the state.
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

fn render_map(r: &RunView, theme: Theme, area: Rect, buf: &mut Buffer) {
    let (nb, nr, nc) = r.grid;
    let block = Block::bordered().title(format!(" Chunks {nb}x{nr}x{nc} "));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height < 2 || inner.width < 2 {
        return;
    }
    let cell = if nc * 2 <= inner.width as usize { 2 } else { 1 };
    let cols = nc.min(inner.width as usize / cell).max(1);
    let rows_avail = inner.height as usize - 1;
    let map_rows = nb * nr;
    let shown_rows = map_rows.min(rows_avail);
    for row in 0..shown_rows {
        for c in 0..cols {
            let i = row * nc + c;
            let Some(&state) = r.chunks.get(i) else { break };
            let (g, st) = chunk_glyph(state, theme);
            buf.set_string(inner.x + (c * cell) as u16, inner.y + row as u16, g, st);
        }
    }
    let hidden = r.chunks.len().saturating_sub(shown_rows * nc)
        + if cols < nc {
            shown_rows * (nc - cols)
        } else {
            0
        };
    let mut legend = vec![];
    for (s, label) in [
        (ChunkState::Queued, "queued"),
        (ChunkState::Running(Stage::Load), "load"),
        (ChunkState::Running(Stage::Mask), "mask"),
        (ChunkState::Running(Stage::Write), "write"),
        (ChunkState::Done(Stage::Write), "done"),
        (ChunkState::Failed(Stage::Load), "failed"),
    ] {
        let (g, st) = chunk_glyph(s, theme);
        legend.push(Span::styled(g, st));
        legend.push(Span::raw(format!(" {label} ")));
    }
    if hidden > 0 {
        legend.push(Span::raw(format!("(+{hidden} not shown)")));
    }
    buf.set_line(
        inner.x,
        inner.y + inner.height - 1,
        &Line::from(legend),
        inner.width,
    );
}

fn render_lanes(r: &RunView, theme: Theme, area: Rect, buf: &mut Buffer) {
    let mut lines = Vec::new();
    for (w, lane) in r.lanes.iter().enumerate() {
        let now = match lane.current {
            Some((chunk, stage)) => format!("▸ {} #{chunk}", stage.name()),
            None => "  idle".to_string(),
        };
        lines.push(Line::from(format!(
            "w{w:<2} {now:<13}{:>4} tasks {:>8} busy",
            lane.tasks,
            units::duration_ns(lane.busy_ns)
        )));
        let recent: Vec<Span> = lane
            .recent
            .iter()
            .rev()
            .take(12)
            .map(|(chunk, stage, _)| {
                let (g, st) = chunk_glyph(ChunkState::Running(*stage), theme);
                Span::styled(format!("{g}{chunk} "), st)
            })
            .collect();
        let mut line = vec![Span::styled("    recent ", theme.dim())];
        line.extend(recent);
        lines.push(Line::from(line));
    }
    Paragraph::new(lines)
        .block(Block::bordered().title(" Workers "))
        .render(area, buf);
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use chunkscope::pipeline::{Event, Stage, TaskRecord};

    use crate::tui::app::{Cmd, Msg, Screen};
    use crate::tui::view::{buffer_text, fixtures, render};

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
        })));
        for (w, h) in [(80, 24), (160, 48)] {
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| render(&app, f.area(), f.buffer_mut()))
                .unwrap();
            let text = buffer_text(term.backend().buffer());
            assert!(text.contains("chunked x 2 (3,2048,2048, staged)"), "{text}");
            assert!(text.contains("1/27 tasks"), "{text}");
            assert!(text.contains("▸ load #0"), "{text}");
            assert!(text.contains("L l ·"), "{text}");
            assert!(text.contains("running"), "{text}");
            assert!(text.contains("Workers"), "{text}");
        }
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
