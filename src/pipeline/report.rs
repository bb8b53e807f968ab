//! The run report: everything a run measured, folded from its task records. The CLI prints
//! it and the TUI draws it; both read these same fields.

use serde::{Deserialize, Serialize};

use crate::chunks::PlanSummary;
use crate::convert;
use crate::network::TrafficCounts;
use crate::network::remote::{CachePolicy, GdalNetStats};
use crate::profile::interference::Interference;
use crate::profile::latency::LatencySummary;
use crate::profile::overhead::Overhead;
use crate::profile::sampler::CpuSeries;
use crate::profile::units;
use crate::task::{Stage, TaskRecord};

/// Bumped whenever a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// `config.mode` of a report made from a Dask task stream (`crate::dask::report`): its
/// labels and summary say what a task stream does not record.
pub const DASK_MODE: &str = "dask";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub schema_version: u32,
    pub config: ReportConfig,
    /// The chunk plan's figures (chunked runs only).
    pub plan: Option<PlanSummary>,
    /// The working grid the pipeline computed on.
    pub grid: Grid,
    pub stages: Vec<StageReport>,
    pub wall_ns: u64,
    pub cpu_user_ns: u64,
    pub cpu_sys_ns: u64,
    /// CPU time / (wall x threads): how much of the pool's capacity did CPU work.
    pub utilisation: f64,
    /// CPU time other processes took during the run: all cores' busy time (steal
    /// included) less this process's (see `profile::interference`). `None` where it
    /// cannot be measured (not Linux; a Dask task stream).
    #[serde(default)]
    pub others_cpu_ns: Option<u64>,
    /// `others_cpu_ns` / wall: cores other processes held on average over the run.
    #[serde(default)]
    pub others_cores: Option<f64>,
    /// Others held more than `profile::interference::DISTURBED_CORES` on average: the
    /// run's times are partly the machine's load, not its configuration's.
    #[serde(default)]
    pub disturbed: bool,
    /// Highest resident memory seen during the run (sampled at 10 Hz, and at the end).
    pub peak_rss_bytes: u64,
    /// The kernel's high-water mark of the whole process since exec (VmHWM), earlier
    /// runs included.
    pub process_max_rss_bytes: u64,
    /// Resident memory just before the run started, for telling what the run added.
    pub rss_start_bytes: u64,
    /// Most bytes held in chunk pixel buffers at once (from the task records; see
    /// `profile::memory`). Serial and staged hold the whole image, fused the chunks in flight.
    pub buffers_peak_bytes: u64,
    pub masked_pixels: u64,
    /// Path of the written output; absent when the run was cancelled.
    pub output: Option<String>,
    /// Encoded bytes of the output file's tiles (chunked writer; 0 with GDAL's writer).
    #[serde(default)]
    pub output_tile_bytes: u64,
    /// Things the run did that a user should hear of, e.g. staging files of a run that
    /// died removed from the output folder.
    #[serde(default)]
    pub notes: Vec<String>,
    pub cancelled: bool,
    pub workers: Vec<WorkerReport>,
    /// Capacity not spent in stage work, and where it went.
    pub overhead: Overhead,
    /// Per stage, the distribution of task durations.
    pub latency: Vec<StageLatency>,
    /// Per-core CPU, process CPU and memory sampled during the run.
    pub cpu: CpuSeries,
    /// Progress events the observer channel dropped because it was full (the report itself
    /// is complete regardless).
    pub events_dropped: u64,
    pub tasks: Vec<TaskRecord>,
    /// What the run fetched over the network; only when an asset is remote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkReport>,
    /// How the load tasks got their blocks, and how many were decoded (chunked runs of
    /// chunkscope's engine only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<super::blocks::BlockReport>,
}

