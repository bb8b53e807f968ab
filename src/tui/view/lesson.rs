//! The lesson screen: one step of the lesson at a time, its measured figures, its chart,
//! the conclusion (naming its engine and its noise) and the explanation written from them;
//! or, with `P`, the presenter layout: the step's big numbers in large type, its chart, its
//! conclusion and cause. Pure; UI thread.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use chunkscope::convert;
use chunkscope::graph::TaskGraph;
use chunkscope::lesson::{LazyGraph, STEPS, StepResult};

use super::{Theme, big_digits};
use crate::tui::app::App;
use crate::tui::model::graph::GraphView;
use crate::tui::model::lesson::LessonView;

// Normal layout (each part's own sketch is above its function):
//
//   step 2/9 · Load: serial vs chunked, local disk        ✓▸·······
//   lesson: Loading in chunks on several workers is faster than one read.
//   measured on ... / figures not in the chart          (given up first when short)
//   load, 3 runs each: median, fastest…slowest · █ fastest ▒ median ─┤ slowest
//   load serial        ████████████████▒▒─┤        430 ms
//        chunked x 2   ███████▒─┤                  195 ms
//   ▶ chunkscope's engine, load: chunked x 2 is 2.21x faster than serial, beyond the noise
//   cause (the explanation's first line), then the others where rows are left
//
// Presenter layout (P):
//
//   ███ ███   █ ███   ███ ███   (the big figures side by side, else in one line)
//   serial load       x2 load        speedup
//   the chart
//   ▶ conclusion, wrapped, bold / cause

/// Draws the lesson screen.
pub fn render(app: &App, theme: Theme, area: Rect, buf: &mut Buffer) {
    let Some(lesson) = app.lesson.as_ref() else {
        Paragraph::new("no lesson yet: L opens it on the chosen scene").render(area, buf);
        return;
    };
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    header(lesson, theme, head, buf);
    let status = status_lines(lesson, theme);
    let [main, foot] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(convert::clamp_u16(status.len())),
    ])
    .areas(body);
    Paragraph::new(status)
        .wrap(Wrap { trim: true })
        .render(foot, buf);
    match lesson.result() {
        Some(r) if lesson.presenter => presenter(r, theme, main, buf),
        Some(r) => figures(r, theme, main, buf),
        None => {
            let claim = Line::from(vec![
                Span::styled("lesson: ", theme.dim()),
                Span::raw(lesson.current().claim()),
            ]);
            let built = lesson.built.get(lesson.step).and_then(Option::as_ref);
            match built {
                Some(graph) => built_graph(claim, graph, theme, main, buf),
                None => Paragraph::new(claim)
                    .wrap(Wrap { trim: true })
                    .render(main, buf),
            }
        }
    }
}

fn header(lesson: &LessonView, theme: Theme, area: Rect, buf: &mut Buffer) {
    let marks: String = (0..STEPS.len())
        .map(|i| {
            if i == lesson.step {
                '▸'
            } else if lesson.running == Some(i) {
                '…'
            } else if lesson.results[i].is_some() {
                '✓'
            } else if lesson.errors[i].is_some() {
                '✗'
            } else {
                '·'
            }
        })
        .collect();
    let line = Line::from(vec![
        Span::styled(
            format!(
                "step {}/{} · {}",
                lesson.step + 1,
                STEPS.len(),
                lesson.current().title()
            ),
            theme.bold(),
        ),
        Span::raw(format!("  {marks}")),
    ]);
    Paragraph::new(line).render(area, buf);
}

/// Running, cancelled or failed: what the user needs to know to go on.
fn status_lines(lesson: &LessonView, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if let Some(step) = lesson.running {
        let what = match &lesson.progress {
            Some((done, total, label)) if !label.is_empty() => {
                format!("run {}/{total}: {label}", (done + 1).min(*total))
            }
            Some((done, total, _)) => format!("{done}/{total} runs done"),
            None => "starting".into(),
        };
        let who = if step == lesson.step {
            "this step".to_string()
        } else {
            format!("step {}", step + 1)
        };
        let cancel = if lesson.cancelling {
            "cancelling after the run in flight"
        } else {
            "Esc cancels"
        };
        lines.push(Line::from(Span::styled(
            format!("⏳ running {who}: {what} · {cancel}"),
            theme.fg(Color::Yellow),
        )));
    }
    if let Some(e) = lesson.error() {
        lines.push(Line::from(Span::styled(
            format!("✗ {e}"),
            theme.fg(Color::Red),
        )));
    }
    lines
}

