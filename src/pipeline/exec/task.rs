//! The task wrapper: every task of a run goes through [`Exec::task`], which checks the
//! cancel flag, times the work, keeps its record in the worker's slot and sends its
//! events. Runs on whichever thread runs the task.

use std::sync::atomic::Ordering;

use super::state::{Before, Done, Exec, WorkerSlot};
use crate::chunks::Chunk;
use crate::pipeline::PipelineError;
use crate::task::{Event, Stage, TaskRecord};

impl Exec<'_> {
    /// Runs one task: checks the cancel flag, times `work`, records and reports it.
    /// `before` is what was spent just before the task on its behalf (writer wait, buffers).
    pub(super) fn task<T>(
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
    pub(super) fn record<T>(
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
        let (chunk_id, worker_id) = (
            crate::convert::clamp_u32(chunk.index),
            crate::convert::clamp_u16(worker),
        );
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
}
