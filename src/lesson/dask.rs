//! Dask's figures beside chunkscope's in the lesson's load, tiny-chunks and lock steps,
//! from one of two origins, which every label names:
//! - *recorded*: task streams of the lesson's pipeline recorded by Dask itself on the
//!   full-size demo scene (`assets/dask/`), built into the binary so that a machine without
//!   Dask still shows Dask's per-task cost; only where the step's scene and chunk side are
//!   those of a recording.
//! - *live*: the lesson's code run now on a Dask `LocalCluster` for the step's own chunks and
//!   threads ([`live`]), when the lesson was started with a Python that runs Dask; the
//!   figures are the median run's.

use std::path::PathBuf;

use crate::chunks::ChunkShape;
use crate::convert;
use crate::dask::runner::{DaskExtras, DaskRunner, RunnerError};
use crate::dask::{DaskStream, DaskSummary, TaskStage};
use crate::experiment::engine::TaskCost;
use crate::experiment::rounds::Progress;
use crate::pipeline::Schedule;
use crate::profile::stats::Timing;
use crate::task::{CancelFlag, Stage};

/// The shipped streams: (chunk side, file text).
const STREAMS: [(usize, &str); 2] = [
    (
        256,
        include_str!("../../assets/dask/demo-full-chunks256-threads2.json"),
    ),
    (
        1024,
        include_str!("../../assets/dask/demo-full-chunks1024-threads2.json"),
    ),
];

/// Rows and cols of the working grid the streams were recorded on (the full demo at 20 m).
pub const RECORDED_GRID: usize = 5490;

/// Where the lesson's Dask figures come from.
#[derive(Debug, Clone, Default)]
pub enum DaskSide {
    /// The shipped recordings, where they fit the step (no Python is started).
    #[default]
    Recorded,
    /// The lesson's code run live with this Python (checked by the front end), which must
    /// import dask, distributed, rioxarray and pystac.
    Live { python: PathBuf },
}

/// How Dask's figures were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// One shipped recording (other chunks, possibly another machine than this one).
    Recorded,
    /// `runs` runs of the lesson's code here and now, on the step's chunks and threads.
    Live { runs: usize },
}

/// Dask's figures from one task stream (the median run's, when live).
#[derive(Debug, Clone, PartialEq)]
pub struct DaskFigures {
    /// Chunk side (rows and cols) of the run.
    pub side: usize,
    /// Threads of the run's cluster.
    pub threads: usize,
    pub origin: Origin,
    /// Where the figures come from, e.g. `recorded (dask 2026.8.0, 2 threads, demo item
    /// DEMO_31UFU_20230601_0_L2A)` or `live (dask 2026.8.0, 2 threads, this
    /// machine)`.
    pub label: String,
    pub cost: TaskCost,
    /// Share of the threads' time outside tasks.
    pub overhead_share: f64,
    /// The load as the script timed it, around `persist()` (graph building and scheduling
    /// included), if the stream's header has it; live, the median of the runs'.
    pub load_wall_ns: Option<u64>,
    /// Chunks of the run, from its keys' grid.
    pub chunks: usize,
    /// Write tasks (`store-map`) and their time in all.
    pub write_tasks: usize,
    pub write_busy_ns: u64,
    /// Write tasks' time while another write task ran: at most their wait for the
    /// writer's lock, which is inside the tasks (the stream does not show the lock).
    pub write_overlap_ns: u64,
    /// Live only: each run's wall time as the script measured it around its calls (load,
    /// mask and write, the COG copy), what a user of the lesson's code waits for.
    pub wall: Option<Timing>,
}

