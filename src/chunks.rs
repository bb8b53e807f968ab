//! Chunk planning: from a raster's shape, block shape, dtype and interleaving plus a chunk
//! request, the chunk grid and its figures (bytes, count, alignment, blocks touched, read
//! amplification). Pure arithmetic, no I/O; runs on whichever thread asks.
//!
//! The figures are what the lesson's `%%time` lines cannot show: a chunk that straddles
//! COG blocks makes GDAL decode those blocks again for each neighbouring chunk, and on a
//! pixel-interleaved raster a chunk of fewer bands still decodes every band of its blocks.
//! Products are computed in `u128` and saturate, so absurd requests are clamped or
//! rejected, never overflow.

use std::fmt;
use std::str::FromStr;

/// Byte target of a bare `auto` request; Dask's default `array.chunk-size` is 128 MiB.
pub const DEFAULT_AUTO_BYTES: u64 = 128 * 1024 * 1024;

/// Most chunks a plan may hold. Beyond this the scheduling overhead dwarfs the work and the
/// plan itself would take gigabytes (a 1x1 chunking of a 10980 x 10980 tile is 120 M chunks).
pub const MAX_CHUNKS: usize = 1 << 20;

/// What every request parse error ends with, so the user sees what is accepted.
const ACCEPTED: &str = "expected BANDS,ROWS,COLS, a side like 1024, auto[:SIZE] or blocks:K";

/// How a multi-band raster stores its bands inside blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interleave {
    /// Every block holds all bands (GDAL `INTERLEAVE=PIXEL`, like a COG's `visual`).
    Pixel,
    /// Each band has its own blocks (`INTERLEAVE=BAND`).
    Band,
}

/// The geometry a plan is made against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RasterLayout {
    pub bands: usize,
    pub rows: usize,
    pub cols: usize,
    pub block_rows: usize,
    pub block_cols: usize,
    /// Bytes per sample (1 for uint8, 2 for uint16).
    pub dtype_bytes: usize,
    pub interleave: Interleave,
}

impl RasterLayout {
    /// Samples in the whole raster (bands x rows x cols), saturating.
    pub fn samples(&self) -> u64 {
        sat_u64(self.bands as u128 * self.rows as u128 * self.cols as u128)
    }

    /// Bands a chunk must span so no block is decoded once per band: all of them when
    /// blocks hold every band, one when each band has its own blocks.
    fn natural_bands(&self) -> usize {
        match self.interleave {
            Interleave::Pixel => self.bands,
            Interleave::Band => 1,
        }
    }

    /// Rejects layouts with a zero dimension, which would make every figure meaningless.
    fn validate(&self) -> Result<(), ChunkError> {
        let fields = [
            ("bands", self.bands),
            ("rows", self.rows),
            ("cols", self.cols),
            ("block rows", self.block_rows),
            ("block cols", self.block_cols),
            ("bytes per sample", self.dtype_bytes),
        ];
        match fields.iter().find(|(_, v)| *v == 0) {
            Some((name, _)) => Err(ChunkError::Layout {
                reason: format!("raster {name} is 0"),
            }),
            None => Ok(()),
        }
    }
}

/// What the user asked for; parse one with [`str::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkRequest {
    /// `BANDS,ROWS,COLS`, taken literally (then clamped to the raster).
    Explicit {
        bands: usize,
        rows: usize,
        cols: usize,
    },
    /// `auto[:SIZE]`: whole blocks, as many as fit in `target_bytes` (like Dask's `"auto"`).
    Auto { target_bytes: u64 },
    /// `blocks:K`: K x K blocks per chunk.
    Blocks(usize),
    /// A lone `N`: an N x N chunk over all bands, the lesson's `chunks=(3, N, N)` style.
    Square(usize),
}

impl Default for ChunkRequest {
    fn default() -> Self {
        ChunkRequest::Auto {
            target_bytes: DEFAULT_AUTO_BYTES,
        }
    }
}

/// Writes the request back in the syntax [`FromStr`] accepts, so labels round-trip.
impl fmt::Display for ChunkRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkRequest::Explicit { bands, rows, cols } => write!(f, "{bands},{rows},{cols}"),
            ChunkRequest::Auto { target_bytes } if *target_bytes == DEFAULT_AUTO_BYTES => {
                write!(f, "auto")
            }
            ChunkRequest::Auto { target_bytes } => write!(f, "auto:{}", format_size(*target_bytes)),
            ChunkRequest::Blocks(k) => write!(f, "blocks:{k}"),
            ChunkRequest::Square(n) => write!(f, "{n}"),
        }
    }
}

