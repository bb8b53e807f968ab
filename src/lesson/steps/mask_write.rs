//! Mask and write, serial vs chunked, and the output's lock: the lesson's write (GDAL's
//! tiled GeoTIFF, every write under the lock) beside chunkscope's own writer (tiles encoded
//! outside the lock), on the same chunks, threads and format, with Dask's recorded writes
//! beside them where they were recorded.

use crate::output::{OutputFormat, WriterKind};

use crate::profile::stats::Timing;
use crate::profile::units;
use crate::task::Stage;

use super::super::chart::{Bar, Bars, Chart, Unit};
use super::super::dask::{self, DaskFigures};
use super::super::verdict::{Comparison, noise_words, with_spread};
use crate::experiment::rounds::RunSample;

use super::{
    CHUNKSCOPE, Context, Figure, LessonError, StepResult, Trial, Words, WriterLock, named, no_time,
    timing,
};

/// One stage, serial and chunked.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StagePair {
    /// `mask`, or `write+close`: the write stage and the file's closing, as GDAL's writer
    /// leaves its blocks in its cache until the file is closed.
    pub name: &'static str,
    pub serial: Timing,
    pub chunked: Timing,
    /// Chunked against serial.
    pub comparison: Comparison,
}

/// What the mask-and-write step measured.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct MaskWriteFigures {
    pub threads: usize,
    /// Serial against chunked with chunkscope's writer.
    pub mask: StagePair,
    pub write: StagePair,
    /// Write and close of the same chunked runs with GDAL's writer.
    pub gdal_write: Timing,
    /// chunkscope's writer against GDAL's, both chunked x N.
    pub writers: Comparison,
    /// The locks of the chunked runs whose write stage took the median time.
    pub own_lock: WriterLock,
    pub gdal_lock: WriterLock,
    /// Dask's writes recorded on the full demo, where this is it.
    pub dask: Option<DaskFigures>,
}

pub(super) fn run(ctx: &Context<'_>, out: &mut StepResult) -> Result<(), LessonError> {
    let f = measure(ctx)?;
    out.say(describe(&f));
    let label = format!("chunked x {}", f.threads);
    for p in [&f.mask, &f.write] {
        let name = p.name;
        out.timings
            .push(named(format!("{name} serial"), p.serial.clone()));
        out.timings
            .push(named(format!("{name} {label}"), p.chunked.clone()));
    }
    out.timings.push(named(
        format!("write {label} (GDAL's writer)"),
        f.gdal_write.clone(),
    ));
    // The conclusion's comparison first, as in every step.
    out.comparisons = vec![f.writers, f.write.comparison, f.mask.comparison];
    out.lock = Some(f.own_lock);
    Ok(())
}

/// The lock of the run whose write stage took the median time.
fn median_lock(locks: &[WriterLock]) -> Result<WriterLock, LessonError> {
    let mut locks = locks.to_vec();
    locks.sort_by_key(|l| l.write_wall_ns);
    locks.get(locks.len() / 2).cloned().ok_or_else(|| {
        LessonError::failed("the write stage", "the chunked runs had no write tasks")
    })
}

fn measure(ctx: &Context<'_>) -> Result<MaskWriteFigures, LessonError> {
    let n = ctx.threads().get();
    let label = format!("chunked x {n}");
    // The lesson's to_raster(tiled=True) writes a tiled GeoTIFF: every trial writes one, so
    // that the two writers differ in nothing else.
    let mut base = ctx.base.clone();
    base.output.format = OutputFormat::Gtiff;
    base.output.codec = None;
    base.output.path = base.output.path.with_extension("gtiff.tif");
    let trials = [
        Trial::serial(),
        ctx.chunked(ctx.lesson.chunks())
            .with_writer(WriterKind::Chunked),
        ctx.chunked(ctx.lesson.chunks())
            .with_writer(WriterKind::Gdal),
    ];
    let (samples, extra) = ctx.rounds_on(&base, &ctx.scene, &trials)?;
    // Until the file is complete: GDAL's writer leaves written blocks in its cache and
    // flushes them when the file is closed (the finalize stage), chunkscope's writes them as
    // it goes; the write stage alone would flatter GDAL's.
    let until_closed = |runs: &[RunSample]| -> Result<Timing, LessonError> {
        let ns: Vec<u64> = runs
            .iter()
            .map(|r| {
                r.stage_ns(Stage::Write).unwrap_or(0) + r.stage_ns(Stage::Finalize).unwrap_or(0)
            })
            .collect();
        Timing::from_ns(&ns)
            .map(|t| t.with_disturbed(runs.iter().filter(|r| r.disturbed).count()))
            .ok_or_else(no_time)
    };
    let pair = |name: &'static str| -> Result<StagePair, LessonError> {
        let (serial, chunked) = match name {
            "mask" => (
                timing(&samples[0], Some(Stage::Mask))?,
                timing(&samples[1], Some(Stage::Mask))?,
            ),
            _ => (until_closed(&samples[0])?, until_closed(&samples[1])?),
        };
        let comparison = Comparison::of("serial", &serial, &label, &chunked).ok_or_else(no_time)?;
        Ok(StagePair {
            name,
            serial,
            chunked,
            comparison,
        })
    };
    let write = pair("write+close")?;
    let gdal_write = until_closed(&samples[2])?;
    let writers = Comparison::of(
        "GDAL's writer",
        &gdal_write,
        "chunkscope's writer",
        &write.chunked,
    )
    .ok_or_else(no_time)?;
    let chunks = ctx.lesson.chunks();
    Ok(MaskWriteFigures {
        threads: n,
        mask: pair("mask")?,
        write,
        gdal_write,
        writers,
        own_lock: median_lock(&extra[1].locks)?,
        gdal_lock: median_lock(&extra[2].locks)?,
        dask: ctx.dask_figures(&chunks, &ctx.plan(&chunks)?, dask::LESSON_SIDE)?,
    })
}

