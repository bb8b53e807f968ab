//! The lesson's pipeline — load SCL and the true-colour image on one grid, mask cloud
//! classes to nodata, write the result — run either serially (whole arrays, one thread,
//! like `.load()`) or chunked on a pool of N threads. Runs on the caller's thread plus, for
//! chunked runs, a rayon pool built for the run; each pool thread owns its GDAL handles.

pub mod blocks;
mod buffers;
pub mod calibrate;
mod exec;
mod georef;
pub mod limits;
pub mod mask;
pub mod report;

use std::num::NonZeroUsize;

pub use blocks::BlockSharing;
pub use mask::CloudClasses;
pub use report::{NetworkReport, RunReport, SCHEMA_VERSION, TaskTraffic};

use crate::catalog::{AssetRole, CatalogError, Item};
use crate::chunks::{ChunkError, ChunkPlan, ChunkRequest};
use crate::network::Probe;
use crate::output::{OutputError, OutputGeometry, OutputSpec};
use crate::raster::{self, RasterError, RasterInfo, RasterSource};
use crate::task::{CancelFlag, EventSink};

/// The two assets a run reads, named for messages, and the in-process simulated server
/// they are read through, if any (its counters go into the report's network figures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scene {
    pub item: String,
    pub visual: RasterSource,
    pub scl: RasterSource,
    pub server: Option<Probe>,
}

impl Scene {
    /// Finds the visual and SCL assets of a catalog item.
    pub fn from_item(item: &Item) -> Result<Self, CatalogError> {
        let source = |role: AssetRole| -> Result<RasterSource, CatalogError> {
            let asset = item.asset(role)?;
            Ok(RasterSource::new(
                format!("asset \"{}\" of item \"{}\"", asset.key, item.id),
                asset.gdal_path.clone(),
            ))
        };
        Ok(Self {
            item: item.id.clone(),
            visual: source(AssetRole::Visual)?,
            scl: source(AssetRole::Scl)?,
            server: None,
        })
    }

    /// The same scene, read through `server` (the simulated network its catalog was
    /// served by); `None` leaves it as it is.
    pub fn served_by(mut self, server: Option<Probe>) -> Self {
        if server.is_some() {
            self.server = server;
        }
        self
    }

    /// Whether GDAL reads either asset over the network.
    pub fn is_remote(&self) -> bool {
        crate::network::remote::is_remote(&self.visual.path)
            || crate::network::remote::is_remote(&self.scl.path)
    }
}

/// How the chunked path orders its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// All loads, then all masks, then the writes: the lesson's persist-then-compute.
    Staged,
    /// Each chunk flows through load, mask and write on the worker that loaded it.
    Fused,
}

impl Schedule {
    pub fn name(self) -> &'static str {
        match self {
            Schedule::Staged => "staged",
            Schedule::Fused => "fused",
        }
    }
}

/// Serial or chunked; only the chunked path has chunks, threads and a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Serial,
    Chunked {
        chunks: ChunkRequest,
        threads: NonZeroUsize,
        schedule: Schedule,
    },
}

/// The grid the pipeline works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Resolution {
    /// The lesson: overview 0 of `visual` with SCL as it is (both 20 m).
    R20,
    /// Full-resolution `visual` with each SCL pixel repeated 2x2: four times the work.
    R10,
}

impl Resolution {
    pub fn metres(self) -> u32 {
        match self {
            Resolution::R20 => 20,
            Resolution::R10 => 10,
        }
    }
}

/// What a run reads of one asset: which level, and how many grid pixels each of its
/// pixels covers along each axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssetRead {
    /// Overview level opened, `None` for the full-resolution image.
    pub overview: Option<usize>,
    /// 1: one pixel per grid pixel; 2: each pixel repeated 2x2.
    pub repeat: usize,
}

impl AssetRead {
    /// `overview 0, 5490x5490`, `full res, 5490x5490` or `full res 5490x5490, pixels 2x2`:
    /// what is read of an asset of these figures. `None` when it lacks that overview.
    pub fn describe(&self, info: &RasterInfo) -> Option<String> {
        let (rows, cols) = match self.overview {
            Some(k) => info.overviews.get(k).map(|[r, c]| (*r, *c))?,
            None => (info.rows, info.cols),
        };
        Some(match (self.overview, self.repeat) {
            (Some(k), _) => format!("overview {k}, {rows}x{cols}"),
            (None, 1) => format!("full res, {rows}x{cols}"),
            (None, f) => format!("full res {rows}x{cols}, pixels {f}x{f}"),
        })
    }
}

