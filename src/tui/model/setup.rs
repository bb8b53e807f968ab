//! The chunk setup screen's model: the requested chunk shape, threads, schedule, mode and
//! writer for one scene, the engine's plan figures for them, and the warnings to read before
//! running. Changing a value replans at once (pure arithmetic, no I/O).

use std::num::NonZeroUsize;

use chunkscope::chunks::{ChunkPlan, ChunkRequest, PlanSummary, RasterLayout};
use chunkscope::output::WriterKind;
use chunkscope::pipeline::report::Grid;
use chunkscope::pipeline::{Mode, Schedule};

/// Chunk sizes outside this range get a warning; Dask's docs suggest ~100 MB chunks.
pub const SMALL_CHUNK_BYTES: u64 = 10_000_000;
pub const LARGE_CHUNK_BYTES: u64 = 1_000_000_000;

/// The fields of the chunk setup screen, top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Bands,
    Rows,
    Cols,
    Threads,
    Schedule,
    Mode,
    Writer,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Bands,
        Field::Rows,
        Field::Cols,
        Field::Threads,
        Field::Schedule,
        Field::Mode,
        Field::Writer,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Field::Bands => "bands",
            Field::Rows => "rows",
            Field::Cols => "cols",
            Field::Threads => "threads",
            Field::Schedule => "schedule",
            Field::Mode => "mode",
            Field::Writer => "writer",
        }
    }
}

/// The chunk setup for one scene, with the plan's figures for the current values.
#[derive(Debug, Clone)]
pub struct Setup {
    pub item: usize,
    /// The working grid's layout (overview 0 of visual), once `prepare` answered.
    pub layout: Option<RasterLayout>,
    pub grid: Option<Grid>,
    pub error: Option<String>,
    /// Requested chunk shape (bands, rows, cols); the plan clamps it to the raster.
    pub chunks: [usize; 3],
    pub free: bool,
    pub threads: usize,
    pub cores: usize,
    pub schedule: Schedule,
    pub serial: bool,
    /// Chunked writer (tiles encoded by the write tasks) or GDAL's writer and COG copy.
    pub writer: WriterKind,
    pub field: Field,
    pub plan: Option<Result<PlanSummary, String>>,
}

/// The field `d` rows down (up when negative), wrapping around.
pub fn step_field(f: Field, d: isize) -> Field {
    let i = Field::ALL.iter().position(|x| *x == f).unwrap_or(0) as isize;
    let n = Field::ALL.len() as isize;
    Field::ALL[((i + d).rem_euclid(n)) as usize]
}

/// The shape a request resolves to on `layout`, as [bands, rows, cols].
pub fn plan_shape(layout: RasterLayout, req: &ChunkRequest) -> Option<[usize; 3]> {
    let p = ChunkPlan::new(layout, req).ok()?;
    Some([p.shape.bands, p.shape.rows, p.shape.cols])
}

/// Step used for rows and cols in free mode.
pub fn free_step(block: usize) -> usize {
    if block >= 256 { 100 } else { 10 }
}

/// The next value up (`dir > 0`) or down from `v` on a grid of `step`, within
/// `step..=max`.
fn snap(v: usize, step: usize, dir: isize, max: usize) -> usize {
    let step = step.max(1);
    let next = if dir > 0 {
        (v / step + 1) * step
    } else {
        (v.saturating_sub(1) / step) * step
    };
    next.clamp(step.min(max), max.max(step))
}

/// A run the setup asks for, before the engine has said anything about it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    pub mode: Mode,
    /// Chunks along (bands, rows, cols), from the plan.
    pub grid: (usize, usize, usize),
    pub threads: usize,
    /// As the finished run's report will label it ([`RunReport::label`]): the Run screen
    /// shows this while the run goes on, when there is no report yet.
    ///
    /// [`RunReport::label`]: chunkscope::pipeline::RunReport::label
    pub label: String,
}

impl Setup {
    pub fn new(item: usize, cores: usize) -> Self {
        Self {
            item,
            layout: None,
            grid: None,
            error: None,
            chunks: [3, 1024, 1024],
            free: false,
            threads: cores,
            cores,
            schedule: Schedule::Staged,
            serial: false,
            writer: WriterKind::Chunked,
            field: Field::Rows,
            plan: None,
        }
    }

    /// Recomputes the plan's figures for the current request.
    pub fn replan(&mut self) {
        let Some(layout) = self.layout else { return };
        let [bands, rows, cols] = self.chunks;
        self.plan = Some(
            ChunkPlan::new(layout, &ChunkRequest::Explicit { bands, rows, cols })
                .map(|p| p.summary())
                .map_err(|e| e.to_string()),
        );
    }

