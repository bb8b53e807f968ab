//! `chunks="auto"`: Dask's rule (whole blocks up to 128 MiB) for B02 and for the visual.

use crate::catalog::AssetRole;
use crate::chunks::{ChunkPlan, DEFAULT_AUTO_BYTES, RasterLayout};
use crate::experiment::rounds::PlanFigures;
use crate::profile::units;
use crate::raster::{self, RasterSource};

use crate::pipeline::{self, Resolution};
use crate::profile::stats::{self, Timing};
use crate::task::Stage;

use super::super::NamedPlan;
use super::super::chart::{Bar, Bars, Chart, Unit};
use super::super::dask::{self, DaskFigures};
use super::super::verdict::{Comparison, noise_words, with_spread};
use super::{
    CHUNKSCOPE, ChunkRequest, Context, Figure, LessonError, StepResult, Trial, Words, named,
    no_time, timing,
};

/// One stage (or the whole run), serial and chunked at auto.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Timed {
    /// `load`, `mask`, `write` or `total`.
    pub name: &'static str,
    pub serial: Timing,
    pub auto: Timing,
    /// Auto against serial.
    pub comparison: Comparison,
}

/// The blue band's auto plan.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Blue {
    /// Its asset key (`B02`, `blue`).
    pub key: String,
    pub layout: RasterLayout,
    pub plan: PlanFigures,
}

/// What the auto step planned.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AutoFigures {
    pub threads: usize,
    pub visual: PlanFigures,
    /// `None` when the item has no blue band.
    pub blue: Option<Blue>,
    /// Serial against chunked x N at auto on the visual: load, mask, write and the whole run.
    pub stages: [Timed; 3],
    pub total: Timed,
    /// Time idle workers spent encoding another worker's write tiles, median per run.
    pub helping_ns: u64,
    /// Dask's recording at one chunk a block: its write tasks and chunks, to show how it
    /// writes a chunk.
    pub dask: Option<DaskFigures>,
}

pub(super) fn run(ctx: &Context<'_>, out: &mut StepResult) -> Result<(), LessonError> {
    let f = measure(ctx)?;
    out.say(describe(&f));
    let n = f.threads;
    for t in f.stages.iter().chain([&f.total]) {
        out.timings
            .push(named(format!("{} serial", t.name), t.serial.clone()));
        out.timings
            .push(named(format!("{} auto x {n}", t.name), t.auto.clone()));
    }
    out.comparisons = std::iter::once(&f.total)
        .chain(&f.stages)
        .map(|t| t.comparison.clone())
        .collect();
    out.plans.push(NamedPlan {
        label: "visual auto".into(),
        plan: f.visual,
    });
    if let Some(b) = f.blue {
        out.plans.push(NamedPlan {
            label: format!("{} auto", b.key),
            plan: b.plan,
        });
    }
    Ok(())
}

fn measure(ctx: &Context<'_>) -> Result<AutoFigures, LessonError> {
    let auto = ChunkRequest::default();
    let item = &ctx.lesson.catalog.items[ctx.lesson.item];
    let visual = ctx.plan(&auto)?;
    let blue = match item.asset(AssetRole::Blue) {
        Ok(asset) => {
            let src = RasterSource::new(
                format!("asset \"{}\" of item \"{}\"", asset.key, item.id),
                asset.gdal_path.clone(),
            );
            let info =
                raster::inspect(&src).map_err(|e| LessonError::failed("the blue band", e))?;
            let layout = info.layout(None).ok_or_else(|| {
                LessonError::failed(format!("asset \"{}\"", asset.key), "it has no block layout")
            })?;
            let plan = ChunkPlan::new(layout, &auto)
                .map_err(|e| LessonError::failed("the blue band's plan", e))?;
            Some(Blue {
                key: asset.key.clone(),
                layout,
                plan: PlanFigures::from(&plan.summary()),
            })
        }
        Err(_) => None,
    };
    let n = ctx.threads().get();
    let trials = [Trial::serial(), ctx.chunked(auto)];
    let (samples, extra) = ctx.rounds(&ctx.scene, &trials)?;
    let label = format!("auto x {n}");
    let timed = |name: &'static str, stage: Option<Stage>| -> Result<Timed, LessonError> {
        let serial = timing(&samples[0], stage)?;
        let auto = timing(&samples[1], stage)?;
        Ok(Timed {
            name,
            comparison: Comparison::of("serial", &serial, &label, &auto).ok_or_else(no_time)?,
            serial,
            auto,
        })
    };
    let grid = pipeline::prepare(&ctx.scene, Resolution::R20, None)
        .map_err(|e| LessonError::failed("the scene", e))?
        .grid;
    Ok(AutoFigures {
        threads: n,
        visual,
        blue,
        stages: [
            timed("load", Some(Stage::Load))?,
            timed("mask", Some(Stage::Mask))?,
            timed("write", Some(Stage::Write))?,
        ],
        total: timed("total", None)?,
        helping_ns: stats::median(&extra[1].helping_ns).unwrap_or(0),
        dask: dask::recorded(dask::LESSON_SIDE, grid.rows, grid.cols),
    })
}

