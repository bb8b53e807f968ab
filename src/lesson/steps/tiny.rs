//! Tiny chunks lose: a quarter block against the lesson's chunks, blocks shared, so that
//! only the number of tasks changes; the loss split into its measured causes, with Dask's
//! recorded per-task cost beside it.

use crate::convert;
use crate::experiment::rounds::{PlanFigures, RunBase, RunSample};
use crate::pipeline::BlockSharing;
use crate::profile::stats::{self, Timing};
use crate::profile::units;
use crate::task::Stage;

use super::super::NamedPlan;
use super::super::chart::{Bar, Bars, Chart, Unit};
use super::super::dask::DaskFigures;
use super::super::verdict::{Comparison, with_spread};
use super::{
    CHUNKSCOPE, ChunkRequest, Context, Figure, LessonError, StepResult, Trial, Words, named,
    no_time, timing,
};

/// One chunked side of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Side {
    /// `256 px x 2`, `blocks:2 x 2`.
    pub label: String,
    pub plan: PlanFigures,
    pub total: Timing,
    pub load: Timing,
    /// Medians per thread over the runs.
    pub scheduling_ns: u64,
    pub write_wait_ns: u64,
    /// Scheduling per task, µs (median over the runs).
    pub per_task_us: f64,
    /// Read amplification the runs measured (the plan's when not measured).
    pub decoded: f64,
}

/// What the tiny-chunks step measured.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TinyFigures {
    /// Tiny chunk side and block side, pixels.
    pub side: usize,
    pub block: usize,
    /// The lesson's chunks, as written.
    pub good_chunks: String,
    pub serial: Timing,
    pub tiny: Side,
    pub good: Side,
    /// Tiny against the lesson's chunks (the conclusion's) and against serial.
    pub vs_good: Comparison,
    pub vs_serial: Comparison,
    /// Dask's figures for these chunks, recorded on the full demo or live, if any.
    pub dask: Option<DaskFigures>,
    /// Live only: Dask's figures for the lesson's chunks, so that Dask's own tiny-chunk
    /// loss is measured too.
    pub dask_good: Option<DaskFigures>,
}

impl TinyFigures {
    /// Dask's tiny chunks against its lesson chunks, whole runs, when both ran live.
    fn dask_vs_good(&self) -> Option<Comparison> {
        let (t, g) = (self.dask.as_ref()?, self.dask_good.as_ref()?);
        Comparison::of(
            &format!("Dask {}", self.good_chunks),
            g.wall.as_ref()?,
            &format!("Dask {} px", self.side),
            t.wall.as_ref()?,
        )
    }
}

impl TinyFigures {
    /// Tiny minus good, by median total.
    fn loss_ns(&self) -> i64 {
        convert::signed_diff(self.tiny.total.median_ns, self.good.total.median_ns)
    }

