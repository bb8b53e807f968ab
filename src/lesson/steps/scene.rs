//! The scene and its COG blocks: inspection only, nothing timed.

use crate::catalog::AssetRole;
use crate::pipeline::{self, Resolution};
use crate::profile::units;
use crate::raster::{self, RasterInfo, RasterSource};

use super::super::chart::{BlockMap, Chart};
use super::{Context, Figure, LessonError, StepResult, Words};

/// One asset as inspected.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Asset {
    pub name: String,
    pub cols: usize,
    pub rows: usize,
    pub bands: usize,
    pub dtype: String,
    /// Pixel size, metres.
    pub resolution_m: Option<f64>,
    /// The first band's block, [rows, cols] (`r.block_shapes[0]`).
    pub block: Option<[usize; 2]>,
    pub overviews: usize,
    pub cog: bool,
}

impl Asset {
    fn of(name: &str, i: &RasterInfo) -> Self {
        Self {
            name: name.to_string(),
            cols: i.cols,
            rows: i.rows,
            bands: i.bands,
            dtype: i.dtype.clone(),
            resolution_m: i.resolution.map(|r| r[0]),
            block: i.block_shapes.first().copied(),
            overviews: i.overviews.len(),
            cog: i.cog,
        }
    }
}

/// What the scene step measured.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SceneFigures {
    pub visual: Asset,
    pub scl: Asset,
    pub blue: Option<Asset>,
    /// The working grid at 20 m, (cols, rows).
    pub grid: (usize, usize),
    /// The visual's overview the lesson reads, if any.
    pub visual_overview: Option<usize>,
    /// The blocks of what is read of the visual, [rows, cols].
    pub visual_block: [usize; 2],
    /// The lesson's chunks, as written, and their shape (rows, cols).
    pub chunks: String,
    pub chunk: (usize, usize),
}

pub(super) fn run(ctx: &Context<'_>, out: &mut StepResult) -> Result<(), LessonError> {
    let f = measure(ctx)?;
    out.say(describe(&f));
    Ok(())
}

fn measure(ctx: &Context<'_>) -> Result<SceneFigures, LessonError> {
    let item = &ctx.lesson.catalog.items[ctx.lesson.item];
    let prepared = pipeline::prepare(&ctx.scene, Resolution::R20, None)
        .map_err(|e| LessonError::failed("the scene", e))?;
    let blue = item.asset(AssetRole::Blue).ok().and_then(|asset| {
        let src = RasterSource::new(
            format!("asset \"{}\" of item \"{}\"", asset.key, item.id),
            asset.gdal_path.clone(),
        );
        raster::inspect(&src)
            .ok()
            .map(|b| Asset::of(&asset.key, &b))
    });
    let v = &prepared.visual;
    let visual_block = prepared
        .visual_overview
        .and_then(|l| v.overview_blocks.get(l).copied())
        .or_else(|| v.block_shapes.first().copied())
        .unwrap_or([0, 0]);
    Ok(SceneFigures {
        visual: Asset::of("visual", v),
        scl: Asset::of("SCL", &prepared.scl),
        blue,
        grid: (prepared.grid.cols, prepared.grid.rows),
        visual_overview: prepared.visual_overview,
        visual_block,
        chunks: ctx.lesson.chunks().to_string(),
        chunk: {
            let p = ctx.plan(&ctx.lesson.chunks())?;
            (p.shape.rows, p.shape.cols)
        },
    })
}

fn res(a: &Asset) -> String {
    a.resolution_m
        .map_or("?".to_string(), |r| format!("{} m", units::number(r)))
}

fn row(a: &Asset) -> Figure {
    Figure::new(
        a.name.clone(),
        format!(
            "{} x {}, {} x {}, {}, blocks {}, {} overview(s){}",
            a.cols,
            a.rows,
            a.bands,
            a.dtype,
            res(a),
            a.block
                .map_or("none".to_string(), |b| format!("{} x {}", b[0], b[1])),
            a.overviews,
            if a.cog { ", COG" } else { "" }
        ),
    )
}

