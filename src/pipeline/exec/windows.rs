//! The windows a run reads: a chunk's window of the working grid, the SCL window under
//! it, and the block stores that count how many chunks touch each block. Pure but for
//! the rasters' block layouts, which [`super::super::prepare`] has read.

use std::sync::Arc;

use crate::chunks::Chunk;
use crate::pipeline::blocks::{BlockGrid, BlockStore, Gauge};
use crate::pipeline::{Mode, PipelineError, Prepared, RunConfig};
use crate::raster::{self, Window};

/// The window of the SCL (on its own grid) that `window` of the working grid needs: the
/// same at 20 m; at 10 m each SCL pixel covers `factor` x `factor` grid pixels.
pub(super) fn scl_window(window: Window, factor: usize) -> Window {
    let (r0, c0) = (window.row0 / factor, window.col0 / factor);
    Window {
        row0: r0,
        col0: c0,
        rows: (window.row0 + window.rows).div_ceil(factor) - r0,
        cols: (window.col0 + window.cols).div_ceil(factor) - c0,
    }
}

/// The window of the working grid that `chunk` covers (all its bands).
pub(super) fn window_of(chunk: &Chunk) -> Window {
    Window {
        row0: chunk.row0,
        col0: chunk.col0,
        rows: chunk.rows,
        cols: chunk.cols,
    }
}

/// The block stores of a run: one for each asset, counting the chunks that touch each
/// block (the whole grid, for a serial run).
pub(super) fn block_stores(
    config: &RunConfig,
    prepared: &Prepared,
    gauge: &Arc<Gauge>,
) -> Result<(BlockStore, BlockStore), PipelineError> {
    let layout = |info: &raster::RasterInfo, level, what: &str| {
        info.layout(level).ok_or_else(|| PipelineError::Input {
            what: what.to_string(),
            path: String::new(),
            reason: "has no block layout at the level read".to_string(),
        })
    };
    let visual = layout(
        &prepared.visual,
        prepared.visual_overview,
        "the visual asset",
    )?;
    let scl = layout(&prepared.scl, prepared.scl_overview, "the SCL asset")?;
    let g = prepared.grid;
    let whole = [Window {
        row0: 0,
        col0: 0,
        rows: g.rows,
        cols: g.cols,
    }];
    let windows: Vec<Window> = match &prepared.plan {
        Some(plan) if !matches!(config.mode, Mode::Serial) => {
            plan.chunks.iter().map(window_of).collect()
        }
        _ => whole.to_vec(),
    };
    let f = prepared.scl_factor.max(1);
    Ok((
        BlockStore::new(
            config.blocks,
            BlockGrid::of(&visual),
            windows.iter().copied(),
            Arc::clone(gauge),
        ),
        BlockStore::new(
            config.blocks,
            BlockGrid::of(&scl),
            windows.iter().map(|&w| scl_window(w, f)),
            Arc::clone(gauge),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Rows (or columns) `start..start + len` of the grid mapped to the SCL's: pixel `i`
    /// lies in SCL pixel `i / factor`.
    fn scl_span(start: usize, len: usize, factor: usize) -> Vec<usize> {
        let set: BTreeSet<usize> = (start..start + len).map(|i| i / factor).collect();
        set.into_iter().collect()
    }

    #[test]
    fn the_scl_window_holds_exactly_the_scl_pixels_under_the_grid_window() {
        for factor in 1..=3 {
            for row0 in 0..7 {
                for rows in 1..7 {
                    for (col0, cols) in [(0, 1), (1, 2), (4, 3), (5, 8)] {
                        let w = Window {
                            row0,
                            col0,
                            rows,
                            cols,
                        };
                        let s = scl_window(w, factor);
                        let got_rows: Vec<usize> = (s.row0..s.row0 + s.rows).collect();
                        let got_cols: Vec<usize> = (s.col0..s.col0 + s.cols).collect();
                        assert_eq!(got_rows, scl_span(row0, rows, factor), "{w:?} x{factor}");
                        assert_eq!(got_cols, scl_span(col0, cols, factor), "{w:?} x{factor}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_chunk_window_is_its_rows_and_columns_whatever_its_bands() {
        let chunk = Chunk {
            index: 7,
            band0: 1,
            bands: 2,
            row0: 3,
            rows: 4,
            col0: 5,
            cols: 6,
        };
        let expected = Window {
            row0: 3,
            col0: 5,
            rows: 4,
            cols: 6,
        };
        assert_eq!(window_of(&chunk), expected);
    }
}
