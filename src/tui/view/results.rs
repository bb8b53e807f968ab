//! The Results screen: the selected run against the latest serial run of its scene (wall per
//! stage as bars, speedup, efficiency), its task latency per stage (percentiles and a mini
//! histogram, tokio-console style), the history of this session's runs with the best marked,
//! and two marked runs side by side. Every figure comes from the engine
//! ([`chunkscope::experiment::history`], the run report); this file only lays them out.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap,
};

use chunkscope::convert;
use chunkscope::experiment::history::{self, Difference, HistoryRow};
use chunkscope::pipeline::RunReport;
use chunkscope::profile::units;

use super::Theme;
use crate::tui::app::App;
use crate::tui::model::results::Results;
use crate::tui::model::setup::report_settings;

/// Below this width the A/B panel takes the latency panel's place instead of its own.
const WIDE: u16 = 130;

/// ```text
/// #3 chunked x 2 (3,512,512, staged) · wall 640 ms · 1.92x vs serial #1 · efficiency 96 % · ★ best #3
/// ┌ Wall per stage: serial #1 vs #3 ──┐┌ Task latency of #3 ─────────────────────┐┌ A/B ─────┐
/// │ load    serial ██████████  1.23 s ││           p50     p90     p99     max   ││ (wide    │
/// │ 1.92x   x2     █████      640 ms  ││ load   12.1 ms 14.0 ms 20.2 ms 21.0 ms  ││  screens │
/// │ mask    ...                       ││       ▂▇█▃▁     ▁   10.1 ms…21.0 ms     ││  only)   │
/// │ speedup 1.92x · efficiency 96 %   ││ ...                                     ││          │
/// └───────────────────────────────────┘└─────────────────────────────────────────┘└──────────┘
/// ┌ History · 3 runs · speedup vs the latest serial run of the same scene ───────────────────┐
/// │      #  config                              wall     speedup  eff    overhead            │
/// │ ★A   1  serial                              1.23 s   1.00x    100 %  0.5 %               │
/// │   B  3  chunked x 2 (3,512,512, staged)     640 ms   1.92x    96 %   12 %                │
/// └──────────────────────────────────────────────────────────────────────────────────────────┘
/// ✓ saved chunkscope-out/results-20261126-093000.{json,csv,svg}     (or the error, in red)
/// ```
///
/// On narrow terminals the A/B panel (when two runs are marked) replaces the latency panel.
pub fn render(app: &App, theme: Theme, area: Rect, buf: &mut Buffer) {
    let res = &app.results;
    // While the status line says it, the notice takes no row of its own.
    let notice_h = u16::from(res.notice.is_some() && !app.notice_is_latest);
    let [main, notice] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(notice_h)]).areas(area);
    render_notice(res, theme, notice, buf);
    if res.runs.is_empty() {
        Paragraph::new(vec![
            Line::from("No finished run in this session yet."),
            Line::from(""),
            Line::from("Run one from the chunk setup (r); each finished run appears here with"),
            Line::from("its wall time per stage, speedup over the latest serial run (mode"),
            Line::from("serial: m on the chunk setup), task latency and overhead."),
            Line::from(""),
            Line::from("Tab shows the chunk-size sweep."),
        ])
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(" Results "))
        .render(main, buf);
        return;
    }
    let runs = res.runs.as_slice();
    let rows = history::rows(runs);
    let verdict = history::best_run(runs);
    let best = match verdict {
        Some(history::BestRun::Clear(i)) => Some(i),
        _ => None,
    };
    let sel = res.selected.min(runs.len() - 1);
    let (run, row) = (&runs[sel], &rows[sel]);
    let serial = row.baseline.map(|b| (b, &runs[b]));

    let stages = convert::clamp_u16(run.stages.len().max(run.latency.len()));
    let top_h = stages * 2 + 3 + u16::from(run.blocks.is_some());
    let history_h = (convert::clamp_u16(runs.len()) + 4).clamp(5, 14);
    // Room to spare (a tall terminal): where the capacity went, and the CPU.
    let spare = main.height.saturating_sub(1 + top_h + history_h);
    let extra_h = if spare >= 8 { spare.min(12) } else { 0 };
    let [head, top, extra, table] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(top_h),
        Constraint::Length(extra_h),
        Constraint::Min(4),
    ])
    .areas(main);
    if extra_h > 0 {
        let [over, cpu] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(extra);
        render_overhead(run, res.number(sel), theme, over, buf);
        render_cpu(run, res.number(sel), theme, cpu, buf);
    }
    render_headline(res, sel, row, best, theme, head, buf);

    let pair = res.pair();
    let number = |i: usize| res.number(i);
    match pair {
        Some((a, b)) if top.width >= WIDE => {
            let [bars, lat, ab] = Layout::horizontal([
                Constraint::Percentage(34),
                Constraint::Percentage(38),
                Constraint::Percentage(28),
            ])
            .areas(top);
            render_bars(
                run,
                number(sel),
                serial.map(|(i, r)| (number(i), r, i == sel)),
                theme,
                bars,
                buf,
            );
            render_latency(run, number(sel), theme, lat, buf);
            render_ab(runs, (a, b), number, theme, ab, buf);
        }
        _ => {
            let [bars, right] =
                Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                    .areas(top);
            render_bars(
                run,
                number(sel),
                serial.map(|(i, r)| (number(i), r, i == sel)),
                theme,
                bars,
                buf,
            );
            match pair {
                Some((a, b)) => render_ab(runs, (a, b), number, theme, right, buf),
                None => render_latency(run, number(sel), theme, right, buf),
            }
        }
    }
    render_history(res, &rows, verdict.as_ref(), sel, theme, table, buf);
}

