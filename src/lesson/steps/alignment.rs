//! Chunks aligned with the blocks vs not: one block against the lesson's 1000-on-1024
//! example, both decoding per task.

use crate::experiment::rounds::PlanFigures;
use crate::profile::stats::Timing;
use crate::profile::units;
use crate::task::Stage;

use super::super::NamedPlan;
use super::super::chart::{Bar, Bars, Chart, Unit};
use super::super::verdict::{Comparison, with_spread};
use super::{
    CHUNKSCOPE, ChunkRequest, Context, Figure, LessonError, StepResult, Words, named, no_time,
    timing,
};

/// One side: its chunk side, plan and timings.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Side {
    /// Chunk side, pixels.
    pub side: usize,
    pub plan: PlanFigures,
    pub load: Timing,
    pub total: Timing,
    /// Read amplification the runs measured (decoding per task), if measured.
    pub decoded: Option<f64>,
}

impl Side {
    fn label(&self) -> String {
        format!("{} px", self.side)
    }
}

/// What the alignment step measured.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AlignmentFigures {
    pub aligned: Side,
    pub misaligned: Side,
    /// Aligned against misaligned, load and whole run.
    pub load: Comparison,
    pub total: Comparison,
}

pub(super) fn run(ctx: &Context<'_>, out: &mut StepResult) -> Result<(), LessonError> {
    let f = measure(ctx)?;
    out.say(describe(&f));
    let (a, m) = (&f.aligned, &f.misaligned);
    out.plans = vec![
        NamedPlan {
            label: ChunkRequest::Square(a.side).to_string(),
            plan: a.plan.clone(),
        },
        NamedPlan {
            label: ChunkRequest::Square(m.side).to_string(),
            plan: m.plan.clone(),
        },
    ];
    out.timings = vec![
        named(format!("{} load", a.label()), a.load.clone()),
        named(format!("{} load", m.label()), m.load.clone()),
        named(format!("{} total", a.label()), a.total.clone()),
        named(format!("{} total", m.label()), m.total.clone()),
    ];
    out.comparisons = vec![f.load, f.total];
    Ok(())
}

fn measure(ctx: &Context<'_>) -> Result<AlignmentFigures, LessonError> {
    let b = ctx.block_side()?;
    // The lesson's misaligned example: 1000-pixel chunks on 1024-pixel blocks.
    let off = (b * 1000 / 1024).max(1);
    let requests = [ChunkRequest::Square(b), ChunkRequest::Square(off)];
    let trials = requests.clone().map(|r| ctx.chunked(r));
    let (samples, _) = ctx.rounds(&ctx.scene, &trials)?;
    let mut sides = Vec::with_capacity(2);
    for (i, (side, request)) in [b, off].into_iter().zip(&requests).enumerate() {
        sides.push(Side {
            side,
            plan: ctx.plan(request)?,
            load: timing(&samples[i], Some(Stage::Load))?,
            total: timing(&samples[i], None)?,
            decoded: samples[i]
                .first()
                .and_then(|r| r.read_amplification_measured),
        });
    }
    let misaligned = sides.pop().ok_or_else(no_time)?;
    let aligned = sides.pop().ok_or_else(no_time)?;
    let (a, m) = (aligned.label(), misaligned.label());
    Ok(AlignmentFigures {
        load: Comparison::of(&m, &misaligned.load, &a, &aligned.load).ok_or_else(no_time)?,
        total: Comparison::of(&m, &misaligned.total, &a, &aligned.total).ok_or_else(no_time)?,
        aligned,
        misaligned,
    })
}

/// Whether the two sides differ in alignment alone, said from their plans.
fn alone(f: &AlignmentFigures) -> String {
    let (a, m) = (&f.aligned, &f.misaligned);
    let area = (m.side * m.side) as f64 / (a.side * a.side) as f64;
    if a.plan.chunk_count == m.plan.chunk_count {
        format!(
            "Only alignment changes: both make {} chunks, the {} px ones {} of the area each.",
            a.plan.chunk_count,
            m.side,
            units::share(area)
        )
    } else {
        format!(
            "Not alignment alone on this scene: {} px chunks make {} chunks against {} (the \
             grid's edge), each {} of the area.",
            m.side,
            m.plan.chunk_count,
            a.plan.chunk_count,
            units::share(area)
        )
    }
}

fn yes_no(p: &PlanFigures) -> &'static str {
    if p.aligned { "aligned" } else { "not aligned" }
}

