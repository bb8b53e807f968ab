//! The output's lock as the lesson tells it (`to_raster(..., lock=Lock())`): per worker, how
//! many times it took the lock, how long it held it and how long it waited for it, from the
//! write tasks' records of one run. Pure; runs on whichever thread asks.

use serde::Serialize;

use crate::task::{Stage, TaskRecord};

/// One worker's dealings with the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LockHolder {
    pub worker: u16,
    /// Write tasks the worker ran.
    pub writes: usize,
    pub held_ns: u64,
    pub waited_ns: u64,
}

/// The lock over one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriterLock {
    /// Workers that wrote, by worker index.
    pub holders: Vec<LockHolder>,
    pub held_ns: u64,
    pub waited_ns: u64,
    /// Wall time of the write stage (first write start to last write end).
    pub write_wall_ns: u64,
}

impl WriterLock {
    /// `None` when the run had no write tasks. Waiting counts both the wait before a task
    /// (GDAL's single writer) and the wait inside it (the chunked writer's appender).
    pub fn from_tasks(tasks: &[TaskRecord]) -> Option<Self> {
        let writes: Vec<&TaskRecord> = tasks.iter().filter(|t| t.stage == Stage::Write).collect();
        let start = writes.iter().map(|t| t.start_ns).min()?;
        let end = writes.iter().map(|t| t.end_ns).max()?;
        let mut holders: Vec<LockHolder> = Vec::new();
        for t in &writes {
            let i = match holders.iter().position(|h| h.worker == t.worker) {
                Some(i) => i,
                None => {
                    holders.push(LockHolder {
                        worker: t.worker,
                        writes: 0,
                        held_ns: 0,
                        waited_ns: 0,
                    });
                    holders.len() - 1
                }
            };
            let h = &mut holders[i];
            // Help with a write holds the appender too, but is not a write task.
            h.writes += usize::from(!t.helping);
            h.held_ns += t.lock_hold_ns;
            h.waited_ns += t.wait_ns + t.append_wait_ns;
        }
        holders.sort_by_key(|h| h.worker);
        Some(Self {
            held_ns: holders.iter().map(|h| h.held_ns).sum(),
            waited_ns: holders.iter().map(|h| h.waited_ns).sum(),
            holders,
            write_wall_ns: end - start,
        })
    }

    /// Held time / write-stage wall: how much of the stage the lock was taken (at most 1,
    /// since one holder at a time).
    pub fn held_share(&self) -> f64 {
        if self.write_wall_ns == 0 {
            0.0
        } else {
            self.held_ns as f64 / self.write_wall_ns as f64
        }
    }
}

impl WriterLock {
    /// Waited time / the writing workers' time over the write stage (wall x workers that
    /// wrote): how much of their write stage the workers spent waiting for the lock.
    pub fn wait_share(&self) -> f64 {
        let capacity = self.write_wall_ns as f64 * self.holders.len() as f64;
        if capacity == 0.0 {
            0.0
        } else {
            self.waited_ns as f64 / capacity
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_and_waits_add_up_per_worker() {
        let mut a = TaskRecord::span(0, Stage::Write, 0, 0, 100);
        a.lock_hold_ns = 100;
        let mut b = TaskRecord::span(1, Stage::Write, 1, 0, 200);
        b.wait_ns = 100;
        b.lock_hold_ns = 100;
        let load = TaskRecord::span(0, Stage::Load, 1, 0, 50);
        let lock = WriterLock::from_tasks(&[a, b, load]).unwrap();
        assert_eq!(lock.holders.len(), 2);
        assert_eq!(lock.holders[1].waited_ns, 100);
        assert_eq!(lock.held_ns, 200);
        assert_eq!(lock.write_wall_ns, 200);
        assert!((lock.held_share() - 1.0).abs() < 1e-9);
        // 100 ns waited of 2 workers x 200 ns.
        assert!((lock.wait_share() - 0.25).abs() < 1e-9);
        assert_eq!(WriterLock::from_tasks(&[load]), None);
    }
}
