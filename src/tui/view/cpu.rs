//! CPU and memory: per-core bars, a process CPU sparkline and an RSS sparkline, from the
//! sampler's samples (live), the report's series (after the run) or the report's samples
//! up to the replay time. Pure.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Sparkline, Widget, Wrap};

use chunkscope::convert;
use chunkscope::profile::sampler::Sample;
use chunkscope::profile::units;

use super::Theme;
use crate::tui::model::run::RunView;

/// What the CPU panel draws, picked from the run's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Meters {
    /// Per-core utilisation, 0..=100.
    pub cores_pct: Vec<f32>,
    /// What the per-core figures are: live, the run's mean, or at the replay time.
    pub cores_what: String,
    /// Process CPU per sample, in % of one core (the sparkline's data).
    pub cpu_pct: Vec<u64>,
    /// Resident memory per sample, bytes.
    pub rss: Vec<u64>,
    pub cpu_now_pct: Option<f32>,
    pub rss_now: Option<u64>,
    pub rss_peak: u64,
    /// Machine cores: 100 % each, the CPU sparkline's top.
    pub cores: usize,
    pub samples_dropped: u64,
}

/// The last `width` samples' series, or fewer.
fn tail<'a>(samples: impl DoubleEndedIterator<Item = &'a Sample>, width: usize) -> Vec<&'a Sample> {
    let mut v: Vec<&Sample> = samples.rev().take(width).collect();
    v.reverse();
    v
}

/// The meters for `r`, with sparklines of at most `width` samples.
pub fn meters(r: &RunView, width: usize) -> Meters {
    // After the run, the process figure is the run's mean like the per-core ones; live and
    // in a replay it is the latest sample's.
    let mut process_mean: Option<f32> = None;
    let (samples, cores_pct, cores_what, rss_peak): (Vec<&Sample>, Vec<f32>, String, u64) =
        match (&r.report, &r.replay) {
            (Some(rep), Some(p)) => {
                let upto = rep.cpu.samples.iter().filter(|s| s.t_ns <= p.t_ns);
                let cores = upto
                    .clone()
                    .rev()
                    .find(|s| !s.per_core_pct.is_empty())
                    .map(|s| s.per_core_pct.clone())
                    .unwrap_or_default();
                let shown = tail(upto, width);
                let peak = shown.iter().map(|s| s.rss_bytes).max().unwrap_or(0);
                (
                    shown,
                    cores,
                    format!("per core at {}", units::duration_ns(p.t_ns)),
                    peak,
                )
            }
            // Means of no sample are not measurements: say why there is none.
            (Some(rep), None) if rep.cpu.samples.is_empty() => (
                Vec::new(),
                Vec::new(),
                format!(
                    "no sample: the run was shorter than the {} sampling interval",
                    units::duration_ns(rep.cpu.interval_ns)
                ),
                rep.peak_rss_bytes,
            ),
            (Some(rep), None) => (
                {
                    process_mean = Some(rep.cpu.process_cpu_mean_pct);
                    tail(rep.cpu.samples.iter(), width)
                },
                rep.cpu.per_core_mean_pct.clone(),
                "per core, mean over the run".into(),
                rep.peak_rss_bytes,
            ),
            (None, _) => (
                tail(r.live.samples.iter(), width),
                r.live.cores_pct.clone(),
                "per core, live".into(),
                r.live.peak_rss_bytes,
            ),
        };
    let cores = r
        .report
        .as_ref()
        .map_or(cores_pct.len(), |rep| rep.cpu.cores)
        .max(cores_pct.len())
        .max(1);
    Meters {
        cpu_pct: samples
            .iter()
            .map(|s| convert::round_u64(f64::from(s.process_cpu_pct)))
            .collect(),
        rss: samples.iter().map(|s| s.rss_bytes).collect(),
        cpu_now_pct: process_mean.or_else(|| samples.last().map(|s| s.process_cpu_pct)),
        rss_now: samples.last().map(|s| s.rss_bytes),
        cores_pct,
        cores_what,
        rss_peak,
        cores,
        samples_dropped: r.live.samples_dropped,
    }
}

