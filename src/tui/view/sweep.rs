//! The Sweep screen: median wall time against chunk side (log2 axis, in pixels), one line per
//! thread count, serial as a horizontal reference, the best configuration marked; beside it
//! the sweep's table, and below the engine's recommendation and flags. The figures are the
//! [`SweepResult`]'s own; the chart only places them.

use std::collections::BTreeMap;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Cell, Chart, Dataset, Gauge, GraphType, Paragraph, Row, Table, Widget, Wrap,
};

use chunkscope::convert;
use chunkscope::experiment::engine::Engine;
use chunkscope::experiment::sweep::{SweepResult, SweepRow};
use chunkscope::profile::units;

use super::Theme;
use crate::tui::app::App;
use crate::tui::model::sweep::{SweepRequest, SweepView, sweep_request};

/// Glyphs and colours of the thread-count lines, in order; the glyph alone tells them apart.
const SERIES: [(char, Color); 6] = [
    ('•', Color::Cyan),
    ('+', Color::Magenta),
    ('x', Color::Green),
    ('o', Color::LightBlue),
    ('*', Color::LightRed),
    ('#', Color::White),
];

/// The chunk side a row is plotted at: the side of a square of the chunk's area (rows x
/// cols), in pixels. `None` for serial.
pub fn chunk_side(row: &SweepRow) -> Option<f64> {
    let p = row.plan.as_ref()?;
    Some(((p.shape.rows * p.shape.cols) as f64).sqrt())
}

/// ```text
/// Sweep of DEMO_… · 20 m · staged · 3 run(s) each · 22/22 runs · from sweep.json
/// ┌ Median wall vs chunk side ─────────────────────┐┌ Configurations ────────────────┐
/// │2.0 s│•                                          ││   config           wall  speedup│
/// │     │ •··+·······+                              ││ ★ x4 @ 1024       520 ms  2.37x │
/// │     │----------------------------- serial       ││ ⚑ x2 @ 256        1.9 s   0.65x │
/// │   0 └──────────────────────────────           ││ ...                             │
/// │      256    512    1024   2048  side (px)     ││                                 │
/// │ • x1  + x2  x x4  ─ serial 1.23 s  ★ best     ││                                 │
/// └────────────────────────────────────────────────┘└─────────────────────────────────┘
/// ★ chunked x 4 @ 1024 has the lowest median total wall time (520 ms), 2.37x faster …
/// ⚑ chunked x 2 @ 256: chunks too small for their overhead …
/// ```
pub fn render(app: &App, theme: Theme, area: Rect, buf: &mut Buffer) {
    let res = &app.results;
    let status_h = u16::from(
        res.sweep_job.is_some()
            || res.sweep_error.is_some()
            || (res.notice.is_some() && !app.notice_is_latest),
    );
    let [status, area] =
        Layout::vertical([Constraint::Length(status_h), Constraint::Min(0)]).areas(area);
    if let Some(job) = &res.sweep_job {
        let ratio = if job.total == 0 {
            0.0
        } else {
            job.done as f64 / job.total as f64
        };
        let label = if job.cancelling {
            format!(
                "cancelling after the run in flight… {}/{} runs",
                job.done, job.total
            )
        } else {
            format!(
                "sweeping {}/{} runs · {} (c cancels)",
                job.done, job.total, job.label
            )
        };
        Gauge::default()
            .ratio(ratio.clamp(0.0, 1.0))
            .label(label)
            .gauge_style(theme.fg(Color::Cyan))
            .use_unicode(true)
            .render(status, buf);
    } else if let Some(e) = &res.sweep_error {
        Paragraph::new(Span::styled(format!("✗ {e}"), theme.fg(Color::Red))).render(status, buf);
    } else {
        super::results::render_notice(res, theme, status, buf);
    }
    let Some(sweep) = &res.sweep else {
        let planned = app
            .setup
            .as_ref()
            .and_then(sweep_request)
            .map(|r| SweepRequest {
                choice: res.sweep_choice,
                ..r
            })
            .map_or("the chunk setup's scene".to_string(), |r| {
                format!("{} ({})", r.size_line(), r.settings_line())
            });
        Paragraph::new(vec![
            Line::from("No sweep yet."),
            Line::from(""),
            Line::from("A sweep runs every chunk shape on every thread count, plus serial."),
            Line::from(
                "r sweeps here what the lesson teaches: 256, one block, 2048, 2x2 blocks, \
                 1000 (off the block grid) and auto, on 1 thread up to twice the cores, \
                 with the chunk setup's format, codec, resolution and cache:",
            ),
            Line::from(format!("  {planned}")),
            Line::from(format!("  {} (e, t change them)", res.sweep_choice.line())),
            Line::from("Or run one on the command line and open the file here with o:"),
            Line::from(
                "  chunkscope sweep --chunks 256,512,1024,2048 --threads 1,2,4 --json sweep.json",
            ),
            Line::from("  chunkscope tui --sweep sweep.json"),
            Line::from(""),
            Line::from("Tab goes back to the results of this session's runs."),
        ])
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(" Sweep "))
        .render(area, buf);
        return;
    };
    let s = &sweep.result;
    let (title, about) = header_text(app, sweep);
    let a = sweep_areas(app, sweep, area);
    let rows = wrap_words(
        &format!("{title}{about}"),
        usize::from(area.width),
        usize::from(area.width),
    );
    let lines: Vec<Line> = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| match row.strip_prefix(&title) {
            // The title bold, where it starts the first row whole.
            Some(rest) if i == 0 => Line::from(vec![
                Span::styled(title.clone(), theme.bold()),
                Span::raw(rest.to_string()),
            ]),
            _ => Line::raw(row),
        })
        .collect();
    Paragraph::new(lines).render(a.head, buf);
    if let Some(chart) = a.chart {
        render_chart(s, theme, chart, buf);
    }
    render_table(s, theme, a.table, buf);
    render_notes(s, res.notes_scroll, theme, a.notes, buf);
}

