//! Executes a prepared run: the task wrapper (cancellation, timing, events, records), the
//! three stages, and the serial, staged and fused orders they run in.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use gdal::Dataset;
use ndarray::{Array2, Array3};
use rayon::prelude::*;

use super::blocks::{self, BlockGrid, BlockReport, BlockStore, Gauge};
use super::report::{
    NetworkReport, ReportAssets, ReportConfig, RunReport, SCHEMA_VERSION, StageLatency,
    StageReport, TaskTraffic, WorkerReport,
};
use super::{Mode, PipelineError, Prepared, RunConfig, RunControl, Scene, Schedule, buffers, mask};
use crate::chunks::Chunk;
use crate::network::remote::{self, GdalNetStats};
use crate::network::{Probe, TrafficCounts};
use crate::output::{ChunkedWriter, GdalWriter, OutputWriter, TileQueue, WriteStats};
use crate::profile::interference;
use crate::profile::latency::{self, LatencySummary};
use crate::profile::memory;
use crate::profile::overhead::{self, WorkerFacts};
use crate::profile::sampler::{self, CoreSource, CpuSeries, Sampler};
use crate::profile::{ProcessTimes, current_rss_bytes};
use crate::raster::{self, OpenRaster, Window};
use crate::task::{Event, RunClock, Stage, TaskRecord};
use std::time::Duration;

/// A worker's own GDAL handles: datasets are not thread-safe (the lesson's `lock=False`
/// opens one per worker too).
struct Handles {
    visual: OpenRaster,
    scl: OpenRaster,
}

#[derive(Default)]
struct WorkerSlot {
    handles: Option<Handles>,
    open_ns: u64,
    write_wait_ns: u64,
    records: Vec<TaskRecord>,
    /// Traffic of this worker's load tasks and handle opens (simulated network only).
    traffic: Vec<TaskTraffic>,
    open_traffic: TrafficCounts,
}

/// Where a run over remote assets gets its traffic figures, and the counts at its start.
struct NetTracker {
    /// The in-process simulated server the assets come from, if any.
    probe: Option<Probe>,
    server_total0: TrafficCounts,
    server_cpu0: Option<u64>,
    gdal0: Option<GdalNetStats>,
}

impl NetTracker {
    fn start(scene: &Scene) -> Option<NetTracker> {
        if !scene.is_remote() {
            return None;
        }
        let probe = scene
            .server
            .clone()
            .filter(|s| s.serves(&scene.visual.path));
        Some(NetTracker {
            server_total0: probe.as_ref().map(Probe::total).unwrap_or_default(),
            server_cpu0: probe.as_ref().and_then(Probe::server_cpu_ns),
            gdal0: GdalNetStats::now(),
            probe,
        })
    }

    /// This worker's traffic so far, as the simulated server counted it.
    fn worker(&self, worker: usize) -> Option<TrafficCounts> {
        self.probe.as_ref().map(|p| p.worker(worker as u32))
    }
}

/// Resident memory at the run's start and end.
#[derive(Debug, Clone, Copy)]
struct Rss {
    start: u64,
    end: u64,
}

/// Time spent on a task's behalf just before it started.
#[derive(Debug, Clone, Copy, Default)]
struct Before {
    wait_ns: u64,
    alloc_ns: u64,
}

/// What a task's work produced, with what its record needs to know.
struct Done<T> {
    value: T,
    bytes: u64,
    append_wait_ns: u64,
    tiles: u32,
    /// Time the task held the output's lock (see [`TaskRecord::lock_hold_ns`]).
    lock_hold_ns: u64,
}

