//! The task graph panel: the graph a run executes, drawn before it runs and lit up as its
//! tasks start and end. A pure function of a [`GraphView`]; the Run screen draws it in
//! place of the chunk map and task stream (`g`), and other screens may draw it anywhere.
//!
//! Few chunks: one row per chunk, one column per stage, the staged barriers as bars
//! across every row, the writes joining into finalize. Many chunks: per stage a grid of
//! the chunk grid, one cell for k x k chunks, shaded by how many of them are done.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use chunkscope::graph::{CHUNK_STAGES, Order};
use chunkscope::output::WriterKind;
use chunkscope::task::Stage;

use super::Theme;
use crate::tui::model::graph::{GraphView, NodeState, StageCounts};

/// Glyph and colour of a node's state; the glyph alone says it without colour.
fn node_style(s: NodeState, theme: Theme) -> (&'static str, Style) {
    match s {
        NodeState::Waiting => ("·", theme.dim()),
        NodeState::Running => ("▶", theme.fg(Color::Cyan).patch(theme.bold())),
        NodeState::Done => ("■", theme.fg(Color::Green)),
        NodeState::Failed => ("✗", theme.fg(Color::Red)),
    }
}

/// ```text
/// ┌ Task graph · staged · 4 chunks · 15 nodes, 28 edges · 9/15 lit ──────────────┐
/// │4 load ┃ barrier ✓ ┃ 4 mask ┃ barrier … ┃ 4 write ─▶ finalize                    │
/// │chunk load    ┃  mask    ┃  write                                              │
/// │#0    ■ load ─┃─ ■ mask ─┃─ · write ─┬─▶ · finalize                            │
/// │#1    ■ load ─┃─ ▶ mask ─┃─ · write ─┤                                         │
/// │#2    ■ load ─┃─ · mask ─┃─ · write ─┘                                         │
/// │■ done ▶ running · waiting ✗ failed · ┃ barrier: waits for the whole stage     │
/// │writer: one lock, held in turn · order so far: #1 #0                            │
/// └────────────────────────────────────────────────────────────────────────────────┘
/// ```
pub fn render(v: &GraphView, theme: Theme, area: Rect, buf: &mut Buffer) {
    let g = v.graph;
    let (lit, nodes) = v.lit();
    let title = format!(
        " Task graph · {} · {} chunk{} · {} nodes, {} edges · {lit}/{nodes} lit{} ",
        g.order.name(),
        g.chunks,
        if g.chunks == 1 { "" } else { "s" },
        nodes,
        g.edge_count(),
        if v.replay { ", replay" } else { "" }
    );
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let mut lines = vec![flow_line(v, theme)];
    let foot = [legend_line(v, theme), writer_line(v, theme, inner.width)];
    let body_h = usize::from(inner.height).saturating_sub(1 + foot.len());
    // One row per chunk needs the stage header and every chunk.
    if g.chunks < body_h {
        lines.extend(rows_body(v, theme));
    } else {
        lines.extend(grid_body(v, theme, inner.width, body_h));
    }
    lines.truncate(usize::from(inner.height).saturating_sub(foot.len()).max(1));
    while lines.len() + foot.len() < usize::from(inner.height) {
        lines.push(Line::raw(""));
    }
    lines.extend(foot);
    Paragraph::new(lines).render(inner, buf);
}

/// The schedule in one line: `36 load ┃ barrier ✓ ┃ 36 mask ┃ barrier … ┃ 36 write ─▶
/// finalize`.
fn flow_line(v: &GraphView, theme: Theme) -> Line<'static> {
    let g = v.graph;
    let n = g.chunks;
    let bar = theme.bold();
    let mut spans = Vec::new();
    match g.order {
        Order::Staged => {
            for stage in CHUNK_STAGES {
                spans.push(Span::raw(format!("{n} {}", stage.name())));
                if g.barriers().contains(&stage) {
                    let (mark, style) = if v.barrier_passed(stage) {
                        ("✓", theme.fg(Color::Green))
                    } else {
                        ("…", theme.dim())
                    };
                    spans.push(Span::styled(" ┃ ", bar));
                    spans.push(Span::raw("barrier "));
                    spans.push(Span::styled(mark, style));
                    spans.push(Span::styled(" ┃ ", bar));
                }
            }
        }
        Order::Fused => spans.push(Span::raw(format!(
            "{n} chain{} load → mask → write, each on one worker, no barrier",
            if n == 1 { "" } else { "s" }
        ))),
        Order::Serial => spans.push(Span::raw(
            "the whole grid as one chunk: load → mask → write on one thread",
        )),
    }
    let (glyph, style) = node_style(v.finalize, theme);
    spans.push(Span::raw(" ─▶ "));
    spans.push(Span::styled(glyph, style));
    spans.push(Span::raw(" finalize"));
    Line::from(spans)
}