/// The header: the sweep's title, then what it ran and what the next `r` runs.
fn header_text(app: &App, sweep: &SweepView) -> (String, String) {
    let s = &sweep.result;
    let title = format!("Sweep of {}", s.item);
    let about = format!(
        " · {} m · {} · {} configurations x {} · {}/{} runs{} · from {} · next r: {}",
        s.resolution_m,
        s.schedule.name(),
        s.rows.len(),
        units::runs_count(s.repeat, s.warmup),
        s.runs_done,
        s.runs_planned,
        if s.cancelled { " (cancelled)" } else { "" },
        sweep.source,
        app.results.sweep_choice.line()
    );
    (title, about)
}

/// Where a shown sweep's parts go in `area` (below the status row).
struct SweepAreas {
    head: Rect,
    chart: Option<Rect>,
    table: Rect,
    notes: Rect,
}

fn sweep_areas(app: &App, sweep: &SweepView, area: Rect) -> SweepAreas {
    let s = &sweep.result;
    let theme = Theme { color: false };
    let (title, about) = header_text(app, sweep);
    // As many rows as it takes (at 80 columns the item id alone takes half of one), at most
    // three: the table and the conclusion need the rest.
    let width = usize::from(area.width);
    let head_h = convert::clamp_u16(
        wrap_words(&format!("{title}{about}"), width, width)
            .len()
            .min(3),
    );
    let [head, middle] =
        Layout::vertical([Constraint::Length(head_h), Constraint::Min(0)]).areas(area);
    let table_h = convert::clamp_u16(s.rows.len()) + 4;
    if middle.width >= 120 {
        let [chart, right] =
            Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)])
                .areas(middle);
        let [table, notes] =
            Layout::vertical([Constraint::Length(table_h), Constraint::Min(3)]).areas(right);
        SweepAreas {
            head,
            chart: Some(chart),
            table,
            notes,
        }
    } else if middle.height < 30 {
        // A small terminal: the table and the conclusion (scrolled when long); the chart
        // gives way (it needs rows to read, and says nothing the table does not).
        let h = middle.height;
        let notes_h =
            (convert::clamp_u16(note_rows(s, theme, middle.width.saturating_sub(2)).len()) + 2)
                .min(h / 2)
                .max(3);
        let table_h = table_h.min(h.saturating_sub(notes_h));
        let chart_h = h.saturating_sub(notes_h + table_h);
        // The rows the table does not need go to the chart when they are enough to read.
        let chart_h = if chart_h >= 8 { chart_h } else { 0 };
        let [chart, table, notes] = Layout::vertical([
            Constraint::Length(chart_h),
            Constraint::Min(0),
            Constraint::Length(notes_h),
        ])
        .areas(middle);
        SweepAreas {
            head,
            chart: (chart_h > 0).then_some(chart),
            table,
            notes,
        }
    } else {
        // The chart first, then the best configuration, then as much of the table as fits.
        let h = middle.height;
        let notes_h =
            (convert::clamp_u16(note_rows(s, theme, middle.width.saturating_sub(2)).len()) + 2)
                .min(h / 3);
        let chart_h = (h.saturating_sub(notes_h) * 6 / 10).max(10).min(h);
        let table_h = h.saturating_sub(notes_h + chart_h).min(table_h);
        let [chart, table, notes] = Layout::vertical([
            Constraint::Min(0),
            Constraint::Length(table_h),
            Constraint::Length(notes_h),
        ])
        .areas(middle);
        SweepAreas {
            head,
            chart: Some(chart),
            table,
            notes,
        }
    }
}