pub(super) fn describe(f: &AlignmentFigures) -> Words {
    let (a, m) = (&f.aligned, &f.misaligned);
    let (pa, pm) = (&a.plan, &m.plan);
    let plan_row = |s: &Side| {
        Figure::new(
            format!("{} plan", s.label()),
            format!(
                "{}, {} chunks, {} blocks touched per chunk, read amplification {}",
                yes_no(&s.plan),
                s.plan.chunk_count,
                units::number(s.plan.blocks_touched_mean),
                units::ratio(s.plan.read_amplification)
            ),
        )
    };
    Words {
        big: vec![
            Figure::new("aligned load", units::duration_ns(a.load.median_ns)),
            Figure::new("misaligned", units::duration_ns(m.load.median_ns)),
            Figure::new("read ampl.", units::ratio(pm.read_amplification)),
        ],
        figures: vec![
            plan_row(a),
            plan_row(m),
            Figure::new(
                format!("{} decoded", m.label()),
                m.decoded.map_or("-".to_string(), |d| {
                    format!("{} (measured, per task)", units::ratio(d))
                }),
            ),
            Figure::new(format!("{} load", a.label()), with_spread(&a.load)).charted(),
            Figure::new(format!("{} load", m.label()), with_spread(&m.load)).charted(),
            Figure::new(format!("{} total", a.label()), with_spread(&a.total)).charted(),
            Figure::new(format!("{} total", m.label()), with_spread(&m.total)).charted(),
            Figure::new("whole run", f.total.verdict.clone()),
        ],
        conclusion: format!("{CHUNKSCOPE}, decoding per task, load: {}", f.load.verdict),
        explanation: vec![
            format!(
                "{} px chunks are {} with {} px blocks: a chunk touches {} blocks on average and \
                 GDAL decodes {} the pixels kept ({} px chunks: {}).",
                m.side,
                yes_no(pm),
                a.side,
                units::number(pm.blocks_touched_mean),
                units::ratio(pm.read_amplification),
                a.side,
                units::ratio(pa.read_amplification)
            ) + " "
                + &alone(f),
            "Both decode per task, as Dask's tasks do; chunkscope's shared blocks (--blocks \
             shared, its default) decode each block once, so misaligned chunks cost it no \
             decoding."
                .to_string(),
        ],
        decided: Some(f.load.decided()),
        chart: Some(Chart::Bars(Bars {
            title: format!(
                "decoding per task, {} runs each: median, fastest…slowest",
                a.load.n
            ),
            unit: Unit::Nanoseconds,
            bars: vec![
                Bar::timing("load", format!("{} px", a.side), &a.load),
                Bar::timing("", format!("{} px", m.side), &m.load),
                Bar::timing("total", format!("{} px", a.side), &a.total),
                Bar::timing("", format!("{} px", m.side), &m.total),
            ],
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ms;
    use super::super::tiny::tests::plan;
    use super::*;

    #[test]
    fn misaligned_chunks_decode_more_and_say_how_much() {
        let mut pm = plan(1000, 36, 1.96);
        pm.aligned = false;
        pm.blocks_touched_mean = 2.8;
        let side = |side, plan, load: &[u64]| Side {
            side,
            plan,
            load: ms(load),
            total: ms(&[2000, 2010, 2020]),
            decoded: Some(1.96),
        };
        let a = side(1024, plan(1024, 36, 1.0), &[400, 405, 410]);
        let m = side(1000, pm, &[700, 705, 710]);
        let f = AlignmentFigures {
            load: Comparison::of("1000 px", &m.load, "1024 px", &a.load).unwrap(),
            total: Comparison::of("1000 px", &m.total, "1024 px", &a.total).unwrap(),
            aligned: a,
            misaligned: m,
        };
        let w = describe(&f);
        assert!(
            w.conclusion
                .starts_with("chunkscope's engine, decoding per task, load: 1024 px is 1.74x faster than 1000 px, beyond the noise"),
            "{}",
            w.conclusion
        );
        assert_eq!(
            w.explanation[0],
            "1000 px chunks are not aligned with 1024 px blocks: a chunk touches 2.80 blocks on \
             average and GDAL decodes 1.96x the pixels kept (1024 px chunks: 1.00x). Only \
             alignment changes: both make 36 chunks, the 1000 px ones 95 % of the area each."
        );
        assert_eq!(w.explanation.len(), 2);
        assert!(w.figures[7].value.contains("inside the noise"));
        let mut f = f;
        f.misaligned.plan.chunk_count = 49;
        assert!(describe(&f).explanation[0].ends_with(
            "Not alignment alone on this scene: 1000 px chunks make 49 chunks against 36 (the \
             grid's edge), each 95 % of the area."
        ));
        assert_eq!(w.figures[2].value, "1.96x (measured, per task)");
    }
}