fn shape(p: &PlanFigures) -> String {
    format!("({}, {}, {})", p.shape.bands, p.shape.rows, p.shape.cols)
}

fn plan_row(p: &PlanFigures) -> String {
    format!(
        "{}: {} chunk(s) of {}, {}",
        shape(p),
        p.chunk_count,
        units::bytes(p.chunk_bytes),
        if p.aligned {
            "whole blocks"
        } else {
            "not aligned"
        }
    )
}

/// `load 1.02x (inside the noise)`.
fn against_serial(t: &Timed) -> String {
    format!(
        "{} {} ({})",
        t.name,
        units::ratio(t.comparison.speedup.value),
        noise_words(&t.comparison)
    )
}

/// What the threads had to do at auto, from the chunk count and the stages' speedups.
fn visual_line(f: &AutoFigures) -> String {
    let (v, n) = (&f.visual, f.threads);
    let grid_bytes = v.chunk_bytes.saturating_mul(v.chunk_count as u64);
    let size = format!(
        "The visual at 20 m is {}, {} 128 MiB",
        units::bytes(grid_bytes),
        if grid_bytes <= DEFAULT_AUTO_BYTES {
            "under"
        } else {
            "over"
        }
    );
    let [load, mask, _] = &f.stages;
    if v.chunk_count < n {
        format!(
            "{size}: auto makes {} chunk(s) for {n} threads, so load and mask ran {} task(s) \
             each and {} thread(s) had none: {}, {} against serial.",
            v.chunk_count,
            v.chunk_count,
            n - v.chunk_count,
            against_serial(load),
            against_serial(mask)
        )
    } else {
        format!(
            "{size}: auto makes {} chunks, enough for {n} threads: {}, {} against serial.",
            v.chunk_count,
            against_serial(load),
            against_serial(mask)
        )
    }
}

/// The write's part, and how the engines write a chunk.
fn write_line(f: &AutoFigures) -> String {
    let write = &f.stages[2];
    let sped = write.comparison.decided() && write.comparison.speedup.value > 1.0;
    let dask = f.dask.as_ref().map_or(String::new(), |d| {
        format!(
            "; Dask writes a chunk in one task ({} writes for {} chunks in its recording)",
            d.write_tasks, d.chunks
        )
    });
    if sped && f.helping_ns > 0 {
        format!(
            "The {}: chunkscope's writer has idle workers encode a chunk's tiles ({} of help \
             a run), so even few chunks write on every thread{dask}.",
            against_serial(write),
            units::duration_ns(f.helping_ns)
        )
    } else {
        format!(
            "The {} against serial; idle workers helped the writes for {} a run{dask}.",
            against_serial(write),
            units::duration_ns(f.helping_ns)
        )
    }
}