impl<T> Done<T> {
    fn new(value: T, bytes: u64) -> Self {
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
enum Writer {
    Chunked(RwLock<Option<ChunkedWriter>>),
    Gdal(Mutex<Option<GdalWriter>>),
}

/// A chunked write task's tiles, shared with the idle workers it asks for help: when the
/// last chunks complete many tiles (their own, then the overview tiles above them), the
/// other workers would otherwise wait for one worker to encode them all.
struct SharedWrite {
    chunk: Chunk,
    queue: TileQueue,
    /// Helper jobs sent and not yet returned.
    helpers: AtomicUsize,
}

/// A loaded chunk: its image and the SCL window the mask reads.
struct ChunkData {
    chunk: Chunk,
    image: Array3<u8>,
    scl: Array2<u8>,
}

/// A chunk after the mask: the SCL is dropped there, as Dask drops an input chunk once
/// the last task needing it has run, so a write holds only the image.
struct MaskedChunk {
    chunk: Chunk,
    image: Array3<u8>,
}

struct Exec<'a> {
    scene: &'a Scene,
    config: &'a RunConfig,
    prepared: &'a Prepared,
    control: &'a RunControl,
    clock: RunClock,
    slots: Vec<Mutex<WorkerSlot>>,
    writer: Writer,
    masked: AtomicU64,
    tile_bytes: AtomicU64,
    notes: Vec<String>,
    net: Option<NetTracker>,
    /// The first error of a worker helping a write task (it has no caller to return to).
    help_failed: Mutex<Option<PipelineError>>,
    /// Set when a helper failed: tasks not yet started stop, as they do after a task's own
    /// error, rather than run the rest of the image for an output that cannot be written.
    stopping: AtomicBool,
    /// Tests: every helper job fails as a write error would (see [`fail_helpers`]).
    #[cfg(test)]
    fail_helpers: bool,
    /// Decoded blocks of each asset, shared by the load tasks (see [`blocks`]).
    visual_blocks: BlockStore,
    scl_blocks: BlockStore,
    blocks_held: Arc<Gauge>,
}

/// The window of the SCL (on its own grid) that `window` of the working grid needs: the
/// same at 20 m; at 10 m each SCL pixel covers `factor` x `factor` grid pixels.
fn scl_window(window: Window, factor: usize) -> Window {
    let (r0, c0) = (window.row0 / factor, window.col0 / factor);
    Window {
        row0: r0,
        col0: c0,
        rows: (window.row0 + window.rows).div_ceil(factor) - r0,
        cols: (window.col0 + window.cols).div_ceil(factor) - c0,
    }
}

fn window_of(chunk: &Chunk) -> Window {
    Window {
        row0: chunk.row0,
        col0: chunk.col0,
        rows: chunk.rows,
        cols: chunk.cols,
    }
}

/// The block stores of a run: one for each asset, counting the chunks that touch each
/// block (the whole grid, for a serial run).
fn block_stores(
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

pub(super) fn execute(
    scene: &Scene,
    config: &RunConfig,
    prepared: &Prepared,
    control: &RunControl,
) -> Result<RunReport, PipelineError> {
    let threads = match &config.mode {
        Mode::Serial => 1,
        Mode::Chunked { threads, .. } => threads.get(),
    };
    // The pool is built before the clock starts: its start-up is not the run's.
    let pool = match &config.mode {
        Mode::Chunked { .. } => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("chunkscope-worker-{i}"))
                .build()
                .map_err(|e| PipelineError::ThreadPool {
                    threads,
                    reason: e.to_string(),
                })?,
        ),
        Mode::Serial => None,
    };
    // Created before the clock starts: an unwritable folder fails before any work.
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
    let exec = Exec {
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
        fail_helpers: FAIL_HELPERS.with(std::cell::Cell::get),
        visual_blocks,
        scl_blocks,
        blocks_held,
    };
    let rss_start_bytes = current_rss_bytes().unwrap_or(0);
    let cpu_before = ProcessTimes::now();
    // What other processes take meanwhile, with or without the sampler.
    let others = interference::Probe::start();
    let sampler = control.sample_every.map(|every| match &control.samples {
        Some(feed) => Sampler::start_feeding(every, exec.clock.origin(), feed.clone()),
        None => Sampler::start(every, exec.clock.origin()),
    });
    let chunk_count = prepared.plan.as_ref().map_or(1, |p| p.chunks.len());
    control.events.send(Event::RunStarted {
        chunks: u32::try_from(chunk_count).unwrap_or(u32::MAX),
        threads: u16::try_from(threads).unwrap_or(u16::MAX),
    });

    let outcome = match (&config.mode, &prepared.plan, &pool) {
        (Mode::Chunked { schedule, .. }, Some(plan), Some(pool)) => {
            let chunks = blocks::ordered(&plan.chunks, &plan.layout, config.blocks);
            pool.install(|| match schedule {
                Schedule::Staged => exec.staged(&chunks),
                Schedule::Fused => exec.fused(&chunks),
            })
        }
        _ => exec.serial(),
    };
    let outcome = outcome.and_then(|()| exec.finalize(threads));
    let cancelled = matches!(outcome, Err(PipelineError::Cancelled));
    let output = match outcome {
        Ok(path) => Some(path),
        Err(PipelineError::Cancelled) => None,
        Err(e) => {
            if let Some(s) = sampler {
                s.stop();
            }
            exec.control.events.send(Event::RunFinished {
                at_ns: exec.clock.now_ns(),
                cancelled: false,
            });
            return Err(e);
        }
    };
    // Drops an unfinished writer, removing its temporary files.
    exec.drop_writer();
    let wall_ns = exec.clock.now_ns();
    let cpu = ProcessTimes::now().since(&cpu_before);
    let others = others.and_then(|p| p.finish());
    let rss_now = current_rss_bytes().unwrap_or(0);
    let series = match sampler {
        Some(s) => s.stop(),
        None => CpuSeries::from_samples(Vec::new(), Duration::ZERO, 0, CoreSource::ProcStat),
    };
    control.events.send(Event::RunFinished {
        at_ns: wall_ns,
        cancelled,
    });
    let memory = Rss {
        start: rss_start_bytes,
        end: rss_now,
    };
    Ok(exec
        .report(threads, wall_ns, (cpu, series, memory), output, cancelled)
        .with_interference(others))
}