/// `████▌   ` for `pct` of 100 in `width` cells.
pub fn bar(pct: f64, width: usize) -> String {
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let eighths = convert::round_usize((pct.clamp(0.0, 100.0) / 100.0) * width as f64 * 8.0);
    let mut s = "█".repeat(eighths / 8);
    s.push_str(PARTS[eighths % 8]);
    let used = s.chars().count();
    s.push_str(&" ".repeat(width.saturating_sub(used)));
    s
}

/// One glyph per core, as tall as its use: `▁▄█▂`.
pub fn core_glyphs(pct: &[f32]) -> String {
    const LEVELS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    pct.iter()
        .map(|p| LEVELS[convert::round_usize(f64::from((p.clamp(0.0, 100.0) / 100.0) * 8.0))])
        .collect()
}

fn core_colour(pct: f32) -> Color {
    if pct >= 75.0 {
        Color::Green
    } else if pct >= 25.0 {
        Color::Yellow
    } else {
        Color::DarkGray
    }
}

/// ```text
/// ┌ CPU and memory ─────────────────────┐
/// │per core, live                        │
/// │c0  ██████████▌          65 %         │
/// │c1  █████▎               33 %         │
/// │process CPU 98 % (max 200 %)           │
/// │▁▂▃▅▆▇█▇▆▅▃▂                           │
/// │RSS 120 MiB · peak 130 MiB            │
/// │▂▂▃▃▄▅▅▆▆▆▆▆                           │
/// └──────────────────────────────────────┘
/// ```
pub fn render(r: &RunView, theme: Theme, area: Rect, buf: &mut Buffer) {
    let block = Block::bordered().title(" CPU and memory ");
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height < 4 || inner.width < 12 {
        return;
    }
    let m = meters(r, inner.width as usize);
    let n = m.cores_pct.len();
    // Cores take what they need, up to half the panel; the sparklines share the rest.
    let core_rows_avail = (inner.height.saturating_sub(5) / 2).max(1);
    // Columns of cores when they do not fit one a line; each at least 16 cells wide.
    let max_cols = (inner.width / 16).max(1) as usize;
    let cols = n.div_ceil(core_rows_avail as usize).clamp(1, max_cols);
    let rows = convert::clamp_u16(n.div_ceil(cols).min(core_rows_avail as usize)).max(1);
    let spark_h = (inner.height.saturating_sub(3 + rows) / 2).clamp(1, 8);
    let [head, cores_area, cpu_label, cpu_spark, rss_label, rss_spark] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(rows.max(1)),
        Constraint::Length(1),
        Constraint::Length(spark_h),
        Constraint::Length(1),
        Constraint::Length(spark_h),
    ])
    .areas(inner);
    let mut what = vec![Span::styled(m.cores_what.clone(), theme.dim())];
    if m.samples_dropped > 0 {
        what.push(Span::raw(format!(
            " · {} samples dropped",
            m.samples_dropped
        )));
    }
    Paragraph::new(Line::from(what))
        .wrap(Wrap { trim: false })
        .render(head, buf);
    if n == 0 {
        Paragraph::new(Span::styled("no per-core figure yet", theme.dim())).render(cores_area, buf);
    } else {
        let col_w = (cores_area.width as usize / cols).max(1);
        let label_w = format!("c{}", n - 1).len() + 1;
        let bar_w = col_w.saturating_sub(label_w + 7).max(1);
        for (i, &pct) in m.cores_pct.iter().enumerate().take(rows as usize * cols) {
            let (row, col) = (i % rows as usize, i / rows as usize);
            let x = cores_area.x + convert::clamp_u16(col * col_w);
            let y = cores_area.y + convert::clamp_u16(row);
            let line = Line::from(vec![
                Span::styled(format!("{:<label_w$}", format!("c{i}")), theme.dim()),
                Span::styled(bar(f64::from(pct), bar_w), theme.fg(core_colour(pct))),
                Span::raw(format!("{:>6}", units::cpu_use(f64::from(pct)))),
            ]);
            buf.set_line(x, y, &line, convert::clamp_u16(col_w));
        }
        if rows as usize * cols < n {
            let hidden = n - rows as usize * cols;
            let y = cores_area.bottom().saturating_sub(1);
            buf.set_string(
                cores_area.right().saturating_sub(12),
                y,
                format!("+{hidden} cores"),
                theme.dim(),
            );
        }
    }
    let cpu_now = m
        .cpu_now_pct
        .map_or("-".to_string(), |p| units::cpu_use(f64::from(p)));
    Paragraph::new(Line::from(vec![
        Span::raw(format!("process CPU {cpu_now} ")),
        Span::styled(
            if m.cores_pct.is_empty() {
                "(100 % = 1 core)".to_string()
            } else {
                format!("(max {} %)", 100 * m.cores)
            },
            theme.dim(),
        ),
    ]))
    .render(cpu_label, buf);
    Sparkline::default()
        .data(&m.cpu_pct)
        .max(100 * m.cores as u64)
        .style(theme.fg(Color::Green))
        .render(cpu_spark, buf);
    let rss_now = m.rss_now.map_or("-".to_string(), units::bytes);
    // No process has a peak of 0 B: 0 is a peak nobody measured (a Dask task stream).
    let peak = match m.rss_peak {
        0 => "-".to_string(),
        b => units::bytes(b),
    };
    Paragraph::new(Line::from(format!("RSS {rss_now} · peak {peak}"))).render(rss_label, buf);
    Sparkline::default()
        .data(&m.rss)
        .max(m.rss_peak.max(1))
        .style(theme.fg(Color::Blue))
        .render(rss_spark, buf);
}

