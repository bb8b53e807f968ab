//! The output's tile pyramid: full resolution and every overview level cut into tiles of
//! one size. Write tasks deposit their chunk's pixels into the tiles they touch; the task
//! whose pixels complete a tile takes it out and, besides encoding it, reduces it into its
//! parent tile one level up, so overviews are built by the same tasks, in parallel, from
//! finished tiles only. Pure pixel bookkeeping: no files, no codecs. Called from any
//! worker; each tile has its own lock, held only while copying.
//!
//! Overviews follow GDAL's COG driver (3.x) to the pixel: each level is
//! `floor(previous / 2)` pixels, computed from the previous level by GDAL's AVERAGE
//! resampling (`gcore/overview.cpp`, GDALResampleChunk_AverageOrRMS): destination pixel
//! `i` averages source pixels `[floor(i*r), ceil((i+1)*r))` with `r = src/dst`, the first
//! and last weighted by how much of them the window covers, nodata (0) left out, rounded
//! half up. For an even source `r = 2` and windows are plain 2x2 blocks; for an odd one
//! `r` is slightly above 2 and each window reaches one pixel into the next tile, so such a
//! tile is reduced once its neighbours below and to the right have lent it their first row
//! and column ("strips").

use std::sync::Mutex;

use ndarray::ArrayView3;

/// One level's size and tile grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelGrid {
    pub rows: usize,
    pub cols: usize,
    pub tiles_down: usize,
    pub tiles_across: usize,
}

impl LevelGrid {
    fn new(rows: usize, cols: usize, tile: usize) -> Self {
        Self {
            rows,
            cols,
            tiles_down: rows.div_ceil(tile),
            tiles_across: cols.div_ceil(tile),
        }
    }

    pub fn tiles(&self) -> usize {
        self.tiles_down * self.tiles_across
    }

    /// Valid (unpadded) rows and cols of tile `index`.
    fn valid(&self, index: usize, tile: usize) -> (usize, usize) {
        let (tr, tc) = (index / self.tiles_across, index % self.tiles_across);
        (
            (self.rows - tr * tile).min(tile),
            (self.cols - tc * tile).min(tile),
        )
    }
}

/// One destination pixel's source window along an axis, with GDAL's edge weights.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: usize,
    end: usize,
    first_weight: f64,
    last_weight: f64,
}

impl Window {
    fn weight(&self, at: usize) -> f64 {
        if at == self.start {
            self.first_weight
        } else if at + 1 == self.end {
            self.last_weight
        } else {
            1.0
        }
    }
}

/// GDAL's AVERAGE windows from `src` pixels down to `dst`, as overview.cpp computes them.
fn windows(src: usize, dst: usize) -> Vec<Window> {
    let ratio = src as f64 / dst as f64;
    (0..dst)
        .map(|i| {
            let x0 = i as f64 * ratio;
            let x1 = (i + 1) as f64 * ratio;
            let start = crate::convert::floor_usize(x0 + 1e-8);
            let mut end = crate::convert::ceil_usize(x1 - 1e-8);
            if end == start {
                end += 1;
            }
            let end = end.min(src);
            let single = end == start + 1;
            Window {
                start,
                end,
                first_weight: if single {
                    1.0
                } else {
                    1.0 - (x0 - start as f64)
                },
                last_weight: if single { 1.0 } else { 1.0 - (end as f64 - x1) },
            }
        })
        .collect()
}

