//! How one run's memory figures are had, for the lesson's memory step. A run's max RSS is
//! only its own in a process of its own (the kernel's high-water mark never goes down), so
//! the front ends hand the step a probe that starts a child process per run
//! ([`super::child`], as `chunkscope memory` does); [`InProcess`] runs here, for tests and
//! where no child can be started, and says so. Runs on the caller's thread.

use std::num::NonZeroUsize;

use serde::Serialize;

use crate::chunks::ChunkRequest;
use crate::experiment::rounds::RunBase;
use crate::pipeline::{self, Mode, RunControl, Scene, Schedule};
use crate::profile::memory::MemoryRun;
use crate::task::CancelFlag;

/// The schedules the memory step compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemorySchedule {
    Serial,
    Staged,
    Fused,
}

impl MemorySchedule {
    pub const ALL: [MemorySchedule; 3] = [Self::Serial, Self::Staged, Self::Fused];

    pub fn name(self) -> &'static str {
        match self {
            Self::Serial => "serial",
            Self::Staged => "staged",
            Self::Fused => "fused",
        }
    }

    /// The run mode of this schedule with `chunks` on `threads`.
    pub fn mode(self, chunks: &ChunkRequest, threads: NonZeroUsize) -> Mode {
        let chunked = |schedule| Mode::Chunked {
            chunks: chunks.clone(),
            threads,
            schedule,
        };
        match self {
            Self::Serial => Mode::Serial,
            Self::Staged => chunked(Schedule::Staged),
            Self::Fused => chunked(Schedule::Fused),
        }
    }
}

/// Runs one schedule and measures its memory.
pub trait MemoryProbe: Send + Sync {
    /// Whether each run has a process of its own, so its max RSS is its alone.
    fn own_process(&self) -> bool;

    /// One run of `schedule` with chunks and threads as asked and GDAL's block cache bounded
    /// to `gdal_cache_mb`; `Ok(None)` when it was cancelled.
    fn run(
        &self,
        schedule: MemorySchedule,
        chunks: &ChunkRequest,
        threads: NonZeroUsize,
        gdal_cache_mb: u32,
    ) -> Result<Option<MemoryRun>, String>;
}

/// Runs in this process: buffers are exact, but max RSS is the process's high-water mark
/// so far, which earlier runs may have set.
pub struct InProcess {
    pub scene: Scene,
    pub base: RunBase,
    pub cancel: CancelFlag,
}

impl MemoryProbe for InProcess {
    fn own_process(&self) -> bool {
        false
    }

    fn run(
        &self,
        schedule: MemorySchedule,
        chunks: &ChunkRequest,
        threads: NonZeroUsize,
        gdal_cache_mb: u32,
    ) -> Result<Option<MemoryRun>, String> {
        let base = RunBase {
            gdal_cache_mb: Some(gdal_cache_mb),
            ..self.base.clone()
        };
        let control = RunControl {
            cancel: self.cancel.clone(),
            ..RunControl::default()
        };
        let report = pipeline::run(
            &self.scene,
            &base.config(schedule.mode(chunks, threads)),
            &control,
        )
        .map_err(|e| {
            format!(
                "the {} run failed: {}",
                schedule.name(),
                crate::error::chain(&e)
            )
        })?;
        if report.cancelled {
            return Ok(None);
        }
        Ok(Some(MemoryRun::from_tasks(
            &report.tasks,
            report.process_max_rss_bytes,
            report.rss_start_bytes,
            report.wall_ns,
        )))
    }
}
