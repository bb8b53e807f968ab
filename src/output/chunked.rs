//! The chunked writer: the write stage as part of the chunk graph. A write task copies its
//! chunk into the output tiles it touches; for every tile its pixels complete it reduces
//! the tile into the overview level above, encodes it and hands the bytes to the appender
//! (doing the same for an overview tile it completes). Idle workers may take some of those
//! tiles from the task's [`TileQueue`] and do that part for it. The appender, one file
//! behind one lock, is the only serial part; the time tasks wait for it is measured. The
//! closing assembly lays the tiles out (a COG, or a GeoTIFF's IFD after tiles already in
//! place), reads the file back with GDAL and only then gives it its final name.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use ndarray::ArrayView3;
use tiff_core::{Tag, TagValue};

use super::pyramid::{FinishedTile, Pyramid};
use super::staging::{StagedFile, scratch_in};
use super::tiff::{self, HEADER_RESERVE, ImageSpec, TileSpan};
use super::{
    Codec, Expected, OutputError, OutputFormat, OutputGeometry, OutputSpec, WriteCause, geotags,
    verify,
};
use crate::convert;
use crate::task::CancelFlag;

/// Rows of a tile interleaved per positional write when a tile is streamed from its chunk:
/// 128 rows of a 1024-pixel RGB tile are 384 KiB, which stays in a core's L2 cache on
/// current CPUs. Measured on the full demo: 32 rows saved 5 % of the write's busy time,
/// 128 rows about 30 %, 256 no more than 128.
const STREAM_ROWS: usize = 128;

/// GDAL's private tag for the nodata value (ASCII), which TIFF itself does not name.
const TAG_GDAL_NODATA: u16 = 42113;

/// What one write task did, for its task record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Time spent waiting for the appender's lock.
    pub append_wait_ns: u64,
    /// Tiles this task encoded, overview tiles included.
    pub tiles: u32,
    pub encoded_bytes: u64,
    /// Time spent holding the appender's lock.
    pub lock_hold_ns: u64,
}

/// Finished tiles that one write task completed and nobody has encoded yet. The task and
/// the workers that help it take tiles from it, oldest first.
#[derive(Default)]
pub struct TileQueue(Mutex<VecDeque<FinishedTile>>);

impl TileQueue {
    fn push(&self, tile: FinishedTile) {
        self.lock().push_back(tile);
    }

    fn take_if_more_than(&self, leave: usize) -> Option<FinishedTile> {
        let mut q = self.lock();
        if q.len() > leave { q.pop_front() } else { None }
    }

