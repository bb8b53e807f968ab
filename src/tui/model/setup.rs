//! The chunk setup screen's model: the requested chunk shape, threads, schedule, mode,
//! writer, output format and codec, resolution and GDAL cache for one scene, the engine's
//! plan figures for them, and the warnings to read before running. Changing a chunk value
//! replans at once (pure arithmetic, no I/O); changing the resolution asks the engine for the
//! other grid (see [`Setup::toggle_resolution`]).

use std::num::NonZeroUsize;

use chunkscope::chunks::{ChunkPlan, ChunkRequest, PlanSummary, RasterLayout};
use chunkscope::convert;
use chunkscope::graph::{Order, TaskGraph};
use chunkscope::output::{Codec, OutputFormat, OutputSpec, WriterKind};
use chunkscope::pipeline::report::Grid;
use chunkscope::pipeline::{BlockSharing, Mode, Resolution, Schedule};

/// Chunk sizes outside this range get a warning; Dask's docs suggest ~100 MB chunks.
pub const SMALL_CHUNK_BYTES: u64 = 10_000_000;
pub const LARGE_CHUNK_BYTES: u64 = 1_000_000_000;

/// The fields of the chunk setup screen, top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Bands,
    Rows,
    Cols,
    Threads,
    Schedule,
    Mode,
    Writer,
    Format,
    Codec,
    Resolution,
    GdalCache,
    Blocks,
}

impl Field {
    pub const ALL: [Field; 12] = [
        Field::Bands,
        Field::Rows,
        Field::Cols,
        Field::Threads,
        Field::Schedule,
        Field::Mode,
        Field::Writer,
        Field::Format,
        Field::Codec,
        Field::Resolution,
        Field::GdalCache,
        Field::Blocks,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Field::Bands => "bands",
            Field::Rows => "rows",
            Field::Cols => "cols",
            Field::Threads => "threads",
            Field::Schedule => "schedule",
            Field::Mode => "mode",
            Field::Writer => "writer",
            Field::Format => "format",
            Field::Codec => "codec",
            Field::Resolution => "res",
            Field::GdalCache => "cache",
            Field::Blocks => "blocks",
        }
    }
}

/// The chunk setup for one scene, with the plan's figures for the current values.
#[derive(Debug, Clone)]
pub struct Setup {
    pub item: usize,
    /// The working grid's layout (overview 0 of visual), once `prepare` answered.
    pub layout: Option<RasterLayout>,
    pub grid: Option<Grid>,
    pub error: Option<String>,
    /// Requested chunk shape (bands, rows, cols); the plan clamps it to the raster.
    pub chunks: [usize; 3],
    pub free: bool,
    pub threads: usize,
    pub cores: usize,
    pub schedule: Schedule,
    pub serial: bool,
    /// Chunked writer (tiles encoded by the write tasks) or GDAL's writer and COG copy.
    pub writer: WriterKind,
    /// The output file's format; the codec follows its default when it changes.
    pub format: OutputFormat,
    pub codec: Codec,
    /// The grid the pipeline works on; `layout` and `grid` are for this one once
    /// `prepare` answered for it.
    pub resolution: Resolution,
    /// GDAL's block cache for the run in MiB; `None` leaves GDAL's default.
    pub gdal_cache_mb: Option<u32>,
    /// Whether load tasks share decoded blocks or each decode what it touches.
    pub blocks: BlockSharing,
    /// Whether a layout has arrived before: the first one picks the chunks (2x2 blocks),
    /// later ones (another resolution) keep those chosen.
    pub prepared_once: bool,
    pub field: Field,
    pub plan: Option<Result<PlanSummary, String>>,
}

/// Every setting of a run besides its mode, as the chunk setup chose them; the session
/// turns them into the engine's `RunConfig` (and the sweep's `RunBase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSettings {
    pub writer: WriterKind,
    pub format: OutputFormat,
    pub codec: Codec,
    pub resolution: Resolution,
    pub gdal_cache_mb: Option<u32>,
    pub blocks: BlockSharing,
}

impl RunSettings {
    /// The output file at `path` with these settings' format, codec and writer.
    pub fn output(&self, path: impl Into<std::path::PathBuf>) -> OutputSpec {
        OutputSpec {
            codec: Some(self.codec),
            writer: self.writer,
            ..OutputSpec::new(path, self.format)
        }
    }
}