/// A chunk shape that is known to be non-zero in every dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChunkShape {
    pub bands: usize,
    pub rows: usize,
    pub cols: usize,
}

/// One window of the grid. Offsets are 0-based; bands are 0-based band indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Chunk {
    pub index: usize,
    pub band0: usize,
    pub bands: usize,
    pub row0: usize,
    pub rows: usize,
    pub col0: usize,
    pub cols: usize,
}

impl Chunk {
    /// Samples in this window (bands x rows x cols); edge chunks have fewer.
    pub fn samples(&self) -> u64 {
        sat_u64(self.bands as u128 * self.rows as u128 * self.cols as u128)
    }

    /// Bytes of this window's pixels at `dtype_bytes` per sample.
    pub fn bytes(&self, dtype_bytes: usize) -> u64 {
        sat_u64(u128::from(self.samples()) * dtype_bytes as u128)
    }
}

/// Why a request could not be parsed or planned. Messages quote the user's input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The request text is malformed or has a value out of range. `reason` is free text:
    /// the parser's checks are many, and each names the value it refuses.
    #[error("{reason} in \"{input}\" ({ACCEPTED})")]
    Parse { input: String, reason: String },
    /// The raster layout has a zero dimension (a bug upstream, not the user's request);
    /// `reason` says which, one-off text.
    #[error("cannot plan chunks: {reason}")]
    Layout { reason: String },
    /// The shape is valid but would schedule an unreasonable number of tasks.
    #[error(
        "chunk shape {shape} makes {count} chunks, more than the {limit} chunkscope will \
         schedule (choose larger chunks, e.g. \"auto\")"
    )]
    TooManyChunks {
        shape: ChunkShape,
        count: u128,
        limit: usize,
    },
}

/// The chunk grid for one layout and request, with the figures the UI and reports show.
#[derive(Debug, Clone)]
pub struct ChunkPlan {
    pub layout: RasterLayout,
    /// Full-size chunk shape after clamping; edge chunks may be smaller.
    pub shape: ChunkShape,
    /// Band-major, then row-major, then col-major; `chunks[i].index == i`.
    pub chunks: Vec<Chunk>,
    /// Human-readable notes on what was adjusted (clamping), for display as-is.
    pub notices: Vec<String>,
}

/// A plan's figures in serialisable form, for `--json` output and reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlanSummary {
    pub shape: ChunkShape,
    pub chunk_count: usize,
    /// Chunks along (bands, rows, cols).
    pub grid: (usize, usize, usize),
    pub chunk_bytes: u64,
    pub aligned: bool,
    pub blocks_touched_max: usize,
    pub blocks_touched_mean: f64,
    pub read_amplification: f64,
    pub notices: Vec<String>,
}

impl ChunkPlan {
    /// Resolves `request` against `layout`, clamps it to the raster (noting each clamp) and
    /// lays out the grid. Fails on a degenerate layout or on more than [`MAX_CHUNKS`] chunks.
    pub fn new(layout: RasterLayout, request: &ChunkRequest) -> Result<Self, ChunkError> {
        layout.validate()?;
        let mut notices = Vec::new();
        let shape = match *request {
            ChunkRequest::Explicit { bands, rows, cols } => {
                clamp_shape(&layout, bands, rows as u128, cols as u128, &mut notices)
            }
            ChunkRequest::Square(n) => {
                clamp_shape(&layout, layout.bands, n as u128, n as u128, &mut notices)
            }
            ChunkRequest::Blocks(k) => clamp_shape(
                &layout,
                layout.natural_bands(),
                k as u128 * layout.block_rows as u128,
                k as u128 * layout.block_cols as u128,
                &mut notices,
            ),
            // Clamping is the point of `auto`, not a surprise: no notice.
            ChunkRequest::Auto { target_bytes } => auto_shape(&layout, target_bytes),
        };
        // A request of 0 cannot come from the parser, but the enum is public.
        let shape = ChunkShape {
            bands: shape.bands.max(1),
            rows: shape.rows.max(1),
            cols: shape.cols.max(1),
        };

        let (nb, nr, nc) = (
            layout.bands.div_ceil(shape.bands),
            layout.rows.div_ceil(shape.rows),
            layout.cols.div_ceil(shape.cols),
        );
        let count = nb as u128 * nr as u128 * nc as u128;
        if count > MAX_CHUNKS as u128 {
            return Err(ChunkError::TooManyChunks {
                shape,
                count,
                limit: MAX_CHUNKS,
            });
        }

        let mut chunks = Vec::with_capacity(count as usize);
        for b in 0..nb {
            let band0 = b * shape.bands;
            for r in 0..nr {
                let row0 = r * shape.rows;
                for c in 0..nc {
                    let col0 = c * shape.cols;
                    chunks.push(Chunk {
                        index: chunks.len(),
                        band0,
                        bands: shape.bands.min(layout.bands - band0),
                        row0,
                        rows: shape.rows.min(layout.rows - row0),
                        col0,
                        cols: shape.cols.min(layout.cols - col0),
                    });
                }
            }
        }
        Ok(ChunkPlan {
            layout,
            shape,
            chunks,
            notices,
        })
    }

