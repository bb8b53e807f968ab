//! The state a run's tasks share ([`Exec`]: the run's settings, clock, worker slots,
//! writer and block stores) and what tasks hand each other (a loaded chunk, a masked one,
//! what a task produced). Built on the caller's thread; read by the pool's workers.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, RwLock};

use ndarray::{Array2, Array3};

use super::traffic::NetTracker;
use super::windows::block_stores;
use crate::chunks::Chunk;
use crate::network::TrafficCounts;
use crate::output::{ChunkedWriter, GdalWriter, OutputWriter, TileQueue};
use crate::pipeline::blocks::{BlockStore, Gauge};
use crate::pipeline::report::TaskTraffic;
use crate::pipeline::{PipelineError, Prepared, RunConfig, RunControl, Scene};
use crate::raster::OpenRaster;
use crate::task::{RunClock, TaskRecord};

/// A worker's own GDAL handles: datasets are not thread-safe (the lesson's `lock=False`
/// opens one per worker too).
pub(super) struct Handles {
    pub(super) visual: OpenRaster,
    pub(super) scl: OpenRaster,
}

/// What one worker keeps: its GDAL handles, the records of its tasks, its time outside
/// them, and its traffic.
#[derive(Default)]
pub(super) struct WorkerSlot {
    pub(super) handles: Option<Handles>,
    pub(super) open_ns: u64,
    pub(super) write_wait_ns: u64,
    pub(super) records: Vec<TaskRecord>,
    /// Traffic of this worker's load tasks and handle opens (simulated network only).
    pub(super) traffic: Vec<TaskTraffic>,
    pub(super) open_traffic: TrafficCounts,
}

/// Time spent on a task's behalf just before it started.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Before {
    pub(super) wait_ns: u64,
    pub(super) alloc_ns: u64,
}

/// What a task's work produced, with what its record needs to know.
pub(super) struct Done<T> {
    pub(super) value: T,
    pub(super) bytes: u64,
    pub(super) append_wait_ns: u64,
    pub(super) tiles: u32,
    /// Time the task held the output's lock (see [`TaskRecord::lock_hold_ns`]).
    pub(super) lock_hold_ns: u64,
}

impl<T> Done<T> {
    pub(super) fn new(value: T, bytes: u64) -> Self {
        Self {
            value,
            bytes,
            append_wait_ns: 0,
            tiles: 0,
            lock_hold_ns: 0,
        }
    }
}

/// The run's output writer. The chunked writer is shared by the write tasks (it locks
/// per tile and around its appender); GDAL's is used by one task at a time, and waiting
/// for it is the lesson's `Lock()`.
pub(super) enum Writer {
    Chunked(RwLock<Option<ChunkedWriter>>),
    Gdal(Mutex<Option<GdalWriter>>),
}

/// A chunked write task's tiles, shared with the idle workers it asks for help: when the
/// last chunks complete many tiles (their own, then the overview tiles above them), the
/// other workers would otherwise wait for one worker to encode them all.
pub(super) struct SharedWrite {
    pub(super) chunk: Chunk,
    pub(super) queue: TileQueue,
    /// Helper jobs sent and not yet returned.
    pub(super) helpers: AtomicUsize,
}

/// A loaded chunk: its image and the SCL window the mask reads.
pub(super) struct ChunkData {
    pub(super) chunk: Chunk,
    pub(super) image: Array3<u8>,
    pub(super) scl: Array2<u8>,
}

/// A chunk after the mask: the SCL is dropped there, as Dask drops an input chunk once
/// the last task needing it has run, so a write holds only the image.
pub(super) struct MaskedChunk {
    pub(super) chunk: Chunk,
    pub(super) image: Array3<u8>,
}

/// A run in progress: what every task of it reads, and the figures tasks add to.
pub(super) struct Exec<'a> {
    pub(super) scene: &'a Scene,
    pub(super) config: &'a RunConfig,
    pub(super) prepared: &'a Prepared,
    pub(super) control: &'a RunControl,
    pub(super) clock: RunClock,
    pub(super) slots: Vec<Mutex<WorkerSlot>>,
    pub(super) writer: Writer,
    pub(super) masked: AtomicU64,
    pub(super) tile_bytes: AtomicU64,
    pub(super) notes: Vec<String>,
    pub(super) net: Option<NetTracker>,
    /// The first error of a worker helping a write task (it has no caller to return to).
    pub(super) help_failed: Mutex<Option<PipelineError>>,
    /// Set when a helper failed: tasks not yet started stop, as they do after a task's own
    /// error, rather than run the rest of the image for an output that cannot be written.
    pub(super) stopping: AtomicBool,
    /// Tests: every helper job fails as a write error would (see `fail_helpers`).
    #[cfg(test)]
    pub(super) fail_helpers: bool,
    /// Decoded blocks of each asset, shared by the load tasks (see [`crate::pipeline::blocks`]).
    pub(super) visual_blocks: BlockStore,
    pub(super) scl_blocks: BlockStore,
    pub(super) blocks_held: Arc<Gauge>,
}

impl<'a> Exec<'a> {
    /// Creates the output (before the clock starts: an unwritable folder fails before any
    /// work) and the block stores, then starts the run's clock.
    pub(super) fn new(
        scene: &'a Scene,
        config: &'a RunConfig,
        prepared: &'a Prepared,
        control: &'a RunControl,
        threads: usize,
    ) -> Result<Self, PipelineError> {
        let created = OutputWriter::create(
            config.output.clone(),
            prepared.output_geometry(),
            control.cancel.clone(),
        )?;
        let notes = if created.removed_stale.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "removed {} staging file(s) that runs which died left in the output folder: {}",
                created.removed_stale.len(),
                created.removed_stale.join(", ")
            )]
        };
        let writer = match created.writer {
            OutputWriter::Chunked(w) => Writer::Chunked(RwLock::new(Some(w))),
            OutputWriter::Gdal(w) => Writer::Gdal(Mutex::new(Some(w))),
        };
        let blocks_held = Arc::new(Gauge::default());
        let (visual_blocks, scl_blocks) = block_stores(config, prepared, &blocks_held)?;
        Ok(Exec {
            scene,
            config,
            prepared,
            control,
            clock: RunClock::start(),
            slots: (0..threads)
                .map(|_| Mutex::new(WorkerSlot::default()))
                .collect(),
            writer,
            masked: AtomicU64::new(0),
            tile_bytes: AtomicU64::new(0),
            notes,
            net: NetTracker::start(scene),
            help_failed: Mutex::new(None),
            stopping: AtomicBool::new(false),
            #[cfg(test)]
            fail_helpers: super::FAIL_HELPERS.with(std::cell::Cell::get),
            visual_blocks,
            scl_blocks,
            blocks_held,
        })
    }

    /// The worker running the caller: its pool index (0 outside a pool).
    pub(super) fn worker(&self) -> usize {
        rayon::current_thread_index()
            .unwrap_or(0)
            .min(self.slots.len() - 1)
    }

    /// The whole grid as one chunk: the serial run's only chunk, and the finalize task's.
    pub(super) fn whole_chunk(&self) -> Chunk {
        let g = self.prepared.grid;
        Chunk {
            index: 0,
            band0: 0,
            bands: g.bands,
            row0: 0,
            rows: g.rows,
            col0: 0,
            cols: g.cols,
        }
    }
}
