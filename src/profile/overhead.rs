//! Task overhead: the capacity a run had (wall x threads) minus the time spent inside stage
//! work, split into the parts that can be told apart from the task records. Every idle
//! nanosecond of every worker falls into exactly one part, so the parts add up to the total.
//! Pure arithmetic over a finished run's records.

use serde::{Deserialize, Serialize};

use crate::task::{Stage, TaskRecord};

/// Where a run's idle capacity went, in ns summed over workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverheadParts {
    /// Opening each worker's own GDAL handles.
    pub handle_open_ns: u64,
    /// Before a worker's first task, other than opening handles (pool start, dispatch).
    pub startup_ns: u64,
    /// Waiting for the single output writer.
    pub write_wait_ns: u64,
    /// Obtaining chunk pixel buffers before load tasks (allocation and first page touch).
    pub alloc_ns: u64,
    /// Idle at the barriers between stages (staged schedule only).
    pub barrier_idle_ns: u64,
    /// Workers idle while the last tasks finish (tail imbalance).
    pub tail_idle_ns: u64,
    /// Gaps between a worker's consecutive tasks: taking work off the queue, bookkeeping,
    /// and what the parts above do not explain.
    pub scheduling_ns: u64,
}

impl OverheadParts {
    /// Every part with the name front ends show it under, in a fixed order, so that no
    /// front end can leave one out.
    pub fn named(&self) -> [(&'static str, u64); 7] {
        [
            ("handle open", self.handle_open_ns),
            ("start-up", self.startup_ns),
            ("writer wait", self.write_wait_ns),
            ("buffers", self.alloc_ns),
            ("barrier idle", self.barrier_idle_ns),
            ("tail idle", self.tail_idle_ns),
            ("scheduling", self.scheduling_ns),
        ]
    }

    pub fn sum(&self) -> u64 {
        self.handle_open_ns
            + self.startup_ns
            + self.write_wait_ns
            + self.alloc_ns
            + self.barrier_idle_ns
            + self.tail_idle_ns
            + self.scheduling_ns
    }
}

/// Overhead of the chunked (or serial) phase of a run: from the run start to the end of its
/// last load/mask/write task. The finalize step is left out: it runs after the pool is done
/// (the COG assembly on one thread, or GDAL's copy on threads of its own).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Overhead {
    pub threads: usize,
    pub window_ns: u64,
    /// window x threads.
    pub capacity_ns: u64,
    /// Time inside load, mask and write tasks.
    pub work_ns: u64,
    /// capacity - work.
    pub total_ns: u64,
    /// total / capacity.
    pub share: f64,
    pub tasks: usize,
    /// total / tasks, in µs.
    pub per_task_us: f64,
    pub parts: OverheadParts,
}

impl Overhead {
    /// `ns` (stage work or one of the parts) as a share of the capacity; 0 without capacity.
    pub fn share_of(&self, ns: u64) -> f64 {
        if self.capacity_ns == 0 {
            0.0
        } else {
            ns as f64 / self.capacity_ns as f64
        }
    }
}

/// Per-worker facts that are not in the task records.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerFacts {
    pub open_ns: u64,
}