    /// Chunks along (bands, rows, cols).
    pub fn grid(&self) -> (usize, usize, usize) {
        (
            self.layout.bands.div_ceil(self.shape.bands),
            self.layout.rows.div_ceil(self.shape.rows),
            self.layout.cols.div_ceil(self.shape.cols),
        )
    }

    /// Number of chunks, i.e. of tasks per pipeline stage.
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Bytes of a full-size chunk (the memory one worker holds per task).
    pub fn chunk_bytes(&self) -> u64 {
        let s = self.shape;
        sat_u64(s.bands as u128 * s.rows as u128 * s.cols as u128 * self.layout.dtype_bytes as u128)
    }

    /// Whether chunk edges fall on block edges: rows a multiple of the block rows or
    /// covering all rows, and the same for cols. Bands do not count here; their cost shows
    /// in [`read_amplification`](Self::read_amplification).
    pub fn aligned(&self) -> bool {
        let l = &self.layout;
        let fits = |chunk: usize, block: usize, whole: usize| {
            chunk.is_multiple_of(block) || chunk >= whole
        };
        fits(self.shape.rows, l.block_rows, l.rows) && fits(self.shape.cols, l.block_cols, l.cols)
    }

    /// Blocks GDAL must decode to read `chunk`. Under band interleaving each band has its own
    /// blocks, so the count is multiplied by the chunk's bands.
    pub fn blocks_touched(&self, chunk: &Chunk) -> usize {
        let (rb0, rb1) = block_span(chunk.row0, chunk.rows, self.layout.block_rows);
        let (cb0, cb1) = block_span(chunk.col0, chunk.cols, self.layout.block_cols);
        let per_band = (rb1 - rb0) * (cb1 - cb0);
        match self.layout.interleave {
            Interleave::Pixel => per_band,
            Interleave::Band => per_band.saturating_mul(chunk.bands),
        }
    }

    /// Most blocks any chunk touches.
    pub fn max_blocks_touched(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| self.blocks_touched(c))
            .max()
            .unwrap_or(0)
    }

    /// Mean blocks touched per chunk.
    pub fn mean_blocks_touched(&self) -> f64 {
        if self.chunks.is_empty() {
            return 0.0;
        }
        let total: u128 = self
            .chunks
            .iter()
            .map(|c| self.blocks_touched(c) as u128)
            .sum();
        total as f64 / self.chunks.len() as f64
    }

    /// Samples GDAL decodes to read `chunk`: the touched blocks' area, clipped to the raster
    /// (edge blocks are partial), times the bands those blocks hold — all of the raster's
    /// under pixel interleaving, the chunk's own under band interleaving.
    pub fn decoded_samples(&self, chunk: &Chunk) -> u64 {
        let l = &self.layout;
        // Block areas are separable: clipped heights of the touched block rows times the
        // clipped widths of the touched block cols.
        let height = clipped_extent(chunk.row0, chunk.rows, l.block_rows, l.rows);
        let width = clipped_extent(chunk.col0, chunk.cols, l.block_cols, l.cols);
        let bands = match l.interleave {
            Interleave::Pixel => l.bands,
            Interleave::Band => chunk.bands,
        };
        sat_u64(height * width * bands as u128)
    }

    /// Decoded samples over all chunks / samples in the raster: 1.0 when every block is
    /// decoded once, above 1 when chunks straddle blocks or split a pixel-interleaved block's
    /// bands across chunks.
    pub fn read_amplification(&self) -> f64 {
        let decoded: u128 = self
            .chunks
            .iter()
            .map(|c| u128::from(self.decoded_samples(c)))
            .sum();
        let total = self.layout.samples();
        if total == 0 {
            return 0.0;
        }
        decoded as f64 / total as f64
    }

    /// All figures at once, for reports and `--json`.
    pub fn summary(&self) -> PlanSummary {
        PlanSummary {
            shape: self.shape,
            chunk_count: self.chunk_count(),
            grid: self.grid(),
            chunk_bytes: self.chunk_bytes(),
            aligned: self.aligned(),
            blocks_touched_max: self.max_blocks_touched(),
            blocks_touched_mean: self.mean_blocks_touched(),
            read_amplification: self.read_amplification(),
            notices: self.notices.clone(),
        }
    }
}

