//! The lesson screen: one step of the lesson at a time, its measured figures, the
//! conclusion and the explanation written from them; or, with `P`, the presenter layout:
//! the step's big numbers in large type and its conclusion. Pure; UI thread.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use chunkscope::graph::TaskGraph;
use chunkscope::lesson::{LazyGraph, STEPS, StepResult};

use super::{Theme, big_digits};
use crate::tui::app::App;
use crate::tui::model::graph::GraphView;
use crate::tui::model::lesson::LessonView;

// Normal layout:
//
//   step 2/8 · Load: serial vs chunked, local disk        ✓✓▸·····
//   lesson: Loading in chunks on several workers is faster than one read.
//   serial load            median 1.23 s ± 20 ms, 1.20 s … 1.25 s, n = 3
//   chunked x 2 load       ...
//   ▶ load: chunked x 2 is 1.93x faster than serial, beyond the noise
//   explanation, wrapped (two or three sentences)
//
// Presenter layout (P):
//
//   step 2/8 · Load: serial vs chunked, local disk
//   ███ ███   █ ███   ███ ███
//   ...         (the big figures side by side, or stacked)
//   serial load       x2 load        speedup
//   ▶ conclusion, wrapped, bold

/// Draws the lesson screen.
pub fn render(app: &App, theme: Theme, area: Rect, buf: &mut Buffer) {
    let Some(lesson) = app.lesson.as_ref() else {
        Paragraph::new("no lesson yet: L opens it on the chosen scene").render(area, buf);
        return;
    };
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    header(lesson, theme, head, buf);
    let status = status_lines(lesson, theme);
    let [main, foot] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(status.len() as u16)]).areas(body);
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

fn figures(r: &StepResult, theme: Theme, area: Rect, buf: &mut Buffer) {
    let label_w = r
        .figures
        .iter()
        .map(|f| f.label.chars().count())
        .max()
        .unwrap_or(0)
        // Two fifths of the width: at 80 columns the longest labels (28 characters) stay
        // whole and a figure's value still fits beside them.
        .min(usize::from(area.width) * 2 / 5);
    let mut lines = vec![Line::from(vec![
        Span::styled("lesson: ", theme.dim()),
        Span::raw(r.claim.clone()),
    ])];
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
        format!(
            "measured on {item}: {} runs of each configuration, {} threads:",
            r.repeat, r.threads
        )
    };
    lines.push(Line::from(Span::styled(how, theme.dim())));
    for f in &r.figures {
        let label: String = f.label.chars().take(label_w).collect();
        lines.push(Line::from(vec![
            Span::styled(format!("{label:<label_w$}  "), theme.bold()),
            Span::raw(f.value.clone()),
        ]));
    }
    // The conclusion and the explanation stay on screen whatever the height: the figures
    // above them are cut first.
    let mut words = vec![conclusion(r, theme)];
    words.extend(
        r.explanation
            .iter()
            .map(|e| Line::from(Span::raw(e.clone()))),
    );
    let width = usize::from(area.width.max(1));
    let words_h: usize = words.iter().map(|l| l.width().max(1).div_ceil(width)).sum();
    let [top, bottom] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length((words_h as u16).min(area.height)),
    ])
    .areas(area);
    match &r.graph {
        Some(g) => executed_graph(lines, g, theme, top, buf),
        None => Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(top, buf),
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
    let rows = graph.chunks.min(12) as u16;
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

fn presenter(r: &StepResult, theme: Theme, area: Rect, buf: &mut Buffer) {
    let big = &r.big;
    let n = big.len().max(1);
    let block_h = big_digits::HEIGHT + 1;
    // As many figures to a row as fit side by side (with a cell between them), in as few
    // rows as the height allows; else the figures in bold text.
    let fits = |k: usize| {
        let col_w = area.width / k as u16;
        big.iter()
            .all(|f| big_digits::width(&f.value).is_some_and(|w| w < col_w))
    };
    let layout = (1..=n)
        .rev()
        .find(|&k| fits(k))
        .map(|k| (k, n.div_ceil(k) as u16 * block_h))
        .filter(|&(_, h)| h + 3 <= area.height);
    let Some((per_row, rows_h)) = layout else {
        let mut lines: Vec<Line> = big
            .iter()
            .map(|f| {
                Line::from(Span::styled(
                    format!("{}: {}", f.label, f.value),
                    theme.bold(),
                ))
            })
            .collect();
        lines.push(conclusion(r, theme));
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .render(area, buf);
        return;
    };
    let [figs, _, words] = Layout::vertical([
        Constraint::Length(rows_h),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    let col_w = area.width / per_row as u16;
    let style = theme.bold().patch(theme.fg(Color::Cyan));
    for (i, f) in big.iter().enumerate() {
        let cell = Rect {
            x: figs.x + (i % per_row) as u16 * col_w,
            y: figs.y + (i / per_row) as u16 * block_h,
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
    Paragraph::new(vec![conclusion(r, theme)])
        .wrap(Wrap { trim: true })
        .render(words, buf);
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
                assert!(text.contains("←→/pn step"), "{text}");
                assert!(text.contains("Esc back"), "{text}");
                if step == lesson::Step::TinyChunks {
                    // The longest labels stay whole on a projector's 80 columns.
                    for label in ["scheduling (task overhead)", "read amplification (load)"] {
                        assert!(text.contains(&format!("  {label}  ")), "{w}x{h}:\n{text}");
                    }
                }
                if step == lesson::Step::Graph {
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
                    if w == 160 {
                        assert!(text.contains("0/15 lit ─"), "the built panel:\n{text}");
                    }
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