pub(super) fn describe(f: &SceneFigures) -> Words {
    let (v, s) = (&f.visual, &f.scl);
    let [br, bc] = f.visual_block;
    let (cols, rows) = f.grid;
    let mut figures = vec![row(v), row(s)];
    figures.extend(f.blue.as_ref().map(row));
    figures.push(Figure::new(
        "grid read",
        format!(
            "{cols} x {rows} at 20 m: visual at overview {}, SCL at its own resolution ({})",
            f.visual_overview
                .map_or("none (full)".into(), |l| l.to_string()),
            res(s)
        ),
    ));
    Words {
        big: vec![
            Figure::new("blocks", format!("{br}x{bc}")),
            Figure::new("grid", format!("{cols}x{rows}")),
        ],
        figures,
        conclusion: format!(
            "GDAL, under both engines, decodes whole {br} x {bc} blocks: a chunk should be made \
             of whole blocks (read from the headers, nothing timed)"
        ),
        explanation: vec![
            format!(
                "visual is {} x {} pixels at {}; the lesson reads its overview {} ({cols} x \
                 {rows}), the grid of SCL, which is read as it is at {}.",
                v.cols,
                v.rows,
                res(v),
                f.visual_overview.unwrap_or(0),
                res(s)
            ),
            format!(
                "r.block_shapes says {br} x {bc}: GDAL reads and decompresses a block whole, so \
                 a chunk that cuts a block makes it decode that block once for each chunk."
            ),
        ],
        decided: None,
        chart: Some(Chart::Blocks(BlockMap {
            title: format!(
                "the grid in {br} px blocks; chunks of {} shaded in turn",
                f.chunks
            ),
            blocks: (rows.div_ceil(br.max(1)), cols.div_ceil(bc.max(1))),
            chunk_blocks: (f.chunk.0.div_ceil(br.max(1)), f.chunk.1.div_ceil(bc.max(1))),
        })),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::lesson) fn figures() -> SceneFigures {
        let asset = |name: &str, side: usize, bands: usize, res: f64| Asset {
            name: name.into(),
            cols: side,
            rows: side,
            bands,
            dtype: "uint8".into(),
            resolution_m: Some(res),
            block: Some([1024, 1024]),
            overviews: 4,
            cog: true,
        };
        SceneFigures {
            visual: asset("visual", 10980, 3, 10.0),
            scl: asset("SCL", 5490, 1, 20.0),
            blue: None,
            grid: (5490, 5490),
            visual_overview: Some(0),
            visual_block: [1024, 1024],
            chunks: "blocks:2".into(),
            chunk: (2048, 2048),
        }
    }

    #[test]
    fn the_blocks_read_are_the_conclusion() {
        let w = describe(&figures());
        assert_eq!(
            w.conclusion,
            "GDAL, under both engines, decodes whole 1024 x 1024 blocks: a chunk should be made \
             of whole blocks (read from the headers, nothing timed)"
        );
        let Some(Chart::Blocks(map)) = &w.chart else {
            panic!("{:?}", w.chart)
        };
        // 5490 px in 1024 px blocks: 6 a side, edge blocks included; 2 x 2 per chunk.
        assert_eq!((map.blocks, map.chunk_blocks), ((6, 6), (2, 2)));
        assert_eq!(map.chunk_of(5, 2), (2, 1));
        assert_eq!(w.big[0].value, "1024x1024");
        assert_eq!(
            w.figures[0].value,
            "10980 x 10980, 3 x uint8, 10.0 m, blocks 1024 x 1024, 4 overview(s), COG"
        );
        assert!(w.explanation[0].contains("overview 0 (5490 x 5490)"));
        assert_eq!(w.figures.len(), 3, "no blue band, no row for it");
        assert_eq!(w.decided, None);
    }
}