/// Accounts the overhead. `staged` says whether stage changes on a worker are barriers.
/// `tasks[i].wait_ns` (waiting for the writer) and `tasks[i].alloc_ns` (buffers) are spent
/// in the gap just before that task; a gap is attributed to them first, up to its length.
pub fn account(tasks: &[TaskRecord], workers: &[WorkerFacts], staged: bool) -> Overhead {
    let threads = workers.len().max(1);
    let work: Vec<&TaskRecord> = tasks
        .iter()
        .filter(|t| t.stage != Stage::Finalize)
        .collect();
    let window_ns = work.iter().map(|t| t.end_ns).max().unwrap_or(0);
    let work_ns: u64 = work.iter().map(|t| t.work_ns()).sum();
    // Waits for the appender happen inside write tasks; they are writer wait, not work.
    let in_task_wait: u64 = work.iter().map(|t| t.append_wait_ns).sum();
    let capacity_ns = window_ns * threads as u64;
    let mut parts = OverheadParts {
        write_wait_ns: in_task_wait,
        ..OverheadParts::default()
    };
    for (w, facts) in workers.iter().enumerate().take(threads) {
        let mut mine: Vec<&&TaskRecord> =
            work.iter().filter(|t| usize::from(t.worker) == w).collect();
        mine.sort_by_key(|t| t.start_ns);
        let Some(first) = mine.first() else {
            // A worker that never got a task idled through the whole window.
            parts.tail_idle_ns += window_ns;
            continue;
        };
        let open = facts.open_ns.min(first.start_ns);
        parts.handle_open_ns += open;
        parts.startup_ns += take_known(&mut parts, first, first.start_ns - open);
        for pair in mine.windows(2) {
            let (prev, next) = (pair[0], pair[1]);
            let gap = next.start_ns.saturating_sub(prev.end_ns);
            let rest = take_known(&mut parts, next, gap);
            // Help is given only by a worker with no task left to take: it waited for
            // the last tasks' tiles, not for the scheduler.
            if next.helping {
                parts.tail_idle_ns += rest;
            } else if staged && prev.stage != next.stage {
                parts.barrier_idle_ns += rest;
            } else {
                parts.scheduling_ns += rest;
            }
        }
        let last_end = mine.iter().map(|t| t.end_ns).max().unwrap_or(0);
        parts.tail_idle_ns += window_ns - last_end;
    }
    let total_ns = capacity_ns.saturating_sub(work_ns);
    // Help with a write is busy time above, but not a task of its own.
    let own_tasks = work.iter().filter(|t| !t.helping).count();
    Overhead {
        threads,
        window_ns,
        capacity_ns,
        work_ns,
        total_ns,
        share: if capacity_ns == 0 {
            0.0
        } else {
            total_ns as f64 / capacity_ns as f64
        },
        tasks: own_tasks,
        per_task_us: if own_tasks == 0 {
            0.0
        } else {
            total_ns as f64 / own_tasks as f64 / 1e3
        },
        parts,
    }
}

/// Books the writer wait and buffer time recorded for `task` out of the `gap` before it;
/// returns what is left of the gap.
fn take_known(parts: &mut OverheadParts, task: &TaskRecord, gap: u64) -> u64 {
    let waited = task.wait_ns.min(gap);
    let alloc = task.alloc_ns.min(gap - waited);
    parts.write_wait_ns += waited;
    parts.alloc_ns += alloc;
    gap - waited - alloc
}