impl Exec<'_> {
    fn worker(&self) -> usize {
        rayon::current_thread_index()
            .unwrap_or(0)
            .min(self.slots.len() - 1)
    }

    /// Runs one task: checks the cancel flag, times `work`, records and reports it.
    /// `before` is what was spent just before the task on its behalf (writer wait, buffers).
    fn task<T>(
        &self,
        chunk: &Chunk,
        stage: Stage,
        before: Before,
        work: impl FnOnce(&mut WorkerSlot) -> Result<Done<T>, PipelineError>,
    ) -> Result<T, PipelineError> {
        self.record(chunk, stage, before, false, work)
    }

    /// [`Self::task`], for a task's own work (`helping` false) or a worker's help with
    /// another worker's write task (true; see [`TaskRecord::helping`]).
    fn record<T>(
        &self,
        chunk: &Chunk,
        stage: Stage,
        before: Before,
        helping: bool,
        work: impl FnOnce(&mut WorkerSlot) -> Result<Done<T>, PipelineError>,
    ) -> Result<T, PipelineError> {
        if self.control.cancel.is_cancelled() || self.stopping.load(Ordering::Acquire) {
            return Err(PipelineError::Cancelled);
        }
        let worker = self.worker();
        let mut slot = self.slots[worker].lock().unwrap_or_else(|p| p.into_inner());
        let (chunk_id, worker_id) = (chunk.index as u32, worker as u16);
        let start_ns = self.clock.now_ns();
        self.control.events.send(Event::TaskStarted {
            chunk: chunk_id,
            stage,
            worker: worker_id,
            at_ns: start_ns,
            helping,
        });
        match work(&mut slot) {
            Ok(done) => {
                let record = TaskRecord {
                    chunk: chunk_id,
                    stage,
                    worker: worker_id,
                    start_ns,
                    end_ns: self.clock.now_ns(),
                    bytes: done.bytes,
                    wait_ns: before.wait_ns,
                    alloc_ns: before.alloc_ns,
                    append_wait_ns: done.append_wait_ns,
                    tiles: done.tiles,
                    lock_hold_ns: done.lock_hold_ns,
                    helping,
                };
                slot.records.push(record);
                self.control.events.send(Event::TaskFinished(record));
                Ok(done.value)
            }
            Err(e) => {
                self.control.events.send(Event::TaskFailed {
                    chunk: chunk_id,
                    stage,
                    worker: worker_id,
                    at_ns: self.clock.now_ns(),
                });
                Err(e)
            }
        }
    }

    /// Opens this worker's handles on first use, outside any task: the time is reported
    /// per worker (`open_ns`) as overhead, not as load work.
    fn open_handles(&self) -> Result<(), PipelineError> {
        let mut slot = self.slots[self.worker()]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if slot.handles.is_none() {
            let worker = self.worker();
            if self.net.is_some() {
                remote::tag_thread_as_worker(worker);
            }
            let before = self.net.as_ref().and_then(|n| n.worker(worker));
            let t0 = self.clock.now_ns();
            let visual = self.scene.visual.open(self.prepared.visual_overview)?;
            let scl = self.scene.scl.open(self.prepared.scl_overview)?;
            slot.handles = Some(Handles { visual, scl });
            slot.open_ns += self.clock.now_ns() - t0;
            if let (Some(before), Some(after)) =
                (before, self.net.as_ref().and_then(|n| n.worker(worker)))
            {
                slot.open_traffic.add(&after.since(&before));
            }
        }
        Ok(())
    }

    fn load(&self, chunk: &Chunk) -> Result<ChunkData, PipelineError> {
        self.open_handles()?;
        // A worker runs one task at a time and its requests carry its name, so the change
        // in its counts over the task is exactly the task's traffic.
        let worker = self.worker();
        let traffic0 = self.net.as_ref().and_then(|n| n.worker(worker));
        let t0 = self.clock.now_ns();
        let mut image = buffers::resident_zeros((chunk.bands, chunk.rows, chunk.cols));
        let before = Before {
            wait_ns: 0,
            alloc_ns: self.clock.now_ns() - t0,
        };
        let data = self.task(chunk, Stage::Load, before, |slot| {
            let h = slot.handles.as_ref().ok_or(PipelineError::Cancelled)?;
            let window = window_of(chunk);
            // GDAL lets go of what it decoded as soon as it is copied: a worker holds only
            // the chunks in flight (and one block while reading a local file), and a block
            // other chunks share waits in the block store (or, per task, is decoded again:
            // the read amplification the plan reports). The SCL's buffer is taken only
            // once the image is read, so it never sits empty beside GDAL's decoded image
            // blocks (at 2048 the fused schedule peaks 4 MiB lower): its allocation is
            // timed as part of the load.
            let image_buf = buffers::contiguous(&mut image);
            self.visual_blocks.read(
                &h.visual,
                &self.scene.visual,
                chunk.band0,
                window,
                image_buf,
                &|| raster::release_blocks(&h.visual),
            )?;
            let mut scl = buffers::resident_zeros((chunk.rows, chunk.cols));
            self.read_scl(&h.scl, window, &mut scl)?;
            raster::release_blocks(&h.scl);
            let bytes = (image.len() + scl.len()) as u64;
            Ok(Done::new(
                ChunkData {
                    chunk: *chunk,
                    image,
                    scl,
                },
                bytes,
            ))
        })?;
        if let (Some(before), Some(after)) =
            (traffic0, self.net.as_ref().and_then(|n| n.worker(worker)))
        {
            let delta = after.since(&before);
            let mut slot = self.slots[worker].lock().unwrap_or_else(|p| p.into_inner());
            slot.traffic.push(TaskTraffic {
                chunk: chunk.index as u32,
                worker: worker as u16,
                requests: delta.requests,
                ranges: delta.ranges,
                bytes: delta.bytes,
            });
        }
        Ok(data)
    }

    /// SCL for a window of the working grid into `out` (rows, cols); at 10 m each SCL pixel
    /// covers 2x2 grid pixels.
    fn read_scl(
        &self,
        ds: &Dataset,
        window: Window,
        out: &mut Array2<u8>,
    ) -> Result<(), PipelineError> {
        let f = self.prepared.scl_factor.max(1);
        let release = || raster::release_blocks(ds);
        if f == 1 {
            let buf = buffers::contiguous(out);
            return Ok(self
                .scl_blocks
                .read(ds, &self.scene.scl, 0, window, buf, &release)?);
        }
        let src = scl_window(window, f);
        let mut small = Array2::<u8>::zeros((src.rows, src.cols));
        self.scl_blocks.read(
            ds,
            &self.scene.scl,
            0,
            src,
            buffers::contiguous(&mut small),
            &release,
        )?;
        for ((r, c), v) in out.indexed_iter_mut() {
            *v = small[[
                (window.row0 + r) / f - src.row0,
                (window.col0 + c) / f - src.col0,
            ]];
        }
        Ok(())
    }

    /// Masks the image in place and lets go of the SCL. The task's `bytes` are the image
    /// it keeps: the buffer accounting frees the rest of the load's bytes when it ends.
    fn mask(&self, data: ChunkData) -> Result<MaskedChunk, PipelineError> {
        let ChunkData {
            chunk,
            mut image,
            scl,
        } = data;
        self.task(&chunk, Stage::Mask, Before::default(), |_| {
            let n = mask::apply(&mut image, &scl, &self.config.cloud_classes);
            drop(scl);
            // A pixel is counted once, by the chunk holding the first band.
            if chunk.band0 == 0 {
                self.masked.fetch_add(n, Ordering::Relaxed);
            }
            let kept = image.len() as u64;
            Ok(Done::new(MaskedChunk { chunk, image }, kept))
        })
    }

    /// Writes one chunk. Within a `scope` (the chunked schedules, more than one worker) the
    /// task may ask idle workers to help encode the tiles it completes.
    fn write<'s>(
        &'s self,
        data: MaskedChunk,
        scope: Option<&rayon::Scope<'s>>,
    ) -> Result<(), PipelineError> {
        let chunk = data.chunk;
        let bytes = data.image.len() as u64;
        match &self.writer {
            Writer::Chunked(w) => {
                let w = w.read().unwrap_or_else(|p| p.into_inner());
                let shared = Arc::new(SharedWrite {
                    chunk,
                    queue: TileQueue::default(),
                    helpers: AtomicUsize::new(0),
                });
                let ask = scope
                    .filter(|_| self.slots.len() > 1)
                    .map(|s| || self.send_helper(s, &shared));
                self.task(&chunk, Stage::Write, Before::default(), |slot| {
                    let w = w.as_ref().ok_or(PipelineError::Cancelled)?;
                    let view = data.image.view();
                    let ask = ask.as_ref().map(|f| f as &dyn Fn());
                    let stats = w.write_chunk_shared(
                        chunk.band0,
                        chunk.row0,
                        chunk.col0,
                        view,
                        &shared.queue,
                        ask,
                    )?;
                    Ok(self.written(slot, stats, bytes))
                })
            }
            Writer::Gdal(m) => {
                // The single writer (the lesson's `Lock()`): waiting for it is not write work.
                let wait0 = self.clock.now_ns();
                let mut writer = m.lock().unwrap_or_else(|p| p.into_inner());
                let waited = self.clock.now_ns() - wait0;
                let before = Before {
                    wait_ns: waited,
                    alloc_ns: 0,
                };
                self.task(&chunk, Stage::Write, before, |slot| {
                    slot.write_wait_ns += waited;
                    let held = std::time::Instant::now();
                    let w = writer.as_mut().ok_or(PipelineError::Cancelled)?;
                    w.write_u8(chunk.band0, chunk.row0, chunk.col0, data.image.view())?;
                    // The whole write happens under the single writer's lock.
                    Ok(Done {
                        lock_hold_ns: held.elapsed().as_nanos() as u64,
                        ..Done::new((), bytes)
                    })
                })
            }
        }
    }

    /// What a write's or a helper's record takes from the writer's figures.
    fn written(&self, slot: &mut WorkerSlot, stats: WriteStats, bytes: u64) -> Done<()> {
        slot.write_wait_ns += stats.append_wait_ns;
        self.tile_bytes
            .fetch_add(stats.encoded_bytes, Ordering::Relaxed);
        Done {
            value: (),
            bytes,
            append_wait_ns: stats.append_wait_ns,
            tiles: stats.tiles,
            lock_hold_ns: stats.lock_hold_ns,
        }
    }

    /// Sends a helper job for a write task's tiles, unless every other worker already has
    /// one. A busy worker runs the job only after its own task, and by then the queue is
    /// usually empty: the job returns at once and leaves no record.
    fn send_helper<'s>(&'s self, scope: &rayon::Scope<'s>, shared: &Arc<SharedWrite>) {
        let others = self.slots.len() - 1;
        let sent = shared
            .helpers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < others).then_some(n + 1)
            });
        if sent.is_err() {
            return;
        }
        let shared = Arc::clone(shared);
        scope.spawn(move |s| {
            if let Err(e) = self.help(s, &shared) {
                let failed = !matches!(e, PipelineError::Cancelled);
                let mut first = self.help_failed.lock().unwrap_or_else(|p| p.into_inner());
                first.get_or_insert(e);
                if failed {
                    self.stopping.store(true, Ordering::Release);
                }
            }
            shared.helpers.fetch_sub(1, Ordering::AcqRel);
        });
    }

    /// A helper job: encodes tiles from a write task's queue, recorded as help with that
    /// chunk's write on this worker.
    fn help<'s>(
        &'s self,
        scope: &rayon::Scope<'s>,
        shared: &Arc<SharedWrite>,
    ) -> Result<(), PipelineError> {
        let Writer::Chunked(w) = &self.writer else {
            return Ok(());
        };
        #[cfg(test)]
        if self.fail_helpers {
            let path = &self.config.output.path;
            return self.record(&shared.chunk, Stage::Write, Before::default(), true, |_| {
                Err(
                    crate::output::OutputError::write(path, "a helper's write failed (a test's)")
                        .into(),
                )
            });
        }
        if shared.queue.is_empty() {
            return Ok(());
        }
        let w = w.read().unwrap_or_else(|p| p.into_inner());
        self.record(
            &shared.chunk,
            Stage::Write,
            Before::default(),
            true,
            |slot| {
                let w = w.as_ref().ok_or(PipelineError::Cancelled)?;
                let ask = || self.send_helper(scope, shared);
                let stats = w.help(&shared.queue, Some(&ask))?;
                Ok(self.written(slot, stats, 0))
            },
        )
    }

    /// The first error a helper met, once every helper has returned.
    fn help_outcome(&self) -> Result<(), PipelineError> {
        let mut first = self.help_failed.lock().unwrap_or_else(|p| p.into_inner());
        first.take().map_or(Ok(()), Err)
    }

    /// Drops a writer that did not finish, which removes its temporary files.
    fn drop_writer(&self) {
        match &self.writer {
            Writer::Chunked(w) => drop(w.write().map(|mut w| w.take())),
            Writer::Gdal(m) => drop(m.lock().map(|mut w| w.take())),
        }
    }

    fn serial(&self) -> Result<(), PipelineError> {
        let g = self.prepared.grid;
        let whole = Chunk {
            index: 0,
            band0: 0,
            bands: g.bands,
            row0: 0,
            rows: g.rows,
            col0: 0,
            cols: g.cols,
        };
        for stage in [Stage::Load, Stage::Mask, Stage::Write] {
            self.control.events.send(Event::StageStarted {
                stage,
                at_ns: self.clock.now_ns(),
            });
        }
        let data = self.load(&whole)?;
        let masked = self.mask(data)?;
        self.write(masked, None)
    }

    // Every parallel loop below takes `with_max_len(1)`: each chunk is a job of its own
    // that an idle worker can steal, as Dask hands out one task at a time. By default rayon
    // runs a stretch of adjacent chunks as one job that cannot be split, so the worker
    // whose half held the small edge chunks sat idle for a fifth of a run at the end.

    fn staged(&self, chunks: &[Chunk]) -> Result<(), PipelineError> {
        self.stage_mark(Stage::Load, true);
        let loaded: Vec<ChunkData> = chunks
            .par_iter()
            .with_max_len(1)
            .map(|c| self.load(c))
            .collect::<Result<_, _>>()?;
        self.stage_mark(Stage::Load, false);
        self.stage_mark(Stage::Mask, true);
        let masked: Vec<MaskedChunk> = loaded
            .into_par_iter()
            .with_max_len(1)
            .map(|d| self.mask(d))
            .collect::<Result<_, _>>()?;
        self.stage_mark(Stage::Mask, false);
        self.stage_mark(Stage::Write, true);
        let writes = rayon::scope(|s| {
            masked
                .into_par_iter()
                .with_max_len(1)
                .try_for_each(|d| self.write(d, Some(s)))
        });
        // A helper's error first: the tasks it stopped only say they were cancelled.
        self.help_outcome()?;
        writes?;
        self.stage_mark(Stage::Write, false);
        Ok(())
    }

    fn fused(&self, chunks: &[Chunk]) -> Result<(), PipelineError> {
        for stage in [Stage::Load, Stage::Mask, Stage::Write] {
            self.stage_mark(stage, true);
        }
        let tasks = rayon::scope(|s| {
            chunks.par_iter().with_max_len(1).try_for_each(|c| {
                let data = self.load(c)?;
                let masked = self.mask(data)?;
                self.write(masked, Some(s))
            })
        });
        // A helper's error first: the tasks it stopped only say they were cancelled.
        self.help_outcome()?;
        tasks?;
        for stage in [Stage::Load, Stage::Mask, Stage::Write] {
            self.stage_mark(stage, false);
        }
        Ok(())
    }

    fn stage_mark(&self, stage: Stage, started: bool) {
        let at_ns = self.clock.now_ns();
        self.control.events.send(if started {
            Event::StageStarted { stage, at_ns }
        } else {
            Event::StageFinished { stage, at_ns }
        });
    }

    /// The closing step, as its own stage: the COG's assembly or the GeoTIFF's IFD (chunked
    /// writer), or GDAL's COG copy or close; then the read-back and the move into place.
    fn finalize(&self, threads: usize) -> Result<String, PipelineError> {
        let g = self.prepared.grid;
        let whole = Chunk {
            index: 0,
            band0: 0,
            bands: g.bands,
            row0: 0,
            rows: g.rows,
            col0: 0,
            cols: g.cols,
        };
        self.stage_mark(Stage::Finalize, true);
        let bytes = (g.bands * g.rows * g.cols) as u64;
        let path = match &self.writer {
            Writer::Chunked(w) => {
                let writer = w.write().unwrap_or_else(|p| p.into_inner()).take();
                self.task(&whole, Stage::Finalize, Before::default(), |_| {
                    let w = writer.ok_or(PipelineError::Cancelled)?;
                    Ok(Done::new(w.finish()?.display().to_string(), bytes))
                })?
            }
            Writer::Gdal(m) => {
                let writer = m.lock().unwrap_or_else(|p| p.into_inner()).take();
                self.task(&whole, Stage::Finalize, Before::default(), |_| {
                    let w = writer.ok_or(PipelineError::Cancelled)?;
                    Ok(Done::new(w.finalize(threads)?.display().to_string(), bytes))
                })?
            }
        };
        self.stage_mark(Stage::Finalize, false);
        Ok(path)
    }

    fn report(
        &self,
        threads: usize,
        wall_ns: u64,
        (cpu, series, rss): (ProcessTimes, CpuSeries, Rss),
        output: Option<String>,
        cancelled: bool,
    ) -> RunReport {
        let mut tasks = Vec::new();
        let mut workers = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            let slot = slot.lock().unwrap_or_else(|p| p.into_inner());
            workers.push(WorkerReport {
                worker: i as u16,
                tasks: slot.records.iter().filter(|t| !t.helping).count(),
                busy_ns: slot.records.iter().map(TaskRecord::work_ns).sum(),
                open_ns: slot.open_ns,
                write_wait_ns: slot.write_wait_ns,
            });
            tasks.extend_from_slice(&slot.records);
        }
        tasks.sort_by_key(|t| (t.start_ns, t.chunk));
        let facts: Vec<WorkerFacts> = workers
            .iter()
            .map(|w| WorkerFacts { open_ns: w.open_ns })
            .collect();
        let staged = matches!(
            self.config.mode,
            Mode::Chunked {
                schedule: Schedule::Staged,
                ..
            }
        );
        let overhead = overhead::account(&tasks, &facts, staged);
        let latency = latency::per_stage(&tasks)
            .into_iter()
            .filter_map(|(stage, h)| {
                LatencySummary::from_histogram(&h)
                    .ok()
                    .map(|summary| StageLatency { stage, summary })
            })
            .collect();
        let stages = Stage::ALL
            .iter()
            .filter_map(|&s| StageReport::from_tasks(s, &tasks))
            .collect();
        let (mode, chunks, schedule) = match &self.config.mode {
            Mode::Serial => ("serial", None, None),
            Mode::Chunked { schedule, .. } => {
                let s = self
                    .prepared
                    .plan
                    .as_ref()
                    .map(|p| [p.shape.bands, p.shape.rows, p.shape.cols]);
                ("chunked", s, Some(schedule.name().to_string()))
            }
        };
        RunReport {
            schema_version: SCHEMA_VERSION,
            config: ReportConfig {
                mode: mode.to_string(),
                chunks,
                threads,
                schedule,
                resolution_m: self.config.resolution.metres(),
                cloud_classes: self.config.cloud_classes.to_vec(),
                item: self.scene.item.clone(),
                assets: ReportAssets {
                    visual: self.scene.visual.path.clone(),
                    scl: self.scene.scl.path.clone(),
                },
                format: format!("{:?}", self.config.output.format).to_lowercase(),
                compress: self.config.output.codec().name().to_string(),
                level: self.config.output.codec().level(),
                writer: self.config.output.writer.name().to_string(),
                gdal_cache_bytes: Some(crate::raster::cache_max_bytes()),
            },
            plan: self.prepared.plan.as_ref().map(|p| p.summary()),
            grid: self.prepared.grid,
            stages,
            wall_ns,
            cpu_user_ns: cpu.user_ns,
            cpu_sys_ns: cpu.sys_ns,
            utilisation: sampler::utilisation(cpu.user_ns + cpu.sys_ns, wall_ns, threads),
            others_cpu_ns: None,
            others_cores: None,
            disturbed: false,
            peak_rss_bytes: series.peak_rss_bytes.max(rss.end).max(rss.start),
            process_max_rss_bytes: cpu.max_rss_bytes,
            rss_start_bytes: rss.start,
            buffers_peak_bytes: memory::buffers_peak_bytes(&tasks),
            masked_pixels: self.masked.load(Ordering::Relaxed),
            output,
            output_tile_bytes: self.tile_bytes.load(Ordering::Relaxed),
            notes: self.notes.clone(),
            cancelled,
            workers,
            overhead,
            latency,
            cpu: series,
            events_dropped: self.control.events.dropped(),
            tasks,
            network: self.network_report(threads, wall_ns, cpu.user_ns + cpu.sys_ns),
            blocks: self
                .prepared
                .plan
                .as_ref()
                .filter(|_| mode == "chunked")
                .map(|plan| BlockReport {
                    sharing: self.config.blocks,
                    read_amplification_planned: plan.read_amplification(),
                    read_amplification_measured: self.visual_blocks.amplification(),
                    visual: self.visual_blocks.counts(),
                    scl: self.scl_blocks.counts(),
                    store_peak_bytes: self.blocks_held.peak(),
                    store_end_bytes: self.blocks_held.held(),
                }),
        }
    }

    /// The run's traffic: from the simulated server when the assets come from one (per
    /// task), else from GDAL's statistics (per run).
    fn network_report(&self, threads: usize, wall_ns: u64, cpu_ns: u64) -> Option<NetworkReport> {
        let net = self.net.as_ref()?;
        let gdal = match (GdalNetStats::now(), net.gdal0) {
            (Some(now), Some(before)) => Some(now.since(&before)),
            _ => None,
        };
        let cache = remote::cache_policy();
        let Some(probe) = &net.probe else {
            let g = gdal.unwrap_or_default();
            return Some(NetworkReport {
                source: "gdal".into(),
                simulated: None,
                cache,
                requests: g.requests,
                bytes: g.bytes,
                ranges: None,
                open: None,
                load: None,
                tasks: Vec::new(),
                gdal,
                server_cpu_ns: None,
                client_utilisation: None,
            });
        };
        let total = probe.total().since(&net.server_total0);
        let mut tasks = Vec::new();
        let mut open = TrafficCounts::default();
        for slot in &self.slots {
            let slot = slot.lock().unwrap_or_else(|p| p.into_inner());
            tasks.extend_from_slice(&slot.traffic);
            open.add(&slot.open_traffic);
        }
        tasks.sort_by_key(|t| t.chunk);
        let mut load = TrafficCounts::default();
        for t in &tasks {
            load.add(&TrafficCounts {
                requests: t.requests,
                ranges: t.ranges,
                bytes: t.bytes,
            });
        }
        let server_cpu_ns = match (probe.server_cpu_ns(), net.server_cpu0) {
            (Some(now), Some(before)) => Some(now.saturating_sub(before)),
            _ => None,
        };
        Some(NetworkReport {
            source: "server".into(),
            simulated: Some(probe.settings().description()),
            cache,
            requests: total.requests,
            bytes: total.bytes,
            ranges: Some(total.ranges),
            open: Some(open),
            load: Some(load),
            tasks,
            gdal,
            server_cpu_ns,
            client_utilisation: server_cpu_ns
                .map(|s| sampler::utilisation(cpu_ns.saturating_sub(s), wall_ns, threads)),
        })
    }
}