/// How far the notes of the sweep on screen scroll in the screen's body `body`: their rows
/// beyond what the box shows.
pub fn notes_scroll_max(app: &App, body: Rect) -> u16 {
    let Some(sweep) = &app.results.sweep else {
        return 0;
    };
    let status_h = u16::from(
        app.results.sweep_job.is_some()
            || app.results.sweep_error.is_some()
            || (app.results.notice.is_some() && !app.notice_is_latest),
    );
    let [_, area] =
        Layout::vertical([Constraint::Length(status_h), Constraint::Min(0)]).areas(body);
    let notes = sweep_areas(app, sweep, area).notes;
    let rows = note_rows(
        &sweep.result,
        Theme { color: false },
        notes.width.saturating_sub(2),
    );
    u16::try_from(
        rows.len()
            .saturating_sub(usize::from(notes.height.saturating_sub(2))),
    )
    .unwrap_or(u16::MAX)
}

/// `text` in rows of at most `first` characters for the first row and `rest` for the
/// others, broken between words (a word longer than a row is cut).
fn wrap_words(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    let mut row = String::new();
    for word in text.split_whitespace() {
        let width = if rows.is_empty() { first } else { rest }.max(1);
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !row.is_empty() {
                rows.push(std::mem::take(&mut row));
            }
            rows.push(word.drain(..width).collect());
        }
        let word: String = word.into_iter().collect();
        let len = row.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            rows.push(std::mem::take(&mut row));
        }
        if !row.is_empty() {
            row.push(' ');
        }
        row.push_str(&word);
    }
    if !row.is_empty() || rows.is_empty() {
        rows.push(row);
    }
    rows
}

/// The notes broken into the rows of a box `width` wide: each note starts with its mark
/// (★ ⚑ !), its further rows are indented by two.
fn note_rows(s: &SweepResult, theme: Theme, width: u16) -> Vec<Line<'static>> {
    const INDENT: usize = 2;
    let mut out = Vec::new();
    for (mark, style, text) in notes(s, theme) {
        let width = usize::from(width);
        let first = width.saturating_sub(mark.chars().count());
        let rows = wrap_words(&text, first, width.saturating_sub(INDENT));
        let indent = INDENT;
        for (i, row) in rows.into_iter().enumerate() {
            let lead = if i == 0 {
                Span::styled(mark.clone(), style)
            } else {
                Span::raw(" ".repeat(indent))
            };
            out.push(Line::from(vec![lead, Span::raw(row)]));
        }
    }
    out
}

/// The notes, scrolled by `scroll` rows (kept within what there is), with where the box
/// is in them when they do not all fit, so a cut never goes unseen.
fn render_notes(s: &SweepResult, scroll: u16, theme: Theme, area: Rect, buf: &mut Buffer) {
    let rows = note_rows(s, theme, area.width.saturating_sub(2));
    let inner_h = usize::from(area.height.saturating_sub(2));
    let first = usize::from(scroll).min(rows.len().saturating_sub(inner_h));
    let last = (first + inner_h).min(rows.len());
    let title = if rows.len() > inner_h {
        let more = match (first > 0, last < rows.len()) {
            (true, true) => "↑↓ more",
            (false, true) => "↓ more",
            _ => "↑ more",
        };
        format!(
            " Best and flags · rows {}-{last} of {} · {more} ",
            first + 1,
            rows.len()
        )
    } else {
        " Best and flags ".to_string()
    };
    Paragraph::new(rows[first..last].to_vec())
        .block(Block::bordered().title(title))
        .render(area, buf);
}

