//! Memory held in chunk pixel buffers over a run, folded from the task records: a chunk's
//! buffers are obtained just before its load task and freed when its write task ends. This
//! is the lesson's memory argument in numbers: the serial path and the staged schedule hold
//! the whole image at once, the fused one only the chunks in flight. Pure arithmetic.

use crate::pipeline::{Stage, TaskRecord};

/// Bytes in chunk buffers at one moment of the run clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BufferLevel {
    pub at_ns: u64,
    pub bytes: u64,
}

/// The step series of bytes held in chunk buffers: one level per change, in time order.
/// A load task's `bytes` are exactly its buffers (image and SCL); they are held from the
/// start of their allocation (`start_ns - alloc_ns`) to the end of that chunk's write.
/// A chunk never written (a cancelled run) holds its buffers to the end of the series.
pub fn buffer_series(tasks: &[TaskRecord]) -> Vec<BufferLevel> {
    let mut changes: Vec<(u64, i128)> = Vec::new();
    for load in tasks.iter().filter(|t| t.stage == Stage::Load) {
        changes.push((
            load.start_ns.saturating_sub(load.alloc_ns),
            i128::from(load.bytes),
        ));
        if let Some(write) = tasks
            .iter()
            .find(|t| t.stage == Stage::Write && t.chunk == load.chunk)
        {
            changes.push((write.end_ns, -i128::from(load.bytes)));
        }
    }
    // Frees before allocations at the same instant: a buffer handed back and another taken
    // in the same nanosecond never coexisted.
    changes.sort_by_key(|&(at, delta)| (at, delta > 0));
    let mut level: i128 = 0;
    let mut out: Vec<BufferLevel> = Vec::with_capacity(changes.len());
    for (at_ns, delta) in changes {
        level += delta;
        let bytes = u64::try_from(level.max(0)).unwrap_or(u64::MAX);
        match out.last_mut() {
            Some(last) if last.at_ns == at_ns => last.bytes = bytes,
            _ => out.push(BufferLevel { at_ns, bytes }),
        }
    }
    out
}

/// The most bytes held in chunk buffers at any one time.
pub fn buffers_peak_bytes(tasks: &[TaskRecord]) -> u64 {
    buffer_series(tasks)
        .iter()
        .map(|l| l.bytes)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(chunk: u32, stage: Stage, start_ns: u64, end_ns: u64, bytes: u64) -> TaskRecord {
        TaskRecord {
            chunk,
            stage,
            worker: 0,
            start_ns,
            end_ns,
            bytes,
            wait_ns: 0,
            alloc_ns: 1,
        }
    }

    #[test]
    fn staged_holds_every_chunk_fused_only_those_in_flight() {
        // Staged: both loads before either write.
        let staged = [
            task(0, Stage::Load, 10, 20, 100),
            task(1, Stage::Load, 21, 30, 100),
            task(0, Stage::Write, 40, 50, 75),
            task(1, Stage::Write, 51, 60, 75),
        ];
        assert_eq!(buffers_peak_bytes(&staged), 200);
        // Fused on one worker: chunk 0 written before chunk 1 is loaded.
        let fused = [
            task(0, Stage::Load, 10, 20, 100),
            task(0, Stage::Write, 21, 30, 75),
            task(1, Stage::Load, 32, 40, 100),
            task(1, Stage::Write, 41, 50, 75),
        ];
        assert_eq!(buffers_peak_bytes(&fused), 100);
        let series = buffer_series(&fused);
        assert_eq!(
            series,
            vec![
                BufferLevel { at_ns: 9, bytes: 100 },
                BufferLevel { at_ns: 30, bytes: 0 },
                BufferLevel { at_ns: 31, bytes: 100 },
                BufferLevel { at_ns: 50, bytes: 0 },
            ]
        );
    }

    #[test]
    fn a_free_and_an_allocation_at_the_same_instant_do_not_add_up() {
        let tasks = [
            task(0, Stage::Load, 10, 20, 100),
            task(0, Stage::Write, 21, 30, 75),
            task(1, Stage::Load, 31, 40, 100),
        ];
        assert_eq!(buffers_peak_bytes(&tasks), 100);
        assert!(buffer_series(&[]).is_empty());
    }
}
