//! Which engine ran a configuration (chunkscope's own, or the real Dask through the
//! lesson's code), and the per-task cost both are measured by: the time inside a task and
//! the overhead around it, split into the same parts for both, plus what only a Dask task
//! stream shows (transfers, time outside tasks in the calls). Pure arithmetic.

use serde::{Deserialize, Serialize};

use crate::convert;
use crate::dask::runner::{DaskExtras, DaskRunner};
use crate::pipeline::RunReport;
use crate::profile::stats;

/// The engine a run was measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// chunkscope's own: Rust, rayon, GDAL.
    Chunkscope,
    /// The lesson's Python code on Dask's distributed scheduler.
    Dask,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Chunkscope => "chunkscope",
            Engine::Dask => "dask",
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The engines a comparison or sweep runs, and what runs Dask.
#[derive(Debug, Clone, Copy, Default)]
pub struct Engines<'a> {
    /// As asked (`--engine`), in the order runs alternate; `None`: chunkscope's own only,
    /// reported exactly as before engines were a choice (no engine fields).
    pub asked: Option<&'a [Engine]>,
    /// Runs the Dask configurations; needed when Dask is asked.
    pub dask: Option<&'a DaskRunner>,
}

impl Engines<'_> {
    /// Whether `engine` runs: chunkscope when nothing was asked.
    pub fn runs(&self, engine: Engine) -> bool {
        match self.asked {
            Some(asked) => asked.contains(&engine),
            None => engine == Engine::Chunkscope,
        }
    }

    /// The engines that run, in order.
    pub fn list(&self) -> Vec<Engine> {
        self.asked
            .map_or_else(|| vec![Engine::Chunkscope], <[Engine]>::to_vec)
    }
}

/// One run's cost per load/mask/write task, µs; in a sweep row, the median of each figure
/// over the row's runs. The overhead is [`crate::profile::overhead`]'s, the same code for
/// both engines (and for `import-dask`): capacity (threads x the window up to the last
/// task) minus time inside tasks, over tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskCost {
    /// Load, mask and write tasks per run.
    pub tasks: usize,
    /// Mean time inside a task.
    pub work_us: f64,
    /// Overhead per task: the figure `import-dask` prints as "per task".
    pub overhead_us: f64,
    /// Of the overhead: gaps between a thread's consecutive tasks (taking the next task:
    /// the scheduler's and the worker's per-task work).
    pub gaps_us: f64,
    /// Of the overhead: before each thread's first task (pool or worker start, handle
    /// opening).
    pub start_us: f64,
    /// Of the overhead: threads idle at stage barriers or while the last tasks finish.
    pub idle_us: f64,
    /// Of the overhead: waits for the single writer and buffer allocation (chunkscope
    /// measures them; in Dask the lock wait is inside the write tasks, see
    /// `write_overlap_us`).
    pub waits_us: f64,
    /// Dask only: moving data between workers (transfer intervals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_us: Option<f64>,
    /// Dask only: time inside the timed calls before their first task and after their last
    /// (graph building, the client and the scheduler), not in the overhead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside_tasks_us: Option<f64>,
    /// Dask only: write tasks' time while another write task ran (at most their wait for
    /// the writer's lock, which is inside the tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_overlap_us: Option<f64>,
}

impl TaskCost {
    /// The cost of one run from its report (and, for Dask, its stream's extras).
    pub fn of(report: &RunReport, dask: Option<&DaskExtras>) -> Self {
        let o = &report.overhead;
        let tasks = o.tasks;
        let per = |ns: u64| {
            if tasks == 0 {
                0.0
            } else {
                ns as f64 / tasks as f64 / 1e3
            }
        };
        let p = &o.parts;
        Self {
            tasks,
            work_us: per(o.work_ns),
            overhead_us: o.per_task_us,
            gaps_us: per(p.scheduling_ns),
            start_us: per(p.startup_ns + p.handle_open_ns),
            idle_us: per(p.barrier_idle_ns + p.tail_idle_ns),
            waits_us: per(p.write_wait_ns + p.alloc_ns),
            transfer_us: dask.map(|x| per(x.transfer_ns)),
            outside_tasks_us: dask.map(|x| per(x.outside_tasks_ns)),
            write_overlap_us: dask.map(|x| per(x.write_overlap_ns)),
        }
    }

    /// The median of each figure over `runs` (tasks: the median count); `None` for none.
    pub fn median(runs: &[TaskCost]) -> Option<Self> {
        if runs.is_empty() {
            return None;
        }
        let m = |f: &dyn Fn(&TaskCost) -> f64| {
            let v: Vec<f64> = runs.iter().map(f).collect();
            stats::median_f64(&v).unwrap_or(0.0)
        };
        let opt = |f: &dyn Fn(&TaskCost) -> Option<f64>| {
            let v: Vec<f64> = runs.iter().filter_map(f).collect();
            stats::median_f64(&v)
        };
        let tasks: Vec<u64> = runs.iter().map(|r| r.tasks as u64).collect();
        Some(Self {
            tasks: convert::clamp_usize(stats::median(&tasks).unwrap_or(0)),
            work_us: m(&|c| c.work_us),
            overhead_us: m(&|c| c.overhead_us),
            gaps_us: m(&|c| c.gaps_us),
            start_us: m(&|c| c.start_us),
            idle_us: m(&|c| c.idle_us),
            waits_us: m(&|c| c.waits_us),
            transfer_us: opt(&|c| c.transfer_us),
            outside_tasks_us: opt(&|c| c.outside_tasks_us),
            write_overlap_us: opt(&|c| c.write_overlap_us),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_are_taken_figure_by_figure() {
        let a = TaskCost {
            tasks: 10,
            work_us: 1.0,
            overhead_us: 5.0,
            transfer_us: Some(1.0),
            ..TaskCost::default()
        };
        let b = TaskCost {
            tasks: 12,
            work_us: 3.0,
            overhead_us: 1.0,
            transfer_us: Some(3.0),
            ..TaskCost::default()
        };
        let c = TaskCost {
            tasks: 11,
            work_us: 2.0,
            overhead_us: 9.0,
            transfer_us: Some(2.0),
            ..TaskCost::default()
        };
        let m = TaskCost::median(&[a, b, c]).unwrap();
        assert_eq!(m.tasks, 11);
        assert_eq!(m.work_us, 2.0);
        assert_eq!(m.overhead_us, 5.0);
        assert_eq!(m.transfer_us, Some(2.0));
        assert_eq!(m.outside_tasks_us, None);
        assert!(TaskCost::median(&[]).is_none());
    }

    #[test]
    fn engines_read_and_write_in_lowercase() {
        assert_eq!(serde_json::to_string(&Engine::Dask).unwrap(), "\"dask\"");
        let e: Engine = serde_json::from_str("\"chunkscope\"").unwrap();
        assert_eq!(e, Engine::Chunkscope);
    }
}