/// The last save's outcome, green or red (with its ✓ / ✗).
pub fn render_notice(res: &Results, theme: Theme, area: Rect, buf: &mut Buffer) {
    let Some(notice) = &res.notice else { return };
    let color = if notice.ok() {
        Color::Green
    } else {
        Color::Red
    };
    Paragraph::new(Span::styled(notice.line(), theme.fg(color))).render(area, buf);
}

fn render_headline(
    res: &Results,
    sel: usize,
    row: &HistoryRow,
    best: Option<usize>,
    theme: Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let wide = area.width >= 100;
    if let Some(line) = super::dask::headline(res, sel, wide) {
        Paragraph::new(Line::from(line)).render(area, buf);
        return;
    }
    let line = |label: &str| {
        let mut spans = vec![
            Span::styled(format!("#{} {label}", res.number(sel)), theme.bold()),
            Span::raw(format!(
                " · {}{}",
                if wide { "wall " } else { "" },
                units::duration_ns(row.wall_ns)
            )),
        ];
        if row.cancelled {
            spans.push(Span::styled(" · ■ cancelled", theme.fg(Color::Yellow)));
        }
        spans.push(Span::raw(match (row.baseline, row.speedup) {
            (Some(b), _) if b == sel => " · the serial baseline".to_string(),
            (Some(b), Some(s)) => format!(
                " · {} vs serial #{} · {} {}",
                units::ratio(s.value),
                res.number(b),
                if wide { "efficiency" } else { "eff" },
                row.efficiency.map_or("-".into(), units::efficiency)
            ),
            _ => " · no serial run yet".to_string(),
        }));
        // After the speedup it qualifies, so that a cut line keeps the speedup.
        if let Some(mark) = res.runs.get(sel).and_then(RunReport::disturbed_mark) {
            spans.push(Span::styled(format!(" · {mark}"), theme.fg(Color::Yellow)));
        }
        if let Some(b) = best.filter(|_| wide) {
            spans.push(Span::raw(" · "));
            spans.push(Span::styled(
                format!("★ best #{}", res.number(b)),
                theme.fg(Color::Yellow),
            ));
        }
        Line::from(spans)
    };
    // Too long for the width (a disturbed run's mark at 80 columns): the chunk shape and
    // schedule go first, as the history list below shows them.
    let mut full = line(&row.label);
    if full.width() > usize::from(area.width)
        && let Some((short, _)) = row.label.split_once(" (")
    {
        full = line(short);
    }
    Paragraph::new(full).render(area, buf);
}

/// `frac` (0..=1) of `width` cells as a bar of full blocks and an eighth at the end.
pub fn bar(frac: f64, width: usize) -> String {
    const EIGHTHS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let eighths = convert::round_usize(frac.clamp(0.0, 1.0) * width as f64 * 8.0);
    let mut s = "█".repeat(eighths / 8);
    s.push_str(EIGHTHS[eighths % 8]);
    if s.is_empty() && frac > 0.0 {
        s.push('▏');
    }
    s
}