/// The recommendation, then the flags and warnings: (mark, its style, text) each.
fn notes(s: &SweepResult, theme: Theme) -> Vec<(String, Style, String)> {
    let yellow = theme.fg(Color::Yellow);
    let mut out = Vec::new();
    // A sweep of engines concludes per engine, each verdict naming its engine.
    for v in &s.per_engine {
        match (&v.best, &v.no_clear_winner) {
            (Some(b), _) => out.push((format!("★ {}: ", v.engine), yellow, b.reason.clone())),
            (None, Some(tie)) => {
                out.push((format!("≈ {}: ", v.engine), yellow, tie.reason.clone()));
            }
            (None, None) => {}
        }
    }
    if let Some(text) = &s.disagreement {
        out.push(("chunkscope vs dask: ".to_string(), yellow, text.clone()));
    }
    match (&s.best, &s.no_clear_winner) {
        _ if !s.per_engine.is_empty() => {}
        (Some(b), _) => {
            out.push(("★ ".to_string(), yellow, b.reason.clone()));
            for caveat in &b.caveats {
                out.push(("  but: ".to_string(), yellow, caveat.clone()));
            }
        }
        (None, Some(tie)) => out.push(("≈ ".to_string(), yellow, tie.reason.clone())),
        (None, None) => out.push((
            String::new(),
            Style::new(),
            "no configuration finished a run".to_string(),
        )),
    }
    for f in &s.flags {
        out.push(("⚑ ".to_string(), yellow, f.to_string()));
    }
    for w in &s.warnings {
        out.push(("! ".to_string(), theme.fg(Color::Red), w.to_string()));
    }
    out
}