impl DaskFigures {
    /// `recorded` or `live`, for short labels.
    pub fn origin_word(&self) -> &'static str {
        match self.origin {
            Origin::Recorded => "recorded",
            Origin::Live { .. } => "live",
        }
    }

    /// What the figures stand on, for sentences: `one recording` or `median of 3 live
    /// runs`.
    pub fn basis(&self) -> String {
        match self.origin {
            Origin::Recorded => "one recording".into(),
            Origin::Live { runs: 1 } => "one live run".into(),
            Origin::Live { runs } => format!("median of {runs} live runs"),
        }
    }

    /// Dask's figures of `stream`, run with chunks of `side` pixels; `label_tail` ends the
    /// label after the version and threads.
    fn of(stream: &DaskStream, side: usize, origin: Origin, label_tail: &str) -> Option<Self> {
        let summary = DaskSummary::of(stream).ok()?;
        let report = crate::dask::report::run_report(stream, &summary);
        let h = &stream.header;
        let threads = report.config.threads;
        let extras = DaskExtras::of(stream);
        let writes = stream
            .tasks
            .iter()
            .filter(|t| t.stage == TaskStage::Pipeline(Stage::Write));
        let word = match origin {
            Origin::Recorded => "recorded",
            Origin::Live { .. } => "live",
        };
        Some(Self {
            side,
            threads,
            origin,
            label: format!(
                "{word} (dask {}, {} threads, {label_tail})",
                h.dask_version.as_deref().unwrap_or("?"),
                threads,
            ),
            cost: TaskCost::of(&report, Some(&extras)),
            overhead_share: report.overhead.share,
            load_wall_ns: h.wall_s.get("load").map(|&s| convert::secs_to_ns(s)),
            chunks: (stream.grid.0 as usize) * (stream.grid.1 as usize),
            write_tasks: writes.clone().count(),
            write_busy_ns: writes.map(|t| t.stop_ns - t.start_ns).sum(),
            write_overlap_ns: extras.write_overlap_ns,
            wall: None,
        })
    }
}

/// The chunk side of the recording the lesson's own chunks are set beside: the largest
/// recorded (1024 px, one block), the nearest to 2 x 2 blocks.
pub const LESSON_SIDE: usize = 1024;

/// Dask's recorded figures for chunks of `side` pixels on a `grid_rows` x `grid_cols` grid,
/// if a stream was recorded there; `None` for other scenes or chunk sizes.
pub fn recorded(side: usize, grid_rows: usize, grid_cols: usize) -> Option<DaskFigures> {
    if (grid_rows, grid_cols) != (RECORDED_GRID, RECORDED_GRID) {
        return None;
    }
    let (_, text) = STREAMS.iter().find(|(s, _)| *s == side)?;
    let stream = DaskStream::parse(text).ok()?;
    let item = stream.header.scene_item.clone();
    let tail = format!("demo item {}", item.as_deref().unwrap_or("1"));
    DaskFigures::of(&stream, side, Origin::Recorded, &tail)
}

/// Why live Dask figures could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Run(#[from] RunnerError),
    #[error("the Dask run's task stream \"{path}\" cannot be read back")]
    Stream {
        path: PathBuf,
        #[source]
        source: crate::dask::DaskError,
    },
    #[error("the Dask run's task stream holds no task to measure")]
    Empty,
}