/// Network traffic of a run over remote assets, from the run's clock start to its end.
///
/// Where the figures come from (`source`):
/// - `"server"`: chunkscope's simulated server counted them. Workers name themselves in
///   their User-Agent and run one task at a time, so each load task's traffic is exact
///   (`tasks`), and so is what opening the handles cost (`open`).
/// - `"gdal"`: GDAL's network statistics, for real remote data. They are process-wide, so
///   they cannot be split between concurrent tasks: per run only, `tasks` stays empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkReport {
    pub source: String,
    /// How the network was simulated, e.g. `simulated network: 50 ms latency, 25 MiB/s
    /// per connection`; absent for real remote data.
    pub simulated: Option<String>,
    /// Whether GDAL's `/vsicurl/` cache was cleared before the run or kept from earlier ones.
    pub cache: CachePolicy,
    /// HTTP requests during the run.
    pub requests: u64,
    /// Bytes downloaded during the run (response bodies).
    pub bytes: u64,
    /// Byte ranges asked for (server only: a multi-range request asks for several).
    pub ranges: Option<u64>,
    /// Traffic while the workers opened their GDAL handles (header reads), server only.
    pub open: Option<TrafficCounts>,
    /// Traffic of all load tasks together, server only.
    pub load: Option<TrafficCounts>,
    /// Per load task, server only.
    pub tasks: Vec<TaskTraffic>,
    /// GDAL's own statistics for the same period, when it keeps them (in simulation, a
    /// cross-check of the server's counts).
    pub gdal: Option<GdalNetStats>,
    /// CPU time of the simulated server's thread during the run. The process CPU times
    /// above include it; it is not the pipeline's work.
    pub server_cpu_ns: Option<u64>,
    /// `utilisation` without the simulated server's CPU time.
    pub client_utilisation: Option<f64>,
}

/// One load task's traffic, as the simulated server counted it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct TaskTraffic {
    pub chunk: u32,
    pub worker: u16,
    pub requests: u64,
    pub ranges: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportConfig {
    pub mode: String,
    /// [bands, rows, cols]; absent for serial runs.
    pub chunks: Option<[usize; 3]>,
    pub threads: usize,
    pub schedule: Option<String>,
    pub resolution_m: u32,
    pub cloud_classes: Vec<u8>,
    pub item: String,
    pub assets: ReportAssets,
    pub format: String,
    pub compress: String,
    /// The codec's level, where it has one (DEFLATE, ZSTD).
    #[serde(default)]
    pub level: Option<u8>,
    /// `chunked` (tiles encoded by the chunk tasks) or `gdal` (GDAL's writer and COG copy;
    /// what reports made before the chunked writer used).
    #[serde(default = "gdal_writer")]
    pub writer: String,
    /// GDAL's block cache limit during the run, bytes (absent in reports made before it
    /// was recorded).
    #[serde(default)]
    pub gdal_cache_bytes: Option<u64>,
}

