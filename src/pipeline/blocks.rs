//! Decoded COG blocks shared by a run's load tasks, so that each block is decoded once
//! however many chunks touch it. Runs on the pool's workers; the store is the run's and is
//! dropped with it, on success, error or cancel alike.
//!
//! Why: a chunk smaller than a block, or one that straddles blocks, needs only part of
//! each block it touches, but GDAL decodes whole blocks. A load task that decodes what it
//! touches and lets it go (as a task-based engine without a block cache does, and as
//! `--blocks per-task` still does) decodes a 1024-pixel block 16 times for 256-pixel
//! chunks. The plan knows exactly which chunks touch which block, so a block is kept only
//! until the last of them has copied its part: memory stays bounded by the blocks with
//! consumers still to come, and the chunk order ([`ordered`]) keeps those few.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gdal::Dataset;
use serde::{Deserialize, Serialize};

use crate::chunks::{Chunk, RasterLayout};
use crate::raster::{self, RasterError, RasterSource, Window};

/// How load tasks get the blocks they need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockSharing {
    /// Each block is decoded once and handed to every chunk that touches it.
    #[default]
    Shared,
    /// Each load task decodes every block it touches and lets it go: what a task-based
    /// engine without a block cache does; blocks shared by chunks are decoded again.
    PerTask,
}

impl BlockSharing {
    pub fn name(self) -> &'static str {
        match self {
            BlockSharing::Shared => "shared",
            BlockSharing::PerTask => "per-task",
        }
    }
}

/// Blocks of one asset: how many the run's chunks need and how many were decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetBlocks {
    /// Distinct blocks the chunks touch.
    pub needed: u64,
    /// Blocks decoded during the run (a block decoded twice counts twice).
    pub decoded: u64,
}

/// What a chunked run did with blocks, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BlockReport {
    pub sharing: BlockSharing,
    /// Decoded samples / samples of the grid, as the plan predicts for a reader that
    /// decodes per task (the plan's `read_amplification`).
    pub read_amplification_planned: f64,
    /// Decoded samples / samples of the grid, counted as the run decoded blocks of the
    /// image: 1.0 when every block was decoded once.
    pub read_amplification_measured: f64,
    pub visual: AssetBlocks,
    pub scl: AssetBlocks,
    /// Most bytes of decoded blocks (both assets) the store held at once (0 for
    /// `per-task`); beside the chunk buffers, what sharing costs in memory.
    pub store_peak_bytes: u64,
    /// Bytes the store still held when the run ended: 0 unless the run was cancelled or a
    /// task failed (they are freed with the run either way).
    pub store_end_bytes: u64,
}

impl BlockReport {
    /// One line for a run's summary, e.g. `blocks shared: 36 decodes for 36 image blocks
    /// (read amplification 1.00x; 3.73x per task) · store peak 8.0 MiB`, in at most `width`
    /// characters where it can (three forms, the shortest 33).
    pub fn describe(&self, width: usize) -> String {
        let long = self.describe_long();
        if long.chars().count() <= width {
            return long;
        }
        let (planned, measured) = (
            crate::profile::units::ratio(self.read_amplification_planned),
            crate::profile::units::ratio(self.read_amplification_measured),
        );
        let medium = match self.sharing {
            BlockSharing::Shared => format!(
                "blocks shared: decoded {measured} (per task {planned}) · store {}",
                crate::profile::units::bytes(self.store_peak_bytes)
            ),
            BlockSharing::PerTask => {
                format!("blocks per task: decoded {measured} (planned {planned})")
            }
        };
        if medium.chars().count() <= width {
            return medium;
        }
        match self.sharing {
            BlockSharing::Shared => format!("blocks: decoded {measured}, {planned}/task"),
            BlockSharing::PerTask => format!("blocks/task: decoded {measured}"),
        }
    }

    fn describe_long(&self) -> String {
        let (planned, measured) = (
            crate::profile::units::ratio(self.read_amplification_planned),
            crate::profile::units::ratio(self.read_amplification_measured),
        );
        let v = self.visual;
        match self.sharing {
            BlockSharing::Shared => format!(
                "blocks shared: {} decodes for {} image blocks (read amplification {measured}; \
                 {planned} per task) · store peak {}",
                v.decoded,
                v.needed,
                crate::profile::units::bytes(self.store_peak_bytes)
            ),
            BlockSharing::PerTask => format!(
                "blocks per task: {} decodes for {} image blocks (read amplification {measured}; \
                 planned {planned})",
                v.decoded, v.needed
            ),
        }
    }
}