fn lock_row(lock: &WriterLock) -> String {
    format!(
        "held {} ({} of the write), waited {} ({})",
        units::duration_ns(lock.held_ns),
        units::share(lock.held_share()),
        units::duration_ns(lock.waited_ns),
        units::share(lock.wait_share())
    )
}

/// Every worker on one line, so that they stay on a projector's screen.
fn workers_row(lock: &WriterLock) -> String {
    lock.holders
        .iter()
        .map(|h| {
            format!(
                "w{} {}/{}/{}",
                h.worker,
                h.writes,
                units::duration_ns(h.held_ns),
                units::duration_ns(h.waited_ns)
            )
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Why the two writers waited as they did, from their locks.
fn cause(f: &MaskWriteFigures) -> String {
    let (g, o) = (&f.gdal_lock, &f.own_lock);
    let held_more = g.held_share() > o.held_share();
    format!(
        "GDAL's writer (the lesson's to_raster with lock=Lock()) writes each tile under the \
         lock: held {} of the write, waited {} ({}); chunkscope's prepares tiles outside it, \
         places them under it: held {}, waited {} ({}){}.",
        units::share(g.held_share()),
        units::duration_ns(g.waited_ns),
        units::share(g.wait_share()),
        units::share(o.held_share()),
        units::duration_ns(o.waited_ns),
        units::share(o.wait_share()),
        if held_more {
            ""
        } else {
            "; here it held the lock no less than GDAL's, so the difference is not there"
        }
    )
}

fn dask_line(d: &DaskFigures) -> String {
    let share = if d.write_busy_ns == 0 {
        0.0
    } else {
        d.write_overlap_ns as f64 / d.write_busy_ns as f64
    };
    format!(
        "Dask, {}: {} write tasks at {} px, {} in them, {} ({}) while another wrote: at most \
         its wait for the Lock, which the stream does not show.",
        d.label,
        d.write_tasks,
        d.side,
        units::duration_ns(d.write_busy_ns),
        units::duration_ns(d.write_overlap_ns),
        units::share(share)
    )
}

pub(super) fn describe(f: &MaskWriteFigures) -> Words {
    let n = f.threads;
    let mut figures = Vec::new();
    for p in [&f.mask, &f.write] {
        let name = p.name;
        figures.push(Figure::new(format!("{name} serial"), with_spread(&p.serial)).charted());
        figures.push(Figure::new(format!("{name} x {n}"), with_spread(&p.chunked)).charted());
    }
    figures.push(
        Figure::new(
            format!("write+close x {n}, GDAL's"),
            with_spread(&f.gdal_write),
        )
        .charted(),
    );
    figures.push(Figure::new("lock, GDAL's writer", lock_row(&f.gdal_lock)));
    figures.push(Figure::new(
        "  writes/held/waited",
        workers_row(&f.gdal_lock),
    ));
    figures.push(Figure::new("lock, chunkscope's", lock_row(&f.own_lock)));
    figures.push(Figure::new(
        "  writes/held/waited",
        workers_row(&f.own_lock),
    ));
    let (mask, write) = (&f.mask.comparison, &f.write.comparison);
    let mut explanation = vec![
        cause(f),
        format!(
            "Against serial, chunkscope's writer: mask {} ({}), write {} ({}).",
            units::ratio(mask.speedup.value),
            noise_words(mask),
            units::ratio(write.speedup.value),
            noise_words(write)
        ),
    ];
    if let Some(d) = &f.dask {
        figures.push(Figure::new(
            format!("Dask {} px, {}", d.side, d.origin_word()),
            format!(
                "{} writes, {} in them, {} while another wrote",
                d.write_tasks,
                units::duration_ns(d.write_busy_ns),
                units::duration_ns(d.write_overlap_ns)
            ),
        ));
        explanation.push(dask_line(d));
    }
    let bar = |label: &str, t: &Timing| Bar::timing("", label, t);
    Words {
        big: vec![
            Figure::new("write speedup", units::ratio(write.speedup.value)),
            Figure::new("GDAL lock wait", units::share(f.gdal_lock.wait_share())),
            Figure::new("own lock wait", units::share(f.own_lock.wait_share())),
        ],
        figures,
        conclusion: format!("{CHUNKSCOPE}, write+close x {n}: {}", f.writers.verdict),
        explanation,
        decided: Some(f.writers.decided()),
        chart: Some(Chart::Bars(Bars {
            title: format!(
                "tiled GeoTIFF, {} runs each: median, fastest…slowest",
                f.write.serial.n
            ),
            unit: Unit::Nanoseconds,
            bars: vec![
                Bar::timing("mask", "serial", &f.mask.serial),
                bar(&format!("x {n}"), &f.mask.chunked),
                Bar::timing("write+close", "serial", &f.write.serial),
                bar(&format!("x {n} chunkscope's"), &f.write.chunked),
                bar(&format!("x {n} GDAL's"), &f.gdal_write),
            ],
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ms;
    use super::*;
    use crate::lesson::lock::LockHolder;

    fn pair(name: &'static str, serial: &[u64], chunked: &[u64]) -> StagePair {
        let (s, c) = (ms(serial), ms(chunked));
        StagePair {
            name,
            comparison: Comparison::of("serial", &s, "chunked x 2", &c).unwrap(),
            serial: s,
            chunked: c,
        }
    }

    /// Two workers over a 600 ms write stage, holding `held_ms` and waiting `waited_ms` in all.
    fn lock(held_ms: u64, waited_ms: u64) -> WriterLock {
        let holder = |worker| LockHolder {
            worker,
            writes: 2,
            held_ns: held_ms * 500_000,
            waited_ns: waited_ms * 500_000,
        };
        WriterLock {
            holders: vec![holder(0), holder(1)],
            held_ns: held_ms * 1_000_000,
            waited_ns: waited_ms * 1_000_000,
            write_wall_ns: 600_000_000,
        }
    }

    fn figures(own_held_ms: u64) -> MaskWriteFigures {
        let write = pair("write+close", &[900, 910, 905], &[600, 610, 605]);
        let gdal_write = ms(&[800, 810, 805]);
        MaskWriteFigures {
            threads: 2,
            mask: pair("mask", &[100, 101, 102], &[50, 51, 52]),
            writers: Comparison::of(
                "GDAL's writer",
                &gdal_write,
                "chunkscope's writer",
                &write.chunked,
            )
            .unwrap(),
            write,
            gdal_write,
            own_lock: lock(own_held_ms, 6),
            gdal_lock: lock(570, 300),
            dask: None,
        }
    }

    #[test]
    fn the_lessons_writer_waits_under_the_lock_and_chunkscopes_does_not() {
        let w = describe(&figures(60));
        assert_eq!(
            w.conclusion,
            "chunkscope's engine, write+close x 2: chunkscope's writer is 1.33x faster than GDAL's \
             writer, beyond the noise (every run of it was faster)"
        );
        assert_eq!(
            w.explanation[0],
            "GDAL's writer (the lesson's to_raster with lock=Lock()) writes each tile under \
             the lock: held 95 % of the write, waited 300 ms (25 %); chunkscope's prepares \
             tiles outside it, places them under it: held 10 %, waited 6.00 ms (0.5 %)."
        );
        assert_eq!(
            w.explanation[1],
            "Against serial, chunkscope's writer: mask 1.98x (beyond the noise), write 1.50x \
             (beyond the noise)."
        );
        assert_eq!(w.explanation.len(), 2, "no Dask recording on this grid");
        assert_eq!(
            w.figures[6].value,
            "w0 2/285 ms/150 ms · w1 2/285 ms/150 ms"
        );
        let Some(Chart::Bars(bars)) = &w.chart else {
            panic!()
        };
        assert_eq!(bars.bars.len(), 5);
        assert_eq!(bars.bars[4].label, "x 2 GDAL's");
    }

    #[test]
    fn a_writer_that_holds_the_lock_as_long_says_why() {
        let w = describe(&figures(590));
        assert!(
            w.explanation[0].ends_with(
                "; here it held the lock no less than GDAL's, so the difference is not there."
            ),
            "{}",
            w.explanation[0]
        );
    }

    #[test]
    fn dasks_live_writes_are_labelled_as_live() {
        let mut f = figures(60);
        let rec = dask::recorded(1024, dask::RECORDED_GRID, dask::RECORDED_GRID);
        f.dask = rec.map(|d| dask::as_live(d, 2048, 3));
        let w = describe(&f);
        assert!(
            w.explanation[2].starts_with("Dask, live (dask 2026.8.0, 2 threads, this machine"),
            "{}",
            w.explanation[2]
        );
        assert!(w.figures.iter().any(|f| f.label == "Dask 2048 px, live"));
    }

    #[test]
    fn dasks_recorded_writes_are_labelled_as_recorded() {
        let mut f = figures(60);
        f.dask = dask::recorded(1024, dask::RECORDED_GRID, dask::RECORDED_GRID);
        let w = describe(&f);
        assert!(
            w.explanation[2].starts_with("Dask, recorded (dask 2026.8.0, 2 threads"),
            "{}",
            w.explanation[2]
        );
        assert!(w.explanation[2].contains(": 36 write tasks at 1024 px,"));
    }
}