/// Rows `lines` take wrapped at `width` word by word, as the paragraphs here wrap them.
fn wrapped_h(lines: &[Line<'_>], width: u16) -> u16 {
    lines.iter().map(|l| line_rows(l, width)).sum()
}

/// Rows one line takes wrapped at `width`: words fill a row until the next does not fit;
/// a word longer than a row is cut across rows.
fn line_rows(line: &Line<'_>, width: u16) -> u16 {
    let width = usize::from(width.max(1));
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    let mut rows = 1;
    let mut used = 0;
    for word in text.split(' ') {
        let w = word.chars().count();
        let need = if used == 0 { w } else { used + 1 + w };
        if need <= width {
            used = need;
        } else if w <= width {
            rows += 1;
            used = w;
        } else {
            // Cut across rows, starting on a row of its own.
            rows += usize::from(used > 0) + (w - 1) / width;
            used = (w - 1) % width + 1;
        }
    }
    convert::clamp_u16(rows)
}

/// The figures' lines, each with how much it is worth keeping on a short screen: the
/// claim, how they were measured, every figure (those the chart also draws worth least).
fn figure_lines(r: &StepResult, theme: Theme, width: u16) -> Vec<(Line<'static>, u8)> {
    let label_w = r
        .figures
        .iter()
        .map(|f| f.label.chars().count())
        .max()
        .unwrap_or(0)
        // Two fifths of the width: at 80 columns the longest labels (28 characters) stay
        // whole and a figure's value still fits beside them.
        .min(usize::from(width) * 2 / 5);
    let mut lines = vec![(
        Line::from(vec![
            Span::styled("lesson: ", theme.dim()),
            Span::raw(r.claim.clone()),
        ]),
        4,
    )];
    let item = if r.item_is_last {
        format!(
            "{} (the catalog's last item, as the lesson's items[-1])",
            r.item
        )
    } else {
        r.item.clone()
    };
    let how = if r.timings.is_empty() && r.memory.is_empty() {
        format!("read from {item}, nothing timed:")
    } else {
        // The timed steps run one unmeasured warm-up first (the memory step's runs are each
        // a process of their own, started cold alike).
        let warm = if r.memory.is_empty() {
            " after a warm-up run"
        } else {
            ""
        };
        format!(
            "measured on {item}: {} runs of each configuration{warm}, {} threads:",
            r.repeat, r.threads
        )
    };
    lines.push((Line::from(Span::styled(how, theme.dim())), 1));
    for f in &r.figures {
        let label: String = f.label.chars().take(label_w).collect();
        let line = Line::from(vec![
            Span::styled(format!("{label:<label_w$}  "), theme.bold()),
            Span::raw(f.value.clone()),
        ]);
        lines.push((line, if f.in_chart { 0 } else { 3 }));
    }
    lines
}

/// `lines` less the least worth keeping (the last of them first) until they fit in `rows`;
/// each is marked as belonging below the chart (`true`) or above it.
fn fit_marked(
    mut lines: Vec<(Line<'static>, u8, bool)>,
    width: u16,
    rows: u16,
) -> Vec<(Line<'static>, bool)> {
    let height = |l: &[(Line<'static>, u8, bool)]| {
        l.iter().map(|(l, _, _)| line_rows(l, width)).sum::<u16>()
    };
    while height(&lines) > rows && lines.len() > 1 {
        let Some(least) = lines
            .iter()
            .enumerate()
            .min_by_key(|(i, (_, worth, _))| (*worth, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
        else {
            break;
        };
        lines.remove(least);
    }
    lines.into_iter().map(|(l, _, below)| (l, below)).collect()
}

// Normal layout, top to bottom. The chart, the conclusion (with its noise label) and the
// cause (the explanation's first line) always stay; when rows are short the rest gives way,
// least worth first: the figures the chart draws too, how they were measured, the
// explanation's later lines, the other figures, the claim.
//
//   lesson: claim / measured on ... / figures, label and value
//   chart title · legend
//   chart rows (bars, task stream or block grid)
//   ▶ chunkscope's engine, load: ... beyond the noise (conclusion)
//   cause, then the explanation's other lines
fn figures(r: &StepResult, theme: Theme, area: Rect, buf: &mut Buffer) {
    let chart_h = r
        .chart
        .as_ref()
        .map_or(0, |c| super::lesson_chart::height(c).min(area.height / 2));
    let mut kept = vec![conclusion(r, theme)];
    kept.extend(
        r.explanation
            .first()
            .map(|e| Line::from(Span::raw(e.clone()))),
    );
    let kept_h = wrapped_h(&kept, area.width);
    let rest = area.height.saturating_sub(chart_h + kept_h);
    let mut lines: Vec<(Line<'static>, u8, bool)> = figure_lines(r, theme, area.width)
        .into_iter()
        .map(|(l, worth)| (l, worth, false))
        .collect();
    lines.extend(
        r.explanation
            .iter()
            .skip(1)
            .map(|e| (Line::from(Span::raw(e.clone())), 2, true)),
    );
    let mut top_lines = Vec::new();
    let mut words = kept;
    let graph_room = r
        .graph
        .as_ref()
        .map(|g| graph_rows(&g.graph) + 1)
        .filter(|&g| rest >= g + 6);
    for (line, below) in fit_marked(lines, area.width, rest - graph_room.unwrap_or(0)) {
        if below {
            words.push(line);
        } else {
            top_lines.push(line);
        }
    }
    let words_h = wrapped_h(&words, area.width).min(area.height.saturating_sub(chart_h));
    let [top, chart_at, bottom] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(chart_h),
        Constraint::Length(words_h),
    ])
    .areas(area);
    match (&r.graph, graph_room) {
        // The graph lit by the run when the figures leave room for it.
        (Some(g), Some(_)) => executed_graph(top_lines, g, theme, top, buf),
        _ => Paragraph::new(top_lines)
            .wrap(Wrap { trim: false })
            .render(top, buf),
    }
    if let Some(c) = &r.chart {
        super::lesson_chart::render(c, theme, chart_at, buf);
    }
    Paragraph::new(words)
        .wrap(Wrap { trim: false })
        .render(bottom, buf);
}

// The laziness step, while its runs go (the graph as built, nothing lit):
//
//   lesson: Dask is lazy: the task graph is built before anything runs, then executed.
//   built before any run, no pixel read: 13 tasks, 15 nodes, 28 edges · running it now
//   ┌ Task graph · staged · 4 chunks · 15 nodes, 28 edges · 0/15 lit ───────────────┐
//   │ ...                                                                            │
//
// and once they ran, above the conclusion (side by side when there is room):
//
//   lesson: ...  / measured on ... / the figures, cut first when short of rows
//   as built, before the run: 0/15 lit       │ executed (the median run): 15/15 lit
//   ┌ Task graph · ... · 0/15 lit ┐          │ ┌ Task graph · ... · 15/15 lit ┐

/// Rows the graph panel wants: one per chunk when few, else its grid, plus its frame.
fn graph_rows(graph: &TaskGraph) -> u16 {
    // Border (2), flow line, stage header, the legend and writer lines.
    let rows = convert::clamp_u16(graph.chunks.min(12));
    rows + 2 + 2 + 2
}

fn built_graph(
    claim: Line<'static>,
    graph: &TaskGraph,
    theme: Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let [c, label, panel] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    Paragraph::new(claim).render(c, buf);
    Paragraph::new(Line::from(Span::styled(
        format!(
            "built before any run, no pixel read: {} tasks, {} nodes, {} edges · running it now",
            graph.task_count(),
            graph.node_count(),
            graph.edge_count()
        ),
        theme.bold(),
    )))
    .render(label, buf);
    let panel = Rect {
        height: panel.height.min(graph_rows(graph)),
        ..panel
    };
    super::graph::render(&GraphView::at(graph, &[], 0, false), theme, panel, buf);
}

/// The figures' lines above, the graph below: as built and executed side by side when the
/// width allows, else executed alone with the built state in its label.
fn executed_graph(
    lines: Vec<Line<'static>>,
    g: &LazyGraph,
    theme: Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let want = graph_rows(&g.graph) + 1;
    // The claim and the how stay; the figures give way to the graph first.
    let panel_h = want.min(area.height.saturating_sub(2));
    let [text, label, panel] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(panel_h.saturating_sub(1)),
    ])
    .areas(area);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(text, buf);
    let built = GraphView::at(&g.graph, &[], 0, false);
    let ran = GraphView::at(&g.graph, &g.tasks, u64::MAX, false);
    let (lit0, n) = built.lit();
    let (lit1, _) = ran.lit();
    let before = format!("as built, before the run: {lit0}/{n} lit");
    let after = format!("executed (the median run): {lit1}/{n} lit");
    if area.width >= 140 {
        let [l, r] =
            Layout::horizontal([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).areas(Rect {
                height: label.height + panel.height,
                ..label
            });
        for (half, text, v) in [(l, before, built), (r, after, ran)] {
            let [head, body] =
                Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(half);
            Paragraph::new(Span::styled(text, theme.bold())).render(head, buf);
            super::graph::render(&v, theme, body, buf);
        }
    } else {
        Paragraph::new(Span::styled(format!("{before} · {after}"), theme.bold()))
            .render(label, buf);
        super::graph::render(&ran, theme, panel, buf);
    }
}

/// The conclusion, marked: `▶` beyond the noise, `≈` inside it, `·` nothing compared.
fn conclusion(r: &StepResult, theme: Theme) -> Line<'static> {
    let (mark, color) = match r.decided {
        Some(true) => ("▶ ", Color::Green),
        Some(false) => ("≈ ", Color::Yellow),
        None => ("· ", Color::Cyan),
    };
    Line::from(vec![
        Span::styled(mark, theme.fg(color)),
        Span::styled(r.conclusion.clone(), theme.bold().patch(theme.fg(color))),
    ])
}

// Presenter layout (P): the big figures in large type when they fit above what must stay,
// else in one bold line; then the chart, the conclusion and its cause.
//
//   ███ ███   █ ███   ███ ███
//   serial load       x2 load        speedup
//   chart title · legend / chart rows
//   ▶ conclusion (with its noise label), bold
//   cause
fn presenter(r: &StepResult, theme: Theme, area: Rect, buf: &mut Buffer) {
    let chart_h = r
        .chart
        .as_ref()
        .map_or(0, |c| super::lesson_chart::height(c).min(area.height / 2));
    let mut words = vec![conclusion(r, theme)];
    words.extend(
        r.explanation
            .first()
            .map(|e| Line::from(Span::raw(e.clone()))),
    );
    let words_h = wrapped_h(&words, area.width);
    // The explanation's later lines only below everything else, where rows are left.
    let more: Vec<Line<'static>> = r
        .explanation
        .iter()
        .skip(1)
        .map(|e| Line::from(Span::raw(e.clone())))
        .collect();
    let big = &r.big;
    let n = big.len().max(1);
    let block_h = big_digits::HEIGHT + 1;
    let room = area.height.saturating_sub(chart_h + words_h + 1);
    // As many figures to a row as fit side by side (with a cell between them), in as few
    // rows as the room allows; else the figures in one bold line.
    let fits = |k: usize| {
        let col_w = area.width / convert::clamp_u16(k);
        big.iter()
            .all(|f| big_digits::width(&f.value).is_some_and(|w| w < col_w))
    };
    let layout = (1..=n)
        .rev()
        .find(|&k| fits(k))
        .map(|k| (k, convert::clamp_u16(n.div_ceil(k)) * block_h))
        .filter(|&(_, h)| h <= room);
    let figs_h = layout.map_or(1, |(_, h)| h);
    let [figs, _, chart_at, words_at] = Layout::vertical([
        Constraint::Length(figs_h),
        Constraint::Length(1),
        Constraint::Length(chart_h),
        Constraint::Min(0),
    ])
    .areas(area);
    match layout {
        Some((per_row, _)) => {
            let col_w = area.width / convert::clamp_u16(per_row);
            let style = theme.bold().patch(theme.fg(Color::Cyan));
            for (i, f) in big.iter().enumerate() {
                let cell = Rect {
                    x: figs.x + convert::clamp_u16(i % per_row) * col_w,
                    y: figs.y + convert::clamp_u16(i / per_row) * block_h,
                    width: col_w,
                    height: block_h,
                };
                big_digits::render(&f.value, style, cell, buf);
                let label_at = Rect {
                    y: cell.y + big_digits::HEIGHT,
                    height: 1,
                    ..cell
                };
                Paragraph::new(Span::styled(f.label.clone(), theme.bold())).render(label_at, buf);
            }
        }
        None => {
            let text = big
                .iter()
                .map(|f| format!("{}: {}", f.label, f.value))
                .collect::<Vec<_>>()
                .join(" · ");
            Paragraph::new(Span::styled(
                text,
                theme.bold().patch(theme.fg(Color::Cyan)),
            ))
            .render(figs, buf);
        }
    }
    if let Some(c) = &r.chart {
        super::lesson_chart::render(c, theme, chart_at, buf);
    }
    for line in more {
        let mut with = words.clone();
        with.push(line);
        if wrapped_h(&with, words_at.width) > words_at.height {
            break;
        }
        words = with;
    }
    Paragraph::new(words)
        .wrap(Wrap { trim: false })
        .render(words_at, buf);
}

#[cfg(test)]
mod tests {
    use chunkscope::experiment::rounds::RunBase;
    use chunkscope::lesson::{self, InProcess, Lesson, STEPS};
    use chunkscope::output::{OutputFormat, OutputSpec};
    use chunkscope::pipeline::{CloudClasses, Resolution, Scene};
    use chunkscope::task::CancelFlag;
    use crossterm::event::KeyCode;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use crate::tui::app::{App, Msg};
    use crate::tui::model::screen::Screen;
    use crate::tui::view::{buffer_text, render};

    /// The screen's text with every run of whitespace (line ends included) made one space,
    /// so that a sentence wrapped over rows is found whole.
    fn flat(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// Every step drawn from fixed figures (no run, so the screens are the same each time)
    /// at 80x24, in the normal and the presenter layout: the chart (its title and its
    /// marks), the conclusion with its noise label and the cause (the explanation's first
    /// line) are always on screen, and the keys to go on.
    #[test]
    fn every_step_keeps_its_chart_conclusion_and_cause_at_80x24() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 2);
        let mut app = App::new(catalog, 2, false);
        app.update(Msg::Key(KeyCode::Char('L').into()));
        let lesson = app.lesson.as_mut().unwrap();
        lesson.running = None;
        for (i, &step) in STEPS.iter().enumerate() {
            lesson.results[i] = Some(lesson::example(step));
        }
        for (i, &step) in STEPS.iter().enumerate() {
            let r = lesson::example(step);
            let chart = r.chart.as_ref().expect("a chart");
            let title: String = chart.title().chars().take(30).collect();
            let marks = match chart {
                lesson::Chart::Bars(_) => "█",
                lesson::Chart::Stream(_) => "░",
                lesson::Chart::Blocks(_) => "░░",
            };
            let conclusion = flat(&r.conclusion);
            let cause: String = flat(&r.explanation[0]).chars().take(60).collect();
            for presenter in [false, true] {
                let lesson = app.lesson.as_mut().unwrap();
                lesson.step = i;
                lesson.presenter = presenter;
                let text = draw(&app, 80, 24);
                if std::env::var_os("LESSON_DUMP").is_some() {
                    eprintln!("{text}");
                }
                let f = flat(&text);
                let at = format!("{step:?}, presenter {presenter}:\n{text}");
                assert!(f.contains(&title), "chart title {title:?} at {at}");
                assert!(text.contains(marks), "chart marks at {at}");
                assert!(f.contains(&conclusion), "conclusion at {at}");
                assert!(f.contains(r.noise()), "noise label at {at}");
                assert!(f.contains(&cause), "cause {cause:?} at {at}");
                assert!(text.contains("←→/hl step"), "keys at {at}");
                assert!(!text.contains("L lesson"), "L does nothing here: {at}");
                if presenter {
                    // The big numbers, large when they fit, else in one line.
                    let big = &r.big[0];
                    assert!(
                        text.contains("███")
                            || f.contains(&format!("{}: {}", big.label, big.value)),
                        "big figures at {at}"
                    );
                } else {
                    assert!(f.contains(&flat(&r.claim)), "claim at {at}");
                }
                match step {
                    lesson::Step::MaskWrite if !presenter => {
                        // Both writers' locks and their workers stay on a projector.
                        for label in ["lock, GDAL's writer", "lock, chunkscope's"] {
                            assert!(text.contains(label), "{label} at {at}");
                        }
                        assert_eq!(
                            text.matches("writes/held/waited").count(),
                            2,
                            "per-worker lines at {at}"
                        );
                        assert!(text.contains("w1 4/990 ms/27.0 ms"), "{at}");
                    }
                    lesson::Step::Graph if !presenter => {
                        for label in ["staged graph", "fused graph", "built (no pixel read)"] {
                            assert!(text.contains(label), "{label} at {at}");
                        }
                    }
                    _ => {}
                }
            }
        }
        // The warm-up is in the count where one ran: the timed steps, not the memory step's
        // process-per-run measurements.
        for (i, &step) in STEPS.iter().enumerate() {
            let lesson = app.lesson.as_mut().unwrap();
            lesson.step = i;
            lesson.presenter = false;
            let f = flat(&draw(&app, 160, 48));
            let warm = f.contains("runs of each configuration after a warm-up run");
            match step {
                lesson::Step::LoadLocal | lesson::Step::TinyChunks => {
                    assert!(warm, "{step:?}: {f}")
                }
                lesson::Step::Memory => assert!(!warm, "{step:?}: {f}"),
                _ => {}
            }
        }
    }

    #[test]
    fn s_refuses_to_save_while_the_step_runs_again() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 2);
        let mut app = App::new(catalog, 2, false);
        app.update(Msg::Key(KeyCode::Char('L').into()));
        let lesson = app.lesson.as_mut().unwrap();
        lesson.results[0] = Some(lesson::example(STEPS[0]));
        // r re-runs the step: its old figures stay on screen, but s must not save them.
        lesson.running = Some(0);
        let cmd = app.update(Msg::Key(KeyCode::Char('s').into()));
        assert_eq!(cmd, None);
        let text = flat(&draw(&app, 80, 24));
        assert!(
            text.contains("running again: s saves the new figures when done"),
            "{text}"
        );
        // Once the run is over, s saves.
        app.lesson.as_mut().unwrap().running = None;
        let cmd = app.update(Msg::Key(KeyCode::Char('s').into()));
        assert_eq!(cmd, Some(crate::tui::app::Cmd::SaveLessonStep(0)));
    }

    fn draw(app: &App, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| render(app, f.area(), f.buffer_mut())).unwrap();
        buffer_text(t.backend().buffer())
    }

    /// Every step, measured for real on a small demo, drawn at 80x24 and 160x48 in both
    /// layouts: the title, the conclusion's start and the keys to go on are always there;
    /// the big numbers are drawn large in the presenter layout.
    #[test]
    fn every_step_is_drawn_from_real_runs_at_80x24_and_160x48() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 1024, 2);
        let mut app = App::new(catalog.clone(), 2, false);
        let plan = Lesson::new(catalog.clone(), 1, dir.path().join("out"));
        let probe = InProcess {
            scene: Scene::from_item(&catalog.items[1]).unwrap(),
            base: RunBase {
                resolution: Resolution::R20,
                cloud_classes: CloudClasses::default(),
                output: OutputSpec::new(dir.path().join("m.tif"), OutputFormat::Gtiff),
                gdal_cache_mb: None,
                blocks: Default::default(),
            },
            cancel: CancelFlag::new(),
        };
        // L on the scenes screen opens the lesson on the selected scene and runs step 1.
        app.selected = 1;
        let cmd = app.update(Msg::Key(KeyCode::Char('L').into()));
        assert_eq!(app.screen, Screen::Lesson);
        assert!(
            matches!(
                cmd,
                Some(crate::tui::app::Cmd::StartLessonStep { item: 1, step: 0 })
            ),
            "{cmd:?}"
        );
        let running = draw(&app, 80, 24);
        assert!(running.contains("running this step"), "{running}");
        for (i, &step) in STEPS.iter().enumerate() {
            let r =
                lesson::run_step(step, &plan, &probe, &CancelFlag::new(), &|_, _, _| {}).unwrap();
            let conclusion: String = r.conclusion.chars().take(30).collect();
            let big = r.big[0].label.clone();
            let timed = !(r.timings.is_empty() && r.memory.is_empty());
            if step == lesson::Step::Graph {
                // While the step runs, its graph is shown as built: nothing lit.
                let lesson = app.lesson.as_mut().unwrap();
                lesson.step = i;
                lesson.running = Some(i);
                let built = lesson::build_graph(&plan).unwrap();
                app.update(Msg::LessonGraphBuilt {
                    step: i,
                    graph: Box::new(built),
                });
                for (w, h) in [(80, 24), (160, 48)] {
                    let text = draw(&app, w, h);
                    assert!(text.contains("running this step"), "{text}");
                    assert!(text.contains("built before any run"), "{w}x{h}:\n{text}");
                    assert!(
                        text.contains("staged · 4 chunks · 15 nodes, 28 edges · 0/15 lit"),
                        "{w}x{h}:\n{text}"
                    );
                    assert!(!text.contains("■ load"), "nothing is done yet:\n{text}");
                }
            }
            app.update(Msg::LessonFinished {
                step: i,
                result: Ok(Box::new(r)),
            });
            // Moving on asks for the next step's run.
            let lesson = app.lesson.as_mut().unwrap();
            lesson.step = i;
            lesson.presenter = false;
            for (w, h) in [(80, 24), (160, 48)] {
                let text = draw(&app, w, h);
                assert!(
                    text.contains(&format!("step {}/{}", i + 1, STEPS.len())),
                    "{text}"
                );
                assert!(text.contains(&conclusion), "{:?} at {w}x{h}:\n{text}", step);
                assert!(text.contains("←→/hl step"), "{text}");
                assert!(text.contains("Esc back"), "{text}");
                if step == lesson::Step::TinyChunks {
                    // The longest labels stay whole on a projector's 80 columns.
                    for label in ["scheduling (task overhead)", "read amplification (load)"] {
                        assert!(text.contains(&format!("  {label}  ")), "{w}x{h}:\n{text}");
                    }
                }
                if step == lesson::Step::Graph && w == 80 {
                    // Short of rows: the run's task stream, not the graph panel.
                    assert!(text.contains("w1  "), "the task stream at {w}x{h}:\n{text}");
                    assert!(text.contains("░ load ▒ mask ▓ write"), "{text}");
                }
                if step == lesson::Step::Graph && w == 160 {
                    // Executed: every node lit, from the kept run's task records.
                    assert!(
                        text.contains("staged · 4 chunks · 15 nodes, 28 edges · 15/15 lit"),
                        "{w}x{h}:\n{text}"
                    );
                    assert!(
                        text.contains("as built, before the run: 0/15 lit"),
                        "{text}"
                    );
                    assert!(text.contains("executed (the median run): 15/15 lit"));
                    assert!(text.contains("0/15 lit ─"), "the built panel:\n{text}");
                }
                if w == 160 {
                    let how = if timed { "measured on" } else { "read from" };
                    assert!(text.contains(how), "{step:?}: {text}");
                    assert!(text.contains("items[-1]"), "{text}");
                }
            }
            app.lesson.as_mut().unwrap().presenter = true;
            for (w, h) in [(80, 24), (160, 48)] {
                let text = draw(&app, w, h);
                assert!(text.contains(&big), "{big:?} at {w}x{h}:\n{text}");
                assert!(text.contains("███"), "large type at {w}x{h}:\n{text}");
                assert!(text.contains(&conclusion), "{text}");
            }
        }
        // s saves the step's figures; a missing step says why.
        let cmd = app.update(Msg::Key(KeyCode::Char('s').into()));
        assert_eq!(
            cmd,
            Some(crate::tui::app::Cmd::SaveLessonStep(STEPS.len() - 1))
        );
        // Esc leaves for where L was pressed.
        app.update(Msg::Key(KeyCode::Esc.into()));
        assert_eq!(app.screen, Screen::Scenes);
    }
}