/// The GDAL cache sizes the setup steps through (MiB), after GDAL's default.
pub const GDAL_CACHE_STEPS_MB: [u32; 5] = [16, 64, 256, 1024, 4096];

/// The codecs the setup steps through, in the order `--compress` lists them.
pub const CODECS: [Codec; 4] = [Codec::DEFLATE, Codec::Lzw, Codec::ZSTD, Codec::None];

/// The codec a format gets when none is asked for (as the command line does).
pub fn default_codec(format: OutputFormat) -> Codec {
    OutputSpec::new("", format).codec()
}

/// `COG`, `tiled GeoTIFF`: a format as people read it.
pub fn format_name(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::Cog => "COG",
        OutputFormat::Gtiff => "GeoTIFF",
    }
}

/// `GDAL default` or `256 MiB`.
pub fn cache_name(mb: Option<u32>) -> String {
    match mb {
        None => "default".into(),
        Some(mb) => format!("{mb} MiB"),
    }
}

/// The field `d` rows down (up when negative), wrapping around.
pub fn step_field(f: Field, d: isize) -> Field {
    let i = Field::ALL.iter().position(|x| *x == f).unwrap_or(0);
    Field::ALL[convert::ring_step(i, d, Field::ALL.len())]
}

/// The shape a request resolves to on `layout`, as [bands, rows, cols].
pub fn plan_shape(layout: RasterLayout, req: &ChunkRequest) -> Option<[usize; 3]> {
    let p = ChunkPlan::new(layout, req).ok()?;
    Some([p.shape.bands, p.shape.rows, p.shape.cols])
}

/// Step used for rows and cols in free mode.
pub fn free_step(block: usize) -> usize {
    if block >= 256 { 100 } else { 10 }
}

/// The next value up (`dir > 0`) or down from `v` on a grid of `step`, within
/// `step..=max`.
fn snap(v: usize, step: usize, dir: isize, max: usize) -> usize {
    let step = step.max(1);
    let next = if dir > 0 {
        (v / step + 1) * step
    } else {
        (v.saturating_sub(1) / step) * step
    };
    next.clamp(step.min(max), max.max(step))
}

/// A run the setup asks for, before the engine has said anything about it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    pub mode: Mode,
    /// Chunks along (bands, rows, cols), from the plan.
    pub grid: (usize, usize, usize),
    pub threads: usize,
    /// As the finished run's report will label it ([`RunReport::label`]): the Run screen
    /// shows this while the run goes on, when there is no report yet.
    ///
    /// [`RunReport::label`]: chunkscope::pipeline::RunReport::label
    pub label: String,
    /// Format, codec, resolution and GDAL cache, as [`settings_label`] writes them.
    pub settings: String,
}

/// `COG DEFLATE · 20 m · cache default`: the settings besides the chunks that decide a
/// run's time, in the words every screen uses for them.
pub fn settings_label(format: &str, codec: &str, metres: u32, cache: &str) -> String {
    format!("{format} {codec} · {metres} m · cache {cache}")
}

/// [`settings_label`] of a finished run, from what its report recorded (the cache as GDAL
/// had it during the run).
pub fn report_settings(report: &chunkscope::pipeline::RunReport) -> String {
    let c = &report.config;
    if chunkscope::dask::report::is_live(report) {
        return format!(
            "the lesson's code on Dask here · {} m · LocalCluster",
            c.resolution_m
        );
    }
    if chunkscope::dask::report::is_dask(report) {
        return "imported from a Dask task stream".into();
    }
    let format = match c.format.as_str() {
        "cog" => "COG",
        "gtiff" => "GeoTIFF",
        other => other,
    };
    let cache = c
        .gdal_cache_bytes
        .map_or("unknown".to_string(), chunkscope::profile::units::bytes);
    settings_label(format, &c.compress, c.resolution_m, &cache)
}

impl Setup {
    pub fn new(item: usize, cores: usize) -> Self {
        Self {
            item,
            layout: None,
            grid: None,
            error: None,
            chunks: [3, 1024, 1024],
            free: false,
            threads: cores,
            cores,
            schedule: Schedule::Staged,
            serial: false,
            writer: WriterKind::Chunked,
            format: OutputFormat::Cog,
            codec: default_codec(OutputFormat::Cog),
            resolution: Resolution::R20,
            gdal_cache_mb: None,
            blocks: BlockSharing::default(),
            prepared_once: false,
            field: Field::Rows,
            plan: None,
        }
    }