    /// The loss's measured causes: name and tiny minus good.
    fn causes(&self) -> [(&'static str, i64); 3] {
        let delta = convert::signed_diff;
        let (t, g) = (&self.tiny, &self.good);
        [
            (
                "scheduling (task overhead)",
                delta(t.scheduling_ns, g.scheduling_ns),
            ),
            (
                "read amplification (load)",
                delta(t.load.median_ns, g.load.median_ns),
            ),
            (
                "writer wait (one writer)",
                delta(t.write_wait_ns, g.write_wait_ns),
            ),
        ]
    }
}

pub(super) fn run(ctx: &Context<'_>, out: &mut StepResult) -> Result<(), LessonError> {
    let (f, tiny, good) = measure(ctx)?;
    out.say(describe(&f));
    out.plans = vec![
        NamedPlan {
            label: tiny.to_string(),
            plan: f.tiny.plan.clone(),
        },
        NamedPlan {
            label: good.to_string(),
            plan: f.good.plan.clone(),
        },
    ];
    out.timings = vec![
        named("serial", f.serial.clone()),
        named(f.tiny.label.clone(), f.tiny.total.clone()),
        named(f.good.label.clone(), f.good.total.clone()),
    ];
    out.comparisons = vec![f.vs_good.clone(), f.vs_serial.clone()];
    out.comparisons.extend(f.dask_vs_good());
    Ok(())
}

fn measure(ctx: &Context<'_>) -> Result<(TinyFigures, ChunkRequest, ChunkRequest), LessonError> {
    let b = ctx.block_side()?;
    // Tiny chunks of a quarter block (256 pixels against 1024-pixel blocks) that share
    // their blocks without straddling them, and blocks shared by the load (each decoded
    // once): only the number of tasks changes against the good chunks.
    let side = (b / 4).max(8);
    let tiny = ChunkRequest::Square(side);
    let good = ctx.lesson.chunks();
    let tiny_plan = ctx.plan(&tiny)?;
    let good_plan = ctx.plan(&good)?;
    let dask = ctx.dask_figures(&tiny, &tiny_plan, side)?;
    // Live, Dask runs the lesson's chunks too: its own loss, beside chunkscope's.
    let dask_good = match &dask {
        Some(d) if d.wall.is_some() => ctx.dask_figures(&good, &good_plan, side)?,
        _ => None,
    };
    let trials = [
        Trial::serial(),
        ctx.chunked(tiny.clone()),
        ctx.chunked(good.clone()),
    ];
    let shared = RunBase {
        blocks: BlockSharing::Shared,
        ..ctx.base.clone()
    };
    let (samples, extra) = ctx.rounds_on(&shared, &ctx.scene, &trials)?;
    let n = ctx.threads();
    let med = |v: &[u64]| stats::median(v).unwrap_or(0);
    let per_task_us = |s: &[RunSample]| {
        stats::median_f64(
            &s.iter()
                .map(|r| r.task_overhead_per_task_us)
                .collect::<Vec<_>>(),
        )
        .unwrap_or(0.0)
    };
    let side_of = |i: usize, label: String, plan: PlanFigures| -> Result<Side, LessonError> {
        Ok(Side {
            label,
            total: timing(&samples[i], None)?,
            load: timing(&samples[i], Some(Stage::Load))?,
            scheduling_ns: med(&extra[i].scheduling_ns),
            write_wait_ns: med(&extra[i].write_wait_ns),
            per_task_us: per_task_us(&samples[i]),
            decoded: samples[i]
                .first()
                .and_then(|r| r.read_amplification_measured)
                .unwrap_or(plan.read_amplification),
            plan,
        })
    };
    let t = side_of(1, format!("{side} px x {n}"), tiny_plan)?;
    let g = side_of(2, format!("{good} x {n}"), good_plan)?;
    let serial = timing(&samples[0], None)?;
    let vs_serial = Comparison::of("serial", &serial, &t.label, &t.total).ok_or_else(no_time)?;
    let vs_good = Comparison::of(&g.label, &g.total, &t.label, &t.total).ok_or_else(no_time)?;
    let f = TinyFigures {
        side,
        block: b,
        good_chunks: good.to_string(),
        serial,
        tiny: t,
        good: g,
        vs_good,
        vs_serial,
        dask,
        dask_good,
    };
    Ok((f, tiny, good))
}

fn signed(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "+" };
    format!("{sign}{}", units::duration_ns(ns.unsigned_abs()))
}

/// Share of Dask's threads' time outside its tasks from which the step says that task
/// overhead is what hurts (the recordings: 49 % at 256 px, 19 % at 1024 px).
const DASK_OVERHEAD_HURTS: f64 = 0.25;

/// The explanation with Dask's line first when Dask's own loss was measured: the line a
/// small screen keeps is then the lesson's claim on the lesson's engine.
fn dask_first(measured: bool, mut lines: Vec<String>) -> Vec<String> {
    if measured && lines.len() > 1 {
        lines.swap(0, 1);
    }
    lines
}

fn dask_per_task(d: &DaskFigures) -> String {
    units::duration_ns(convert::us_to_ns(d.cost.overhead_us))
}

