//! Memory per schedule: serial, staged and fused, with GDAL's block cache bounded.

use std::collections::BTreeMap;

use crate::profile::memory::{MemoryRow, MemoryRun, Spread};
use crate::profile::units;

use super::super::chart::{Bar, Bars, Chart, Unit};
use super::super::{MemoryProbe, MemorySchedule};
use super::{CHUNKSCOPE, Context, Figure, LessonError, StepResult, Words};

/// What the memory step measured.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct MemoryFigures {
    /// GDAL's block cache bound, MiB.
    pub cache_mb: u32,
    pub serial: MemoryRow,
    pub staged: MemoryRow,
    pub fused: MemoryRow,
    /// Each run had a process of its own.
    pub own_process: bool,
}

pub(super) fn run(
    ctx: &Context<'_>,
    out: &mut StepResult,
    probe: &dyn MemoryProbe,
) -> Result<(), LessonError> {
    let f = measure(ctx, probe)?;
    out.say(describe(&f));
    out.memory = vec![f.serial, f.staged, f.fused];
    Ok(())
}

fn measure(ctx: &Context<'_>, probe: &dyn MemoryProbe) -> Result<MemoryFigures, LessonError> {
    let chunks = ctx.lesson.chunks();
    let cache = ctx.lesson.gdal_cache_mb;
    let mut runs: BTreeMap<usize, Vec<MemoryRun>> = BTreeMap::new();
    let schedules = MemorySchedule::ALL;
    let total = schedules.len() * ctx.lesson.repeat;
    for round in 0..ctx.lesson.repeat {
        for (i, s) in schedules.into_iter().enumerate() {
            if ctx.cancel.is_cancelled() {
                return Err(LessonError::Cancelled);
            }
            (ctx.progress)(round * schedules.len() + i, total, s.name());
            let run = probe
                .run(s, &chunks, ctx.threads(), cache)
                .map_err(|reason| {
                    LessonError::failed(format!("the {} memory run", s.name()), reason)
                })?
                .ok_or(LessonError::Cancelled)?;
            runs.entry(i).or_default().push(run);
        }
    }
    (ctx.progress)(total, total, "");
    let mut rows = schedules.iter().enumerate().map(|(i, s)| {
        let label = match s {
            MemorySchedule::Serial => "serial".to_string(),
            _ => format!("{} x {} @ {chunks}", s.name(), ctx.threads()),
        };
        MemoryRow::from_runs(label, runs.get(&i)?)
    });
    let mut next = || {
        rows.next()
            .flatten()
            .ok_or_else(|| LessonError::failed("the memory step", "a schedule gave no runs"))
    };
    Ok(MemoryFigures {
        cache_mb: cache,
        serial: next()?,
        staged: next()?,
        fused: next()?,
        own_process: probe.own_process(),
    })
}

/// Every run of `a` below every run of `b`.
fn below(a: &Spread, b: &Spread) -> bool {
    a.max < b.min
}