/// Serial vs this run, stage by stage. `serial`: (row number, report, is this run itself).
fn render_bars(
    run: &RunReport,
    number: usize,
    serial: Option<(usize, &RunReport, bool)>,
    theme: Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let compared = serial.filter(|s| !s.2);
    let title = match compared {
        Some((n, _, _)) => format!(" Wall per stage: serial #{n} vs #{number} "),
        None => format!(" Wall per stage of #{number} "),
    };
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let w = inner.width as usize;
    let nw = if w >= 50 { 14 } else { 9 };
    let bw = w.saturating_sub(nw + 7 + 9).max(1);
    let figures = history::stage_speedups(run, compared.map(|s| s.1));
    let max = figures
        .iter()
        .flat_map(|f| [Some(f.run_ns), f.serial_ns])
        .flatten()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let tag = if run.config.chunks.is_some() {
        format!("x{}", run.config.threads)
    } else {
        "serial".into()
    };
    let bar_line = |name: String, tag: &str, ns: u64, style: Style| {
        Line::from(vec![
            Span::raw(format!("{name:<nw$}{tag:<7}")),
            Span::styled(format!("{:<bw$}", bar(ns as f64 / max, bw)), style),
            Span::raw(format!("{:>9}", units::duration_ns(ns))),
        ])
    };
    let mut lines = Vec::new();
    for f in &figures {
        match f.serial_ns {
            Some(s) => {
                lines.push(bar_line(
                    f.stage.name().into(),
                    "serial",
                    s,
                    theme.fg(Color::Blue),
                ));
                let gain = match (f.speedup, f.efficiency) {
                    (Some(x), Some(e)) if nw >= 14 => {
                        format!("{} {}", units::ratio(x.value), units::efficiency(e))
                    }
                    (Some(x), _) => units::ratio(x.value),
                    _ => String::new(),
                };
                lines.push(bar_line(gain, &tag, f.run_ns, theme.fg(Color::Green)));
            }
            None => lines.push(bar_line(
                f.stage.name().into(),
                &tag,
                f.run_ns,
                theme.fg(Color::Green),
            )),
        }
    }
    let total = match (
        serial,
        history::speedup_ns(compared.map_or(0, |s| s.1.wall_ns), run.wall_ns),
    ) {
        (Some((_, _, true)), _) => "the serial baseline of this scene".to_string(),
        (Some(_), Some(s)) => {
            let eff = units::efficiency(chunkscope::profile::stats::efficiency(
                s.value,
                run.config.threads,
            ));
            if w >= 44 {
                format!(
                    "total {} · efficiency {eff} on {} thread(s)",
                    units::ratio(s.value),
                    run.config.threads
                )
            } else {
                format!("total {} · efficiency {eff}", units::ratio(s.value))
            }
        }
        _ => "no serial run yet: m on the chunk setup, then r".to_string(),
    };
    lines.push(Line::from(Span::styled(total, theme.bold())));
    if let Some(blocks) = &run.blocks {
        lines.push(Line::from(Span::styled(blocks.describe(w), theme.dim())));
    }
    // A superlinear figure is marked ↑; where there is room, say what that means.
    let superlinear = figures
        .iter()
        .any(|f| f.efficiency.is_some_and(|e| (e * 100.0).round() > 100.0));
    if superlinear && convert::clamp_u16(lines.len()) < inner.height {
        lines.push(Line::from(Span::styled(
            units::SUPERLINEAR_NOTE,
            theme.dim(),
        )));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}

/// The run's capacity (wall x threads) split into stage work and the overhead's parts, as
/// the engine accounted them.
fn render_overhead(run: &RunReport, number: usize, theme: Theme, area: Rect, buf: &mut Buffer) {
    let o = &run.overhead;
    let block = Block::bordered().title(format!(
        " Where #{number}'s capacity went: {} x {} thread(s) = {} ",
        units::duration_ns(o.window_ns),
        o.threads,
        units::duration_ns(o.capacity_ns)
    ));
    let inner = block.inner(area);
    block.render(area, buf);
    let w = inner.width as usize;
    let bw = w.saturating_sub(14 + 9 + 8).max(1);
    let p = &o.parts;
    let items: Vec<(&str, u64, Color)> = std::iter::once(("stage work", o.work_ns, Color::Green))
        .chain(p.named().map(|(name, ns)| (name, ns, Color::Yellow)))
        .collect();
    let mut lines: Vec<Line> = items
        .iter()
        .map(|&(name, ns, color)| {
            if !chunkscope::dask::report::records_part(run, name) {
                return Line::from(vec![
                    Span::raw(format!("{name:<14}")),
                    Span::styled("not in a Dask task stream", theme.dim()),
                ]);
            }
            Line::from(vec![
                Span::raw(format!("{name:<14}")),
                Span::styled(format!("{:<bw$}", bar(o.share_of(ns), bw)), theme.fg(color)),
                Span::raw(format!(
                    "{:>9}{:>8}",
                    units::duration_ns(ns),
                    units::share(o.share_of(ns))
                )),
            ])
        })
        .collect();
    lines.push(Line::from(Span::styled(
        format!(
            "overhead {} of capacity, {} per task",
            units::share(o.share),
            units::duration_ns(convert::us_to_ns(o.per_task_us))
        ),
        theme.bold(),
    )));
    Paragraph::new(lines).render(inner, buf);
}

/// CPU use sampled during the run: per core mean (bar) and peak, the process, memory.
fn render_cpu(run: &RunReport, number: usize, theme: Theme, area: Rect, buf: &mut Buffer) {
    if chunkscope::dask::report::is_dask(run) {
        // Nothing here is in a task stream: say so rather than draw zeros.
        Paragraph::new(
            "CPU times, CPU use and memory: not in a Dask task stream, which records task \
             times only.",
        )
        .wrap(Wrap { trim: true })
        .block(Block::bordered().title(format!(" CPU during #{number}: not recorded ")))
        .render(area, buf);
        return;
    }
    let c = &run.cpu;
    let block = Block::bordered().title(format!(
        " CPU during #{number}: {} sample(s), one every {} ",
        c.samples.len(),
        units::duration_ns(c.interval_ns)
    ));
    let inner = block.inner(area);
    block.render(area, buf);
    let w = inner.width as usize;
    let bw = w.saturating_sub(7 + 22).max(1);
    let mut lines = vec![
        Line::from(format!(
            "CPU user {}, sys {} · utilisation {}",
            units::duration_ns(run.cpu_user_ns),
            units::duration_ns(run.cpu_sys_ns),
            units::share(run.utilisation)
        )),
        Line::from(format!(
            "process {} of a core (peak {})",
            units::share(f64::from(c.process_cpu_mean_pct) / 100.0),
            units::share(f64::from(c.process_cpu_peak_pct) / 100.0),
        )),
        Line::from(format!(
            "resident memory: peak {}",
            units::bytes(run.peak_rss_bytes)
        )),
    ];
    if let Some(e) = &c.error {
        lines.push(Line::from(Span::styled(
            format!("no samples: {e}"),
            theme.fg(Color::Red),
        )));
    }
    let rows = (inner.height as usize).saturating_sub(lines.len());
    let cores = c.per_core_mean_pct.len();
    for (i, (mean, peak)) in c
        .per_core_mean_pct
        .iter()
        .zip(&c.per_core_peak_pct)
        .enumerate()
        .take(rows)
    {
        let more = i + 1 == rows && cores > rows;
        if more {
            lines.push(Line::from(Span::styled(
                format!("… {} more core(s)", cores - i),
                theme.dim(),
            )));
            break;
        }
        lines.push(Line::from(vec![
            Span::raw(format!("cpu{i:<3}")),
            Span::styled(
                format!("{:<bw$}", bar(f64::from(*mean) / 100.0, bw)),
                theme.fg(Color::Cyan),
            ),
            Span::raw(format!(
                " mean {:>5} peak {:>5}",
                units::share(f64::from(*mean) / 100.0),
                units::share(f64::from(*peak) / 100.0)
            )),
        ]));
    }
    Paragraph::new(lines).render(inner, buf);
}

/// tokio-console's mini histogram: one cell per bucket, a bar of eighths; any bucket with a
/// task shows at least the lowest bar, so a rare slow task stays visible.
pub fn mini_histogram(counts: &[u64]) -> String {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = counts.iter().copied().max().unwrap_or(0);
    counts
        .iter()
        .map(|&c| {
            if c == 0 || max == 0 {
                ' '
            } else {
                let level = convert::ceil_usize(c as f64 / max as f64 * 8.0);
                LEVELS[level.clamp(1, 8) - 1]
            }
        })
        .collect()
}

fn render_latency(run: &RunReport, number: usize, theme: Theme, area: Rect, buf: &mut Buffer) {
    let block = Block::bordered().title(format!(" Task latency of #{number} "));
    let inner = block.inner(area);
    block.render(area, buf);
    let w = inner.width as usize;
    let wide = w >= 48;
    let mut header = format!("{:<6}{:>8}{:>8}{:>8}{:>8}", "", "p50", "p90", "p99", "max");
    if wide {
        header.push_str(&format!("{:>8}", "tasks"));
    }
    let mut lines = vec![Line::from(Span::styled(header, theme.dim()))];
    for l in &run.latency {
        let s = &l.summary;
        let mut first = format!(
            "{:<6}{:>8}{:>8}{:>8}{:>8}",
            l.stage.name(),
            units::duration_us(s.p50_us),
            units::duration_us(s.p90_us),
            units::duration_us(s.p99_us),
            units::duration_us(s.max_us),
        );
        if wide {
            first.push_str(&format!("{:>8}", s.count));
        }
        lines.push(Line::from(first));
        let range = format!(
            " {}{}…{}",
            if wide {
                String::new()
            } else {
                format!("n={} ", s.count)
            },
            units::duration_us(s.min_us),
            units::duration_us(s.max_us)
        );
        let hw = w.saturating_sub(6 + range.chars().count()).clamp(4, 40);
        let second = match s.histogram() {
            Ok(h) => vec![
                Span::raw(" ".repeat(6)),
                Span::styled(
                    format!("{:<hw$}", mini_histogram(&h.mini_histogram(hw))),
                    theme.fg(Color::Cyan),
                ),
                Span::styled(range, theme.dim()),
            ],
            Err(e) => vec![Span::styled(
                format!(
                    "      histogram unreadable: {}",
                    chunkscope::error::chain(&e)
                ),
                theme.fg(Color::Red),
            )],
        };
        lines.push(Line::from(second));
    }
    Paragraph::new(lines).render(inner, buf);
}

/// Two runs' configurations side by side: medians over their repeats, the ratio with its
/// error, and whether the difference is beyond the noise ("noise") or cannot be told from
/// one run ("1 run").
fn render_ab(
    runs: &[RunReport],
    (a, b): (usize, usize),
    number: impl Fn(usize) -> usize,
    theme: Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let (na, nb) = (number(a), number(b));
    let block = Block::bordered().title(format!(" A/B: #{na} vs #{nb} "));
    let inner = block.inner(area);
    block.render(area, buf);
    let of = |i: usize| match history::repeats_of(runs, i).len() {
        n if n > 1 => format!(" · median of {n} runs"),
        _ => String::new(),
    };
    let mut lines = vec![
        Line::from(format!("A #{na} {}{}", runs[a].label(), of(a))),
        Line::from(format!("B #{nb} {}{}", runs[b].label(), of(b))),
    ];
    let differ = history::setting_differences(&runs[a], &runs[b]);
    if !differ.is_empty() {
        lines.push(Line::from(Span::styled(
            format!("settings differ: {}", differ.join(", ")),
            theme.fg(Color::Yellow),
        )));
    }
    lines.push(Line::from(Span::styled(
        format!("{:<9}{:>9}{:>9}{:>9}", "stage", "A", "B", "A÷B"),
        theme.dim(),
    )));
    let opt = |v: Option<u64>| v.map_or("-".into(), units::duration_ns);
    for p in history::compare_runs(runs, a, b) {
        let (glyph, style, note) = match (p.ratio, p.difference) {
            (Some(r), Difference::Clear) if r > 1.0 => ("▲", theme.fg(Color::Green), ""),
            (Some(r), Difference::Clear) if r < 1.0 => ("▼", theme.fg(Color::Red), ""),
            (Some(_), Difference::WithinNoise) => ("≈", theme.dim(), " noise"),
            (Some(_), Difference::Unknown) => ("?", theme.dim(), " 1 run"),
            _ => (" ", Style::new(), ""),
        };
        let name = p.stage.map_or("total", |s| s.name());
        lines.push(Line::from(vec![
            Span::raw(format!("{name:<9}{:>9}{:>9}", opt(p.a_ns), opt(p.b_ns))),
            Span::styled(
                format!(
                    "{:>8}{glyph}{note}",
                    p.ratio.map_or("-".into(), units::ratio)
                ),
                style,
            ),
        ]));
    }
    lines.push(Line::from(Span::styled(
        "▲ B faster · ▼ B slower, in every run; ≈ runs overlap; ? one run: repeat (R)",
        theme.dim(),
    )));
    if let Some(v) = history::verdict_ab(runs, a, b) {
        lines.push(Line::from(format!("total: {}", v.sentence())));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}

fn render_history(
    res: &Results,
    rows: &[HistoryRow],
    verdict: Option<&history::BestRun>,
    sel: usize,
    theme: Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let wide = area.width >= WIDE;
    let best = match verdict {
        Some(history::BestRun::Clear(i)) => Some(*i),
        _ => None,
    };
    // The output, resolution and cache settings join a row's label when the runs differ in
    // them.
    let settings: Vec<String> = res.runs.iter().map(report_settings).collect();
    let mixed = settings.windows(2).any(|w| w[0] != w[1]);
    let table_rows: Vec<Row> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mark = format!(
                "{}{}{}",
                if best == Some(i) { "★" } else { " " },
                if res.a == Some(i) { "A" } else { " " },
                if res.b == Some(i) { "B" } else { " " },
            );
            let mut label = r.label.clone();
            if mixed && let Some(set) = settings.get(i) {
                label = format!("{label} · {set}");
            }
            if r.cancelled {
                label.push_str(" ■ cancelled");
            }
            if let Some(mark) = res.runs.get(i).and_then(RunReport::disturbed_mark) {
                label = format!("{label} {mark}");
            }
            let mut cells = vec![
                Cell::from(Span::styled(
                    mark,
                    if best == Some(i) {
                        theme.fg(Color::Yellow)
                    } else {
                        Style::new()
                    },
                )),
                Cell::from(format!("{:>3}", res.number(i))),
                Cell::from(label),
            ];
            if wide {
                cells.push(Cell::from(r.item.clone()));
            }
            cells.extend([
                Cell::from(format!("{:>8}", units::duration_ns(r.wall_ns))),
                Cell::from(format!(
                    "{:>7}",
                    r.speedup.map_or("-".into(), |s| units::ratio(s.value))
                )),
                Cell::from(format!(
                    "{:>6}",
                    r.efficiency.map_or("-".into(), units::efficiency)
                )),
                Cell::from(format!("{:>8}", units::share(r.overhead_share))),
            ]);
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(3),
        Constraint::Length(3),
        Constraint::Fill(1),
    ];
    let mut header = vec!["", "  #", "config"];
    if wide {
        widths.push(Constraint::Length(30));
        header.push("scene");
    }
    widths.extend([
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(8),
    ]);
    header.extend(["    wall", "speedup", "   eff", "overhead"]);
    let no_serial = rows.iter().all(|r| r.baseline.is_none());
    let title = format!(
        " History · {} run(s) · {} ",
        res.runs.len() + res.dropped,
        if no_serial {
            "no serial run yet: no speedups"
        } else {
            "speedup vs the latest serial run with the same settings"
        }
    );
    let table = Table::new(table_rows, widths)
        .header(Row::new(header).style(theme.dim()))
        .row_highlight_style(theme.selected())
        .block(
            Block::bordered()
                .title(title)
                .title_bottom(best_note(verdict, res)),
        );
    let mut state = TableState::default().with_selected(Some(sel));
    StatefulWidget::render(table, area, buf, &mut state);
}

/// Why a run is starred, or why none is: a star needs a configuration whose every run beat
/// every run of the others, so one run each decides nothing.
fn best_note(verdict: Option<&history::BestRun>, res: &Results) -> String {
    match verdict {
        Some(history::BestRun::Clear(_)) => {
            " ★ best: faster than the others in every run · A B marked ".into()
        }
        Some(history::BestRun::Tied { by_median, tied }) => {
            let mut nums: Vec<String> = std::iter::once(*by_median)
                .chain(tied.iter().copied())
                .map(|i| format!("#{}", res.number(i)))
                .collect();
            nums.truncate(4);
            format!(
                " no ★: runs of {} overlap, within noise · R repeats · A B marked ",
                nums.join(" ")
            )
        }
        Some(history::BestRun::TooFewRuns { .. }) => {
            " no ★ yet: 3 runs of a configuration decide (R repeats) · A B marked ".into()
        }
        None => " A B marked ".into(),
    }
}

#[cfg(test)]
mod tests {
    use chunkscope::task::Stage;
    use crossterm::event::KeyCode;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::tui::app::Msg;
    use crate::tui::model::screen::Screen;
    use crate::tui::testdata;
    use crate::tui::view::{buffer_text, fixtures, render as render_all};

    fn draw(app: &App, w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| render_all(app, f.area(), f.buffer_mut()))
            .unwrap();
        buffer_text(term.backend().buffer())
    }

    fn results_app(runs: Vec<RunReport>) -> App {
        let mut app = fixtures::setup_app();
        for r in runs {
            app.results.push(r);
        }
        app.screen = Screen::Results;
        app
    }

    /// A recorded Dask stream as the TUI imports it; `unindexed`: its store's keys stripped
    /// of their chunk index, as some Dask versions write them.
    fn imported(unindexed: bool) -> RunReport {
        use chunkscope::dask::{DaskStream, DaskSummary};
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/dask/demo-2048-chunks256-threads2.json"
        );
        let dir = tempfile::tempdir().unwrap();
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
        if unindexed {
            for t in json["task_stream"].as_array_mut().unwrap() {
                let name = t["key"][0].as_str().map(str::to_string);
                if let Some(name) = name.filter(|n| n.starts_with("store-map")) {
                    t["key"] = serde_json::Value::String(name);
                }
            }
        }
        let path = dir.path().join("stream.json");
        std::fs::write(&path, json.to_string()).unwrap();
        let stream = DaskStream::read(&path).unwrap();
        let summary = DaskSummary::of(&stream).unwrap();
        chunkscope::dask::report::run_report(&stream, &summary)
    }

    #[test]
    fn an_imported_dask_run_shows_only_what_was_measured() {
        let report = imported(false);
        let mut app = results_app(vec![report.clone()]);
        app.run = Some(crate::tui::model::run::RunView::from_report(&report));
        for screen in [Screen::Run, Screen::Results] {
            app.screen = screen;
            for (w, h) in [(80, 24), (120, 36), (160, 48)] {
                let text = draw(&app, w, h);
                for zero in [
                    "0 B",
                    "0.0 %",
                    "user 0 ns",
                    "one every 0 ns",
                    "handle open                 0 ns",
                ] {
                    assert!(
                        !text.contains(zero),
                        "{zero:?} on {screen:?} at {w}x{h}:\n{text}"
                    );
                }
            }
        }
        // What is not recorded is said so where the wide screens list it.
        app.screen = Screen::Results;
        let text = draw(&app, 160, 48);
        assert!(
            text.contains("handle open   not in a Dask task stream"),
            "{text}"
        );
        assert!(text.contains("CPU during #1: not recorded"), "{text}");
        assert!(text.contains("tail idle"), "measured parts stay: {text}");
        app.screen = Screen::Run;
        let text = draw(&app, 120, 36);
        assert!(text.contains("writer wait  not recorded"), "{text}");
        assert!(
            text.contains("CPU times: not in a Dask task stream"),
            "{text}"
        );
    }

    #[test]
    fn an_imported_run_whose_writes_name_no_chunk_ends_written() {
        use crate::tui::model::run::{ChunkState, chunk_states_at};
        let report = imported(true);
        let n = report.plan.as_ref().unwrap().chunk_count;
        assert_eq!(n, 16);
        let writes: Vec<_> = report
            .tasks
            .iter()
            .filter(|t| t.stage == Stage::Write)
            .collect();
        assert!(!writes.is_empty() && writes.iter().all(|t| t.chunk as usize >= n));
        // Halfway through the writes the masked chunks are being written; at the end, all
        // are written, as they are for a run whose keys name their chunks.
        let first = writes.iter().map(|t| t.start_ns).min().unwrap();
        assert!(
            chunk_states_at(&report.tasks, n, first).contains(&ChunkState::Running(Stage::Write))
        );
        assert_eq!(
            chunk_states_at(&report.tasks, n, report.wall_ns),
            vec![ChunkState::Done(Stage::Write); n]
        );
        let indexed = imported(false);
        assert_eq!(
            chunk_states_at(&indexed.tasks, n, indexed.wall_ns),
            vec![ChunkState::Done(Stage::Write); n]
        );
    }

    /// Serial, chunked, and the chunked run again with half the wall time of the fastest:
    /// the third is the best, by construction.
    fn three_runs() -> (RunReport, RunReport, RunReport) {
        let d = testdata::data();
        let mut fast = d.chunked.clone();
        fast.wall_ns = d.serial.wall_ns.min(d.chunked.wall_ns) / 2;
        (d.serial.clone(), d.chunked.clone(), fast)
    }

    fn key(app: &mut App, code: KeyCode) {
        app.update(Msg::Key(code.into()));
    }

    #[test]
    fn a_disturbed_run_is_marked_in_the_headline_the_history_and_the_ab_verdict() {
        let (serial, chunked, _) = three_runs();
        let mut busy = chunked.clone();
        busy.others_cpu_ns = Some(busy.wall_ns);
        busy.others_cores = Some(1.0);
        busy.disturbed = true;
        let mut app = results_app(vec![serial, chunked, busy]);
        for (w, h) in [(80, 24), (160, 48)] {
            let text = draw(&app, w, h);
            assert!(text.contains("⚠ others: 1.0 core"), "{text}");
            // The headline keeps both the speedup and the mark, even at 80 columns.
            assert!(
                text.lines()
                    .any(|l| l.contains("vs serial #1") && l.contains("⚠ others")),
                "{w}x{h}:\n{text}"
            );
        }
        // The quiet runs are not marked: one mark in the history, one in the headline.
        let text = draw(&app, 160, 48);
        assert_eq!(text.matches("⚠ others").count(), 2, "{text}");
        // Serial against the chunked configuration (two runs, one disturbed): the A/B
        // panel's sentence says so.
        let v = history::verdict_ab(&app.results.runs, 0, 2).unwrap();
        assert_eq!(v.disturbed_runs, 1);
        assert!(
            v.sentence().contains("1 of its 3 runs were disturbed"),
            "{}",
            v.sentence()
        );
        key(&mut app, KeyCode::Char('a'));
        assert!(draw(&app, 160, 48).contains("⚠ others"));
    }

    #[test]
    fn results_show_stages_speedup_latency_and_the_best_run() {
        let (serial, chunked, fast) = three_runs();
        let app = results_app(vec![serial.clone(), chunked.clone(), fast.clone()]);
        let speedup = units::ratio(serial.wall_ns as f64 / fast.wall_ns as f64);
        let load = &fast
            .latency
            .iter()
            .find(|l| l.stage == Stage::Load)
            .unwrap()
            .summary;
        for (w, h) in [(80, 24), (160, 48)] {
            let text = draw(&app, w, h);
            for stage in ["load", "mask", "write", "finalize"] {
                assert!(text.contains(stage), "{stage} at {w}x{h}:\n{text}");
            }
            assert!(
                text.contains(&format!("{speedup} vs serial #1")),
                "{speedup} at {w}x{h}:\n{text}"
            );
            assert!(text.contains(&format!("total {speedup}")), "{text}");
            // How the load got its blocks, measured, beside the per-task figure.
            let blocks = fast.blocks.expect("a chunked run reports its blocks");
            assert!(
                text.contains(&format!(
                    "decoded {}",
                    units::ratio(blocks.read_amplification_measured)
                )),
                "blocks at {w}x{h}:\n{text}"
            );
            for p in [load.p50_us, load.p90_us, load.p99_us] {
                assert!(text.contains(&units::duration_us(p)), "{p} µs:\n{text}");
            }
            let row = |n: &str| {
                text.lines()
                    .find(|l| {
                        l.starts_with('│')
                            && (l.contains(&format!("{n} chunked x 2"))
                                || l.contains(&format!("{n} serial")))
                    })
                    .unwrap_or_else(|| panic!("row {n} at {w}x{h}:\n{text}"))
                    .to_string()
            };
            // One run each: nothing starred, and the table says what a star needs.
            for n in ["1", "2", "3"] {
                assert!(!row(n).contains('★'), "{text}");
            }
            assert!(text.contains("no ★ yet: 3 runs"), "{text}");
            assert!(
                text.contains("a/b mark"),
                "footer from the key table:\n{text}"
            );
        }
        // Selecting the serial run: it is the baseline, compared with nothing.
        let mut app = app;
        key(&mut app, KeyCode::Char('k'));
        key(&mut app, KeyCode::Up);
        assert_eq!(app.results.selected, 0);
        let text = draw(&app, 160, 48);
        assert!(text.contains("the serial baseline"), "{text}");
    }

    #[test]
    fn two_marked_runs_show_side_by_side_with_their_ratio() {
        let (serial, chunked, fast) = three_runs();
        let mut app = results_app(vec![serial.clone(), chunked.clone(), fast.clone()]);
        key(&mut app, KeyCode::Up);
        key(&mut app, KeyCode::Up);
        key(&mut app, KeyCode::Char('a'));
        key(&mut app, KeyCode::Char('j'));
        key(&mut app, KeyCode::Char('b'));
        assert_eq!((app.results.a, app.results.b), (Some(0), Some(1)));
        // B's configuration ran twice (#2, #3): its figures are the median of both.
        let b_ns = |s: Option<Stage>| {
            let v: Vec<u64> = [&chunked, &fast]
                .iter()
                .map(|r| s.map_or(r.wall_ns, |s| r.stage(s).unwrap().wall_ns))
                .collect();
            chunkscope::profile::stats::median(&v).unwrap()
        };
        let total = units::ratio(serial.wall_ns as f64 / b_ns(None) as f64);
        let load = units::ratio(
            serial.stage(Stage::Load).unwrap().wall_ns as f64 / b_ns(Some(Stage::Load)) as f64,
        );
        for (w, h) in [(80, 24), (160, 48)] {
            let text = draw(&app, w, h);
            assert!(text.contains("A/B: #1 vs #2"), "{w}x{h}:\n{text}");
            assert!(text.contains("median of 2 runs"), "{w}x{h}:\n{text}");
            let dur = |r: &RunReport, s: Option<Stage>| {
                units::duration_ns(s.map_or(r.wall_ns, |s| r.stage(s).unwrap().wall_ns))
            };
            for (name, stage, ratio) in
                [("total", None, &total), ("load", Some(Stage::Load), &load)]
            {
                let expected = format!(
                    "{name:<9}{:>9}{:>9}{ratio:>8}? 1 run",
                    dur(&serial, stage),
                    units::duration_ns(b_ns(stage))
                );
                assert!(text.contains(&expected), "{expected} at {w}x{h}:\n{text}");
            }
            let row1 = text
                .lines()
                .find(|l| l.contains("  1 serial") && !l.contains('#'))
                .unwrap();
            assert!(row1.contains(" A "), "{row1}");
        }
        key(&mut app, KeyCode::Char('x'));
        assert_eq!((app.results.a, app.results.b), (None, None));
        assert!(!draw(&app, 160, 48).contains("A/B:"));
    }

    #[test]
    fn without_a_serial_run_the_screen_says_so() {
        let app = results_app(vec![testdata::data().chunked.clone()]);
        for (w, h) in [(80, 24), (160, 48)] {
            let text = draw(&app, w, h);
            assert!(text.contains("no serial run yet"), "{text}");
            assert!(text.contains("load"), "{text}");
        }
        let text = draw(&results_app(vec![]), 80, 24);
        assert!(
            text.contains("No finished run in this session yet"),
            "{text}"
        );
    }

    #[test]
    fn tab_and_esc_move_between_run_results_and_sweep() {
        let mut app = fixtures::setup_app();
        key(&mut app, KeyCode::Char('r'));
        assert_eq!(app.screen, Screen::Run);
        app.update(Msg::RunFinished(Ok(Box::new(
            testdata::data().chunked.clone(),
        ))));
        assert_eq!(
            app.results.runs.len(),
            1,
            "a finished run joins the history"
        );
        key(&mut app, KeyCode::Tab);
        assert_eq!(app.screen, Screen::Results);
        key(&mut app, KeyCode::Tab);
        assert_eq!(app.screen, Screen::Sweep);
        assert!(draw(&app, 80, 24).contains("No sweep yet"));
        key(&mut app, KeyCode::Tab);
        assert_eq!(app.screen, Screen::Results);
        key(&mut app, KeyCode::Esc);
        assert_eq!(app.screen, Screen::Run);
    }

    #[test]
    fn every_size_draws_without_panicking() {
        let (serial, chunked, fast) = three_runs();
        let mut app = results_app(vec![serial, chunked, fast]);
        app.results.a = Some(0);
        app.results.b = Some(2);
        app.results.notice = Some(crate::tui::model::results::Notice::Failed(
            "disk full".into(),
        ));
        app.results.sweep = Some(crate::tui::model::sweep::SweepView {
            result: testdata::data().sweep.clone(),
            source: "a-very-long-file-name-for-a-sweep.json".into(),
        });
        app.results.sweep_job = Some(crate::tui::model::sweep::SweepProgress {
            done: 3,
            total: 9,
            label: "chunked x 2 @ blocks:2".into(),
            cancelling: false,
        });
        for screen in [Screen::Results, Screen::Sweep] {
            app.screen = screen;
            for (w, h) in [(60, 16), (61, 17), (80, 24), (97, 31), (130, 40), (250, 70)] {
                let text = draw(&app, w, h);
                assert!(!text.contains("terminal too small"), "{w}x{h}");
            }
            assert!(draw(&app, 59, 16).contains("terminal too small"));
        }
    }

    #[test]
    fn no_color_results_draw_no_colour() {
        let (serial, chunked, fast) = three_runs();
        let mut app = results_app(vec![serial, chunked, fast]);
        app.color = false;
        let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
        term.draw(|f| render_all(&app, f.area(), f.buffer_mut()))
            .unwrap();
        assert!(
            term.backend()
                .buffer()
                .content()
                .iter()
                .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
        );
    }

    #[test]
    fn bars_use_eighths_and_never_vanish() {
        assert_eq!(bar(1.0, 4), "████");
        assert_eq!(bar(0.5, 4), "██");
        assert_eq!(bar(0.53, 4), "██▏");
        assert_eq!(bar(0.001, 4), "▏");
        assert_eq!(bar(0.0, 4), "");
    }

    #[test]
    fn a_rare_slow_task_stays_visible() {
        assert_eq!(mini_histogram(&[100, 0, 0, 1]), "█  ▁");
        assert_eq!(mini_histogram(&[4, 8, 0]), "▄█ ");
        assert_eq!(mini_histogram(&[0, 0]), "  ");
    }
}