/// The overhead share of a run still going, by the same definition as [`account`]:
/// 1 - work / capacity, with capacity = `elapsed_ns` x `threads` so far and `work_ns` the
/// time inside load/mask/write tasks so far (finished tasks plus the part of the running
/// ones already spent). Its parts are only known once the run is over. 0.0 before any
/// capacity.
pub fn live_share(work_ns: u64, elapsed_ns: u64, threads: usize) -> f64 {
    let capacity_ns = elapsed_ns as f64 * threads.max(1) as f64;
    if capacity_ns == 0.0 {
        0.0
    } else {
        (1.0 - work_ns as f64 / capacity_ns).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(worker: u16, stage: Stage, start_ns: u64, end_ns: u64, wait_ns: u64) -> TaskRecord {
        TaskRecord {
            chunk: 0,
            stage,
            worker,
            start_ns,
            end_ns,
            bytes: 0,
            wait_ns,
            alloc_ns: 0,
            append_wait_ns: 0,
            tiles: 0,
            lock_hold_ns: 0,
            helping: false,
        }
    }

    #[test]
    fn parts_add_up_and_land_where_they_belong() {
        // Worker 0: opens 10, starts at 15 (5 startup), load 15..40, barrier gap to 50,
        // mask 50..60, waits 4 then writes 70..80 (6 barrier idle), done at 80.
        // Worker 1: opens 10, load 12..30, then nothing: tail idle 30..100 ... until the
        // window end, which is the last task end (100, worker 1's write).
        let tasks = [
            task(0, Stage::Load, 15, 40, 0),
            task(0, Stage::Mask, 50, 60, 0),
            task(0, Stage::Write, 70, 80, 4),
            task(1, Stage::Load, 12, 30, 0),
            task(1, Stage::Mask, 30, 35, 0),
            task(1, Stage::Write, 90, 100, 20),
            task(0, Stage::Finalize, 100, 500, 0),
        ];
        let workers = [WorkerFacts { open_ns: 10 }, WorkerFacts { open_ns: 10 }];
        let o = account(&tasks, &workers, true);
        assert_eq!(o.window_ns, 100);
        assert_eq!(o.capacity_ns, 200);
        assert_eq!(o.work_ns, 25 + 10 + 10 + 18 + 5 + 10);
        assert_eq!(o.total_ns, 200 - 78);
        assert_eq!(o.parts.handle_open_ns, 20);
        assert_eq!(o.parts.startup_ns, 5 + 2);
        assert_eq!(o.parts.write_wait_ns, 4 + 20);
        // load->mask 10 and 0, mask->write 6 and 35 (after their waits).
        assert_eq!(o.parts.barrier_idle_ns, 51);
        assert_eq!(o.parts.tail_idle_ns, 20);
        assert_eq!(o.parts.scheduling_ns, 0);
        assert_eq!(o.parts.sum(), o.total_ns);
        assert_eq!(o.tasks, 6);
    }

    #[test]
    fn live_share_is_idle_capacity_so_far() {
        assert_eq!(live_share(0, 0, 2), 0.0);
        assert!((live_share(150, 100, 2) - 0.25).abs() < 1e-12);
        assert_eq!(live_share(500, 100, 2), 0.0, "clamped, never negative");
    }

    #[test]
    fn fused_gaps_are_scheduling_and_idle_workers_are_tail() {
        let tasks = [
            task(0, Stage::Load, 0, 10, 0),
            task(0, Stage::Mask, 12, 20, 0),
        ];
        let workers = [WorkerFacts::default(), WorkerFacts::default()];
        let o = account(&tasks, &workers, false);
        assert_eq!(o.parts.scheduling_ns, 2);
        assert_eq!(o.parts.tail_idle_ns, 20);
        assert_eq!(o.parts.sum(), o.total_ns);
        assert!((o.share - 22.0 / 40.0).abs() < 1e-12);
    }

    #[test]
    fn the_wait_before_helping_is_tail_idle_and_help_is_work() {
        // Worker 0 writes 0..10, waits, helps worker 1's write 30..50; worker 1 writes
        // 0..50.
        let mut help = task(0, Stage::Write, 30, 50, 0);
        help.helping = true;
        let tasks = [
            task(0, Stage::Write, 0, 10, 0),
            help,
            task(1, Stage::Write, 0, 50, 0),
        ];
        let workers = [WorkerFacts::default(), WorkerFacts::default()];
        let o = account(&tasks, &workers, true);
        assert_eq!(o.work_ns, 10 + 20 + 50);
        assert_eq!(o.parts.tail_idle_ns, 20);
        assert_eq!(o.parts.scheduling_ns, 0);
        assert_eq!(o.parts.sum(), o.total_ns);
        assert_eq!(o.tasks, 2, "help is not a task");
    }

    #[test]
    fn buffer_time_comes_out_of_the_gap_before_its_task() {
        // Worker 0 opens for 5, allocates for 3, loads 10..20; allocates 4 (of a 6 gap)
        // and loads 26..30.
        let mut first = task(0, Stage::Load, 10, 20, 0);
        first.alloc_ns = 3;
        let mut second = task(0, Stage::Load, 26, 30, 0);
        second.alloc_ns = 4;
        let o = account(&[first, second], &[WorkerFacts { open_ns: 5 }], false);
        assert_eq!(o.parts.handle_open_ns, 5);
        assert_eq!(o.parts.alloc_ns, 7);
        assert_eq!(o.parts.startup_ns, 2);
        assert_eq!(o.parts.scheduling_ns, 2);
        assert_eq!(o.parts.sum(), o.total_ns);
    }
}
