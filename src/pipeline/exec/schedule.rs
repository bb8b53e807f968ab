//! The orders a run's tasks go in: serial (the whole grid as one chunk on the caller's
//! thread), staged (all loads, then all masks, then the writes) or fused (each chunk
//! through its three stages), the latter two on the run's rayon pool.

use rayon::prelude::*;

use super::state::{ChunkData, Exec, MaskedChunk};
use crate::chunks::Chunk;
use crate::pipeline::{Mode, PipelineError, Schedule, blocks};
use crate::task::{Event, Stage};

impl Exec<'_> {
    /// Runs every task in the order the run's mode and schedule say: chunked runs on
    /// `pool`, in the block-friendly order [`blocks::ordered`] gives.
    pub(super) fn run_tasks(&self, pool: Option<&rayon::ThreadPool>) -> Result<(), PipelineError> {
        match (&self.config.mode, &self.prepared.plan, pool) {
            (Mode::Chunked { schedule, .. }, Some(plan), Some(pool)) => {
                let chunks = blocks::ordered(&plan.chunks, &plan.layout, self.config.blocks);
                pool.install(|| match schedule {
                    Schedule::Staged => self.staged(&chunks),
                    Schedule::Fused => self.fused(&chunks),
                })
            }
            _ => self.serial(),
        }
    }

    fn serial(&self) -> Result<(), PipelineError> {
        let whole = self.whole_chunk();
        for stage in [Stage::Load, Stage::Mask, Stage::Write] {
            self.control.events.send(Event::StageStarted {
                stage,
                at_ns: self.clock.now_ns(),
            });
        }
        let data = self.load(&whole)?;
        let masked = self.mask(data)?;
        self.write(masked, None)
    }

    // Every parallel loop below takes `with_max_len(1)`: each chunk is a job of its own
    // that an idle worker can steal, as Dask hands out one task at a time. By default rayon
    // runs a stretch of adjacent chunks as one job that cannot be split, so the worker
    // whose half held the small edge chunks sat idle for a fifth of a run at the end.

    fn staged(&self, chunks: &[Chunk]) -> Result<(), PipelineError> {
        self.stage_mark(Stage::Load, true);
        let loaded: Vec<ChunkData> = chunks
            .par_iter()
            .with_max_len(1)
            .map(|c| self.load(c))
            .collect::<Result<_, _>>()?;
        self.stage_mark(Stage::Load, false);
        self.stage_mark(Stage::Mask, true);
        let masked: Vec<MaskedChunk> = loaded
            .into_par_iter()
            .with_max_len(1)
            .map(|d| self.mask(d))
            .collect::<Result<_, _>>()?;
        self.stage_mark(Stage::Mask, false);
        self.stage_mark(Stage::Write, true);
        let writes = rayon::scope(|s| {
            masked
                .into_par_iter()
                .with_max_len(1)
                .try_for_each(|d| self.write(d, Some(s)))
        });
        // A helper's error first: the tasks it stopped only say they were cancelled.
        self.help_outcome()?;
        writes?;
        self.stage_mark(Stage::Write, false);
        Ok(())
    }

    fn fused(&self, chunks: &[Chunk]) -> Result<(), PipelineError> {
        for stage in [Stage::Load, Stage::Mask, Stage::Write] {
            self.stage_mark(stage, true);
        }
        let tasks = rayon::scope(|s| {
            chunks.par_iter().with_max_len(1).try_for_each(|c| {
                let data = self.load(c)?;
                let masked = self.mask(data)?;
                self.write(masked, Some(s))
            })
        });
        // A helper's error first: the tasks it stopped only say they were cancelled.
        self.help_outcome()?;
        tasks?;
        for stage in [Stage::Load, Stage::Mask, Stage::Write] {
            self.stage_mark(stage, false);
        }
        Ok(())
    }

    pub(super) fn stage_mark(&self, stage: Stage, started: bool) {
        let at_ns = self.clock.now_ns();
        self.control.events.send(if started {
            Event::StageStarted { stage, at_ns }
        } else {
            Event::StageFinished { stage, at_ns }
        });
    }
}