impl FromStr for ChunkRequest {
    type Err = ChunkError;

    /// Accepts `BANDS,ROWS,COLS`, `N`, `auto`, `auto:SIZE` and `blocks:K`, whitespace and
    /// keyword case tolerated.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| ChunkError::Parse {
            input: s.to_string(),
            reason,
        };
        let text = s.trim();
        if text.is_empty() {
            return Err(err("chunk request is empty".to_string()));
        }
        if let Some(rest) = strip_keyword(text, "auto") {
            let rest = rest.trim_start();
            if rest.is_empty() {
                return Ok(ChunkRequest::default());
            }
            let size = rest
                .strip_prefix(':')
                .ok_or_else(|| err("auto takes a size after a colon, like auto:64MiB".into()))?;
            let target_bytes = parse_size(size).map_err(err)?;
            if target_bytes == 0 {
                return Err(err("auto chunk size must be at least 1 byte, got 0".into()));
            }
            return Ok(ChunkRequest::Auto { target_bytes });
        }
        if let Some(rest) = strip_keyword(text, "blocks") {
            let k = rest
                .trim_start()
                .strip_prefix(':')
                .ok_or_else(|| err("blocks needs a count, like blocks:2".into()))?;
            return Ok(ChunkRequest::Blocks(
                parse_count("blocks per side", k).map_err(err)?,
            ));
        }
        let parts: Vec<&str> = text.split(',').collect();
        match parts.as_slice() {
            [side] => Ok(ChunkRequest::Square(
                parse_count("chunk side", side).map_err(err)?,
            )),
            [bands, rows, cols] => Ok(ChunkRequest::Explicit {
                bands: parse_count("chunk bands", bands).map_err(err)?,
                rows: parse_count("chunk rows", rows).map_err(err)?,
                cols: parse_count("chunk cols", cols).map_err(err)?,
            }),
            _ => Err(err(format!(
                "a chunk shape has 1 or 3 comma-separated parts, got {}",
                parts.len()
            ))),
        }
    }
}

impl fmt::Display for ChunkShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{}", self.bands, self.rows, self.cols)
    }
}

/// Clamps each requested dimension to the raster, recording a notice per clamp.
fn clamp_shape(
    layout: &RasterLayout,
    bands: usize,
    rows: u128,
    cols: u128,
    notices: &mut Vec<String>,
) -> ChunkShape {
    let mut clamp = |name: &str, want: u128, have: usize| -> usize {
        if want > have as u128 {
            notices.push(format!(
                "chunk {name} {want} exceed the raster's {have} {name}: clamped to {have}"
            ));
            have
        } else {
            // want <= have, so it fits in usize.
            want as usize
        }
    };
    ChunkShape {
        bands: clamp("bands", bands as u128, layout.bands),
        rows: clamp("rows", rows, layout.rows),
        cols: clamp("cols", cols, layout.cols),
    }
}

/// Dask-style `auto`: the largest k such that a (k x block_rows) x (k x block_cols) chunk of
/// the natural bands fits in `target_bytes` (k >= 1), then clamped to the raster.
/// See dask.array.core.normalize_chunks / auto_chunks, which also rounds to block multiples
/// given `previous_chunks`.
fn auto_shape(layout: &RasterLayout, target_bytes: u64) -> ChunkShape {
    let bands = layout.natural_bands();
    let block_bytes = layout.block_rows as u128
        * layout.block_cols as u128
        * bands as u128
        * layout.dtype_bytes as u128;
    // k^2 * block_bytes <= target  <=>  k <= isqrt(target / block_bytes).
    let k = (u128::from(target_bytes) / block_bytes).isqrt().max(1);
    ChunkShape {
        bands,
        rows: clamp_to(k * layout.block_rows as u128, layout.rows),
        cols: clamp_to(k * layout.block_cols as u128, layout.cols),
    }
}

fn clamp_to(want: u128, have: usize) -> usize {
    if want > have as u128 {
        have
    } else {
        want as usize
    }
}

/// Half-open range of block indices that `[start, start + len)` intersects (len >= 1).
fn block_span(start: usize, len: usize, block: usize) -> (usize, usize) {
    let last = start + len.max(1) - 1;
    (start / block, last / block + 1)
}