    /// Tiles waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<FinishedTile>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where encoded tiles go as they finish: the next free offset of the file, and what is
/// where.
struct Appender {
    len: u64,
    /// Per level, per tile: where its bytes are.
    spans: Vec<Vec<Option<TileSpan>>>,
}

pub struct ChunkedWriter {
    spec: OutputSpec,
    codec: Codec,
    pyramid: Pyramid,
    geo: Vec<Tag>,
    /// A COG's scratch file, or a GeoTIFF's own (unnamed) output file.
    file: File,
    appender: Mutex<Appender>,
    /// The COG's final file is made at assembly; a GeoTIFF's exists from the start.
    output: Mutex<Option<StagedFile>>,
    cancel: CancelFlag,
}

impl ChunkedWriter {
    pub fn create(
        spec: OutputSpec,
        geometry: &OutputGeometry,
        cancel: CancelFlag,
    ) -> Result<Self, OutputError> {
        let err = |cause: WriteCause| OutputError::write(&spec.path, cause);
        let codec = spec.codec();
        let tile = geometry.tile();
        let overviews = match spec.format {
            OutputFormat::Cog => Pyramid::auto_overviews(geometry.rows, geometry.cols, tile),
            OutputFormat::Gtiff => 0,
        };
        let pyramid = Pyramid::new(
            geometry.rows,
            geometry.cols,
            geometry.bands,
            tile,
            overviews,
        );
        let geo = geotags::geotiff_tags(geometry.geo_transform, geometry.crs.as_ref())
            .map_err(|e| err(e.into()))?;
        let dir = super::staging::parent_dir(&spec.path);
        let (file, output, len) = match spec.format {
            OutputFormat::Cog => {
                let scratch = scratch_in(&dir).map_err(|e| err(WriteCause::io(e, &dir)))?;
                (scratch, None, 0)
            }
            OutputFormat::Gtiff => {
                let staged =
                    StagedFile::create(&spec.path).map_err(|e| err(WriteCause::io(e, &dir)))?;
                if codec == Codec::None {
                    // Uncompressed tiles: the file's size is known before the first pixel.
                    let tile_bytes = (tile * tile * geometry.bands) as u64;
                    let tiles = pyramid.grids()[0].tiles() as u64;
                    let len = HEADER_RESERVE + tiles * (tile_bytes + tile_bytes % 2);
                    super::staging::reserve(staged.file(), len)
                        .map_err(|e| err(WriteCause::io(e, &dir)))?;
                }
                let file = staged
                    .file()
                    .try_clone()
                    .map_err(|e| err(WriteCause::io(e, &dir)))?;
                (file, Some(staged), HEADER_RESERVE)
            }
        };
        let spans = pyramid
            .grids()
            .iter()
            .map(|g| vec![None; g.tiles()])
            .collect();
        Ok(Self {
            codec,
            pyramid,
            geo,
            file,
            appender: Mutex::new(Appender { len, spans }),
            output: Mutex::new(output),
            cancel,
            spec,
        })
    }

    pub fn spec(&self) -> &OutputSpec {
        &self.spec
    }

    /// Writes a band-sequential (bands, rows, cols) window whose first band is `band0`,
    /// encoding every tile it completes on this thread.
    pub fn write_chunk(
        &self,
        band0: usize,
        row0: usize,
        col0: usize,
        data: ArrayView3<'_, u8>,
    ) -> Result<WriteStats, OutputError> {
        self.write_chunk_shared(band0, row0, col0, data, &TileQueue::default(), None)
    }

    /// Writes a chunk as [`Self::write_chunk`] does, but lets other workers share the
    /// encoding: the tiles it completes (and the overview tiles they complete) go through
    /// `queue`, and `ask_help` is called whenever a tile waits there, so the caller can
    /// send an idle worker to [`Self::help`]. The task keeps at most one finished tile
    /// waiting while it fills the next (one tile more than encoding each at once would
    /// hold), and it returns once the queue is empty: tiles a helper took are the
    /// helper's to finish.
    pub fn write_chunk_shared(
        &self,
        band0: usize,
        row0: usize,
        col0: usize,
        data: ArrayView3<'_, u8>,
        queue: &TileQueue,
        ask_help: Option<&dyn Fn()>,
    ) -> Result<WriteStats, OutputError> {
        let mut stats = WriteStats::default();
        if self.codec == Codec::None && band0 == 0 && data.dim().0 == self.pyramid.bands() {
            self.stream_whole_tiles(row0, col0, data, &mut stats)?;
        }
        // Tiles streamed above are finished: depositing skips them.
        let keep_waiting = usize::from(ask_help.is_some());
        self.pyramid
            .deposit_chunk(band0, row0, col0, data, |finished| {
                queue.push(finished);
                self.encode_queued(queue, keep_waiting, ask_help, &mut stats)
            })?;
        self.encode_queued(queue, 0, ask_help, &mut stats)?;
        Ok(stats)
    }

    /// Encodes tiles that another worker's write task completed, from its `queue`, until
    /// none is left.
    pub fn help(
        &self,
        queue: &TileQueue,
        ask_help: Option<&dyn Fn()>,
    ) -> Result<WriteStats, OutputError> {
        let mut stats = WriteStats::default();
        self.encode_queued(queue, 0, ask_help, &mut stats)?;
        Ok(stats)
    }