impl Resolution {
    /// What a run at this resolution reads of the asset in `role`: `visual` at 20 m is
    /// its overview 0, SCL is always read at its native 20 m (repeated 2x2 on the 10 m
    /// grid); other assets are not read. `prepare` and the workers open what this says.
    pub fn reads(self, role: AssetRole) -> Option<AssetRead> {
        match (role, self) {
            (AssetRole::Visual, Resolution::R20) => Some(AssetRead {
                overview: Some(0),
                repeat: 1,
            }),
            (AssetRole::Visual, Resolution::R10) => Some(AssetRead {
                overview: None,
                repeat: 1,
            }),
            (AssetRole::Scl, Resolution::R20) => Some(AssetRead {
                overview: None,
                repeat: 1,
            }),
            (AssetRole::Scl, Resolution::R10) => Some(AssetRead {
                overview: None,
                repeat: 2,
            }),
            (AssetRole::Blue, _) => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub mode: Mode,
    pub resolution: Resolution,
    pub cloud_classes: CloudClasses,
    pub output: OutputSpec,
    /// GDAL's block cache limit for the run, in MiB; `None` leaves GDAL's (GDAL_CACHEMAX,
    /// else 5 % of RAM). It bounds what decoded and (with `--writer gdal`) written blocks
    /// may hold.
    pub gdal_cache_mb: Option<u32>,
    /// Whether load tasks share decoded blocks or each decode what it touches.
    pub blocks: BlockSharing,
}

/// What a caller can do to a run from outside: watch it, stop it, and choose how much is
/// measured beyond the task records (which every report keeps).
#[derive(Debug, Clone)]
pub struct RunControl {
    pub events: EventSink,
    pub cancel: CancelFlag,
    /// Sample per-core CPU and memory during the run at this interval; `None` turns the
    /// sampler off (the report's `cpu` series is then empty).
    pub sample_every: Option<std::time::Duration>,
    /// Where the sampler also sends each sample as it is taken (the TUI's live CPU and
    /// memory); `None` keeps them for the report only. Ignored without `sample_every`.
    pub samples: Option<crate::profile::sampler::SampleFeed>,
}

impl Default for RunControl {
    fn default() -> Self {
        Self {
            events: EventSink::none(),
            cancel: CancelFlag::new(),
            sample_every: Some(crate::profile::sampler::DEFAULT_INTERVAL),
            samples: None,
        }
    }
}

impl RunControl {
    /// Profiling off: no observer events (dropped at the source) and no sampler. What the
    /// profiling-cost benchmark compares against.
    pub fn unprofiled() -> Self {
        Self {
            sample_every: None,
            ..Self::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Raster(#[from] RasterError),
    #[error(transparent)]
    Chunks(#[from] ChunkError),
    #[error(transparent)]
    Output(OutputError),
    /// An input chunkscope cannot run on; `reason` is one-off text about that input.
    #[error("{what} \"{path}\": {reason}")]
    Input {
        what: String,
        path: String,
        reason: String,
    },
    #[error(
        "the working grid is {shape} = {pixels} pixels, more than the {limit} a run may \
         allocate; a size this large is more likely a broken file than an image: if it is \
         real, raise the bound with --max-pixels {pixels}"
    )]
    TooManyPixels {
        pixels: u64,
        shape: String,
        limit: u64,
    },
    #[error(
        "a serial run holds the whole image at once: {needed_mib} MiB, more than the \
         {available_mib} MiB this machine has available; run it chunked (--mode chunked)"
    )]
    NotEnoughMemory { needed_mib: u64, available_mib: u64 },
    /// More threads than any run starts ([`limits::MAX_THREADS`]), refused before any is.
    #[error(
        "cannot start {threads} worker threads: chunkscope starts at most {max} worker threads"
    )]
    TooManyThreads { threads: usize, max: usize },
    /// rayon could not start the pool; why is the source.
    #[error("cannot start {threads} worker threads")]
    ThreadPool {
        threads: usize,
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// Internal: the cancel flag was seen; `run` turns it into a cancelled report.
    #[error("the run was cancelled")]
    Cancelled,
}

impl From<OutputError> for PipelineError {
    fn from(e: OutputError) -> Self {
        match e {
            OutputError::Cancelled => PipelineError::Cancelled,
            other => PipelineError::Output(other),
        }
    }
}

/// What a run is about to do, known before any pixel is read.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub visual: RasterInfo,
    pub scl: RasterInfo,
    /// Visual overview level read, `None` for full resolution.
    pub visual_overview: Option<usize>,
    /// SCL overview level read (see [`Resolution::reads`]): `None`, its native 20 m.
    pub scl_overview: Option<usize>,
    pub grid: report::Grid,
    /// Grid pixels per SCL pixel along each axis (1 at 20 m, 2 at 10 m).
    pub scl_factor: usize,
    pub plan: Option<ChunkPlan>,
}