/// A tile whose every pixel has arrived: pixel-interleaved, `tile x tile x bands`, with the
/// padding beyond `rows x cols` left at 0 (nodata).
#[derive(Debug)]
pub struct FinishedTile {
    pub level: usize,
    pub index: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// What a finished tile lends the tiles above and to the left of it.
#[derive(Debug, Clone, Default)]
struct Strips {
    /// First row of the tile below (its valid cols x bands).
    below: Option<Vec<u8>>,
    /// First column of the tile to the right (its valid rows x bands).
    right: Option<Vec<u8>>,
    /// First pixel of the tile below-right.
    corner: Option<Vec<u8>>,
}

#[derive(Default)]
struct Slot {
    pixels: Vec<u8>,
    /// Samples still to arrive; the slot is finished when this reaches 0.
    remaining: usize,
    finished: bool,
    /// A finished tile's pixels, kept until the strips it needs have arrived.
    held: Option<Vec<u8>>,
    strips: Strips,
    reduced: bool,
}

/// From one level to the next: the windows along each axis.
struct Step {
    rows: Vec<Window>,
    cols: Vec<Window>,
    /// Every window is a plain 2x2 block (even source on both axes).
    plain: bool,
}

pub struct Pyramid {
    tile: usize,
    bands: usize,
    grids: Vec<LevelGrid>,
    steps: Vec<Step>,
    slots: Vec<Vec<Mutex<Slot>>>,
    /// Buffers of tiles already written, reused for the next tiles: fresh ones cost a
    /// page fault per 4 KiB on first touch.
    spare: Mutex<Vec<Vec<u8>>>,
}

/// Spare tile buffers kept at most.
const SPARE_TILES: usize = 8;

impl Pyramid {
    /// `overviews` levels beyond full resolution, each `floor(below / 2)` pixels (at least
    /// 1), as GDAL's COG driver sizes them.
    pub fn new(rows: usize, cols: usize, bands: usize, tile: usize, overviews: usize) -> Self {
        let mut grids = vec![LevelGrid::new(rows, cols, tile)];
        let mut steps = Vec::new();
        for _ in 0..overviews {
            let below = grids[grids.len() - 1];
            let (r, c) = ((below.rows / 2).max(1), (below.cols / 2).max(1));
            steps.push(Step {
                rows: windows(below.rows, r),
                cols: windows(below.cols, c),
                plain: below.rows == 2 * r && below.cols == 2 * c,
            });
            grids.push(LevelGrid::new(r, c, tile));
        }
        let slots = grids
            .iter()
            .map(|g| {
                (0..g.tiles())
                    .map(|i| {
                        let (r, c) = g.valid(i, tile);
                        Mutex::new(Slot {
                            remaining: r * c * bands,
                            ..Slot::default()
                        })
                    })
                    .collect()
            })
            .collect();
        Self {
            tile,
            bands,
            grids,
            steps,
            slots,
            spare: Mutex::new(Vec::new()),
        }
    }

    /// Takes back a finished tile's buffer once its bytes are written.
    pub fn recycle(&self, pixels: Vec<u8>) {
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        if spare.len() < SPARE_TILES && pixels.len() == self.tile * self.tile * self.bands {
            spare.push(pixels);
        }
    }

    /// A tile buffer for tile `index` of `level`, zeroed where its pixels will not all
    /// arrive: a tile cut by the image's edge keeps nodata (0) in its padding. Inside the
    /// image every sample is written before the tile is finished, so a reused buffer is
    /// not cleared first (that was 1 byte of memset per output byte).
    fn buffer(&self, level: usize, index: usize) -> Vec<u8> {
        let reused = self.spare.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match reused {
            Some(mut v) => {
                if self.grids[level].valid(index, self.tile) != (self.tile, self.tile) {
                    v.fill(0);
                }
                v
            }
            None => vec![0; self.tile * self.tile * self.bands],
        }
    }

    /// How many overviews GDAL's COG driver makes with `OVERVIEWS=AUTO`: halve (rounding
    /// down) until the image fits in one tile.
    pub fn auto_overviews(rows: usize, cols: usize, tile: usize) -> usize {
        let (mut r, mut c, mut n) = (rows, cols, 0);
        while (r > tile || c > tile) && r > 1 && c > 1 {
            r /= 2;
            c /= 2;
            n += 1;
        }
        n
    }

    pub fn tile(&self) -> usize {
        self.tile
    }

