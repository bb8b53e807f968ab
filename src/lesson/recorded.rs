//! Task streams of the lesson's pipeline recorded by Dask itself on the full-size demo scene
//! (`assets/dask/`), built into the binary so that the lesson can show Dask's per-task cost
//! on a machine without Dask. What they give is always labelled as recorded (versions,
//! cluster, item), never as a live measurement. Pure: parsing and arithmetic only.

use crate::dask::runner::DaskExtras;
use crate::dask::{DaskStream, DaskSummary, TaskStage};
use crate::experiment::engine::TaskCost;
use crate::task::Stage;

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

/// Dask's figures from one recorded stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// Chunk side (rows and cols) of the recording.
    pub side: usize,
    /// Threads of the recording's cluster.
    pub threads: usize,
    /// Where the figures come from, e.g. `recorded (dask 2026.8.0, 2 threads, demo item
    /// DEMO_31UFU_20230601_0_L2A)`.
    pub label: String,
    pub cost: TaskCost,
    /// Share of the threads' time outside tasks.
    pub overhead_share: f64,
    /// The load as the recording script timed it, around `persist()` (graph building and
    /// scheduling included), if the stream's header has it.
    pub load_wall_ns: Option<u64>,
    /// Chunks of the recording, from its keys' grid.
    pub chunks: usize,
    /// Write tasks (`store-map`) and their time in all.
    pub write_tasks: usize,
    pub write_busy_ns: u64,
    /// Write tasks' time while another write task ran: at most their wait for the
    /// writer's lock, which is inside the tasks (the stream does not show the lock).
    pub write_overlap_ns: u64,
}

/// The chunk side of the recording the lesson's own chunks are set beside: the largest
/// recorded (1024 px, one block), the nearest to 2 x 2 blocks.
pub const LESSON_SIDE: usize = 1024;

/// Dask's recorded figures for chunks of `side` pixels on a `grid_rows` x `grid_cols` grid,
/// if a stream was recorded there; `None` for other scenes or chunk sizes.
pub fn recorded(side: usize, grid_rows: usize, grid_cols: usize) -> Option<Recorded> {
    if (grid_rows, grid_cols) != (RECORDED_GRID, RECORDED_GRID) {
        return None;
    }
    let (_, text) = STREAMS.iter().find(|(s, _)| *s == side)?;
    let stream = DaskStream::parse(text).ok()?;
    let summary = DaskSummary::of(&stream).ok()?;
    let report = crate::dask::report::run_report(&stream, &summary);
    let h = &stream.header;
    let threads = report.config.threads;
    let extras = DaskExtras::of(&stream);
    let writes = stream
        .tasks
        .iter()
        .filter(|t| t.stage == TaskStage::Pipeline(Stage::Write));
    Some(Recorded {
        side,
        threads,
        label: format!(
            "recorded (dask {}, {} threads, demo item {})",
            h.dask_version.as_deref().unwrap_or("?"),
            threads,
            h.scene_item.as_deref().unwrap_or("1"),
        ),
        cost: TaskCost::of(&report, Some(&extras)),
        overhead_share: report.overhead.share,
        load_wall_ns: h.wall_s.get("load").map(|s| (s * 1e9).round() as u64),
        chunks: (stream.grid.0 as usize) * (stream.grid.1 as usize),
        write_tasks: writes.clone().count(),
        write_busy_ns: writes.map(|t| t.stop_ns - t.start_ns).sum(),
        write_overlap_ns: extras.write_overlap_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