/// Bytes of decoded blocks held, now and at most, shared by a run's stores.
#[derive(Debug, Default)]
pub(super) struct Gauge {
    held: AtomicU64,
    peak: AtomicU64,
}

impl Gauge {
    fn add(&self, bytes: u64) {
        let held = self.held.fetch_add(bytes, Ordering::AcqRel) + bytes;
        self.peak.fetch_max(held, Ordering::AcqRel);
    }

    fn sub(&self, bytes: u64) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }

    pub(super) fn held(&self) -> u64 {
        self.held.load(Ordering::Acquire)
    }

    pub(super) fn peak(&self) -> u64 {
        self.peak.load(Ordering::Acquire)
    }
}

/// The block grid of an asset as read (its level's size and block shape).
#[derive(Debug, Clone, Copy)]
pub(super) struct BlockGrid {
    rows: usize,
    cols: usize,
    bands: usize,
    block_rows: usize,
    block_cols: usize,
}

impl BlockGrid {
    pub(super) fn of(layout: &RasterLayout) -> Self {
        Self {
            rows: layout.rows,
            cols: layout.cols,
            bands: layout.bands,
            block_rows: layout.block_rows.max(1),
            block_cols: layout.block_cols.max(1),
        }
    }

    fn across(&self) -> usize {
        self.cols.div_ceil(self.block_cols)
    }

    fn count(&self) -> usize {
        self.rows.div_ceil(self.block_rows) * self.across()
    }

    /// Indices of the blocks `w` touches, row by row.
    fn touched(&self, w: Window) -> impl Iterator<Item = usize> + use<> {
        let across = self.across();
        let (r0, r1) = (
            w.row0 / self.block_rows,
            (w.row0 + w.rows).div_ceil(self.block_rows),
        );
        let (c0, c1) = (
            w.col0 / self.block_cols,
            (w.col0 + w.cols).div_ceil(self.block_cols),
        );
        let empty = w.rows == 0 || w.cols == 0;
        (r0..if empty { r0 } else { r1 }).flat_map(move |r| (c0..c1).map(move |c| r * across + c))
    }

    /// Block `b`'s window, clipped to the raster.
    fn window(&self, b: usize) -> Window {
        let (r, c) = (b / self.across(), b % self.across());
        let (row0, col0) = (r * self.block_rows, c * self.block_cols);
        Window {
            row0,
            col0,
            rows: self.block_rows.min(self.rows - row0),
            cols: self.block_cols.min(self.cols - col0),
        }
    }
}

/// The overlap of two windows (empty when they do not meet).
fn overlap(a: Window, b: Window) -> Window {
    let row0 = a.row0.max(b.row0);
    let col0 = a.col0.max(b.col0);
    let row1 = (a.row0 + a.rows).min(b.row0 + b.rows);
    let col1 = (a.col0 + a.cols).min(b.col0 + b.cols);
    Window {
        row0,
        col0,
        rows: row1.saturating_sub(row0),
        cols: col1.saturating_sub(col0),
    }
}

enum Slot {
    /// Not decoded yet.
    Empty,
    Ready(Arc<Vec<u8>>),
    /// Every consumer has copied its part.
    Released,
}

/// One asset's blocks for one run: which chunks still need each, and those decoded.
pub(super) struct BlockStore {
    sharing: BlockSharing,
    grid: BlockGrid,
    /// Chunks that touch each block, from the plan.
    consumers: Vec<u32>,
    /// Chunks still to copy from each block.
    remaining: Vec<AtomicU32>,
    slots: Vec<Mutex<Slot>>,
    gauge: Arc<Gauge>,
    decoded_blocks: AtomicU64,
    decoded_samples: AtomicU64,
}

impl BlockStore {
    /// A store for an asset read on `grid`, whose chunks read the windows `windows` (one
    /// per chunk, in any order), counting what it holds in `gauge`.
    pub(super) fn new(
        sharing: BlockSharing,
        grid: BlockGrid,
        windows: impl Iterator<Item = Window>,
        gauge: Arc<Gauge>,
    ) -> Self {
        let mut consumers = vec![0u32; grid.count()];
        for w in windows {
            for b in grid.touched(w) {
                consumers[b] = consumers[b].saturating_add(1);
            }
        }
        Self {
            sharing,
            grid,
            remaining: consumers.iter().map(|&n| AtomicU32::new(n)).collect(),
            slots: consumers.iter().map(|_| Mutex::new(Slot::Empty)).collect(),
            consumers,
            gauge,
            decoded_blocks: AtomicU64::new(0),
            decoded_samples: AtomicU64::new(0),
        }
    }