    pub fn bands(&self) -> usize {
        self.bands
    }

    /// Full resolution first, then each overview.
    pub fn grids(&self) -> &[LevelGrid] {
        &self.grids
    }

    /// Copies a band-sequential (bands, rows, cols) chunk whose first band is `band0` into
    /// the full-resolution tiles it covers, handing each tile it completes to `finished`
    /// at once, before filling the next: a task holds one finished tile at a time, not all
    /// of its chunk's. Stops at the first error `finished` returns.
    pub fn deposit_chunk<E>(
        &self,
        band0: usize,
        row0: usize,
        col0: usize,
        data: ArrayView3<'_, u8>,
        mut finished: impl FnMut(FinishedTile) -> Result<(), E>,
    ) -> Result<(), E> {
        let (bands, rows, cols) = data.dim();
        let (t, nb, grid) = (self.tile, self.bands, self.grids[0]);
        if rows == 0 || cols == 0 || bands == 0 {
            return Ok(());
        }
        for tr in row0 / t..=(row0 + rows - 1) / t {
            for tc in col0 / t..=(col0 + cols - 1) / t {
                let index = tr * grid.tiles_across + tc;
                let (r_lo, r_hi) = (row0.max(tr * t), (row0 + rows).min((tr + 1) * t));
                let (c_lo, c_hi) = (col0.max(tc * t), (col0 + cols).min((tc + 1) * t));
                let width = c_hi - c_lo;
                let done = self.fill(0, index, (r_hi - r_lo) * width * bands, |px| {
                    for r in r_lo..r_hi {
                        let start = ((r - tr * t) * t + (c_lo - tc * t)) * nb;
                        super::interleave::chunk_row(
                            data,
                            r - row0,
                            c_lo - col0..c_hi - col0,
                            band0,
                            nb,
                            &mut px[start..start + width * nb],
                        );
                    }
                });
                if let Some(tile) = done {
                    finished(tile)?;
                }
            }
        }
        Ok(())
    }

    /// Called once for every finished tile, before its pixels are let go: reduces it (and
    /// any neighbour its strips complete) into the level above; returns the parent tiles
    /// that this completed.
    pub fn reduce(&self, tile: &FinishedTile) -> Vec<FinishedTile> {
        let mut done = Vec::new();
        if tile.level + 1 >= self.grids.len() {
            return done;
        }
        // Lend this tile's first row, column and pixel to the tiles that need them.
        let across = self.grids[tile.level].tiles_across;
        let (tr, tc) = (tile.index / across, tile.index % across);
        let (t, nb) = (self.tile, self.bands);
        let lends: [(Option<usize>, u8); 3] = [
            ((tr > 0).then(|| tile.index - across), 0),
            ((tc > 0).then(|| tile.index - 1), 1),
            ((tr > 0 && tc > 0).then(|| tile.index - across - 1), 2),
        ];
        for (neighbour, kind) in lends {
            let Some(n) = neighbour else { continue };
            let needs = self.needs(tile.level, n);
            let wanted = match kind {
                0 => needs.0,
                1 => needs.1,
                _ => needs.0 && needs.1,
            };
            if !wanted {
                continue;
            }
            let strip: Vec<u8> = match kind {
                0 => tile.pixels[..tile.cols * nb].to_vec(),
                1 => (0..tile.rows)
                    .flat_map(|r| tile.pixels[r * t * nb..r * t * nb + nb].iter().copied())
                    .collect(),
                _ => tile.pixels[..nb].to_vec(),
            };
            let ready = {
                let mut slot = self.lock(tile.level, n);
                match kind {
                    0 => slot.strips.below = Some(strip),
                    1 => slot.strips.right = Some(strip),
                    _ => slot.strips.corner = Some(strip),
                }
                self.take_if_ready(tile.level, n, &mut slot)
            };
            if let Some((pixels, strips)) = ready {
                done.extend(self.reduce_into_parent(tile.level, n, &pixels, &strips));
            }
        }
        let ready = {
            let mut slot = self.lock(tile.level, tile.index);
            slot.held = Some(Vec::new());
            match self.take_if_ready(tile.level, tile.index, &mut slot) {
                Some((_, strips)) => Some(strips),
                None => {
                    slot.held = Some(tile.pixels.clone());
                    None
                }
            }
        };
        if let Some(strips) = ready {
            done.extend(self.reduce_into_parent(tile.level, tile.index, &tile.pixels, &strips));
        }
        done
    }