/// Runs the lesson's code `runs` times on `runner` with chunks `shape` (`request` as
/// written) on `threads` threads, and gives the figures of the run whose wall time was the
/// median, with the median of the runs' loads. `progress` hears (run, runs, label) before
/// each; `Ok(None)` when `cancel` stopped it (no Python process is left either way).
pub fn live(
    runner: &DaskRunner,
    shape: ChunkShape,
    request: &str,
    threads: usize,
    runs: usize,
    cancel: &CancelFlag,
    progress: Progress<'_>,
) -> Result<Option<DaskFigures>, LiveError> {
    let runs = runs.max(1);
    let mut done: Vec<(u64, DaskStream)> = Vec::with_capacity(runs);
    for i in 0..runs {
        progress(
            i,
            runs,
            &format!("on Dask ({} px chunks, {threads} threads)", shape.rows),
        );
        let Some(run) = runner.run(shape, request, threads, Schedule::Staged, cancel)? else {
            return Ok(None);
        };
        let stream = DaskStream::read(&run.stream).map_err(|source| LiveError::Stream {
            path: run.stream.clone(),
            source,
        })?;
        done.push((run.wall_ns, stream));
    }
    let walls: Vec<u64> = done.iter().map(|(wall, _)| *wall).collect();
    let loads: Vec<u64> = done
        .iter()
        .filter_map(|(_, s)| s.header.wall_s.get("load"))
        .map(|&s| convert::secs_to_ns(s))
        .collect();
    done.sort_by_key(|(wall, _)| *wall);
    let (_, median) = &done[done.len() / 2];
    let mut figures = DaskFigures::of(median, shape.rows, Origin::Live { runs }, "this machine")
        .ok_or(LiveError::Empty)?;
    figures.load_wall_ns = crate::profile::stats::median(&loads).or(figures.load_wall_ns);
    figures.wall = Timing::from_ns(&walls);
    Ok(Some(figures))
}

/// A recording's figures relabelled as live runs of chunks of `side` pixels, for the
/// describing functions' tests.
#[cfg(test)]
pub(crate) fn as_live(recorded: DaskFigures, side: usize, runs: usize) -> DaskFigures {
    DaskFigures {
        side,
        origin: Origin::Live { runs },
        label: recorded
            .label
            .replace("recorded", "live")
            .replace("demo item DEMO_31UFU_20230601_0_L2A", "this machine"),
        ..recorded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_name_their_origin_and_what_they_stand_on() {
        let rec = recorded(1024, RECORDED_GRID, RECORDED_GRID).expect("1024 is shipped");
        assert_eq!(
            (rec.origin_word(), rec.basis().as_str()),
            ("recorded", "one recording")
        );
        let live = as_live(rec.clone(), 2048, 3);
        assert_eq!(live.origin_word(), "live");
        assert_eq!(live.basis(), "median of 3 live runs");
        assert_eq!(as_live(rec, 2048, 1).basis(), "one live run");
        assert!(
            live.label
                .starts_with("live (dask 2026.8.0, 2 threads, this machine")
        );
    }

    #[test]
    fn the_shipped_streams_give_dasks_per_task_cost_as_import_dask_does() {
        let small = recorded(256, RECORDED_GRID, RECORDED_GRID).expect("256 is shipped");
        let large = recorded(1024, RECORDED_GRID, RECORDED_GRID).expect("1024 is shipped");
        // 484 chunks at 256 against 36 at 1024, with several Dask tasks a chunk (2,906 and
        // 218 load, mask and write tasks, as import-dask counts them).
        assert_eq!(small.cost.tasks, 2906);
        assert_eq!(large.cost.tasks, 218);
        assert_eq!(small.threads, 2);
        // Per task, Dask's own cost is of the order of milliseconds (its documented
        // 200 µs - 1 ms, on a busy machine), far above chunkscope's microseconds.
        assert!(small.cost.overhead_us > 200.0, "{:?}", small.cost);
        assert!(small.label.contains("dask 2026.8.0"), "{}", small.label);
        assert!(small.label.contains("recorded"), "{}", small.label);
        // The figures the load and write steps set beside chunkscope's: 36 chunks of 1024
        // px, one write task each, the load timed around persist() (694 ms).
        assert_eq!((large.write_tasks, large.chunks), (36, 36));
        assert_eq!(large.load_wall_ns.map(|ns| ns / 1_000_000), Some(693));
        assert!(large.write_overlap_ns <= large.write_busy_ns);
        assert!(
            large.write_busy_ns > 1_000_000_000,
            "{}",
            large.write_busy_ns
        );
        // Only where they were recorded.
        assert!(recorded(512, RECORDED_GRID, RECORDED_GRID).is_none());
        assert!(recorded(256, 512, 512).is_none());
    }
}
