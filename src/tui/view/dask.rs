//! What the Results headline says of a run imported from Dask (`tui --dask`): the latest
//! chunkscope run with the same chunk shape and thread count, and each side's overhead per
//! task with their ratio. The figures come from the engine ([`chunkscope::dask::report`]).

use ratatui::style::{Modifier, Style};
use ratatui::text::Span;

use chunkscope::convert;
use chunkscope::dask::report;
use chunkscope::profile::units;

use crate::tui::model::results::Results;

/// The Results headline for run `sel` when it was imported from Dask, `wide` or for 80
/// columns; `None` for chunkscope's own runs (their headline compares them with the serial
/// run).
pub fn headline(res: &Results, sel: usize, wide: bool) -> Option<Vec<Span<'static>>> {
    let runs = res.runs.as_slice();
    let dask = runs.get(sel).filter(|r| report::is_dask(r))?;
    let per_task = |us: f64| units::duration_ns(convert::us_to_ns(us));
    // Narrow: the label without its shape (the history row below has it) and no wall.
    let label = if wide {
        format!("#{} {}", res.number(sel), dask.label())
    } else {
        let how = if report::is_live(dask) {
            "live"
        } else {
            "imported"
        };
        format!("#{} Dask ({how})", res.number(sel))
    };
    let mut spans = vec![Span::styled(
        label,
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if wide {
        spans.push(Span::raw(format!(
            " · wall {}",
            units::duration_ns(dask.wall_ns)
        )));
    }
    let tail = match report::counterpart(runs, dask) {
        Some(i) => {
            let ours = &runs[i];
            let ratio = report::overhead_ratio(dask, ours).map_or("-".to_string(), units::ratio);
            format!(
                " · overhead/task {} vs #{} {}: {}{ratio}",
                per_task(dask.overhead.per_task_us),
                res.number(i),
                per_task(ours.overhead.per_task_us),
                if wide { "Dask " } else { "" }
            )
        }
        None => {
            let shape = dask
                .config
                .chunks
                .map_or("its chunks".to_string(), |[b, r, c]| format!("{b},{r},{c}"));
            format!(
                " · overhead/task {} · no run of ours at {shape} x {}",
                per_task(dask.overhead.per_task_us),
                dask.config.threads
            )
        }
    };
    spans.push(Span::raw(tail));
    Some(spans)
}