    /// The output settings as a run's header names them: `COG DEFLATE · 20 m · cache
    /// default`.
    pub fn settings_label(&self) -> String {
        settings_label(
            format_name(self.format),
            self.codec.name(),
            self.resolution.metres(),
            &cache_name(self.gdal_cache_mb),
        )
    }

    /// Recomputes the plan's figures for the current request.
    pub fn replan(&mut self) {
        let Some(layout) = self.layout else { return };
        let [bands, rows, cols] = self.chunks;
        self.plan = Some(
            ChunkPlan::new(layout, &ChunkRequest::Explicit { bands, rows, cols })
                .map(|p| p.summary())
                .map_err(|e| e.to_string()),
        );
    }

    pub fn adjust(&mut self, dir: isize) {
        let Some(l) = self.layout else { return };
        match self.field {
            Field::Bands => {
                self.chunks[0] = snap(self.chunks[0], 1, dir, l.bands);
            }
            Field::Rows | Field::Cols => {
                let (i, block, whole) = if self.field == Field::Rows {
                    (1, l.block_rows, l.rows)
                } else {
                    (2, l.block_cols, l.cols)
                };
                let step = if self.free { free_step(block) } else { block };
                let max = whole.div_ceil(block) * block;
                self.chunks[i] = snap(self.chunks[i], step, dir, max);
            }
            Field::Threads => {
                let max = chunkscope::pipeline::limits::thread_limit(self.cores);
                self.threads = snap(self.threads, 1, dir, max);
            }
            Field::Schedule => self.toggle_schedule(),
            Field::Mode => self.serial = !self.serial,
            Field::Writer => self.toggle_writer(),
            Field::Format => self.toggle_format(),
            Field::Codec => self.step_codec(dir),
            // The app asks the engine for the other grid (see `toggle_resolution`).
            Field::Resolution => {}
            Field::GdalCache => self.step_cache(dir),
            Field::Blocks => self.toggle_blocks(),
        }
        self.replan();
    }

    /// COG / tiled GeoTIFF; the codec goes to the new format's default, as `--format`
    /// without `--compress` does.
    pub fn toggle_format(&mut self) {
        self.format = match self.format {
            OutputFormat::Cog => OutputFormat::Gtiff,
            OutputFormat::Gtiff => OutputFormat::Cog,
        };
        self.codec = default_codec(self.format);
    }

    /// The next codec in [`CODECS`] (`dir < 0`: the previous one), at its default level.
    pub fn step_codec(&mut self, dir: isize) {
        let i = CODECS
            .iter()
            .position(|c| c.name() == self.codec.name())
            .unwrap_or(0);
        let d = if dir < 0 { -1 } else { 1 };
        self.codec = CODECS[convert::ring_step(i, d, CODECS.len())];
    }

    /// GDAL's default, then [`GDAL_CACHE_STEPS_MB`], wrapping around.
    pub fn step_cache(&mut self, dir: isize) {
        let mut steps: Vec<Option<u32>> = vec![None];
        steps.extend(GDAL_CACHE_STEPS_MB.iter().map(|&m| Some(m)));
        let i = steps
            .iter()
            .position(|&m| m == self.gdal_cache_mb)
            .unwrap_or(0);
        let d = if dir < 0 { -1 } else { 1 };
        self.gdal_cache_mb = steps[convert::ring_step(i, d, steps.len())];
    }

    /// 20 m / 10 m. The working grid changes with it, so the layout and plan are dropped
    /// until `prepare` answers for the new resolution; the chunk shape asked for is kept.
    pub fn toggle_resolution(&mut self) {
        self.resolution = match self.resolution {
            Resolution::R20 => Resolution::R10,
            Resolution::R10 => Resolution::R20,
        };
        self.layout = None;
        self.grid = None;
        self.plan = None;
    }

    pub fn toggle_writer(&mut self) {
        self.writer = match self.writer {
            WriterKind::Chunked => WriterKind::Gdal,
            WriterKind::Gdal => WriterKind::Chunked,
        };
    }

    pub fn toggle_blocks(&mut self) {
        self.blocks = match self.blocks {
            BlockSharing::Shared => BlockSharing::PerTask,
            BlockSharing::PerTask => BlockSharing::Shared,
        };
    }

    pub fn toggle_schedule(&mut self) {
        self.schedule = match self.schedule {
            Schedule::Staged => Schedule::Fused,
            Schedule::Fused => Schedule::Staged,
        };
    }