    pub fn adjust(&mut self, dir: isize) {
        let Some(l) = self.layout else { return };
        match self.field {
            Field::Bands => {
                self.chunks[0] = snap(self.chunks[0], 1, dir, l.bands);
            }
            Field::Rows | Field::Cols => {
                let (i, block, whole) = if self.field == Field::Rows {
                    (1, l.block_rows, l.rows)
                } else {
                    (2, l.block_cols, l.cols)
                };
                let step = if self.free { free_step(block) } else { block };
                let max = whole.div_ceil(block) * block;
                self.chunks[i] = snap(self.chunks[i], step, dir, max);
            }
            Field::Threads => {
                let max = chunkscope::pipeline::limits::thread_limit(self.cores);
                self.threads = snap(self.threads, 1, dir, max);
            }
            Field::Schedule => self.toggle_schedule(),
            Field::Mode => self.serial = !self.serial,
            Field::Writer => self.toggle_writer(),
        }
        self.replan();
    }

    pub fn toggle_writer(&mut self) {
        self.writer = match self.writer {
            WriterKind::Chunked => WriterKind::Gdal,
            WriterKind::Gdal => WriterKind::Chunked,
        };
    }

    pub fn toggle_schedule(&mut self) {
        self.schedule = match self.schedule {
            Schedule::Staged => Schedule::Fused,
            Schedule::Fused => Schedule::Staged,
        };
    }

    pub fn preset(&mut self, p: u8) {
        let Some(l) = self.layout else { return };
        self.chunks = match p {
            1 => plan_shape(l, &ChunkRequest::Blocks(1)).unwrap_or(self.chunks),
            2 => plan_shape(l, &ChunkRequest::default()).unwrap_or(self.chunks),
            3 => [l.bands, 2048, 2048],
            _ => [l.bands, 6144, 6144],
        };
        self.replan();
    }

    /// The run these settings ask for, once the layout and a valid plan are known.
    pub fn planned_run(&self) -> Option<PlannedRun> {
        self.layout?;
        let (mode, grid, threads, label) = if self.serial {
            (Mode::Serial, (1, 1, 1), 1, "serial".to_string())
        } else {
            let summary = self.plan.as_ref()?.as_ref().ok()?;
            let [bands, rows, cols] = self.chunks;
            let threads = NonZeroUsize::new(self.threads)?;
            let shape = summary.shape;
            (
                Mode::Chunked {
                    chunks: ChunkRequest::Explicit { bands, rows, cols },
                    threads,
                    schedule: self.schedule,
                },
                summary.grid,
                self.threads,
                format!(
                    "chunked x {} ({},{},{}, {})",
                    self.threads,
                    shape.bands,
                    shape.rows,
                    shape.cols,
                    self.schedule.name()
                ),
            )
        };
        let label = match self.writer {
            WriterKind::Chunked => label,
            WriterKind::Gdal => format!("{label} · GDAL writer"),
        };
        Some(PlannedRun {
            mode,
            grid,
            threads,
            label,
        })
    }

    /// Warnings about the current setup, for the user to read before running.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let Some(Ok(p)) = &self.plan else {
            return out;
        };
        if self.serial {
            return out;
        }
        if p.chunk_bytes < SMALL_CHUNK_BYTES {
            out.push(format!(
                "small chunks ({}): task overhead may dominate; Dask suggests ~100 MB",
                chunkscope::profile::units::bytes(p.chunk_bytes)
            ));
        } else if p.chunk_bytes > LARGE_CHUNK_BYTES {
            out.push(format!(
                "large chunks ({}): few tasks, much memory per worker; Dask suggests ~100 MB",
                chunkscope::profile::units::bytes(p.chunk_bytes)
            ));
        }
        if p.chunk_count < self.threads {
            out.push(format!(
                "{} chunk(s) for {} threads: some threads will idle",
                p.chunk_count, self.threads
            ));
        }
        if !p.aligned {
            out.push("chunks straddle blocks: some blocks are decoded more than once".into());
        }
        out.extend(p.notices.iter().cloned());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapping_steps_to_the_grid() {
        assert_eq!(snap(1024, 1024, 1, 6144), 2048);
        assert_eq!(snap(1024, 1024, -1, 6144), 1024);
        assert_eq!(snap(1500, 1024, -1, 6144), 1024);
        assert_eq!(snap(1500, 1024, 1, 6144), 2048);
        assert_eq!(snap(6144, 1024, 1, 6144), 6144);
        assert_eq!(snap(1024, 100, -1, 6144), 1000);
        assert_eq!(snap(1000, 100, 1, 6144), 1100);
        assert_eq!(snap(1, 1, -1, 3), 1);
        assert_eq!(snap(3, 1, 1, 3), 3);
    }
}