    fn lock(&self, level: usize, index: usize) -> std::sync::MutexGuard<'_, Slot> {
        self.slots[level][index]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Whether tile `index` of `level` reaches into the tile below / to the right.
    fn needs(&self, level: usize, index: usize) -> (bool, bool) {
        let step = &self.steps[level];
        let grid = self.grids[level];
        let (tr, tc) = (index / grid.tiles_across, index % grid.tiles_across);
        let (h, w) = grid.valid(index, self.tile);
        let reach = |windows: &[Window], first: usize, len: usize| {
            // The last destination pixel whose window starts in this tile.
            windows
                .iter()
                .take_while(|win| win.start < first + len)
                .last()
                .is_some_and(|win| win.start >= first && win.end > first + len)
        };
        (
            reach(&step.rows, tr * self.tile, h),
            reach(&step.cols, tc * self.tile, w),
        )
    }

    /// Takes a held tile and its strips out once it is finished and has every strip it
    /// needs; marks it reduced.
    fn take_if_ready(
        &self,
        level: usize,
        index: usize,
        slot: &mut Slot,
    ) -> Option<(Vec<u8>, Strips)> {
        if slot.reduced || slot.held.is_none() {
            return None;
        }
        let (below, right) = self.needs(level, index);
        let s = &slot.strips;
        if (below && s.below.is_none())
            || (right && s.right.is_none())
            || (below && right && s.corner.is_none())
        {
            return None;
        }
        slot.reduced = true;
        let pixels = slot.held.take().unwrap_or_default();
        Some((pixels, std::mem::take(&mut slot.strips)))
    }