/// Checks the inputs and plans the chunks without reading pixels: what the TUI shows while
/// the user tunes, and the first step of every run.
pub fn prepare(
    scene: &Scene,
    resolution: Resolution,
    chunks: Option<&ChunkRequest>,
) -> Result<Prepared, PipelineError> {
    let visual = raster::inspect(&scene.visual)?;
    let scl = raster::inspect(&scene.scl)?;
    let input_err = |src: &RasterSource, reason: String| PipelineError::Input {
        what: src.what.clone(),
        path: src.path.clone(),
        reason,
    };
    for (src, info) in [(&scene.visual, &visual), (&scene.scl, &scl)] {
        if info.dtype_bytes != 1 {
            return Err(input_err(
                src,
                format!(
                    "is {}, but the pipeline reads 8-bit (Byte) data",
                    info.dtype
                ),
            ));
        }
    }
    let read = |role| {
        resolution.reads(role).unwrap_or(AssetRead {
            overview: None,
            repeat: 1,
        })
    };
    let (visual_overview, scl_factor) = (
        read(AssetRole::Visual).overview,
        read(AssetRole::Scl).repeat,
    );
    let layout = visual.layout(visual_overview).ok_or_else(|| {
        input_err(
            &scene.visual,
            "has no overviews, so there is no 20 m level to read; try --res 10".into(),
        )
    })?;
    let grid = report::Grid {
        bands: layout.bands,
        rows: layout.rows,
        cols: layout.cols,
    };
    let expect = [
        grid.rows.div_ceil(scl_factor),
        grid.cols.div_ceil(scl_factor),
    ];
    if [scl.rows, scl.cols] != expect {
        return Err(input_err(
            &scene.scl,
            format!(
                "is {}x{} pixels, but the {} m visual grid needs {}x{}: SCL and visual are not on one grid",
                scl.rows,
                scl.cols,
                resolution.metres() * crate::convert::clamp_u32(scl_factor),
                expect[0],
                expect[1]
            ),
        ));
    }
    for (src, info) in [(&scene.visual, &visual), (&scene.scl, &scl)] {
        georef::check_geotransform(info).map_err(|reason| input_err(src, reason))?;
    }
    let image_name = format!("({}, \"{}\")", scene.visual.what, scene.visual.path);
    georef::check_same_grid(&visual, &scl, &image_name)
        .map_err(|reason| input_err(&scene.scl, reason))?;
    let plan = chunks.map(|req| ChunkPlan::new(layout, req)).transpose()?;
    Ok(Prepared {
        visual,
        scl,
        visual_overview,
        scl_overview: read(AssetRole::Scl).overview,
        grid,
        scl_factor,
        plan,
    })
}

impl Prepared {
    /// The chunk plan `request` gives on this working grid, as a run would make it.
    pub fn plan_for(&self, request: &ChunkRequest) -> Result<ChunkPlan, ChunkError> {
        let layout = self
            .visual
            .layout(self.visual_overview)
            .ok_or(ChunkError::Layout {
                reason: "the visual asset has no block layout".to_string(),
            })?;
        ChunkPlan::new(layout, request)
    }

    /// Georeferencing of the working grid, for the output file.
    pub fn output_geometry(&self) -> OutputGeometry {
        let block = self
            .visual
            .layout(self.visual_overview)
            .map_or(1024, |l| l.block_rows.max(l.block_cols));
        let geo_transform = self.visual.geo_transform.map(|mut gt| {
            // An overview covers the same extent with fewer, larger pixels.
            gt[1] *= self.visual.cols as f64 / self.grid.cols as f64;
            gt[2] *= self.visual.cols as f64 / self.grid.cols as f64;
            gt[4] *= self.visual.rows as f64 / self.grid.rows as f64;
            gt[5] *= self.visual.rows as f64 / self.grid.rows as f64;
            gt
        });
        OutputGeometry {
            rows: self.grid.rows,
            cols: self.grid.cols,
            bands: self.grid.bands,
            block,
            geo_transform,
            crs: self.visual.crs.clone(),
        }
    }
}

/// Runs the pipeline to completion, failure or cancellation. A cancelled run returns a
/// report with `cancelled: true`, the tasks that ran, and no output file.
pub fn run(
    scene: &Scene,
    config: &RunConfig,
    control: &RunControl,
) -> Result<RunReport, PipelineError> {
    let chunks = match &config.mode {
        Mode::Serial => None,
        Mode::Chunked {
            chunks, threads, ..
        } => {
            limits::check_pool(threads.get())?;
            Some(chunks)
        }
    };
    if scene.is_remote() {
        // Before `prepare` opens anything: a fresh cache makes each run pay for its
        // downloads (unless the user asked to keep it).
        crate::network::remote::before_run();
    }
    let _cache = config
        .gdal_cache_mb
        .map(|mb| raster::CacheLimit::set(u64::from(mb) << 20));
    let prepared = prepare(scene, config.resolution, chunks)?;
    limits::check_pixels(&prepared.grid, matches!(config.mode, Mode::Serial))?;
    exec::execute(scene, config, &prepared, control)
}