/// Between two stage columns: a barrier bar (staged) or an arrow (a chain).
fn connector(v: &GraphView, after: Stage, theme: Theme) -> Span<'static> {
    if v.graph.barriers().contains(&after) {
        Span::styled(" ─┃─ ", theme.bold())
    } else {
        Span::raw(" ──▶ ")
    }
}

/// One row per chunk, one column per stage.
fn rows_body(v: &GraphView<'_>, theme: Theme) -> Vec<Line<'static>> {
    let n = v.graph.chunks;
    let label_w = format!("#{}", n.saturating_sub(1)).len().max(5) + 1;
    let mut head = vec![Span::styled(format!("{:<label_w$}", "chunk"), theme.dim())];
    for (i, stage) in CHUNK_STAGES.into_iter().enumerate() {
        head.push(Span::styled(format!("  {:<6}", stage.name()), theme.dim()));
        if i < 2 {
            let sep = if v.graph.barriers().contains(&stage) {
                "  ┃  "
            } else {
                "     "
            };
            head.push(Span::styled(sep, theme.bold()));
        }
    }
    let mut lines = vec![Line::from(head)];
    for chunk in 0..n {
        let mut spans = vec![Span::raw(format!("{:<label_w$}", format!("#{chunk}")))];
        for (i, stage) in CHUNK_STAGES.into_iter().enumerate() {
            let (glyph, style) = node_style(v.state(chunk, stage), theme);
            spans.push(Span::styled(glyph, style));
            spans.push(Span::styled(format!(" {:<6}", stage.name()), style));
            if i < 2 {
                spans.push(connector(v, stage, theme));
            }
        }
        let join = match (chunk, n) {
            (_, 1) => " ──▶ ",
            (0, _) => " ─┬─▶ ",
            (c, _) if c + 1 == n => " ─┘",
            _ => " ─┤",
        };
        spans.push(Span::raw(join));
        if chunk == 0 {
            let (glyph, style) = node_style(v.finalize, theme);
            spans.push(Span::styled(glyph, style));
            spans.push(Span::styled(" finalize", style));
        }
        lines.push(Line::from(spans));
    }
    lines
}

/// Glyph and colour of a cell of `done` of `total` tasks, `running` of them in flight.
fn cell_style(c: StageCounts, theme: Theme) -> (char, Style) {
    let total = c.waiting + c.running + c.done + c.failed;
    if c.failed > 0 {
        ('✗', theme.fg(Color::Red))
    } else if total > 0 && c.done == total {
        ('█', theme.fg(Color::Green))
    } else if c.done * 2 >= total && c.done > 0 {
        ('▓', theme.fg(Color::Green))
    } else if c.done > 0 {
        ('▒', theme.fg(Color::Yellow))
    } else if c.running > 0 {
        ('▶', theme.fg(Color::Cyan))
    } else {
        ('·', theme.dim())
    }
}

/// Chunks per cell side so that the chunk grid fits `rows` x `cols` cells.
fn cell_side(grid: (usize, usize, usize), rows: usize, cols: usize) -> usize {
    let (_, nr, nc) = grid;
    nr.div_ceil(rows.max(1))
        .max(nc.div_ceil(cols.max(1)))
        .max(1)
}

/// Per stage a grid of the chunk grid, side by side, barriers or arrows between them.
fn grid_body(v: &GraphView<'_>, theme: Theme, width: u16, rows: usize) -> Vec<Line<'static>> {
    let g = v.graph;
    let (nb, nr, nc) = g.grid;
    let panel_w = usize::from(width).saturating_sub(6) / 3;
    let cell_rows = rows.saturating_sub(1);
    let k = cell_side(g.grid, cell_rows, panel_w);
    let (cr, cc) = (nr.div_ceil(k), nc.div_ceil(k));
    let sep_span = |stage: Stage| {
        let s = if g.barriers().contains(&stage) {
            " ┃ "
        } else {
            " → "
        };
        Span::styled(s, theme.bold())
    };
    let mut lines = Vec::new();
    let mut head = Vec::new();
    for (i, stage) in CHUNK_STAGES.into_iter().enumerate() {
        let c = v.counts(stage);
        let text = format!("{} {}/{} ▶{}", stage.name(), c.done, g.chunks, c.running);
        head.push(Span::styled(
            format!("{:<panel_w$}", truncate(&text, panel_w)),
            theme.bold(),
        ));
        if i < 2 {
            head.push(sep_span(stage));
        }
    }
    lines.push(Line::from(head));
    // Per stage, per cell: counts of the tasks of the chunks it covers (all bands).
    let cells: Vec<Vec<StageCounts>> = CHUNK_STAGES
        .into_iter()
        .map(|stage| {
            let mut cells = vec![StageCounts::default(); cr * cc];
            for b in 0..nb {
                for r in 0..nr {
                    for c in 0..nc {
                        let chunk = (b * nr + r) * nc + c;
                        let cell = &mut cells[(r / k) * cc + c / k];
                        match v.state(chunk, stage) {
                            NodeState::Waiting => cell.waiting += 1,
                            NodeState::Running => cell.running += 1,
                            NodeState::Done => cell.done += 1,
                            NodeState::Failed => cell.failed += 1,
                        }
                    }
                }
            }
            cells
        })
        .collect();
    // Few cells: each drawn larger (up to 4 wide, 2 high, a gap between), to be seen.
    let cell_w = (panel_w / cc.max(1)).clamp(1, 4);
    let cell_h = (cell_rows / cr.max(1)).clamp(1, 2);
    let glyphs = if cell_w > 1 { cell_w - 1 } else { 1 };
    for row in 0..cr.min(cell_rows / cell_h) {
        for _ in 0..cell_h {
            let mut spans = Vec::new();
            for (i, stage) in CHUNK_STAGES.into_iter().enumerate() {
                let mut used = 0;
                for col in 0..cc.min(panel_w / cell_w) {
                    let (ch, style) = cell_style(cells[i][row * cc + col], theme);
                    spans.push(Span::styled(ch.to_string().repeat(glyphs), style));
                    used += glyphs;
                    if cell_w > 1 {
                        spans.push(Span::raw(" "));
                        used += 1;
                    }
                }
                spans.push(Span::raw(" ".repeat(panel_w.saturating_sub(used))));
                if i < 2 {
                    spans.push(sep_span(stage));
                }
            }
            lines.push(Line::from(spans));
        }
    }
    let mut per = if k == 1 {
        "1 cell = 1 chunk".to_string()
    } else {
        format!("1 cell = {k}x{k} chunks")
    };
    if nb > 1 {
        per.push_str(&format!(" x {nb} band chunks"));
    }
    lines.push(Line::styled(
        format!("{per} · █ all done ▓ half or more ▒ some ▶ running · waiting"),
        theme.dim(),
    ));
    lines
}

fn legend_line(v: &GraphView, theme: Theme) -> Line<'static> {
    let text = match v.graph.order {
        Order::Staged => {
            "■ done ▶ running · waiting ✗ failed · ┃ barrier: waits for the whole stage"
        }
        Order::Fused => "■ done ▶ running · waiting ✗ failed · → a chain runs on one worker",
        Order::Serial => "■ done ▶ running · waiting ✗ failed",
    };
    Line::styled(text, theme.dim())
}

/// What the writer serialises, and the order the writes took so far.
fn writer_line(v: &GraphView, theme: Theme, width: u16) -> Line<'static> {
    let g = v.graph;
    let mut text = match g.writer {
        // One write task on the one thread: neither parallel writes nor a lock to wait for.
        _ if g.order == Order::Serial => {
            let by = match g.writer {
                WriterKind::Gdal => "GDAL writes",
                WriterKind::Chunked => "one task writes",
            };
            format!("writer: {by} the whole image on the one thread, nothing waits for it")
        }
        WriterKind::Gdal => {
            let mut t = "writer: one lock (GDAL), held in turn".to_string();
            if !v.write_order.is_empty() {
                t.push_str(" · lock order:");
                for c in &v.write_order {
                    t.push_str(&format!(" #{c}"));
                }
            }
            t
        }
        WriterKind::Chunked => {
            let mut t = "writer: parallel writes, appends under one lock".to_string();
            if let Some(tiles) = g.tiles {
                t.push_str(&format!(" · {}/{} tiles shared", tiles.shared, tiles.tiles));
                let why = ", each encoded by its last write";
                if t.chars().count() + why.chars().count() <= usize::from(width) {
                    t.push_str(why);
                }
            }
            t
        }
    };
    text = truncate(&text, usize::from(width));
    Line::from(vec![Span::styled(text, theme.fg(Color::Magenta))])
}