    /// Reads `window` of bands `band0 ..` into `buf` (the window band after band; the band
    /// count is `buf`'s length over the window's pixels). `release` lets go of what GDAL
    /// decoded for `ds`. With `per-task` sharing, or where no other chunk touches a block,
    /// GDAL reads straight into `buf`: block by block for a local file (so GDAL holds one
    /// block at a time), in one request over the network (GDAL merges the ranges). Blocks
    /// other chunks touch too come from the store, decoded by whichever chunk needs them
    /// first.
    pub(super) fn read(
        &self,
        ds: &Dataset,
        source: &RasterSource,
        band0: usize,
        window: Window,
        buf: &mut [u8],
        release: &dyn Fn(),
    ) -> Result<(), RasterError> {
        let shared = |b: usize| self.sharing == BlockSharing::Shared && self.consumers[b] > 1;
        if !source.is_local() && !self.grid.touched(window).any(shared) {
            raster::read_u8_into(ds, source, band0, window, buf)?;
            release();
            for b in self.grid.touched(window) {
                self.count_decoded(b);
            }
            return Ok(());
        }
        for b in self.grid.touched(window) {
            let part = overlap(window, self.grid.window(b));
            if shared(b) {
                let block = self.block(ds, source, b, release)?;
                self.copy_part(&block, b, band0, window, part, buf);
                drop(block);
                self.done_with(b);
            } else {
                raster::read_u8_part(ds, source, band0, window, part, buf)?;
                release();
                self.count_decoded(b);
            }
        }
        Ok(())
    }

    /// Block `b`, decoded now if no chunk has decoded it yet. A worker that needs a block
    /// another is decoding waits for it rather than decoding it again.
    fn block(
        &self,
        ds: &Dataset,
        source: &RasterSource,
        b: usize,
        release: &dyn Fn(),
    ) -> Result<Arc<Vec<u8>>, RasterError> {
        let mut slot = self.slots[b].lock().unwrap_or_else(|p| p.into_inner());
        if let Slot::Ready(block) = &*slot {
            return Ok(Arc::clone(block));
        }
        let w = self.grid.window(b);
        let mut data = vec![0u8; self.grid.bands * w.rows * w.cols];
        raster::read_u8_into(ds, source, 0, w, &mut data)?;
        release();
        self.count_decoded(b);
        self.gauge.add(data.len() as u64);
        let block = Arc::new(data);
        *slot = Slot::Ready(Arc::clone(&block));
        Ok(block)
    }

    /// Copies `part` of bands `band0 ..` from block `b` into `buf`, laid out as `window`.
    fn copy_part(
        &self,
        block: &[u8],
        b: usize,
        band0: usize,
        window: Window,
        part: Window,
        buf: &mut [u8],
    ) {
        let bw = self.grid.window(b);
        let (block_pixels, pixels) = (bw.rows * bw.cols, window.rows * window.cols);
        let bands = buf.len() / pixels.max(1);
        for band in 0..bands {
            for r in 0..part.rows {
                let src_row = part.row0 + r - bw.row0;
                let src = (band0 + band) * block_pixels + src_row * bw.cols + (part.col0 - bw.col0);
                let dst_row = part.row0 + r - window.row0;
                let dst = band * pixels + dst_row * window.cols + (part.col0 - window.col0);
                buf[dst..dst + part.cols].copy_from_slice(&block[src..src + part.cols]);
            }
        }
    }

    /// One consumer of block `b` has its part: the last one lets the block go.
    fn done_with(&self, b: usize) {
        if self.remaining[b].fetch_sub(1, Ordering::AcqRel) == 1 {
            let mut slot = self.slots[b].lock().unwrap_or_else(|p| p.into_inner());
            if let Slot::Ready(block) = std::mem::replace(&mut *slot, Slot::Released) {
                self.gauge.sub(block.len() as u64);
            }
        }
    }