fn render_chart(s: &SweepResult, theme: Theme, area: Rect, buf: &mut Buffer) {
    let block = Block::bordered().title(" Median wall vs chunk side ");
    let inner = block.inner(area);
    block.render(area, buf);
    // One series per engine and thread count: (log2 side, median wall s), by side. A sweep
    // of one engine names none (`x2`); of both, Dask's lines say so (`dask x2`).
    let mut series: BTreeMap<(String, usize), Vec<(f64, f64)>> = BTreeMap::new();
    let both = s.rows.iter().any(|r| r.engine == Some(Engine::Dask))
        && s.rows.iter().any(|r| r.engine == Some(Engine::Chunkscope));
    for r in &s.rows {
        if let Some(side) = chunk_side(r) {
            let engine = match r.engine {
                Some(Engine::Dask) if both => "dask ",
                _ => "",
            };
            series
                .entry((engine.to_string(), r.threads))
                .or_default()
                .push((side.log2(), r.wall.median_ns as f64 / 1e9));
        }
    }
    for pts in series.values_mut() {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let serial = s.rows.iter().find(|r| r.is_serial());
    let xs: Vec<f64> = series.values().flatten().map(|p| p.0).collect();
    if xs.is_empty() {
        Paragraph::new("no chunked configuration in this sweep").render(inner, buf);
        return;
    }
    let (mut x0, mut x1) = (
        xs.iter().copied().fold(f64::INFINITY, f64::min).floor(),
        xs.iter().copied().fold(f64::NEG_INFINITY, f64::max).ceil(),
    );
    if x1 - x0 < 1.0 {
        x0 -= 0.5;
        x1 += 0.5;
    }
    let y_max = s
        .rows
        .iter()
        .map(|r| r.wall.median_ns as f64 / 1e9)
        .fold(0.0, f64::max)
        * 1.1;
    let y_max = if y_max > 0.0 { y_max } else { 1.0 };
    let serial_line: Vec<(f64, f64)> = serial
        .map(|r| {
            let y = r.wall.median_ns as f64 / 1e9;
            vec![(x0, y), (x1, y)]
        })
        .unwrap_or_default();
    let best: Vec<(f64, f64)> = s
        .best
        .as_ref()
        .and_then(|b| s.rows.get(b.row))
        .and_then(|r| Some((chunk_side(r)?.log2(), r.wall.median_ns as f64 / 1e9)))
        .into_iter()
        .collect();

    let [plot, legend] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(inner);
    let mut datasets = Vec::new();
    let mut legend_spans = Vec::new();
    // Serial first, so that a series at the same wall (chunked x 1 often is) is drawn over
    // the reference line instead of under it.
    if serial.is_some() {
        datasets.push(
            Dataset::default()
                .marker(Marker::Custom('-'))
                .graph_type(GraphType::Line)
                .style(theme.dim())
                .data(&serial_line),
        );
    }
    for (i, ((engine, threads), pts)) in series.iter().enumerate() {
        let (glyph, color) = SERIES[i % SERIES.len()];
        datasets.push(
            Dataset::default()
                .marker(Marker::Custom(glyph))
                .graph_type(GraphType::Line)
                .style(theme.fg(color))
                .data(pts),
        );
        legend_spans.push(Span::styled(
            format!("{glyph} {engine}x{threads}"),
            theme.fg(color),
        ));
        legend_spans.push(Span::raw("  "));
    }
    if let Some(r) = serial {
        legend_spans.push(Span::styled(
            format!("- serial {}", units::duration_ns(r.wall.median_ns)),
            theme.dim(),
        ));
        legend_spans.push(Span::raw("  "));
    }
    if s.best
        .as_ref()
        .is_some_and(|b| s.rows.get(b.row).is_some_and(SweepRow::is_serial))
    {
        legend_spans.push(Span::styled("★ best: serial", theme.fg(Color::Yellow)));
    }
    if !best.is_empty() {
        datasets.push(
            Dataset::default()
                .marker(Marker::Custom('★'))
                .graph_type(GraphType::Scatter)
                .style(theme.fg(Color::Yellow))
                .data(&best),
        );
        legend_spans.push(Span::styled("★ best", theme.fg(Color::Yellow)));
    }
    // A label at each power of two, thinned to what fits.
    let steps = convert::round_usize(x1 - x0);
    let room = (plot.width as usize / 7).max(2);
    let every = steps.div_ceil(room - 1).max(1);
    let mut x_labels: Vec<Line> = Vec::new();
    let mut k = 0;
    while k <= steps {
        x_labels.push(Line::from(format!("{}", 2f64.powf(x0 + k as f64).round())));
        k += every;
    }
    // Labels are spread evenly over the axis: the last one must sit at the upper bound.
    let x1 = x0 + ((x_labels.len() - 1) * every).max(1) as f64;
    let chart = Chart::new(datasets)
        .legend_position(None)
        .x_axis(
            Axis::default()
                .title("chunk side, px (log2)")
                .bounds([x0, x1])
                .labels(x_labels)
                .style(theme.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, y_max])
                .labels([
                    Line::from("0"),
                    Line::from(units::duration_ns(convert::secs_to_ns(y_max / 2.0))),
                    Line::from(units::duration_ns(convert::secs_to_ns(y_max))),
                ])
                .style(theme.dim()),
        );
    chart.render(plot, buf);
    Paragraph::new(Line::from(legend_spans)).render(legend, buf);
}

/// `chunked x 2 @ 1024` as `x2 @ 1024` and `dask x 2 @ 1024` as `dask x2 @ 1024`: the
/// table is narrow (at 120 columns the config column holds 14 characters).
pub fn short_label(label: &str) -> String {
    label
        .replace("chunked x ", "x")
        .replace("dask x ", "dask x")
}