pub(super) fn describe(f: &MemoryFigures) -> Words {
    let (serial, staged, fused) = (&f.serial, &f.staged, &f.fused);
    let span = |s: &Spread| units::bytes_range(s.median, s.min, s.max);
    let figures = [serial, staged, fused]
        .iter()
        .map(|r| {
            Figure::new(
                r.label.clone(),
                format!(
                    "buffers {}, max RSS {}, RSS growth {}",
                    span(&r.buffers_peak_bytes),
                    units::bytes(r.process_max_rss_bytes.median),
                    span(&r.rss_growth_bytes)
                ),
            )
        })
        .collect();
    let fewer = below(&fused.buffers_peak_bytes, &staged.buffers_peak_bytes);
    let rss_clear = below(&fused.rss_growth_bytes, &staged.rss_growth_bytes);
    let conclusion = if fewer {
        format!(
            "{CHUNKSCOPE}: fused held {} of chunk buffers at most, staged {}, beyond the noise \
             (every run below): only the chunks in flight",
            units::bytes(fused.buffers_peak_bytes.median),
            units::bytes(staged.buffers_peak_bytes.median)
        )
    } else {
        format!(
            "{CHUNKSCOPE}: fused and staged held about the same buffers ({} vs {}), inside the \
             noise: with these chunks few are in flight either way",
            units::bytes(fused.buffers_peak_bytes.median),
            units::bytes(staged.buffers_peak_bytes.median)
        )
    };
    Words {
        big: vec![
            Figure::new("serial", units::bytes(serial.buffers_peak_bytes.median)),
            Figure::new("staged", units::bytes(staged.buffers_peak_bytes.median)),
            Figure::new("fused", units::bytes(fused.buffers_peak_bytes.median)),
        ],
        figures,
        conclusion,
        explanation: vec![
            format!(
                "Serial and staged keep the whole image ({}) before writing; fused takes each \
                 chunk from load to write, so RSS growth {} ({} vs {}).",
                units::bytes(serial.buffers_peak_bytes.median),
                if rss_clear {
                    "is smaller beyond the noise"
                } else {
                    "differs inside the noise of the runs"
                },
                units::bytes(fused.rss_growth_bytes.median),
                units::bytes(staged.rss_growth_bytes.median)
            ),
            format!(
                "RSS holds GDAL's block cache (bounded here at {} MiB, so it cannot grow across \
                 runs), the chunk buffers and the output tiles being filled; buffers are counted \
                 from the task records.",
                f.cache_mb
            ),
            if f.own_process {
                "Each run had a process of its own, so each max RSS is that run's alone."
                    .to_string()
            } else {
                "These runs shared one process: max RSS is the process's high-water mark and \
                 earlier runs may have set it."
                    .to_string()
            },
        ],
        decided: Some(fewer),
        chart: Some(Chart::Bars(Bars {
            title: format!("{} runs each: median, least…most", serial.runs),
            unit: Unit::Bytes,
            bars: vec![
                Bar::spread("buffers", "serial", &serial.buffers_peak_bytes, serial.runs),
                Bar::spread("", "staged", &staged.buffers_peak_bytes, staged.runs),
                Bar::spread("", "fused", &fused.buffers_peak_bytes, fused.runs),
                Bar::spread(
                    "RSS growth",
                    "staged",
                    &staged.rss_growth_bytes,
                    staged.runs,
                ),
                Bar::spread("", "fused", &fused.rss_growth_bytes, fused.runs),
            ],
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn spread(mib: [u64; 3]) -> Spread {
        Spread {
            median: mib[1] * MIB,
            min: mib[0] * MIB,
            max: mib[2] * MIB,
        }
    }

    fn row(label: &str, buffers: [u64; 3], growth: [u64; 3]) -> MemoryRow {
        MemoryRow {
            label: label.into(),
            runs: 3,
            buffers_peak_bytes: spread(buffers),
            process_max_rss_bytes: spread([300, 310, 320]),
            rss_growth_bytes: spread(growth),
            wall_ns: spread([1, 1, 1]),
            series: Vec::new(),
            pipeline_end_ns: 0,
        }
    }

    fn figures(fused: [u64; 3], fused_growth: [u64; 3], own_process: bool) -> MemoryFigures {
        MemoryFigures {
            cache_mb: 64,
            serial: row("serial", [200, 200, 200], [190, 200, 210]),
            staged: row("staged x 2", [200, 200, 200], [180, 190, 200]),
            fused: row("fused x 2", fused, fused_growth),
            own_process,
        }
    }

    #[test]
    fn fused_holds_fewer_buffers_beyond_the_noise() {
        let w = describe(&figures([40, 45, 50], [60, 70, 80], true));
        assert_eq!(
            w.conclusion,
            "chunkscope's engine: fused held 45.0 MiB of chunk buffers at most, staged 200 MiB, \
             beyond the noise (every run below): only the chunks in flight"
        );
        assert!(
            w.explanation[0]
                .contains("so RSS growth is smaller beyond the noise (70.0 MiB vs 190 MiB)"),
            "{}",
            w.explanation[0]
        );
        assert!(w.explanation[2].starts_with("Each run had a process of its own"));
        assert_eq!(w.decided, Some(true));
    }

    #[test]
    fn overlapping_buffers_and_one_process_are_said() {
        let w = describe(&figures([150, 200, 210], [170, 185, 205], false));
        assert!(
            w.conclusion.starts_with(
                "chunkscope's engine: fused and staged held about the same buffers (200 MiB vs \
                 200 MiB), inside the noise"
            ),
            "{}",
            w.conclusion
        );
        assert!(w.explanation[0].contains("differs inside the noise of the runs"));
        assert!(w.explanation[2].starts_with("These runs shared one process"));
        assert_eq!(w.decided, Some(false));
    }
}
