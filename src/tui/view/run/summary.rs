//! The `%%time` panel: a clicked chunk's tasks, a repeat's spread, the run's `%%time`
//! lines and stage walls, or its error, or each stage's progress while it runs.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};

use chunkscope::profile::units;
use chunkscope::task::Stage;

use super::progress::stage_rows;
use crate::tui::model::run::RunView;
use crate::tui::view::Theme;

/// The tasks of chunk `i` (clicked on the map), from the report's records or the events
/// so far: `chunk #5 (row 1, col 1): load w0 1.23 ms at 4.56 ms · mask … · busy 3.4 ms`.
fn chunk_line(r: &RunView, i: usize) -> Option<String> {
    let nc = r.grid.2.max(1);
    let tasks = r.report.as_ref().map_or(&r.live.tasks, |rep| &rep.tasks);
    let mine: Vec<_> = tasks
        .iter()
        .filter(|t| t.chunk as usize == i && t.stage != Stage::Finalize)
        .collect();
    let mut parts: Vec<String> = mine
        .iter()
        .map(|t| {
            format!(
                "{}{} w{} {} at {}",
                t.stage.name(),
                if t.helping { " (help)" } else { "" },
                t.worker,
                units::duration_ns(t.duration_ns()),
                units::duration_ns(t.start_ns)
            )
        })
        .collect();
    if parts.is_empty() {
        parts.push("no task finished yet".into());
    }
    let busy: u64 = mine.iter().map(|t| t.duration_ns()).sum();
    Some(format!(
        "chunk #{i} (row {}, col {}): {} · busy {} (a click beside the map clears)",
        i / nc,
        i % nc,
        parts.join(" · "),
        units::duration_ns(busy)
    ))
}

/// The `%%time` panel's lines: the clicked chunk's tasks, then a repeat's figures (the
/// engine's median ± σ, min…max and n, in total and per stage, and its warnings), then the
/// run's `%%time` lines and its stage walls (in a repeat, named as the last run's), or the
/// error, or while running each stage's progress. Compact: without the label, which the
/// status line shows. What matters comes first: a small panel cuts from the end.
pub(super) fn summary_lines(r: &RunView, compact: bool) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(line) = r.selected.and_then(|i| chunk_line(r, i)) {
        out.push(line);
    }
    if let Some(rep) = &r.repeat {
        match &rep.timing {
            Some(t) => {
                out.push(format!(
                    "{}{} · wall {}",
                    rep.count(),
                    if rep.stopped { " (stopped)" } else { "" },
                    units::spread(t.median_ns, t.stdev_ns, t.min_ns, t.max_ns, t.n)
                ));
                for (stage, t) in &rep.stages {
                    out.push(format!(
                        "  {:<9} {}",
                        stage.name(),
                        units::spread(t.median_ns, t.stdev_ns, t.min_ns, t.max_ns, t.n)
                    ));
                }
                out.extend(rep.warnings.iter().map(|w| format!("⚠ {w}")));
            }
            None if rep.stopped => out.push("repeat stopped before a run finished".into()),
            None if rep.in_warmup() => out.push(format!(
                "repeat: warm-up run (not measured), then {} runs…",
                rep.n
            )),
            None => out.push(format!("repeat: run 1 of {}…", rep.n)),
        }
    }
    let in_repeat = r.repeat.as_ref().is_some_and(|rep| rep.timing.is_some());
    match (&r.report, &r.error) {
        (Some(_), _) if in_repeat && r.finished() => {
            // The repeat's figures are above; this run is one of its samples.
            if let Some(rep) = &r.report {
                out.push(format!("last run: {}", rep.time_line()));
            }
        }
        (Some(rep), _) => {
            let text = rep.time_summary();
            let mut lines = text.lines();
            let label = lines.next().map(str::to_string);
            if !compact {
                out.extend(label);
            }
            let (stages, rest): (Vec<&str>, Vec<&str>) = lines.partition(|l| l.starts_with("  "));
            let (time, rest): (Vec<&str>, Vec<&str>) = rest
                .into_iter()
                .partition(|l| l.starts_with("CPU times:") || l.starts_with("Wall time:"));
            out.extend(time.into_iter().map(str::to_string));
            out.extend(stages.into_iter().map(str::to_string));
            out.extend(rest.into_iter().map(str::to_string));
        }
        (None, Some(e)) => out.push(format!("✗ run failed: {e}")),
        _ if r.cancelling => out.push("cancelling after the tasks in flight…".into()),
        _ => {
            out.push("running… (c or Esc cancels); then CPU times and wall per stage".into());
            if compact {
                for (s, done, total, note) in stage_rows(r) {
                    out.push(format!(
                        "  {:<9} {:>9}  {note}",
                        s.name(),
                        format!("{done}/{total}")
                    ));
                }
            }
        }
    }
    out
}

/// The `%%time` panel, boxed (`Borders::ALL`) or under a title rule (`Borders::TOP`).
pub(super) fn render_summary(
    r: &RunView,
    theme: Theme,
    summary: Vec<String>,
    borders: Borders,
    area: Rect,
    buf: &mut Buffer,
) {
    let style = if r.error.is_some() {
        theme.fg(Color::Red)
    } else {
        Style::new()
    };
    let settings = match &r.report {
        Some(rep) => crate::tui::model::setup::report_settings(rep),
        None => r.settings.clone(),
    };
    let title = if r.error.is_some() {
        " Error ".to_string()
    } else if settings.is_empty() {
        " %%time ".to_string()
    } else {
        format!(" %%time · {settings} ")
    };
    let block = Block::new().borders(borders).title(title);
    let width = block.inner(area).width as usize;
    Paragraph::new(
        summary
            .into_iter()
            .map(|l| Line::from(Span::styled(fit_columns(&l, width), style)))
            .collect::<Vec<_>>(),
    )
    .wrap(Wrap { trim: false })
    .block(block)
    .render(area, buf);
}

/// A line of aligned columns (`  load      wall    540 ms  busy …`) that is wider than
/// `width` with its column padding squeezed to single spaces, so a narrow panel shows each
/// stage on one line instead of wrapping its last figure onto a line of its own.
fn fit_columns(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_string();
    }
    let indent = line.len() - line.trim_start().len();
    let squeezed = line.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("{}{squeezed}", &line[..indent])
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_are_squeezed_only_when_the_line_is_too_wide() {
        let line = "  load      wall    540 ms  busy    835 ms      9 tasks  223 MB/s";
        assert_eq!(super::fit_columns(line, 80), line);
        assert_eq!(
            super::fit_columns(line, 60),
            "  load wall 540 ms busy 835 ms 9 tasks 223 MB/s"
        );
    }
}