fn gdal_writer() -> String {
    "gdal".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportAssets {
    pub visual: String,
    pub scl: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Grid {
    pub bands: usize,
    pub rows: usize,
    pub cols: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageReport {
    pub name: Stage,
    /// From the stage's first task start to its last task end. In a staged run the stages
    /// follow each other; in a fused run they overlap.
    pub wall_ns: u64,
    /// Sum of task durations (time spent inside stage work, over all workers).
    pub busy_ns: u64,
    pub tasks: usize,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageLatency {
    pub stage: Stage,
    #[serde(flatten)]
    pub summary: LatencySummary,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerReport {
    pub worker: u16,
    pub tasks: usize,
    pub busy_ns: u64,
    /// Opening this worker's own GDAL handles.
    pub open_ns: u64,
    /// Waiting for the single output writer.
    pub write_wait_ns: u64,
}

impl StageReport {
    /// Folds a stage's tasks; `None` when the stage ran no task.
    pub fn from_tasks(stage: Stage, tasks: &[TaskRecord]) -> Option<Self> {
        let mine = tasks.iter().filter(|t| t.stage == stage);
        let (mut first, mut last, mut busy, mut n, mut bytes) = (u64::MAX, 0, 0, 0, 0);
        for t in mine {
            first = first.min(t.start_ns);
            last = last.max(t.end_ns);
            busy += t.work_ns();
            bytes += t.bytes;
            n += usize::from(!t.helping);
        }
        (n > 0).then(|| Self {
            name: stage,
            wall_ns: last - first,
            busy_ns: busy,
            tasks: n,
            bytes,
        })
    }
}

impl RunReport {
    /// The report with what other processes took during the run (`None`: not measured).
    pub fn with_interference(mut self, others: Option<Interference>) -> Self {
        self.others_cpu_ns = others.map(|o| o.others_cpu_ns);
        self.others_cores = others.map(|o| o.others_cores);
        self.disturbed = others.is_some_and(|o| o.disturbed);
        self
    }

    /// `others: 0.9 cores` with its mark, or `None` when the run was not disturbed.
    pub fn disturbed_mark(&self) -> Option<String> {
        self.disturbed
            .then(|| units::disturbed(self.others_cores.unwrap_or(0.0)))
    }

    pub fn stage(&self, stage: Stage) -> Option<&StageReport> {
        self.stages.iter().find(|s| s.name == stage)
    }

    /// Bytes decoded by the load stage.
    pub fn decoded_bytes(&self) -> u64 {
        self.stage(Stage::Load).map_or(0, |s| s.bytes)
    }

    /// A short label such as `serial` or `chunked x 2 (3,2048,2048, fused)`.
    /// `chunked x 2 (3,2048,2048, staged)` or `serial`; runs with GDAL's writer say so.
    pub fn label(&self) -> String {
        if self.config.mode == DASK_MODE {
            // Run by chunkscope's Dask runner (it records the schedule asked) or imported.
            let how = match self.config.schedule.as_deref() {
                Some(s) if s != DASK_MODE => "live",
                _ => "imported",
            };
            return match self.config.chunks {
                Some([b, r, c]) => {
                    format!("Dask ({how}) x {} ({b},{r},{c})", self.config.threads)
                }
                None => format!("Dask ({how}) x {}", self.config.threads),
            };
        }
        let label = match (&self.config.chunks, &self.config.schedule) {
            (Some([b, r, c]), Some(schedule)) => {
                format!(
                    "chunked x {} ({b},{r},{c}, {schedule})",
                    self.config.threads
                )
            }
            _ => "serial".to_string(),
        };
        if self.config.writer == "gdal" {
            format!("{label} · GDAL writer")
        } else {
            label
        }
    }

    /// `COG, DEFLATE level 6, chunked writer`: how the output was written.
    pub fn output_label(&self) -> String {
        let codec = match self.config.level {
            Some(level) => format!("{} level {level}", self.config.compress),
            None => self.config.compress.clone(),
        };
        let format = match self.config.format.as_str() {
            "cog" => "COG",
            "gtiff" => "tiled GeoTIFF",
            other => other,
        };
        format!("{format}, {codec}, {} writer", self.config.writer)
    }

    /// The whole `%%time` on one line, for a list of runs:
    /// `CPU times: user 1.20 s, sys 80.0 ms, total 1.28 s; Wall time: 700 ms`.
    pub fn time_line(&self) -> String {
        if self.config.mode == DASK_MODE {
            // As in `time_summary`: what a task stream does not record is said, not 0.
            return format!(
                "CPU times: not in a Dask task stream; Wall time: {}",
                units::duration_ns(self.wall_ns)
            );
        }
        format!(
            "CPU times: user {}, sys {}, total {}; Wall time: {}",
            units::duration_ns(self.cpu_user_ns),
            units::duration_ns(self.cpu_sys_ns),
            units::duration_ns(self.cpu_user_ns + self.cpu_sys_ns),
            units::duration_ns(self.wall_ns),
        )
    }

    /// The `%%time`-style lines the lesson shows, per stage and in total.
    pub fn time_summary(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "{}{}\n",
            self.label(),
            if self.cancelled { " — cancelled" } else { "" }
        ));
        for s in &self.stages {
            out.push_str(&format!(
                "  {:<9} wall {:>9}  busy {:>9}  {:>5} tasks  {}\n",
                s.name.name(),
                units::duration_ns(s.wall_ns),
                units::duration_ns(s.busy_ns),
                s.tasks,
                units::rate_mb_s(s.bytes, s.wall_ns),
            ));
        }
        if self.config.mode == DASK_MODE {
            // A task stream has times and tasks only: say what is not there rather than 0.
            out.push_str("CPU times: not in a Dask task stream\n");
            out.push_str(&format!(
                "Wall time: {} (first task start to last stop)\n",
                units::duration_ns(self.wall_ns)
            ));
            out.push_str(&format!(
                "overhead {} of {} lanes' capacity ({} per task)\n",
                units::share(self.overhead.share),
                self.config.threads,
                units::duration_ns(convert::us_to_ns(self.overhead.per_task_us)),
            ));
            for note in &self.notes {
                out.push_str(&format!("note: {note}\n"));
            }
            return out;
        }
        let total = self.cpu_user_ns + self.cpu_sys_ns;
        out.push_str(&format!(
            "CPU times: user {}, sys {}, total {}\nWall time: {}\n",
            units::duration_ns(self.cpu_user_ns),
            units::duration_ns(self.cpu_sys_ns),
            units::duration_ns(total),
            units::duration_ns(self.wall_ns),
        ));
        if let Some(mark) = self.disturbed_mark() {
            out.push_str(&format!(
                "{mark} on average during this run: other processes held the CPU, so its \
                 times are partly theirs\n"
            ));
        }
        out.push_str(&format!(
            "utilisation {} of {} thread(s); overhead {} of capacity ({} per task)\n",
            units::share(self.utilisation),
            self.config.threads,
            units::share(self.overhead.share),
            units::duration_ns(convert::us_to_ns(self.overhead.per_task_us)),
        ));
        let parts: Vec<String> = self
            .overhead
            .parts
            .named()
            .iter()
            .map(|(name, ns)| format!("{name} {}", units::duration_ns(*ns)))
            .collect();
        out.push_str(&format!("overhead parts: {}\n", parts.join(", ")));
        out.push_str(&format!(
            "memory: chunk buffers peak {}; RSS {} at start, peak {}\n",
            units::bytes(self.buffers_peak_bytes),
            units::bytes(self.rss_start_bytes),
            units::bytes(self.peak_rss_bytes),
        ));
        if let Some(blocks) = &self.blocks {
            out.push_str(&format!("{}\n", blocks.describe(usize::MAX)));
        }
        // What the RSS holds, so that its growth over a session is not read as the
        // schedule's: GDAL keeps decoded blocks up to its cache limit, across runs.
        out.push_str(&format!(
            "RSS holds GDAL's block cache (up to {}; --gdal-cache or g bounds it), chunk \
             buffers and output tiles: over a session it grows until that cache is full\n",
            self.config
                .gdal_cache_bytes
                .map_or("GDAL's limit".to_string(), units::bytes),
        ));
        out.push_str(&format!(
            "masked {} cloud pixels; output {}\n",
            self.masked_pixels,
            self.output.as_deref().unwrap_or("(none: cancelled)")
        ));
        let tiles: u32 = self.tasks.iter().map(|t| t.tiles).sum();
        let helped: u32 = self
            .tasks
            .iter()
            .filter(|t| t.helping)
            .map(|t| t.tiles)
            .sum();
        out.push_str(&format!(
            "written as {}{}\n",
            self.output_label(),
            match (tiles, helped) {
                (0, _) => String::new(),
                (_, 0) => format!(
                    ": {tiles} tiles encoded by the write tasks, {}",
                    units::bytes(self.output_tile_bytes)
                ),
                _ => format!(
                    ": {tiles} tiles encoded by the write tasks ({helped} of them by idle \
                     workers helping), {}",
                    units::bytes(self.output_tile_bytes)
                ),
            }
        ));
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        if let Some(n) = &self.network {
            out.push_str(&format!(
                "network: {} requests, {} downloaded{}{}\n",
                n.requests,
                units::bytes(n.bytes),
                n.simulated
                    .as_ref()
                    .map_or(String::new(), |s| format!(" ({s})")),
                n.client_utilisation.map_or(String::new(), |u| format!(
                    "; utilisation without the simulated server {}",
                    units::share(u)
                )),
            ));
        }
        if self.events_dropped > 0 {
            out.push_str(&format!(
                "({} progress events dropped)\n",
                self.events_dropped
            ));
        }
        out
    }
}
