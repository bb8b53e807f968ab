//! `chunks="auto"`: Dask's rule (whole blocks up to 128 MiB) for B02 and for the visual.

use crate::catalog::AssetRole;
use crate::chunks::{ChunkPlan, DEFAULT_AUTO_BYTES, RasterLayout};
use crate::experiment::rounds::PlanFigures;
use crate::profile::units;
use crate::raster::{self, RasterSource};

use super::super::NamedPlan;
use super::{ChunkRequest, Context, Figure, LessonError, StepResult, Words};

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
}

pub(super) fn run(ctx: &Context<'_>, out: &mut StepResult) -> Result<(), LessonError> {
    let f = measure(ctx)?;
    out.say(describe(&f));
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
                raster::inspect(&src).map_err(|e| LessonError::failed("the blue band", &e))?;
            let layout = info.layout(None).ok_or_else(|| LessonError::Failed {
                what: format!("asset \"{}\"", asset.key),
                reason: "it has no block layout".into(),
            })?;
            let plan = ChunkPlan::new(layout, &auto)
                .map_err(|e| LessonError::failed("the blue band's plan", &e))?;
            Some(Blue {
                key: asset.key.clone(),
                layout,
                plan: PlanFigures::from(&plan.summary()),
            })
        }
        Err(_) => None,
    };
    Ok(AutoFigures {
        threads: ctx.threads().get(),
        visual,
        blue,
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

pub(super) fn describe(f: &AutoFigures) -> Words {
    let visual = &f.visual;
    let side = |p: &PlanFigures| format!("{}x{}", p.shape.rows, p.shape.cols);
    let mut figures = vec![Figure::new(
        "rule",
        "as many whole blocks as fit in 128 MiB",
    )];
    if let Some(b) = &f.blue {
        figures.push(Figure::new(format!("{} (10 m)", b.key), plan_row(&b.plan)));
    }
    figures.push(Figure::new("visual (20 m grid)", plan_row(visual)));
    let big = match &f.blue {
        Some(b) => vec![
            Figure::new(b.key.clone(), side(&b.plan)),
            Figure::new("visual", side(visual)),
        ],
        None => vec![Figure::new("visual", side(visual))],
    };
    let conclusion = match &f.blue {
        Some(b) => format!(
            "auto gives {} for {} and {} for the visual: a plan, nothing to time",
            shape(&b.plan),
            b.key,
            shape(visual)
        ),
        None => format!(
            "auto gives {} for the visual (this item has no blue band): a plan, nothing to time",
            shape(visual)
        ),
    };
    let grid_bytes = visual.chunk_bytes.saturating_mul(visual.chunk_count as u64);
    let mut explanation = Vec::new();
    if let Some(b) = &f.blue {
        let l = &b.layout;
        explanation.push(format!(
            "{} is {} x {} of {}-byte samples in {} px blocks: {} x {} blocks are the most that \
             fit in 128 MiB, so each chunk is {}.",
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
    explanation.push(format!(
        "The visual at 20 m is {} in all, {} 128 MiB: auto makes {} chunk(s), {}.",
        units::bytes(grid_bytes),
        if grid_bytes <= DEFAULT_AUTO_BYTES {
            "under"
        } else {
            "over"
        },
        visual.chunk_count,
        if visual.chunk_count < f.threads {
            "fewer than the threads, so auto leaves workers idle here"
        } else {
            "enough to keep the threads busy"
        }
    ));
    Words {
        big,
        figures,
        conclusion,
        explanation,
        decided: None,
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn one_chunk_under_128_mib_is_fewer_than_the_threads() {
        let f = AutoFigures {
            threads: 2,
            visual: plan(5490, 1, 1.0),
            blue: Some(blue()),
        };
        let w = describe(&f);
        assert_eq!(
            w.conclusion,
            "auto gives (1, 8192, 8192) for B02 and (3, 5490, 5490) for the visual: a plan, \
             nothing to time"
        );
        assert_eq!(
            w.explanation[0],
            "B02 is 10980 x 10980 of 2-byte samples in 1024 px blocks: 8 x 8 blocks are the \
             most that fit in 128 MiB, so each chunk is 128 MiB."
        );
        assert_eq!(
            w.explanation[1],
            "The visual at 20 m is 86.2 MiB in all, under 128 MiB: auto makes 1 chunk(s), fewer \
             than the threads, so auto leaves workers idle here."
        );
    }

    #[test]
    fn many_chunks_over_128_mib_keep_the_threads_busy_and_no_blue_band_is_said() {
        let f = AutoFigures {
            threads: 2,
            visual: plan(4096, 9, 1.0),
            blue: None,
        };
        let w = describe(&f);
        assert!(w.conclusion.contains("(this item has no blue band)"));
        assert_eq!(w.explanation.len(), 1);
        assert!(w.explanation[0].contains("over 128 MiB: auto makes 9 chunk(s), enough"));
    }
}