/// Total extent, clipped to `whole`, of the blocks that `[start, start + len)` intersects.
fn clipped_extent(start: usize, len: usize, block: usize, whole: usize) -> u128 {
    let (b0, b1) = block_span(start, len, block);
    let end = (b1 as u128 * block as u128).min(whole as u128);
    end - (b0 as u128 * block as u128)
}

fn sat_u64(v: u128) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// `text` without a leading case-insensitive `keyword`, if it starts with one.
fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let head = text.get(..keyword.len())?;
    head.eq_ignore_ascii_case(keyword)
        .then(|| &text[keyword.len()..])
}

/// A positive integer; the error reason names `what` and the offending part.
fn parse_count(what: &str, part: &str) -> Result<usize, String> {
    let part = part.trim();
    if part.is_empty() {
        return Err(format!("{what} is missing"));
    }
    let digits = part.strip_prefix('+').unwrap_or(part);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match digits.parse::<usize>() {
            Ok(0) => Err(format!("{what} must be at least 1, got 0")),
            Ok(n) => Ok(n),
            Err(_) => Err(format!("{what} {part} is too large")),
        };
    }
    let negative = part
        .strip_prefix('-')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    if negative {
        Err(format!("{what} must be at least 1, got {part}"))
    } else {
        Err(format!("{what} \"{part}\" is not a whole number"))
    }
}

/// Byte units: SI (powers of 1000) and IEC (powers of 1024), as Dask's `parse_bytes`.
const UNITS: [(&str, u64); 13] = [
    ("b", 1),
    ("k", 1000),
    ("kb", 1000),
    ("m", 1_000_000),
    ("mb", 1_000_000),
    ("g", 1_000_000_000),
    ("gb", 1_000_000_000),
    ("t", 1_000_000_000_000),
    ("tb", 1_000_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
];

/// Parses `64MiB`, `100MB`, `1.5GiB`, `1000000` into bytes, rounding down fractions.
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim());
    let bad = || format!("auto chunk size \"{text}\" is not a size like 64MiB, 100MB or 1000000");
    let multiplier = if unit.is_empty() {
        1
    } else {
        UNITS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(unit))
            .map(|&(_, m)| m)
            .ok_or_else(bad)?
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(bad());
    }
    let too_large = || format!("auto chunk size \"{text}\" is too large");
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse::<u64>().map_err(|_| too_large())?.into()
    };
    // Fraction digits beyond 1e-18 cannot matter for a byte count; dropping them keeps the
    // arithmetic in range.
    let frac = &frac[..frac.len().min(18)];
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u64>().map_err(|_| bad())?.into()
    };
    let scale = 10u128.pow(crate::convert::clamp_u32(frac.len()));
    let m = u128::from(multiplier);
    let bytes = whole * m + frac_value * m / scale;
    u64::try_from(bytes).map_err(|_| too_large())
}

/// Inverse of [`parse_size`] for display: the largest IEC unit that divides exactly.
fn format_size(bytes: u64) -> String {
    for (unit, m) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes >= m && bytes.is_multiple_of(m) {
            return format!("{}{unit}", bytes / m);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_si_and_iec_units() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("100MB"), Ok(100_000_000));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size(" 1.5 gib "), Ok(3 << 29));
        assert_eq!(parse_size("0.5KiB"), Ok(512));
        assert_eq!(parse_size("123456"), Ok(123_456));
        assert_eq!(parse_size("7b"), Ok(7));
        assert!(parse_size("").is_err());
        assert!(parse_size(".").is_err());
        assert!(parse_size("1.2.3MB").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("-5MB").is_err());
        assert!(
            parse_size("99999999999999999999")
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            parse_size("18446744073709551615TiB")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn sizes_format_back_to_what_parses() {
        for bytes in [
            1,
            1000,
            1 << 10,
            3 << 20,
            128 << 20,
            1 << 30,
            5 << 40,
            123_456_789,
        ] {
            assert_eq!(parse_size(&format_size(bytes)), Ok(bytes), "{bytes}");
        }
        assert_eq!(format_size(64 << 20), "64MiB");
    }

    #[test]
    fn block_span_and_clipped_extent_at_the_raster_edge() {
        assert_eq!(block_span(0, 1024, 1024), (0, 1));
        assert_eq!(block_span(1000, 1000, 1024), (0, 2));
        assert_eq!(block_span(10000, 980, 1024), (9, 11));
        // Last block of a 10980 raster is 740 wide.
        assert_eq!(clipped_extent(10000, 980, 1024, 10980), 1024 + 740);
        assert_eq!(clipped_extent(0, 10980, 1024, 10980), 10980);
    }
}