    /// Takes tiles from `queue` until `leave` are left: each is reduced into the level
    /// above first (a parent it completes joins the queue, for whoever is free), then
    /// encoded and appended.
    fn encode_queued(
        &self,
        queue: &TileQueue,
        leave: usize,
        ask_help: Option<&dyn Fn()>,
        stats: &mut WriteStats,
    ) -> Result<(), OutputError> {
        if let Some(ask) = ask_help
            && !queue.is_empty()
        {
            ask();
        }
        while let Some(tile) = queue.take_if_more_than(leave) {
            if self.cancel.is_cancelled() {
                return Err(OutputError::Cancelled);
            }
            let parents = self.pyramid.reduce(&tile);
            if !parents.is_empty() {
                parents.into_iter().for_each(|p| queue.push(p));
                if let Some(ask) = ask_help {
                    ask();
                }
            }
            self.emit(tile, stats)?;
        }
        Ok(())
    }

    /// Uncompressed tiles that lie wholly in this chunk (and feed no overview) are written
    /// straight from it, [`STREAM_ROWS`] rows at a time through a buffer that stays in the
    /// CPU's cache, instead of being assembled in a tile buffer first: the kernel copies
    /// from cache rather than memory, and a worker holds no tile.
    fn stream_whole_tiles(
        &self,
        row0: usize,
        col0: usize,
        data: ArrayView3<'_, u8>,
        stats: &mut WriteStats,
    ) -> Result<(), OutputError> {
        let (bands, rows, cols) = data.dim();
        let (t, grid) = (self.pyramid.tile(), self.pyramid.grids()[0]);
        if rows == 0 || cols == 0 {
            return Ok(());
        }
        let row_bytes = t * bands;
        let mut piece = Vec::new();
        for tr in row0.div_ceil(t)..(row0 + rows).div_ceil(t).min(grid.tiles_down) {
            for tc in col0.div_ceil(t)..(col0 + cols).div_ceil(t).min(grid.tiles_across) {
                let (top, left) = (tr * t, tc * t);
                let (vr, vc) = ((grid.rows - top).min(t), (grid.cols - left).min(t));
                let inside = top + vr <= row0 + rows && left + vc <= col0 + cols;
                let index = tr * grid.tiles_across + tc;
                if !inside || !self.pyramid.claim_whole(index) {
                    continue;
                }
                if self.cancel.is_cancelled() {
                    return Err(OutputError::Cancelled);
                }
                if piece.is_empty() {
                    piece = vec![0u8; STREAM_ROWS * row_bytes];
                }
                let at = self.place(0, index, (t * row_bytes) as u64, stats);
                for first in (0..t).step_by(STREAM_ROWS) {
                    let n = STREAM_ROWS.min(t - first);
                    for (i, dst) in piece[..n * row_bytes].chunks_mut(row_bytes).enumerate() {
                        let r = first + i;
                        if r >= vr {
                            dst.fill(0);
                            continue;
                        }
                        let (valid, pad) = dst.split_at_mut(vc * bands);
                        pad.fill(0);
                        let cols = left - col0..left + vc - col0;
                        super::interleave::chunk_row(data, top + r - row0, cols, 0, bands, valid);
                    }
                    let offset = at + (first * row_bytes) as u64;
                    self.file
                        .write_all_at(&piece[..n * row_bytes], offset)
                        .map_err(|e| self.write_error(e))?;
                }
                stats.tiles += 1;
                stats.encoded_bytes += (t * row_bytes) as u64;
            }
        }
        Ok(())
    }

    /// The appender's only serial work: taking the next stretch of the file for `len`
    /// bytes of tile `index` of `level`. The bytes are then written there with positional
    /// writes, outside the lock, so workers copy into the file at the same time.
    fn place(&self, level: usize, index: usize, len: u64, stats: &mut WriteStats) -> u64 {
        let waited = Instant::now();
        let mut app = self.appender.lock().unwrap_or_else(|p| p.into_inner());
        let acquired = Instant::now();
        stats.append_wait_ns += convert::duration_ns(acquired.duration_since(waited));
        let at = app.len;
        // A GeoTIFF's tiles start at even offsets, as TIFF readers expect of data.
        app.len += len + (len % 2) * u64::from(self.spec.format == OutputFormat::Gtiff);
        app.spans[level][index] = Some((at, len));
        stats.lock_hold_ns += convert::duration_ns(acquired.elapsed());
        at
    }

