//! The calibration run: the same chunk grid and schedule on the same kind of pool, with
//! empty stage work. What it measures is the pure cost of scheduling and recording a task
//! here, to set beside Dask's documented 200 µs to 1 ms per task. Runs on a rayon pool
//! built for it.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use rayon::prelude::*;
use serde::Serialize;

use super::{PipelineError, Schedule};
use crate::chunks::{Chunk, ChunkPlan};
use crate::profile::overhead::{self, Overhead, WorkerFacts};
use crate::task::{RunClock, Stage, TaskRecord};

/// Dask's best-practices documentation puts the overhead of each task at roughly 200 µs
/// to 1 ms (the figure the lesson's learners meet).
pub const DASK_TASK_OVERHEAD_US: [f64; 2] = [200.0, 1000.0];

#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub chunks: usize,
    pub tasks: usize,
    pub threads: usize,
    pub schedule: Schedule,
    pub wall_ns: u64,
    /// Capacity per task: wall x threads / tasks, in µs. With empty work all of it is
    /// overhead: dispatch, bookkeeping, barriers, idle threads.
    pub per_task_us: f64,
    pub overhead: Overhead,
    pub dask_documented_us: [f64; 2],
}

/// Runs the grid of `plan` with empty load, mask and write tasks.
pub fn calibrate(
    plan: &ChunkPlan,
    threads: NonZeroUsize,
    schedule: Schedule,
) -> Result<Calibration, PipelineError> {
    let n = threads.get();
    super::limits::check_pool(n)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map_err(|source| PipelineError::ThreadPool { threads: n, source })?;
    let records: Vec<Mutex<Vec<TaskRecord>>> = (0..n).map(|_| Mutex::default()).collect();
    let writer = Mutex::new(());
    let clock = RunClock::start();
    // The same bookkeeping a real task pays: clock reads, a per-worker lock, a record.
    let task = |chunk: &Chunk, stage: Stage| {
        let worker = rayon::current_thread_index().unwrap_or(0).min(n - 1);
        let mut slot = records[worker].lock().unwrap_or_else(|p| p.into_inner());
        let start_ns = clock.now_ns();
        let _guard = (stage == Stage::Write).then(|| writer.lock());
        slot.push(TaskRecord {
            chunk: crate::convert::clamp_u32(chunk.index),
            stage,
            worker: crate::convert::clamp_u16(worker),
            start_ns,
            end_ns: clock.now_ns(),
            bytes: 0,
            wait_ns: 0,
            alloc_ns: 0,
            append_wait_ns: 0,
            tiles: 0,
            lock_hold_ns: 0,
            helping: false,
        });
    };
    // One job per chunk, as the real runs schedule them.
    pool.install(|| match schedule {
        Schedule::Staged => {
            for stage in [Stage::Load, Stage::Mask, Stage::Write] {
                plan.chunks
                    .par_iter()
                    .with_max_len(1)
                    .for_each(|c| task(c, stage));
            }
        }
        Schedule::Fused => plan.chunks.par_iter().with_max_len(1).for_each(|c| {
            for stage in [Stage::Load, Stage::Mask, Stage::Write] {
                task(c, stage);
            }
        }),
    });
    let wall_ns = clock.now_ns();
    let tasks: Vec<TaskRecord> = records
        .into_iter()
        .flat_map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
        .collect();
    let overhead = overhead::account(
        &tasks,
        &vec![WorkerFacts::default(); n],
        schedule == Schedule::Staged,
    );
    Ok(Calibration {
        chunks: plan.chunks.len(),
        tasks: tasks.len(),
        threads: n,
        schedule,
        wall_ns,
        per_task_us: if tasks.is_empty() {
            0.0
        } else {
            wall_ns as f64 * n as f64 / tasks.len() as f64 / 1e3
        },
        overhead,
        dask_documented_us: DASK_TASK_OVERHEAD_US,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::{ChunkRequest, Interleave, RasterLayout};

    #[test]
    fn every_chunk_gets_three_empty_tasks_and_the_cost_is_small() {
        let layout = RasterLayout {
            bands: 3,
            rows: 5490,
            cols: 5490,
            block_rows: 1024,
            block_cols: 1024,
            dtype_bytes: 1,
            interleave: Interleave::Pixel,
        };
        let plan = ChunkPlan::new(layout, &ChunkRequest::Square(128)).unwrap();
        for schedule in [Schedule::Staged, Schedule::Fused] {
            let c = calibrate(&plan, NonZeroUsize::new(2).unwrap(), schedule).unwrap();
            assert_eq!(c.chunks, 43 * 43);
            assert_eq!(c.tasks, 43 * 43 * 3);
            assert_eq!(c.overhead.parts.sum(), c.overhead.total_ns);
            // Empty tasks cost well under Dask's lower figure; a regression to
            // millisecond-scale dispatch would fail this.
            assert!(
                c.per_task_us < DASK_TASK_OVERHEAD_US[0],
                "{} µs",
                c.per_task_us
            );
        }
    }
}