fn render_table(s: &SweepResult, theme: Theme, area: Rect, buf: &mut Buffer) {
    let best = s.best.as_ref().map(|b| b.row);
    let flagged = |r: &SweepRow| s.flags.iter().any(|f| f.config() == r.label);
    let wall = |r: &SweepRow| match r.wall.stdev_ns {
        Some(sd) => format!(
            "{} ±{}",
            units::duration_ns(r.wall.median_ns),
            units::duration_ns(convert::round_u64(sd))
        ),
        None => units::duration_ns(r.wall.median_ns),
    };
    let ww = s
        .rows
        .iter()
        .map(|r| wall(r).chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    // Columns from the right (overhead, then efficiency) give way to a readable config.
    let inner = usize::from(area.width.saturating_sub(2));
    let fixed = 2 + 1 + ww + 1 + 7 + 1;
    // The longest label whole (with its ⚠), if the table can give it that much.
    let label_w = s
        .rows
        .iter()
        .map(|r| short_label(&r.label).chars().count() + usize::from(r.wall.disturbed_runs > 0))
        .max()
        .unwrap_or(0)
        .max(11);
    let with_eff = inner >= fixed + label_w + 7;
    let with_overhead = with_eff && inner >= fixed + label_w + 7 + 9;
    // Rows that fit under the header; when not all do, the fastest ones (by median wall),
    // and the title says how many are left out.
    let fit = usize::from(area.height.saturating_sub(3));
    let mut order: Vec<usize> = (0..s.rows.len()).collect();
    if order.len() > fit {
        order.sort_by_key(|&i| s.rows[i].wall.median_ns);
        order.truncate(fit);
    }
    let shown = order.len();
    let rows: Vec<Row> = order
        .into_iter()
        .map(|i| (i, &s.rows[i]))
        .map(|(i, r)| {
            let mark = format!(
                "{}{}",
                if best == Some(i) { "★" } else { " " },
                if flagged(r) { "⚑" } else { " " }
            );
            let mut cells = vec![
                Cell::from(Span::styled(
                    mark,
                    if best == Some(i) {
                        theme.fg(Color::Yellow)
                    } else {
                        Style::new()
                    },
                )),
                Cell::from(if r.wall.disturbed_runs > 0 {
                    // Marked where it is read; the notes say what it means.
                    format!("⚠{}", short_label(&r.label))
                } else {
                    short_label(&r.label)
                }),
                Cell::from(format!("{:>ww$}", wall(r))),
                Cell::from(format!(
                    "{:>7}",
                    r.speedup.map_or("-".into(), |s| units::ratio(s.value))
                )),
            ];
            if with_eff {
                cells.push(Cell::from(format!(
                    "{:>6}",
                    r.efficiency.map_or("-".into(), units::efficiency)
                )));
            }
            if with_overhead {
                cells.push(Cell::from(format!("{:>8}", units::share(r.overhead_share))));
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(convert::clamp_u16(ww)),
        Constraint::Length(7),
    ];
    let mut header = vec![
        "",
        "config",
        if ww >= 12 { "median ± σ" } else { "median" },
        "speedup",
    ];
    if with_eff {
        widths.push(Constraint::Length(6));
        header.push("   eff");
    }
    if with_overhead {
        widths.push(Constraint::Length(8));
        header.push("overhead");
    }
    Table::new(rows, widths)
        .header(Row::new(header).style(theme.dim()))
        .block(
            Block::bordered()
                .title(if shown < s.rows.len() {
                    format!(" Configurations · fastest {shown} of {} ", s.rows.len())
                } else {
                    " Configurations ".to_string()
                })
                .title_bottom(" ★ best · ⚑ flagged "),
        )
        .render(area, buf);
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use crate::tui::model::screen::Screen;
    use crate::tui::model::sweep::SweepView;
    use crate::tui::testdata;
    use crate::tui::view::{buffer_text, fixtures, render};

    use super::*;

    fn draw(app: &App, w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| render(app, f.area(), f.buffer_mut()))
            .unwrap();
        buffer_text(term.backend().buffer())
    }

    #[test]
    fn the_header_wraps_the_conclusion_scrolls_and_e_t_choose_the_next_sweep() {
        use crate::tui::app::Msg;
        use crossterm::event::KeyCode;
        let mut result = testdata::data().sweep.clone();
        // A conclusion longer than any box at 80x24 holds, its end marked to find it; the
        // flags, which depend on the measured figures, left out.
        result.flags.clear();
        result.warnings.clear();
        let tie = result
            .no_clear_winner
            .as_mut()
            .expect("no winner in one run each");
        for i in 0..10 {
            tie.reason.push_str(&format!(
                " Sentence {i} is a long one that takes more than one row of the box to say."
            ));
        }
        tie.reason.push_str(" The-very-last-words.");
        let mut app = fixtures::setup_app();
        app.screen = Screen::Sweep;
        app.results.sweep = Some(SweepView {
            result,
            source: "this session".into(),
        });
        for (w, h) in [(80, 24), (120, 36)] {
            app.results.notes_scroll = 0;
            app.viewport = (w, h);
            let text = draw(&app, w, h);
            // The header whole: the schedule, the source and the next sweep's choice.
            for part in [
                " · staged · ",
                "from this session",
                "next r:",
                "on chunkscope · budget 30.0 s",
            ] {
                assert!(text.contains(part), "{part:?} at {w}x{h}:\n{text}");
            }
            assert!(
                text.contains("Best and flags · rows 1-"),
                "{w}x{h}:\n{text}"
            );
            assert!(text.contains("↓ more"), "{w}x{h}:\n{text}");
            assert!(!text.contains("The-very-last-words."), "{w}x{h}:\n{text}");
            // j to the end: the last flag shows, and the title says there is more above.
            for _ in 0..200 {
                app.update(Msg::Key(KeyCode::Char('j').into()));
            }
            let text = draw(&app, w, h);
            assert!(text.contains("The-very-last-words."), "{w}x{h}:\n{text}");
            assert!(text.contains("↑ more"), "{w}x{h}:\n{text}");
            // k goes back up, row by row, from where the view stopped.
            let most = app.results.notes_scroll;
            app.update(Msg::Key(KeyCode::Char('k').into()));
            assert_eq!(app.results.notes_scroll, most - 1);
        }
        // e and t choose the engine and the budget of the next sweep, said on screen and
        // carried by the request.
        app.update(Msg::Key(KeyCode::Char('e').into()));
        app.update(Msg::Key(KeyCode::Char('t').into()));
        let text = draw(&app, 120, 36);
        assert!(text.contains("on Dask · budget 1min 00s"), "{text}");
        app.results.sweep = None;
        let text = draw(&app, 80, 24);
        assert!(
            text.contains("on Dask · budget 1min 00s (e, t change them)"),
            "{text}"
        );
        let Some(crate::tui::app::Cmd::StartSweep { request, .. }) =
            app.update(Msg::Key(KeyCode::Char('r').into()))
        else {
            panic!("r starts a sweep");
        };
        assert_eq!(
            request.choice.engines,
            crate::tui::model::sweep::SweepEngines::Dask
        );
        assert_eq!(request.choice.budget, std::time::Duration::from_secs(60));
    }

    #[test]
    fn sweep_chart_has_a_line_per_thread_count_serial_and_the_best() {
        // The engine's sweep (one run each, so it names no winner), and the same sweep
        // with a winner named, as a sweep with clearly separated runs has.
        let measured = testdata::data().sweep.clone();
        assert!(measured.best.is_none());
        let tie = measured.no_clear_winner.clone().expect("why no winner");
        let mut result = measured.clone();
        let fastest = tie.rows[0];
        result.best = Some(chunkscope::experiment::sweep::Recommendation {
            row: fastest,
            label: result.rows[fastest].label.clone(),
            reason: "the fastest configuration in every run".into(),
            caveats: vec!["a caveat that goes with it".into()],
        });
        result.no_clear_winner = None;
        let best = result.best.clone().unwrap();
        let mut app = fixtures::setup_app();
        app.results.sweep = Some(SweepView {
            result: result.clone(),
            source: "sweep.json".into(),
        });
        app.screen = Screen::Sweep;
        let serial = result.rows.iter().find(|r| r.is_serial()).unwrap();
        for (w, h) in [(80, 24), (160, 48)] {
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| render(&app, f.area(), f.buffer_mut()))
                .unwrap();
            let text = buffer_text(term.backend().buffer());
            let start: String = best.reason.chars().take(30).collect();
            assert!(text.contains(&start), "{start}:\n{text}");
            if h < 30 {
                // A small terminal: the table and the conclusion; the chart gives way.
                assert!(text.contains("Configurations"), "{text}");
                assert!(text.contains("★ best"), "{text}");
                continue;
            }
            assert!(text.contains("Median wall vs chunk side"), "{text}");
            assert!(text.contains("• x1") && text.contains("+ x2"), "{text}");
            assert!(
                text.contains(&format!(
                    "- serial {}",
                    units::duration_ns(serial.wall.median_ns)
                )),
                "{text}"
            );
            assert!(text.contains("★ best"), "{text}");
            // Chunk sides on the x axis: 128 (one block) and 256 (2x2 blocks).
            assert!(text.contains("128") && text.contains("256"), "{text}");
            if w >= 120 {
                assert!(text.contains("from sweep.json"), "{text}");
                let line = text
                    .lines()
                    .find(|l| l.contains(&short_label(&best.label)) && l.contains('★'))
                    .unwrap_or_else(|| panic!("best row starred:\n{text}"));
                assert!(line.contains(&units::ratio(result.rows[best.row].speedup.unwrap().value)));
            }
        }
    }

    #[test]
    fn a_series_at_the_serial_wall_is_drawn_over_the_serial_line() {
        // Chunked x 1 as slow as serial: its points sit on the reference line, and must
        // still be seen (it was drawn first and the line hid it).
        let mut result = testdata::data().sweep.clone();
        let serial = result
            .rows
            .iter()
            .find(|r| r.is_serial())
            .unwrap()
            .wall
            .clone();
        for r in result
            .rows
            .iter_mut()
            .filter(|r| !r.is_serial() && r.threads == 1)
        {
            r.wall = serial.clone();
        }
        let x1_points = result
            .rows
            .iter()
            .filter(|r| !r.is_serial() && r.threads == 1)
            .count();
        assert!(x1_points > 0);
        let mut app = fixtures::setup_app();
        app.results.sweep = Some(SweepView {
            result,
            source: "sweep.json".into(),
        });
        app.screen = Screen::Sweep;
        let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
        term.draw(|f| render(&app, f.area(), f.buffer_mut()))
            .unwrap();
        let text = buffer_text(term.backend().buffer());
        let plotted = text
            .lines()
            .filter(|l| !l.contains("• x1"))
            .map(|l| l.matches('•').count())
            .sum::<usize>();
        assert!(
            plotted >= x1_points,
            "{plotted} of {x1_points} x1 points seen:\n{text}"
        );
    }

    #[test]
    fn a_sweep_without_a_clear_winner_says_so_and_stars_nothing() {
        let result = testdata::data().sweep.clone();
        let mut app = fixtures::setup_app();
        app.results.sweep = Some(SweepView {
            result: result.clone(),
            source: "sweep.json".into(),
        });
        app.screen = Screen::Sweep;
        let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
        term.draw(|f| render(&app, f.area(), f.buffer_mut()))
            .unwrap();
        let text = buffer_text(term.backend().buffer());
        assert!(text.contains("≈ no clear winner"), "{text}");
        // No row starred, no best line in the chart's legend.
        assert!(!text.contains("││★"), "{text}");
        assert!(!text.contains("★ best  "), "{text}");
        assert!(!text.contains("★ best:"), "{text}");
    }
    #[test]
    fn dask_rows_keep_their_whole_label_at_120_columns() {
        let mut result = testdata::data().sweep.clone();
        let mut dask = result
            .rows
            .iter()
            .find(|r| !r.is_serial())
            .expect("a chunked row")
            .clone();
        dask.engine = Some(Engine::Dask);
        dask.label = "dask x 2 @ 1024".into();
        result.rows.push(dask);
        let mut app = fixtures::setup_app();
        app.results.sweep = Some(SweepView {
            result,
            source: "sweep.json".into(),
        });
        app.screen = Screen::Sweep;
        let text = draw(&app, 120, 36);
        assert!(text.contains("dask x2 @ 1024"), "{text}");
    }

    #[test]
    fn chunk_side_is_the_side_of_the_chunk_area() {
        let result = &testdata::data().sweep;
        let sides: Vec<Option<f64>> = result.rows.iter().map(chunk_side).collect();
        assert_eq!(sides[0], None, "serial has no chunks");
        assert!(
            sides.contains(&Some(128.0)) && sides.contains(&Some(256.0)),
            "{sides:?}"
        );
    }
}