    fn count_decoded(&self, b: usize) {
        let w = self.grid.window(b);
        self.decoded_blocks.fetch_add(1, Ordering::Relaxed);
        self.decoded_samples.fetch_add(
            (self.grid.bands * w.rows * w.cols) as u64,
            Ordering::Relaxed,
        );
    }

    /// Blocks needed and decoded so far.
    pub(super) fn counts(&self) -> AssetBlocks {
        AssetBlocks {
            needed: self.consumers.iter().filter(|&&n| n > 0).count() as u64,
            decoded: self.decoded_blocks.load(Ordering::Relaxed),
        }
    }

    /// Decoded samples so far / samples of the whole grid.
    pub(super) fn amplification(&self) -> f64 {
        let total = (self.grid.bands * self.grid.rows * self.grid.cols) as f64;
        if total == 0.0 {
            return 0.0;
        }
        self.decoded_samples.load(Ordering::Relaxed) as f64 / total
    }
}

/// The order the pool takes chunks in. With shared blocks, block by block (chunks sorted by
/// the block their first pixel lies in): a block's consumers then come one after another
/// and it is let go soon, where the plan's row-major order would keep a whole row of
/// blocks waiting for the chunk rows below. Per task, the plan's order.
pub(super) fn ordered(chunks: &[Chunk], grid: &RasterLayout, sharing: BlockSharing) -> Vec<Chunk> {
    let mut out = chunks.to_vec();
    if sharing == BlockSharing::Shared {
        let (br, bc) = (grid.block_rows.max(1), grid.block_cols.max(1));
        out.sort_by_key(|c| (c.row0 / br, c.col0 / bc, c.band0, c.row0, c.col0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: usize, cols: usize, block: usize) -> BlockGrid {
        BlockGrid {
            rows,
            cols,
            bands: 3,
            block_rows: block,
            block_cols: block,
        }
    }

    fn win(row0: usize, col0: usize, rows: usize, cols: usize) -> Window {
        Window {
            row0,
            col0,
            rows,
            cols,
        }
    }

    #[test]
    fn a_window_touches_the_blocks_it_overlaps_and_edge_blocks_are_clipped() {
        let g = grid(10, 7, 4);
        // 3 block rows x 2 block cols.
        assert_eq!(g.count(), 6);
        let touched: Vec<usize> = g.touched(win(3, 3, 2, 2)).collect();
        assert_eq!(touched, vec![0, 1, 2, 3]);
        assert_eq!(g.touched(win(0, 0, 4, 4)).collect::<Vec<_>>(), vec![0]);
        assert_eq!(g.touched(win(0, 0, 0, 4)).count(), 0);
        assert_eq!(g.window(5), win(8, 4, 2, 3));
    }

    #[test]
    fn consumers_count_the_chunks_that_touch_each_block() {
        let g = grid(8, 8, 4);
        let windows = [win(0, 0, 3, 3), win(0, 3, 3, 5), win(3, 0, 5, 8)];
        let store = BlockStore::new(BlockSharing::Shared, g, windows.into_iter(), Arc::default());
        // Block 0 (rows 0..4, cols 0..4) is touched by all three windows; block 3 by one.
        assert_eq!(store.consumers, vec![3, 2, 1, 1]);
        assert_eq!(
            store.counts(),
            AssetBlocks {
                needed: 4,
                decoded: 0
            }
        );
    }

    #[test]
    fn shared_chunks_are_walked_block_by_block() {
        let layout = RasterLayout {
            bands: 3,
            rows: 8,
            cols: 8,
            block_rows: 4,
            block_cols: 4,
            dtype_bytes: 1,
            interleave: crate::chunks::Interleave::Pixel,
        };
        let plan =
            crate::chunks::ChunkPlan::new(layout, &crate::chunks::ChunkRequest::Square(2)).unwrap();
        let order: Vec<usize> = ordered(&plan.chunks, &layout, BlockSharing::Shared)
            .iter()
            .map(|c| c.index)
            .collect();
        // 4 x 4 chunks of 2; block 0 holds chunks 0, 1, 4, 5.
        assert_eq!(&order[..4], &[0, 1, 4, 5]);
        assert_eq!(&order[4..8], &[2, 3, 6, 7]);
        let same: Vec<usize> = ordered(&plan.chunks, &layout, BlockSharing::PerTask)
            .iter()
            .map(|c| c.index)
            .collect();
        assert_eq!(same, (0..16).collect::<Vec<_>>());
    }
}