/// The one-line form for small terminals:
/// `CPU c0 65 % c1 33 % · process 98 % ▁▃▅█ · RSS 120 MiB ▂▃▅`.
pub fn line(r: &RunView, theme: Theme, width: u16) -> Line<'static> {
    let m = meters(r, 12);
    let mut spans = vec![Span::styled("CPU ", theme.bold())];
    if m.cores_pct.len() <= 4 {
        for (i, p) in m.cores_pct.iter().enumerate() {
            spans.push(Span::raw(format!(
                "c{i} {} ",
                units::cpu_use(f64::from(*p))
            )));
        }
    } else {
        spans.push(Span::styled(
            core_glyphs(&m.cores_pct),
            theme.fg(Color::Green),
        ));
        spans.push(Span::raw(format!(" {} cores ", m.cores_pct.len())));
    }
    let spark = |v: &[u64], max: u64| -> String {
        const LEVELS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        v.iter()
            .map(|&x| LEVELS[convert::round_usize((x.min(max) as f64 / max.max(1) as f64) * 8.0)])
            .collect()
    };
    let cpu_now = m
        .cpu_now_pct
        .map_or("-".to_string(), |p| units::cpu_use(f64::from(p)));
    spans.push(Span::raw(format!("· process {cpu_now} ")));
    spans.push(Span::styled(
        spark(&m.cpu_pct, 100 * m.cores as u64),
        theme.fg(Color::Green),
    ));
    let rss_now = m.rss_now.map_or("-".to_string(), units::bytes);
    spans.push(Span::raw(format!(" · RSS {rss_now} ")));
    if width >= 90 {
        spans.push(Span::styled(
            spark(&m.rss, m.rss_peak),
            theme.fg(Color::Blue),
        ));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fill_by_eighths() {
        assert_eq!(bar(0.0, 4), "    ");
        assert_eq!(bar(100.0, 4), "████");
        assert_eq!(bar(50.0, 4), "██  ");
        assert_eq!(bar(3.125, 4), "▏   ");
        assert_eq!(core_glyphs(&[0.0, 50.0, 100.0]), " ▄█");
    }
}