    pub fn preset(&mut self, p: u8) {
        let Some(l) = self.layout else { return };
        self.chunks = match p {
            1 => plan_shape(l, &ChunkRequest::Blocks(1)).unwrap_or(self.chunks),
            2 => plan_shape(l, &ChunkRequest::default()).unwrap_or(self.chunks),
            3 => [l.bands, 2048, 2048],
            _ => [l.bands, 6144, 6144],
        };
        self.replan();
    }

    /// The settings besides the mode, for the engine.
    pub fn run_settings(&self) -> RunSettings {
        RunSettings {
            writer: self.writer,
            format: self.format,
            codec: self.codec,
            resolution: self.resolution,
            gdal_cache_mb: self.gdal_cache_mb,
            blocks: self.blocks,
        }
    }

    /// The run these settings ask for, once the layout and a valid plan are known.
    pub fn planned_run(&self) -> Option<PlannedRun> {
        self.layout?;
        let (mode, grid, threads, label) = if self.serial {
            (Mode::Serial, (1, 1, 1), 1, "serial".to_string())
        } else {
            let summary = self.plan.as_ref()?.as_ref().ok()?;
            let [bands, rows, cols] = self.chunks;
            let threads = NonZeroUsize::new(self.threads)?;
            let shape = summary.shape;
            (
                Mode::Chunked {
                    chunks: ChunkRequest::Explicit { bands, rows, cols },
                    threads,
                    schedule: self.schedule,
                },
                summary.grid,
                self.threads,
                format!(
                    "chunked x {} ({},{},{}, {})",
                    self.threads,
                    shape.bands,
                    shape.rows,
                    shape.cols,
                    self.schedule.name()
                ),
            )
        };
        let label = match self.writer {
            WriterKind::Chunked => label,
            WriterKind::Gdal => format!("{label} · GDAL writer"),
        };
        let settings = self.settings_label();
        Some(PlannedRun {
            mode,
            grid,
            threads,
            label,
            settings,
        })
    }

    /// The task graph a run in `mode` of these settings executes, from the same plan the
    /// run makes.
    pub fn task_graph(&self, mode: &Mode) -> Option<TaskGraph> {
        match mode {
            Mode::Serial => Some(TaskGraph::serial(self.writer)),
            Mode::Chunked { chunks, .. } => {
                let plan = ChunkPlan::new(self.layout?, chunks).ok()?;
                Some(TaskGraph::chunked(&plan, Order::of(mode), self.writer))
            }
        }
    }

    /// Warnings about the current setup, for the user to read before running.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let Some(Ok(p)) = &self.plan else {
            return out;
        };
        if self.serial {
            return out;
        }
        if p.chunk_bytes < SMALL_CHUNK_BYTES {
            out.push(format!(
                "small chunks ({}): task overhead may dominate; Dask suggests ~100 MB",
                chunkscope::profile::units::bytes(p.chunk_bytes)
            ));
        } else if p.chunk_bytes > LARGE_CHUNK_BYTES {
            out.push(format!(
                "large chunks ({}): few tasks, much memory per worker; Dask suggests ~100 MB",
                chunkscope::profile::units::bytes(p.chunk_bytes)
            ));
        }
        if p.chunk_count < self.threads {
            out.push(format!(
                "{} chunk(s) for {} threads: some threads will idle",
                p.chunk_count, self.threads
            ));
        }
        if !p.aligned {
            out.push(match self.blocks {
                BlockSharing::Shared => "chunks straddle blocks: shared blocks are decoded \
                                         once, but a reader without a block cache decodes \
                                         some more than once"
                    .into(),
                BlockSharing::PerTask => {
                    "chunks straddle blocks: some blocks are decoded more than once".into()
                }
            });
        }
        out.extend(p.notices.iter().cloned());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapping_steps_to_the_grid() {
        assert_eq!(snap(1024, 1024, 1, 6144), 2048);
        assert_eq!(snap(1024, 1024, -1, 6144), 1024);
        assert_eq!(snap(1500, 1024, -1, 6144), 1024);
        assert_eq!(snap(1500, 1024, 1, 6144), 2048);
        assert_eq!(snap(6144, 1024, 1, 6144), 6144);
        assert_eq!(snap(1024, 100, -1, 6144), 1000);
        assert_eq!(snap(1000, 100, 1, 6144), 1100);
        assert_eq!(snap(1, 1, -1, 3), 1);
        assert_eq!(snap(3, 1, 1, 3), 3);
    }
}