    /// Averages tile `index` of `level` (with the strips it borrowed) into its part of the
    /// parent tile; returns the parent when that completed it.
    fn reduce_into_parent(
        &self,
        level: usize,
        index: usize,
        pixels: &[u8],
        strips: &Strips,
    ) -> Option<FinishedTile> {
        let (t, nb) = (self.tile, self.bands);
        let grid = self.grids[level];
        let up = self.grids[level + 1];
        let step = &self.steps[level];
        let (tr, tc) = (index / grid.tiles_across, index % grid.tiles_across);
        let (h, w) = grid.valid(index, t);
        let (y0, x0) = (tr * t, tc * t);
        // Destination pixels whose windows start in this tile.
        let span = |windows: &[Window], first: usize, len: usize| {
            let lo = windows.partition_point(|win| win.start < first);
            let hi = windows.partition_point(|win| win.start < first + len);
            (lo, hi)
        };
        let (i0, i1) = span(&step.rows, y0, h);
        let (j0, j1) = span(&step.cols, x0, w);
        if i0 >= i1 || j0 >= j1 {
            return None;
        }
        let (oh, ow) = (i1 - i0, j1 - j0);
        let mut out = vec![0u8; oh * ow * nb];
        let sample = |y: usize, x: usize, b: usize| -> u8 {
            match (y < y0 + h, x < x0 + w) {
                (true, true) => pixels[((y - y0) * t + (x - x0)) * nb + b],
                (false, true) => strips.below.as_ref().map_or(0, |s| s[(x - x0) * nb + b]),
                (true, false) => strips.right.as_ref().map_or(0, |s| s[(y - y0) * nb + b]),
                (false, false) => strips.corner.as_ref().map_or(0, |s| s[b]),
            }
        };
        for (oi, rw) in step.rows[i0..i1].iter().enumerate() {
            for (oj, cw) in step.cols[j0..j1].iter().enumerate() {
                if step.plain && rw.end <= y0 + h && cw.end <= x0 + w {
                    // The common case: a 2x2 block inside this tile, read straight from
                    // its pixels (the general path below asks where each sample lives).
                    let top = ((rw.start - y0) * t + (cw.start - x0)) * nb;
                    let bottom = top + t * nb;
                    for b in 0..nb {
                        let four = [
                            pixels[top + b],
                            pixels[top + nb + b],
                            pixels[bottom + b],
                            pixels[bottom + nb + b],
                        ];
                        let (mut sum, mut n) = (0u32, 0u32);
                        for v in four {
                            sum += u32::from(v);
                            n += u32::from(v != 0);
                        }
                        out[(oi * ow + oj) * nb + b] =
                            u8::try_from((sum + n / 2).checked_div(n).unwrap_or(0))
                                .unwrap_or(u8::MAX);
                    }
                    continue;
                }
                for b in 0..nb {
                    let v = if step.plain {
                        let (mut sum, mut n) = (0u32, 0u32);
                        for y in rw.start..rw.end {
                            for x in cw.start..cw.end {
                                let v = sample(y, x, b);
                                if v != 0 {
                                    sum += u32::from(v);
                                    n += 1;
                                }
                            }
                        }
                        u8::try_from((sum + n / 2).checked_div(n).unwrap_or(0)).unwrap_or(u8::MAX)
                    } else {
                        let (mut total, mut weight) = (0.0f64, 0.0f64);
                        for y in rw.start..rw.end {
                            let wy = rw.weight(y);
                            for x in cw.start..cw.end {
                                let v = sample(y, x, b);
                                if v != 0 {
                                    let wxy = wy * cw.weight(x);
                                    total += f64::from(v) * wxy;
                                    weight += wxy;
                                }
                            }
                        }
                        if weight > 0.0 {
                            #[allow(
                                clippy::cast_possible_truncation,
                                clippy::cast_sign_loss,
                                reason = "clamped to 0..=255 first; the cast floors, so + 0.5 \
                                          rounds halves up as GDAL's average does"
                            )]
                            let v = (total / weight + 0.5).clamp(0.0, 255.0) as u8;
                            v
                        } else {
                            0
                        }
                    };
                    out[(oi * ow + oj) * nb + b] = v;
                }
            }
        }
        let parent = (i0 / t) * up.tiles_across + j0 / t;
        let (off_r, off_c) = (i0 - (i0 / t) * t, j0 - (j0 / t) * t);
        let row_len = ow * nb;
        self.fill(level + 1, parent, oh * ow * nb, |px| {
            for r in 0..oh {
                let start = ((off_r + r) * t + off_c) * nb;
                px[start..start + row_len].copy_from_slice(&out[r * row_len..(r + 1) * row_len]);
            }
        })
    }

    /// Takes full-resolution tile `index` out of the pyramid for a writer that writes it
    /// straight from one chunk covering all of it: true, and the tile counts as finished,
    /// when no sample of it has arrived yet and no level above needs it; false otherwise
    /// (the tile then goes through [`Pyramid::deposit_chunk`] as usual).
    pub fn claim_whole(&self, index: usize) -> bool {
        if self.grids.len() > 1 {
            return false;
        }
        let (rows, cols) = self.grids[0].valid(index, self.tile);
        let mut slot = self.lock(0, index);
        if slot.finished || slot.remaining != rows * cols * self.bands {
            return false;
        }
        slot.finished = true;
        slot.remaining = 0;
        true
    }

    /// Runs `copy` on the tile's pixels (allocated on first use) and counts `samples` as
    /// arrived; takes the tile out when that was the last of them.
    fn fill(
        &self,
        level: usize,
        index: usize,
        samples: usize,
        copy: impl FnOnce(&mut [u8]),
    ) -> Option<FinishedTile> {
        let mut slot = self.lock(level, index);
        if slot.finished {
            // A window written twice (overlapping chunks) must not finish a tile twice.
            return None;
        }
        if slot.pixels.is_empty() {
            // Taken outside the spare list's lock order: the slot lock is held, the spare
            // list's only briefly and never the other way round.
            slot.pixels = self.buffer(level, index);
        }
        copy(&mut slot.pixels);
        slot.remaining = slot.remaining.saturating_sub(samples);
        if slot.remaining > 0 {
            return None;
        }
        slot.finished = true;
        let pixels = std::mem::take(&mut slot.pixels);
        drop(slot);
        let (rows, cols) = self.grids[level].valid(index, self.tile);
        Some(FinishedTile {
            level,
            index,
            rows,
            cols,
            pixels,
        })
    }

    /// Tiles not finished (or, below the top level, not yet reduced), per level: after
    /// every chunk was written, a non-zero count means a window was never written.
    pub fn unfinished(&self) -> Vec<usize> {
        let top = self.grids.len() - 1;
        self.slots
            .iter()
            .enumerate()
            .map(|(level, slots)| {
                slots
                    .iter()
                    .filter(|s| {
                        s.lock()
                            .map(|s| !s.finished || (level < top && !s.reduced))
                            .unwrap_or(true)
                    })
                    .count()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    fn image(bands: usize, rows: usize, cols: usize) -> Array3<u8> {
        Array3::from_shape_fn((bands, rows, cols), |(b, r, c)| {
            // Some nodata, so the averages have something to leave out.
            if (r * 3 + c) % 17 == 0 {
                0
            } else {
                u8::try_from((r * 7 + c * 13 + b * 31) % 251).unwrap()
            }
        })
    }

    /// Runs the cascade over a chunking and returns every finished tile.
    fn write_all(
        p: &Pyramid,
        img: &Array3<u8>,
        (cb, cr, cc): (usize, usize, usize),
    ) -> Vec<FinishedTile> {
        let (bands, rows, cols) = img.dim();
        let mut all = Vec::new();
        for b0 in (0..bands).step_by(cb) {
            for r0 in (0..rows).step_by(cr) {
                for c0 in (0..cols).step_by(cc) {
                    let v = img.slice(ndarray::s![
                        b0..(b0 + cb).min(bands),
                        r0..(r0 + cr).min(rows),
                        c0..(c0 + cc).min(cols)
                    ]);
                    let done = p.deposit_chunk(b0, r0, c0, v, |first| {
                        let mut queue = vec![first];
                        while let Some(t) = queue.pop() {
                            queue.extend(p.reduce(&t));
                            // Give the buffer back dirty, as the writer does: a tile
                            // that reuses it must not show the old pixels.
                            all.push(FinishedTile {
                                pixels: t.pixels.clone(),
                                ..t
                            });
                            p.recycle(t.pixels);
                        }
                        Ok::<(), ()>(())
                    });
                    assert!(done.is_ok());
                }
            }
        }
        all
    }

    /// A level as one array, from its finished tiles.
    fn level_of(p: &Pyramid, tiles: &[FinishedTile], level: usize) -> Array3<u8> {
        let g = p.grids()[level];
        let (t, nb) = (p.tile(), p.bands());
        let mut out = Array3::zeros((nb, g.rows, g.cols));
        for tile in tiles.iter().filter(|x| x.level == level) {
            let (tr, tc) = (tile.index / g.tiles_across, tile.index % g.tiles_across);
            for r in 0..tile.rows {
                for c in 0..tile.cols {
                    for b in 0..nb {
                        out[[b, tr * t + r, tc * t + c]] = tile.pixels[(r * t + c) * nb + b];
                    }
                }
            }
        }
        out
    }

    /// The reference: a whole level reduced at once with the same windows.
    fn reduce_whole(src: &Array3<u8>, rows: usize, cols: usize) -> Array3<u8> {
        let (nb, sr, sc) = src.dim();
        let (wr, wc) = (windows(sr, rows), windows(sc, cols));
        Array3::from_shape_fn((nb, rows, cols), |(b, i, j)| {
            let (mut total, mut weight) = (0.0, 0.0);
            for y in wr[i].start..wr[i].end {
                for x in wc[j].start..wc[j].end {
                    let v = src[[b, y, x]];
                    if v != 0 {
                        let w = wr[i].weight(y) * wc[j].weight(x);
                        total += f64::from(v) * w;
                        weight += w;
                    }
                }
            }
            if weight > 0.0 {
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "an average of u8 values: 0..=255.5 before the cast floors it"
                )]
                let v = (total / weight + 0.5) as u8;
                v
            } else {
                0
            }
        })
    }

    #[test]
    fn every_level_equals_the_whole_image_reduced_whatever_the_chunking() {
        // 50 x 37 with 16-pixel tiles: odd sizes at every level (25x18, 12x9); 64 x 48:
        // even sizes, plain 2x2 blocks at every level (32x24, 16x12).
        let cases = [(50, 37), (64, 48)].into_iter().flat_map(|size| {
            [(3, 50, 37), (1, 7, 9), (3, 16, 16), (2, 33, 5), (3, 1, 37)]
                .map(|chunks| (size, chunks))
        });
        for ((rows, cols), chunks) in cases {
            let img = image(3, rows, cols);
            let p = Pyramid::new(rows, cols, 3, 16, 2);
            let tiles = write_all(&p, &img, chunks);
            assert_eq!(p.unfinished(), vec![0, 0, 0], "chunks {chunks:?}");
            // Padding beyond the image stays nodata, even in reused buffers.
            for tile in &tiles {
                let (t, nb) = (p.tile(), p.bands());
                let padded = (0..t * t * nb)
                    .filter(|i| (i / nb) / t >= tile.rows || (i / nb) % t >= tile.cols)
                    .filter(|&i| tile.pixels[i] != 0)
                    .count();
                assert_eq!(padded, 0, "tile {} of level {}", tile.index, tile.level);
            }
            let mut below = img.clone();
            for level in 0..3 {
                let g = p.grids()[level];
                let want = if level == 0 {
                    img.clone()
                } else {
                    reduce_whole(&below, g.rows, g.cols)
                };
                assert_eq!(
                    level_of(&p, &tiles, level),
                    want,
                    "level {level}, chunks {chunks:?}"
                );
                below = want;
            }
        }
    }

    #[test]
    fn levels_are_sized_as_gdal_sizes_them() {
        let p = Pyramid::new(
            5490,
            5490,
            1,
            1024,
            Pyramid::auto_overviews(5490, 5490, 1024),
        );
        let sizes: Vec<usize> = p.grids().iter().map(|g| g.rows).collect();
        assert_eq!(sizes, vec![5490, 2745, 1372, 686]);
        assert_eq!(Pyramid::auto_overviews(1024, 1024, 1024), 0);
        assert_eq!(Pyramid::auto_overviews(1025, 10, 1024), 1);
    }

    #[test]
    fn even_sources_average_plain_blocks() {
        let w = windows(6, 3);
        assert!(
            w.iter()
                .all(|w| w.end - w.start == 2 && w.first_weight == 1.0 && w.last_weight == 1.0)
        );
        // 5 -> 2: windows of three pixels, the outer ones weighted by coverage.
        let w = windows(5, 2);
        assert_eq!((w[0].start, w[0].end), (0, 3));
        assert!((w[0].last_weight - 0.5).abs() < 1e-12);
        assert_eq!((w[1].start, w[1].end), (2, 5));
        assert!((w[1].first_weight - 0.5).abs() < 1e-12);
    }
}