/// `s` cut to `w` characters, with `…` when cut.
fn truncate(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    let mut out: String = s.chars().take(w.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use chunkscope::task::Stage;

    use crate::tui::app::{App, Msg};
    use crate::tui::model::live::Replay;
    use crate::tui::model::run::RunView;
    use crate::tui::model::screen::Screen;
    use crate::tui::testdata;
    use crate::tui::view::{buffer_text, fixtures, render};

    const SIZES: [(u16, u16); 2] = [(80, 24), (120, 36)];

    fn draw(app: &App, w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| render(app, f.area(), f.buffer_mut()))
            .unwrap();
        buffer_text(term.backend().buffer())
    }

    /// The Run screen showing `run`, the graph toggled on with its key.
    fn run_screen(run: RunView) -> App {
        let mut app = fixtures::setup_app();
        app.screen = Screen::Run;
        app.run = Some(run);
        app.update(Msg::Key(crossterm::event::KeyCode::Char('g').into()));
        assert!(app.graph_panel, "g shows the graph");
        app
    }

    #[test]
    fn a_finished_staged_run_lights_every_node_and_both_barriers() {
        let report = &testdata::data().chunked;
        let n = report.plan.as_ref().unwrap().chunk_count;
        assert_eq!(n, 16, "one block of the small demo: 4x4 chunks");
        let app = run_screen(RunView::from_report(report));
        // 3 tasks per chunk, finalize, two barriers; 2 data + 4 barrier + 1 join edges each.
        let (nodes, edges) = (3 * n + 3, 7 * n);
        for (w, h) in SIZES {
            let text = draw(&app, w, h);
            let title = format!(
                "Task graph · staged · 16 chunks · {nodes} nodes, {edges} edges · {nodes}/{nodes} lit"
            );
            assert!(text.contains(&title), "{w}x{h}:\n{text}");
            assert_eq!(text.matches("barrier ✓").count(), 2, "{text}");
            for stage in ["load", "mask", "write"] {
                assert!(text.contains(&format!("{stage} 16/16 ▶0")), "{text}");
            }
            assert!(text.contains("■ finalize"), "{text}");
            assert!(text.contains("1 cell = 1 chunk"), "{text}");
            assert!(
                text.contains("┃ barrier: waits for the whole stage"),
                "{text}"
            );
            assert!(
                text.contains("writer: parallel writes, appends under one lock"),
                "{text}"
            );
            assert!(text.contains("g graph"), "the key is in the footer: {text}");
            // The chunk map and task stream give way to the graph.
            assert!(!text.contains("Task stream"), "{text}");
        }
        // g again: the map and stream are back.
        let mut app = app;
        app.update(Msg::Key(crossterm::event::KeyCode::Char('g').into()));
        let text = draw(&app, 120, 36);
        assert!(!text.contains("Task graph"), "{text}");
    }

    #[test]
    fn a_replay_between_the_stages_lights_only_the_loads_and_their_barrier() {
        let report = &testdata::data().chunked;
        let last_load = report
            .tasks
            .iter()
            .filter(|t| t.stage == Stage::Load)
            .map(|t| t.end_ns)
            .max()
            .unwrap();
        let first_mask = report
            .tasks
            .iter()
            .filter(|t| t.stage == Stage::Mask)
            .map(|t| t.start_ns)
            .min()
            .unwrap();
        // The executor's barrier: no mask started before the last load ended.
        assert!(first_mask >= last_load);
        let mut run = RunView::from_report(report);
        let mut replay = Replay::new(report.wall_ns);
        replay.t_ns = last_load;
        run.replay = Some(replay);
        let app = run_screen(run);
        for (w, h) in SIZES {
            let text = draw(&app, w, h);
            // 16 loads and the load barrier of 51 nodes.
            assert!(text.contains("17/51 lit, replay"), "{w}x{h}:\n{text}");
            assert!(text.contains("load 16/16"), "{text}");
            assert!(text.contains("mask 0/16"), "{text}");
            assert!(text.contains("write 0/16"), "{text}");
            assert_eq!(text.matches("barrier ✓").count(), 1, "{text}");
            assert_eq!(text.matches("barrier …").count(), 1, "{text}");
            assert!(text.contains("· finalize"), "{text}");
        }
    }

    #[test]
    fn a_fused_run_draws_one_chain_per_chunk_and_a_serial_run_one_chain() {
        let report = &testdata::data().fused;
        let n = report.plan.as_ref().unwrap().chunk_count;
        assert_eq!(n, 4, "2x2 blocks of the small demo: 2x2 chunks");
        let app = run_screen(RunView::from_report(report));
        for (w, h) in SIZES {
            let text = draw(&app, w, h);
            assert!(
                text.contains("Task graph · fused · 4 chunks · 13 nodes, 12 edges · 13/13 lit"),
                "{w}x{h}:\n{text}"
            );
            assert!(text.contains("4 chains load → mask → write, each on one worker"));
            assert!(!text.contains("barrier ✓"), "{text}");
            // One row per chunk: every node done, chained by arrows, joined into finalize.
            for c in 0..4 {
                let row = format!("#{c}    ■ load   ──▶ ■ mask   ──▶ ■ write ");
                assert!(text.contains(&row), "{row:?} at {w}x{h}:\n{text}");
            }
            assert!(text.contains("■ write  ─┬─▶ ■ finalize"), "{text}");
            assert!(text.contains("■ write  ─┘"), "{text}");
        }

        // Before a serial run starts: its one chain, nothing lit.
        let mut app = fixtures::setup_app();
        app.graph_panel = true;
        app.update(Msg::Key(crossterm::event::KeyCode::Char('m').into()));
        app.update(Msg::Key(crossterm::event::KeyCode::Char('r').into()));
        assert_eq!(app.screen, Screen::Run);
        for (w, h) in SIZES {
            let text = draw(&app, w, h);
            assert!(
                text.contains("Task graph · serial · 1 chunk · 4 nodes, 3 edges · 0/4 lit"),
                "{w}x{h}:\n{text}"
            );
            assert!(text.contains("#0    · load   ──▶ · mask   ──▶ · write  ──▶ · finalize"));
            // One thread writes: no parallel writes, no lock.
            assert!(
                text.contains("writer: one task writes the whole image on the one thread"),
                "{w}x{h}:\n{text}"
            );
            assert!(!text.contains("parallel writes"), "{w}x{h}:\n{text}");
        }
    }

    #[test]
    fn a_live_run_lights_its_nodes_as_events_arrive() {
        use chunkscope::task::{Event, TaskRecord};
        use crossterm::event::KeyCode;
        // The setup's 2048 chunks of the 5490 grid: 3x3 chunks, staged, GDAL's writer.
        let mut app = fixtures::setup_app();
        app.update(Msg::Key(KeyCode::Char('w').into()));
        app.update(Msg::Key(KeyCode::Char('r').into()));
        app.update(Msg::Key(KeyCode::Char('g').into()));
        assert_eq!(app.screen, Screen::Run);
        let title = "Task graph · staged · 9 chunks · 30 nodes, 63 edges";
        for (w, h) in SIZES {
            let text = draw(&app, w, h);
            assert!(
                text.contains(&format!("{title} · 0/30 lit")),
                "{w}x{h}:\n{text}"
            );
            assert!(
                text.contains("#8    · load   ─┃─ · mask   ─┃─ · write  ─┘"),
                "{text}"
            );
            assert!(
                text.contains("writer: one lock (GDAL), held in turn"),
                "{text}"
            );
        }
        let mut send = |ev| app.update(Msg::Engine(ev));
        send(Event::RunStarted {
            chunks: 9,
            threads: 2,
        });
        for chunk in 0..9 {
            send(Event::TaskStarted {
                chunk,
                stage: Stage::Load,
                worker: 0,
                at_ns: 10,
                helping: false,
            });
            send(Event::TaskFinished(TaskRecord::span(
                chunk,
                Stage::Load,
                0,
                10,
                20,
            )));
        }
        send(Event::TaskStarted {
            chunk: 4,
            stage: Stage::Mask,
            worker: 1,
            at_ns: 30,
            helping: false,
        });
        for (chunk, start) in [(1, 50), (0, 60)] {
            send(Event::TaskFinished(TaskRecord::span(
                chunk,
                Stage::Mask,
                1,
                30,
                40,
            )));
            send(Event::TaskFinished(TaskRecord::span(
                chunk,
                Stage::Write,
                1,
                start,
                start + 5,
            )));
        }
        for (w, h) in SIZES {
            let text = draw(&app, w, h);
            // 9 loads, the barrier, 3 masks (one running), 2 writes.
            assert!(
                text.contains(&format!("{title} · 15/30 lit")),
                "{w}x{h}:\n{text}"
            );
            assert!(text.contains("#0    ■ load   ─┃─ ■ mask   ─┃─ ■ write  ─┬─▶ · finalize"));
            assert!(
                text.contains("#4    ■ load   ─┃─ ▶ mask   ─┃─ · write  ─┤"),
                "{text}"
            );
            assert!(
                text.contains("#5    ■ load   ─┃─ · mask   ─┃─ · write  ─┤"),
                "{text}"
            );
            assert_eq!(text.matches("barrier ✓").count(), 1, "{text}");
            assert!(text.contains("lock order: #1 #0"), "{text}");
        }
    }
}