    fn write_error(&self, e: std::io::Error) -> OutputError {
        let dir = super::staging::parent_dir(&self.spec.path);
        OutputError::write(&self.spec.path, WriteCause::io(e, &dir))
    }

    fn emit(&self, tile: FinishedTile, stats: &mut WriteStats) -> Result<(), OutputError> {
        let compressed;
        let encoded: &[u8] = if self.codec == Codec::None {
            // Uncompressed tiles are their pixels: no copy.
            &tile.pixels
        } else {
            compressed = self
                .codec
                .encode(&tile.pixels)
                .map_err(|e| OutputError::write(&self.spec.path, e))?;
            &compressed
        };
        let at = self.place(tile.level, tile.index, encoded.len() as u64, stats);
        self.file
            .write_all_at(encoded, at)
            .map_err(|e| self.write_error(e))?;
        stats.tiles += 1;
        stats.encoded_bytes += encoded.len() as u64;
        self.pyramid.recycle(tile.pixels);
        Ok(())
    }

    /// Lays out the file, checks it with GDAL and moves it to its final name.
    pub fn finish(self) -> Result<PathBuf, OutputError> {
        let path = self.spec.path.clone();
        let err = |cause: WriteCause| OutputError::write(&path, cause);
        let dir = super::staging::parent_dir(&path);
        let missing = self.pyramid.unfinished();
        if missing.iter().any(|&n| n > 0) {
            return Err(err(format!(
                "{} tile(s) never received all their pixels (per level: {missing:?})",
                missing.iter().sum::<usize>()
            )
            .into()));
        }
        let app = self
            .appender
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        let mut images = Vec::new();
        for (level, grid) in self.pyramid.grids().iter().enumerate() {
            let spans: Vec<TileSpan> = app.spans[level]
                .iter()
                .map(|s| s.unwrap_or((0, 0)))
                .collect();
            let mut extra = vec![Tag::new(TAG_GDAL_NODATA, TagValue::Ascii("0".into()))];
            if level == 0 {
                extra.extend(self.geo.iter().cloned());
            }
            let spec = ImageSpec {
                width: convert::clamp_u32(grid.cols),
                height: convert::clamp_u32(grid.rows),
                tile: convert::clamp_u32(self.pyramid.tile()),
                bands: convert::clamp_u16(self.pyramid.bands()),
                codec: self.codec,
                overview: level > 0,
                extra,
            };
            images.push((spec, spans));
        }
        let cancelled = || self.cancel.is_cancelled();
        let staged = match self.output.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(staged) => {
                let (spec, spans) = &images[0];
                tiff::close_streamed(staged.file(), spec, spans)
                    .map_err(|e| err(WriteCause::io(e, &dir)))?;
                staged
            }
            None => {
                let staged = StagedFile::create(&path).map_err(|e| err(WriteCause::io(e, &dir)))?;
                match tiff::write_cog(staged.file(), &self.file, &images, &cancelled) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                        return Err(OutputError::Cancelled);
                    }
                    Err(e) => return Err(err(WriteCause::io(e, &dir))),
                }
                staged
            }
        };
        drop(app);
        if cancelled() {
            return Err(OutputError::Cancelled);
        }
        let main = &images[0].0;
        let expect = Expected {
            cols: main.width as usize,
            rows: main.height as usize,
            bands: usize::from(main.bands),
            overviews: Some(images.len() - 1),
        };
        verify(&staged.gdal_path(), expect).map_err(|e| err(WriteCause::ReadBack(e)))?;
        // Reading back takes a moment: a cancel during it still leaves nothing.
        if cancelled() {
            return Err(OutputError::Cancelled);
        }
        staged
            .persist()
            .map_err(|e| err(WriteCause::moving(e, &dir)))
    }
}