#[cfg(test)]
thread_local! {
    /// Set on a test's thread before it calls `pipeline::run`: the run's helper jobs fail
    /// (read when the run starts, so tests on other threads are not affected).
    static FAIL_HELPERS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Tests: runs `f` with every helper job of the runs it starts failing.
#[cfg(test)]
fn fail_helpers<T>(f: impl FnOnce() -> T) -> T {
    FAIL_HELPERS.with(|c| c.set(true));
    let out = f();
    FAIL_HELPERS.with(|c| c.set(false));
    out
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use crate::catalog::Catalog;
    use crate::chunks::ChunkRequest;
    use crate::demo::{self, DemoSpec};
    use crate::output::{OutputFormat, OutputSpec};
    use crate::pipeline::{self, CloudClasses, Mode, Resolution, RunConfig, RunControl, Scene};
    use crate::task::{Event, EventSink, Stage};

    use super::{Schedule, fail_helpers};

    /// A helper job (an idle worker encoding tiles of another worker's write task) that
    /// fails: the run returns that error, said once and not as a cancellation; the tasks
    /// not yet started stop instead of running the rest of the image; nothing is left in
    /// the output folder, and the run's end is announced once.
    #[test]
    fn a_failing_helper_surfaces_its_error_once_and_stops_the_other_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let spec = DemoSpec::new(1024, 1).unwrap();
        let catalog = demo::generate(spec, &dir.path().join("demo"), &|_| {}).unwrap();
        let loaded = Catalog::load(&catalog).unwrap();
        let scene = Scene::from_item(&loaded.items[0]).unwrap();
        for schedule in [Schedule::Staged, Schedule::Fused] {
            let out_dir = dir.path().join(format!("out-{}", schedule.name()));
            std::fs::create_dir(&out_dir).unwrap();
            // 32-pixel chunks of a 512 x 512 grid with 128-pixel tiles: 256 write tasks,
            // the first tile complete after 16 of them (its owner then asks for help).
            let config = RunConfig {
                mode: Mode::Chunked {
                    chunks: ChunkRequest::Square(32),
                    threads: NonZeroUsize::new(2).unwrap(),
                    schedule,
                },
                resolution: Resolution::R20,
                cloud_classes: CloudClasses::default(),
                output: OutputSpec::new(out_dir.join("masked.tif"), OutputFormat::Cog),
                gdal_cache_mb: None,
                blocks: Default::default(),
            };
            let (events, rx) = EventSink::bounded(1 << 20);
            let control = RunControl {
                events,
                sample_every: None,
                ..RunControl::default()
            };
            let err = fail_helpers(|| pipeline::run(&scene, &config, &control))
                .expect_err("a helper's write error fails the run");
            let said = err.to_string();
            assert_eq!(
                said.matches("a helper's write failed").count(),
                1,
                "{schedule:?}: {said}"
            );
            assert!(!said.contains("cancelled"), "{schedule:?}: {said}");
            let events: Vec<Event> = rx.try_iter().collect();
            let failed = events
                .iter()
                .filter(|e| matches!(e, Event::TaskFailed { .. }))
                .count();
            assert_eq!(failed, 1, "{schedule:?}: one task failed, the helper");
            let ends = events
                .iter()
                .filter(|e| matches!(e, Event::RunFinished { .. }))
                .count();
            assert_eq!(ends, 1, "{schedule:?}: the run's end, once");
            let writes = events
                .iter()
                .filter(|e| {
                    matches!(e, Event::TaskFinished(t) if t.stage == Stage::Write && !t.helping)
                })
                .count();
            assert!(
                writes < 256,
                "{schedule:?}: every write ran after the helper failed ({writes} of 256)"
            );
            let left: Vec<_> = std::fs::read_dir(&out_dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert!(
                left.is_empty(),
                "{schedule:?}: left in the output folder: {left:?}"
            );
        }
    }
}