pub(super) fn describe(f: &AutoFigures) -> Words {
    let (visual, n) = (&f.visual, f.threads);
    let side = |p: &PlanFigures| format!("{}x{}", p.shape.rows, p.shape.cols);
    // Dask's rule is the claim's and the B02 line's to say: the rows are the plans and times.
    let mut figures = Vec::new();
    if let Some(b) = &f.blue {
        figures.push(Figure::new(format!("{} (10 m)", b.key), plan_row(&b.plan)));
    }
    figures.push(Figure::new("visual (20 m grid)", plan_row(visual)));
    for t in f.stages.iter().chain([&f.total]) {
        figures.push(
            Figure::new(
                format!("{} serial / auto x {n}", t.name),
                format!(
                    "{} / {}",
                    with_spread(&t.serial),
                    units::duration_ns(t.auto.median_ns)
                ),
            )
            .charted(),
        );
    }
    let mut big = match &f.blue {
        Some(b) => vec![Figure::new(b.key.clone(), side(&b.plan))],
        None => Vec::new(),
    };
    big.push(Figure::new("visual", side(visual)));
    big.push(Figure::new(
        "vs serial",
        units::ratio(f.total.comparison.speedup.value),
    ));
    let shapes = match &f.blue {
        Some(b) => format!(
            "{} for {}, {} for the visual",
            shape(&b.plan),
            b.key,
            shape(visual)
        ),
        None => format!("{} for the visual (no blue band)", shape(visual)),
    };
    // The claim the step checks (idle workers) first: it is the cause a short screen keeps.
    let mut explanation = vec![visual_line(f), write_line(f)];
    if let Some(b) = &f.blue {
        let l = &b.layout;
        explanation.push(format!(
            "auto gives {shapes}: {} is {} x {} of {}-byte samples in {} px blocks, and {} x {} \
             blocks ({}) are the most that fit in 128 MiB.",
            b.key,
            l.cols,
            l.rows,
            l.dtype_bytes,
            l.block_rows,
            b.plan.shape.rows / l.block_rows.max(1),
            b.plan.shape.cols / l.block_cols.max(1),
            units::bytes(b.plan.chunk_bytes)
        ));
    }
    let mut bars = Vec::new();
    for t in &f.stages {
        bars.push(Bar::timing(t.name, "serial", &t.serial));
        bars.push(Bar::timing("", format!("auto x {n}"), &t.auto));
    }
    Words {
        big,
        figures,
        conclusion: format!(
            "{CHUNKSCOPE}, auto x {n} ({} chunk(s) on the visual): {}",
            visual.chunk_count, f.total.comparison.verdict
        ),
        explanation,
        decided: Some(f.total.comparison.decided()),
        chart: Some(Chart::Bars(Bars {
            title: format!("{} runs each: median, fastest…slowest", f.total.serial.n),
            unit: Unit::Nanoseconds,
            bars,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ms;
    use super::super::tiny::tests::plan;
    use super::*;
    use crate::chunks::Interleave;

    fn blue() -> Blue {
        let mut p = plan(8192, 4, 1.0);
        p.shape.bands = 1;
        p.chunk_bytes = 8192 * 8192 * 2;
        Blue {
            key: "B02".into(),
            layout: RasterLayout {
                rows: 10980,
                cols: 10980,
                block_rows: 1024,
                block_cols: 1024,
                dtype_bytes: 2,
                bands: 1,
                interleave: Interleave::Band,
            },
            plan: p,
        }
    }

    fn timed(name: &'static str, serial: &[u64], auto: &[u64]) -> Timed {
        let (s, a) = (ms(serial), ms(auto));
        Timed {
            name,
            comparison: Comparison::of("serial", &s, "auto x 2", &a).unwrap(),
            serial: s,
            auto: a,
        }
    }

    fn figures(visual: PlanFigures, write_auto: &[u64], helping_ns: u64) -> AutoFigures {
        AutoFigures {
            threads: 2,
            visual,
            blue: Some(blue()),
            stages: [
                timed("load", &[400, 405, 410], &[395, 405, 415]),
                timed("mask", &[100, 101, 102], &[99, 101, 103]),
                timed("write", &[2000, 2010, 2020], write_auto),
            ],
            total: timed("total", &[2600, 2610, 2620], &[1700, 1705, 1710]),
            helping_ns,
            dask: None,
        }
    }

    #[test]
    fn one_chunk_idles_load_and_mask_while_the_write_uses_every_thread() {
        let w = describe(&figures(
            plan(5490, 1, 1.0),
            &[1200, 1205, 1210],
            900_000_000,
        ));
        assert_eq!(
            w.conclusion,
            "chunkscope's engine, auto x 2 (1 chunk(s) on the visual): auto x 2 is 1.53x faster \
             than serial, beyond the noise (every run of it was faster)"
        );
        assert_eq!(
            w.explanation[2],
            "auto gives (1, 8192, 8192) for B02, (3, 5490, 5490) for the visual: B02 is 10980 x \
             10980 of 2-byte samples in 1024 px blocks, and 8 x 8 blocks (128 MiB) are the most \
             that fit in 128 MiB."
        );
        assert_eq!(
            w.explanation[0],
            "The visual at 20 m is 86.2 MiB, under 128 MiB: auto makes 1 chunk(s) for 2 \
             threads, so load and mask ran 1 task(s) each and 1 thread(s) had none: load 1.00x \
             (inside the noise), mask 1.00x (inside the noise) against serial."
        );
        assert_eq!(
            w.explanation[1],
            "The write 1.67x (beyond the noise): chunkscope's writer has idle workers encode a \
             chunk's tiles (900 ms of help a run), so even few chunks write on every thread."
        );
        let Some(Chart::Bars(bars)) = &w.chart else {
            panic!()
        };
        assert_eq!(bars.bars.len(), 6);
    }

    #[test]
    fn many_chunks_keep_the_threads_busy_and_an_unhelped_write_is_said() {
        let mut f = figures(plan(2048, 9, 1.0), &[1990, 2010, 2030], 0);
        f.blue = None;
        f.dask = dask::recorded(1024, dask::RECORDED_GRID, dask::RECORDED_GRID);
        let w = describe(&f);
        assert!(w.conclusion.contains("(9 chunk(s) on the visual)"));
        assert_eq!(w.explanation.len(), 2);
        assert!(
            w.explanation[0].contains("auto makes 9 chunks, enough for 2 threads: load"),
            "{}",
            w.explanation[0]
        );
        assert_eq!(
            w.explanation[1],
            "The write 1.00x (inside the noise) against serial; idle workers helped the writes \
             for 0 ns a run; Dask writes a chunk in one task (36 writes for 36 chunks in its \
             recording)."
        );
    }
}
