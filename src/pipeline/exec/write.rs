//! The write stage and the closing step: a chunk written through the chunked writer
//! (with idle workers asked to help encode the tiles it completes) or GDAL's single
//! writer, and the output finished as its own stage. Runs on the workers, finalize on the
//! caller's thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::state::{Before, Done, Exec, MaskedChunk, SharedWrite, WorkerSlot, Writer};
use crate::output::{TileQueue, WriteStats};
use crate::pipeline::PipelineError;
use crate::task::Stage;

impl Exec<'_> {
    /// Writes one chunk. Within a `scope` (the chunked schedules, more than one worker) the
    /// task may ask idle workers to help encode the tiles it completes.
    pub(super) fn write<'s>(
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
                        lock_hold_ns: crate::convert::duration_ns(held.elapsed()),
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
    pub(super) fn help_outcome(&self) -> Result<(), PipelineError> {
        let mut first = self.help_failed.lock().unwrap_or_else(|p| p.into_inner());
        first.take().map_or(Ok(()), Err)
    }

    /// Drops a writer that did not finish, which removes its temporary files.
    pub(super) fn drop_writer(&self) {
        match &self.writer {
            Writer::Chunked(w) => drop(w.write().map(|mut w| w.take())),
            Writer::Gdal(m) => drop(m.lock().map(|mut w| w.take())),
        }
    }

    /// The closing step, as its own stage: the COG's assembly or the GeoTIFF's IFD (chunked
    /// writer), or GDAL's COG copy or close; then the read-back and the move into place.
    pub(super) fn finalize(&self, threads: usize) -> Result<String, PipelineError> {
        let whole = self.whole_chunk();
        let g = self.prepared.grid;
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
}