pub(super) fn describe(f: &TinyFigures) -> Words {
    let (t, g) = (&f.tiny, &f.good);
    let (side, b, good) = (f.side, f.block, &f.good_chunks);
    let loss = f.loss_ns();
    let causes = f.causes();
    let explained: i64 = causes.iter().map(|c| c.1).sum();
    let mut figures = vec![
        Figure::new("serial", with_spread(&f.serial)).charted(),
        Figure::new(
            format!("{} ({} chunks)", t.label, t.plan.chunk_count),
            with_spread(&t.total),
        )
        .charted(),
        Figure::new(
            format!("{} ({} chunks)", g.label, g.plan.chunk_count),
            with_spread(&g.total),
        )
        .charted(),
        Figure::new(
            format!("{} vs {}", t.label, g.label),
            format!(
                "{} slower by median, split by cause (per thread):",
                signed(loss)
            ),
        ),
        Figure::new(
            format!("  {}", causes[0].0),
            format!(
                "{}  ({} µs per task vs {} µs)",
                signed(causes[0].1),
                units::number(t.per_task_us),
                units::number(g.per_task_us)
            ),
        ),
        Figure::new(
            format!("  {}", causes[1].0),
            format!(
                "{}  ({} vs {} decoded, blocks shared)",
                signed(causes[1].1),
                units::ratio(t.decoded),
                units::ratio(g.decoded)
            ),
        ),
        Figure::new(format!("  {}", causes[2].0), signed(causes[2].1)),
        Figure::new("  not split", signed(loss - explained)),
    ];
    if let Some(d) = &f.dask {
        figures.push(Figure::new(
            format!("Dask at {} px, {}", d.side, d.origin_word()),
            format!(
                "{} per task outside tasks ({} of its threads' time)",
                dask_per_task(d),
                units::share(d.overhead_share)
            ),
        ));
    }
    let dask_loss = f.dask_vs_good();
    let dask_walls = match (&f.dask, &f.dask_good) {
        (Some(t), Some(g)) => t.wall.as_ref().zip(g.wall.as_ref()).map(|w| (t, g, w)),
        _ => None,
    };
    if let Some((dt, dg, (tw, gw))) = dask_walls {
        figures.push(
            Figure::new(
                format!("Dask {} px ({} chunks), live", dt.side, dt.chunks),
                with_spread(tw),
            )
            .charted(),
        );
        figures.push(
            Figure::new(
                format!("Dask {good} ({} chunks), live", dg.chunks),
                with_spread(gw),
            )
            .charted(),
        );
    }
    let biggest = causes.iter().max_by_key(|c| c.1).map_or("", |c| c.0);
    let vs_good = &f.vs_good;
    let conclusion = if vs_good.decided() && vs_good.speedup.value < 1.0 {
        format!(
            "{CHUNKSCOPE}, {side} px: {}; largest measured cause: {biggest}",
            vs_good.verdict
        )
    } else {
        format!("{CHUNKSCOPE}, {side} px vs {good}: {}", vs_good.verdict)
    };
    Words {
        big: vec![
            Figure::new("vs serial", units::ratio(f.vs_serial.speedup.value)),
            Figure::new("chunks", t.plan.chunk_count.to_string()),
            match &f.dask {
                Some(d) => Figure::new("Dask/task", dask_per_task(d)),
                None => Figure::new(
                    "per task",
                    units::duration_ns(convert::us_to_ns(t.per_task_us)),
                ),
            },
        ],
        figures,
        conclusion,
        explanation: dask_first(
            dask_loss.is_some(),
            vec![
                format!(
                    "{} chunks make {} tasks; in chunkscope's engine each cost about {} µs of \
                 scheduling, far below Dask's documented 200 µs-1 ms per task.",
                    t.plan.chunk_count,
                    t.plan.chunk_count * 3,
                    units::number(t.per_task_us)
                ),
                match &f.dask {
                    Some(d) => format!(
                        "Dask, {}: {}{} per task outside its tasks, {} of its threads' time: {}",
                        d.label,
                        dask_loss
                            .as_ref()
                            .map_or(String::new(), |c| format!("{}; ", c.verdict)),
                        dask_per_task(d),
                        units::share(d.overhead_share),
                        if d.overhead_share >= DASK_OVERHEAD_HURTS {
                            format!(
                                "in the lesson's engine task overhead is what hurts at {} px.",
                                d.side
                            )
                        } else {
                            format!(
                                "even in the lesson's engine task overhead took little of the time \
                             at {} px here.",
                                d.side
                            )
                        }
                    ),
                    None => format!(
                        "No Dask stream is recorded for {side} px chunks of this scene: \
                     `chunkscope lesson --live-dask` runs Dask beside this step and measures \
                     its cost per task here."
                    ),
                },
                format!(
                    "{side} px chunks share {b} px blocks without straddling them, and the load \
                 decoded each block once ({} of the pixels; a reader without a block cache \
                 decodes {}); {}",
                    units::ratio(t.decoded),
                    units::ratio(t.plan.read_amplification),
                    if causes[2].1.unsigned_abs() * 10 >= loss.unsigned_abs() {
                        format!(
                            "and the many small writes queued at the one writer ({} of waiting \
                         per thread).",
                            units::duration_ns(t.write_wait_ns)
                        )
                    } else {
                        format!(
                            "the writes barely waited for the one writer ({} per thread).",
                            units::duration_ns(t.write_wait_ns)
                        )
                    }
                ),
            ],
        ),
        decided: Some(vs_good.decided()),
        chart: Some(Chart::Bars(Bars {
            title: format!(
                "whole run, {} runs each: median, fastest…slowest",
                f.serial.n
            ),
            unit: Unit::Nanoseconds,
            bars: {
                let mut bars = vec![
                    Bar::timing("total", "serial", &f.serial),
                    Bar::timing("", format!("{} chunks", t.plan.chunk_count), &t.total),
                    Bar::timing("", format!("{} chunks", g.plan.chunk_count), &g.total),
                ];
                if let Some((dt, dg, (tw, gw))) = dask_walls {
                    bars.push(Bar::timing("Dask", format!("{} chunks", dt.chunks), tw));
                    bars.push(Bar::timing("", format!("{} chunks", dg.chunks), gw));
                }
                bars
            },
        })),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::ms;
    use super::*;
    use crate::chunks::ChunkShape;
    use crate::lesson::dask;

    pub(in crate::lesson) fn plan(side: usize, chunks: usize, amplification: f64) -> PlanFigures {
        PlanFigures {
            shape: ChunkShape {
                bands: 3,
                rows: side,
                cols: side,
            },
            chunk_count: chunks,
            chunk_bytes: (3 * side * side) as u64,
            aligned: true,
            read_amplification: amplification,
            blocks_touched_mean: 1.0,
            notices: Vec::new(),
        }
    }

    fn side(label: &str, plan: PlanFigures, total: &[u64], wait_ms: u64) -> Side {
        Side {
            label: label.into(),
            plan,
            total: ms(total),
            load: ms(&[300, 305, 310]),
            scheduling_ns: 2_000_000,
            write_wait_ns: wait_ms * 1_000_000,
            per_task_us: 3.5,
            decoded: 1.0,
        }
    }

    fn figures(tiny_total: &[u64], wait_ms: u64, dask: Option<DaskFigures>) -> TinyFigures {
        let serial = ms(&[3000, 3010, 3020]);
        let tiny = side("256 px x 2", plan(256, 484, 4.0), tiny_total, wait_ms);
        let good = side("blocks:2 x 2", plan(2048, 9, 1.0), &[1500, 1510, 1520], 1);
        TinyFigures {
            side: 256,
            block: 1024,
            good_chunks: "blocks:2".into(),
            vs_good: Comparison::of(&good.label, &good.total, &tiny.label, &tiny.total).unwrap(),
            vs_serial: Comparison::of("serial", &serial, &tiny.label, &tiny.total).unwrap(),
            serial,
            tiny,
            good,
            dask,
            dask_good: None,
        }
    }

    #[test]
    fn a_decided_loss_names_its_largest_cause_and_the_writer_queue() {
        let w = describe(&figures(&[2500, 2510, 2520], 400, None));
        assert_eq!(
            w.conclusion,
            "chunkscope's engine, 256 px: 256 px x 2 is 1.66x slower than blocks:2 x 2, beyond the noise (every run \
             of it was slower); largest measured cause: writer wait (one writer)"
        );
        assert!(
            w.explanation[2].ends_with("(400 ms of waiting per thread)."),
            "{}",
            w.explanation[2]
        );
        assert!(w.explanation[1].starts_with("No Dask stream is recorded for 256 px"));
        assert_eq!(w.big[2].label, "per task");
        assert_eq!(w.figures[6].value, "+399 ms");
    }

    #[test]
    fn an_undecided_loss_is_said_against_the_lesson_chunks() {
        let w = describe(&figures(&[1490, 1515, 1530], 1, None));
        assert!(
            w.conclusion
                .starts_with("chunkscope's engine, 256 px vs blocks:2: blocks:2 x 2 1.51 s vs"),
            "{}",
            w.conclusion
        );
        assert!(
            w.explanation[2]
                .ends_with("the writes barely waited for the one writer (1.00 ms per thread).")
        );
    }

    #[test]
    fn live_dask_says_whether_its_task_overhead_hurt() {
        let rec = dask::recorded(256, dask::RECORDED_GRID, dask::RECORDED_GRID).expect("shipped");
        let live = dask::as_live(rec, 256, 3);
        // The recording's 49 % of the threads' time outside tasks: what hurts.
        let w = describe(&figures(&[2500, 2510, 2520], 400, Some(live.clone())));
        assert!(
            w.explanation[1].starts_with("Dask, live (dask 2026.8.0"),
            "{}",
            w.explanation[1]
        );
        assert!(
            w.explanation[1]
                .ends_with("in the lesson's engine task overhead is what hurts at 256 px."),
            "{}",
            w.explanation[1]
        );
        assert!(w.figures.iter().any(|f| f.label == "Dask at 256 px, live"));
        // A run where Dask's threads were busy in their tasks 90 % of the time does not.
        let busy = dask::DaskFigures {
            overhead_share: 0.10,
            ..live
        };
        let w = describe(&figures(&[2500, 2510, 2520], 400, Some(busy)));
        assert!(
            w.explanation[1].ends_with("task overhead took little of the time at 256 px here."),
            "{}",
            w.explanation[1]
        );
    }

    #[test]
    fn live_dask_measures_its_own_tiny_chunk_loss_beside_chunkscopes() {
        let rec = dask::recorded(256, dask::RECORDED_GRID, dask::RECORDED_GRID).expect("shipped");
        let good = dask::recorded(1024, dask::RECORDED_GRID, dask::RECORDED_GRID).expect("shipped");
        let mut f = figures(
            &[2500, 2510, 2520],
            400,
            Some(dask::DaskFigures {
                wall: Some(ms(&[9100, 9130, 9200])),
                ..dask::as_live(rec, 256, 3)
            }),
        );
        f.dask_good = Some(dask::DaskFigures {
            wall: Some(ms(&[2950, 2960, 3000])),
            ..dask::as_live(good, 2048, 3)
        });
        let w = describe(&f);
        // First, so that a small screen keeps it.
        assert!(
            w.explanation[0].starts_with(
                "Dask, live (dask 2026.8.0, 2 threads, this machine): Dask 256 px is 3.08x \
                 slower than Dask blocks:2, beyond the noise"
            ),
            "{}",
            w.explanation[0]
        );
        let Some(Chart::Bars(bars)) = &w.chart else {
            panic!()
        };
        let labels: Vec<&str> = bars.bars.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels[3..], ["484 chunks", "36 chunks"], "{labels:?}");
        assert_eq!(bars.bars[3].group, "Dask");
        // Without Dask's lesson chunks (recorded figures), no loss of Dask's is claimed.
        f.dask_good = None;
        let w = describe(&f);
        assert!(
            !w.explanation[1].contains("slower than Dask"),
            "{}",
            w.explanation[1]
        );
    }

    #[test]
    fn a_recorded_dask_stream_is_shown_as_recorded() {
        let d = dask::recorded(256, dask::RECORDED_GRID, dask::RECORDED_GRID);
        let w = describe(&figures(&[2500, 2510, 2520], 400, d));
        assert!(
            w.explanation[1].starts_with("Dask, recorded (dask 2026.8.0"),
            "{}",
            w.explanation[1]
        );
        assert_eq!(w.big[2].label, "Dask/task");
        assert!(
            w.figures
                .iter()
                .any(|f| f.label == "Dask at 256 px, recorded")
        );
    }
}
