//! A run as the Run screen shows it: chunk states, stage and task counts, folded from engine
//! events while the run goes on, or rebuilt from a finished run's report; and the chunk
//! map's states and heat derived from task records. Runs on the UI thread.

use chunkscope::graph::{Order, TaskGraph};
use chunkscope::output::WriterKind;
use chunkscope::pipeline::RunReport;
use chunkscope::task::{Event, Stage, TaskRecord};

use super::live::{Live, Repeat, Replay};

/// What a chunk is doing, as the run screen shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkState {
    Queued,
    Running(Stage),
    Done(Stage),
    Failed(Stage),
}

/// A run in progress or finished, folded from engine events.
#[derive(Debug, Clone)]
pub struct RunView {
    pub label: String,
    /// Format, codec, resolution and GDAL cache as the setup asked for them
    /// ([`crate::tui::model::setup::settings_label`]); once the run is done the header reads
    /// them from the report instead.
    pub settings: String,
    pub item: String,
    /// Chunks along (bands, rows, cols).
    pub grid: (usize, usize, usize),
    pub chunks: Vec<ChunkState>,
    pub stage: Option<Stage>,
    pub tasks_done: usize,
    pub elapsed_ns: u64,
    pub dropped: u64,
    pub cancelling: bool,
    pub report: Option<RunReport>,
    pub error: Option<String>,
    /// Samples, task stream, stage progress (see [`Live`]).
    pub live: Live,
    /// Playing the finished run back (`p`).
    pub replay: Option<Replay>,
    /// Part of a repeat (`R`): carried from run to run until it is complete.
    pub repeat: Option<Repeat>,
    /// The chunk clicked on the map: its tasks are listed.
    pub selected: Option<usize>,
    /// The graph the run executes, known before it starts (see [`super::graph`]).
    pub graph: Option<TaskGraph>,
}

impl RunView {
    pub fn tasks_total(&self) -> usize {
        match &self.report {
            // Dask's graph is not three tasks per chunk: count what it ran.
            Some(r) if chunkscope::dask::report::is_dask(r) => r
                .tasks
                .iter()
                .filter(|t| t.stage != Stage::Finalize)
                .count(),
            _ => self.chunks.len() * 3,
        }
    }
    pub fn finished(&self) -> bool {
        self.report.is_some() || self.error.is_some()
    }
}

impl RunView {
    /// Folds one engine event into the view.
    pub fn fold(&mut self, ev: Event) {
        self.live.fold(&ev);
        match ev {
            Event::RunStarted { chunks, .. } => {
                let n = chunks as usize;
                if n != self.chunks.len() {
                    self.chunks = vec![ChunkState::Queued; n];
                    if self.grid.0 * self.grid.1 * self.grid.2 != n {
                        self.grid = (1, 1, n);
                    }
                }
            }
            Event::StageStarted { stage, .. } => self.stage = Some(stage),
            Event::StageFinished { .. } => {}
            Event::TaskStarted { chunk, stage, .. } => {
                if stage != Stage::Finalize
                    && let Some(c) = self.chunks.get_mut(chunk as usize)
                {
                    *c = ChunkState::Running(stage);
                }
            }
            Event::TaskFinished(rec) => {
                if rec.stage != Stage::Finalize {
                    if let Some(c) = self.chunks.get_mut(rec.chunk as usize) {
                        *c = ChunkState::Done(rec.stage);
                    }
                    self.tasks_done += usize::from(!rec.helping);
                }
            }
            Event::TaskFailed { chunk, stage, .. } => {
                if let Some(c) = self.chunks.get_mut(chunk as usize) {
                    *c = ChunkState::Failed(stage);
                }
            }
            Event::RunFinished { at_ns, .. } => {
                self.elapsed_ns = at_ns;
            }
        }
    }
}

impl RunView {
    /// A run about to start: `grid` chunks queued, `threads` workers, nothing folded yet.
    pub fn new(label: String, item: String, grid: (usize, usize, usize), threads: usize) -> Self {
        let n = grid.0 * grid.1 * grid.2;
        Self {
            label,
            settings: String::new(),
            item,
            grid,
            chunks: vec![ChunkState::Queued; n],
            stage: None,
            tasks_done: 0,
            elapsed_ns: 0,
            dropped: 0,
            cancelling: false,
            report: None,
            error: None,
            live: Live::new(n, threads),
            replay: None,
            repeat: None,
            selected: None,
            graph: None,
        }
    }

    /// A finished run's view rebuilt from its report alone (every chunk done), for showing
    /// saved reports.
    pub fn from_report(report: &RunReport) -> Self {
        let (grid, n) = report
            .plan
            .as_ref()
            .map_or(((1, 1, 1), 1), |p| (p.grid, p.chunk_count));
        let mut view = Self::new(
            report.label(),
            report.config.item.clone(),
            grid,
            report.config.threads,
        );
        // Sized by the report's chunk count, which its tasks index, not by the grid.
        view.chunks = vec![
            if report.cancelled {
                ChunkState::Queued
            } else {
                ChunkState::Done(Stage::Write)
            };
            n
        ];
        view.live = Live::new(n, report.config.threads);
        view.stage = report.stages.last().map(|s| s.name);
        view.tasks_done = report
            .tasks
            .iter()
            .filter(|t| t.stage != Stage::Finalize && !t.helping)
            .count();
        view.elapsed_ns = report.wall_ns;
        view.dropped = report.events_dropped;
        view.settings = super::setup::report_settings(report);
        view.graph = Some(report_graph(report));
        view.report = Some(report.clone());
        view
    }
}

/// The graph a finished run executed, from what its report recorded (the grid; the block
/// layout is not in a report, so no tile figures).
pub fn report_graph(report: &RunReport) -> TaskGraph {
    let c = &report.config;
    let writer = if c.writer == WriterKind::Gdal.name() {
        WriterKind::Gdal
    } else {
        WriterKind::Chunked
    };
    let order = match (c.mode.as_str(), c.schedule.as_deref()) {
        ("serial", _) => Order::Serial,
        (_, Some("fused")) => Order::Fused,
        _ => Order::Staged,
    };
    match &report.plan {
        Some(p) => TaskGraph::from_grid(p.grid, order, writer),
        None => TaskGraph::serial(writer),
    }
}

/// Chunk states at run time `t_ns`, from task records alone: a chunk is in the last
/// stage it started by then, running if that stage's work (its task, or a worker helping
/// it) had not ended, done if it had.
pub fn chunk_states_at(tasks: &[TaskRecord], chunks: usize, t_ns: u64) -> Vec<ChunkState> {
    let mut latest: Vec<Option<&TaskRecord>> = vec![None; chunks];
    for t in tasks
        .iter()
        .filter(|t| t.stage != Stage::Finalize && t.start_ns <= t_ns)
    {
        if let Some(slot) = latest.get_mut(t.chunk as usize)
            && slot.is_none_or(|prev| (prev.stage, prev.end_ns) < (t.stage, t.end_ns))
        {
            *slot = Some(t);
        }
    }
    let mut states: Vec<ChunkState> = latest
        .into_iter()
        .map(|t| match t {
            None => ChunkState::Queued,
            Some(t) if t.end_ns <= t_ns => ChunkState::Done(t.stage),
            Some(t) => ChunkState::Running(t.stage),
        })
        .collect();
    // Dask's store may write the whole array in tasks whose keys name no chunk (off the
    // map). Then a masked chunk is written by those tasks: writing while any runs, written
    // once all have ended, so the map ends as a run of ours does.
    let on_map = |t: &&TaskRecord| (t.chunk as usize) < chunks;
    let writes = || tasks.iter().filter(|t| t.stage == Stage::Write);
    if writes().next().is_some() && !writes().any(|t| on_map(&t)) {
        let started = writes().any(|t| t.start_ns <= t_ns);
        let ended = writes().all(|t| t.end_ns <= t_ns);
        for state in states
            .iter_mut()
            .filter(|s| **s == ChunkState::Done(Stage::Mask))
        {
            if started {
                *state = if ended {
                    ChunkState::Done(Stage::Write)
                } else {
                    ChunkState::Running(Stage::Write)
                };
            }
        }
    }
    states
}

/// Per chunk, the time spent in its load/mask/write tasks.
pub fn chunk_busy(tasks: &[TaskRecord], chunks: usize) -> Vec<u64> {
    let mut out = vec![0; chunks];
    for t in tasks.iter().filter(|t| t.stage != Stage::Finalize) {
        if let Some(b) = out.get_mut(t.chunk as usize) {
            *b += t.duration_ns();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(chunk: u32, stage: Stage, worker: u16, start_ns: u64, end_ns: u64) -> TaskRecord {
        TaskRecord::span(chunk, stage, worker, start_ns, end_ns)
    }

    #[test]
    fn writes_that_name_no_chunk_write_every_masked_chunk() {
        // Two chunks, masked; the store's two write tasks are off the map (no chunk index).
        let tasks = [
            task(0, Stage::Load, 0, 0, 10),
            task(1, Stage::Load, 1, 0, 10),
            task(0, Stage::Mask, 0, 10, 20),
            task(1, Stage::Mask, 1, 10, 30),
            task(u32::MAX, Stage::Write, 0, 25, 40),
            task(u32::MAX, Stage::Write, 1, 35, 50),
            task(u32::MAX, Stage::Finalize, 0, 50, 60),
        ];
        let at = |t| chunk_states_at(&tasks, 2, t);
        assert_eq!(
            at(22),
            [
                ChunkState::Done(Stage::Mask),
                ChunkState::Running(Stage::Mask)
            ]
        );
        // Chunk 1's mask ended at 30: from then on the writes write it too.
        assert_eq!(at(27)[1], ChunkState::Running(Stage::Mask));
        assert_eq!(at(32), [ChunkState::Running(Stage::Write); 2]);
        assert_eq!(at(45)[1], ChunkState::Running(Stage::Write));
        assert_eq!(
            at(50),
            [ChunkState::Done(Stage::Write); 2],
            "written, as ours end"
        );
    }

    #[test]
    fn states_at_a_time_follow_the_records() {
        let tasks = [
            task(0, Stage::Load, 0, 0, 10),
            task(1, Stage::Load, 1, 0, 20),
            task(0, Stage::Mask, 0, 10, 15),
            task(0, Stage::Write, 0, 20, 30),
            task(1, Stage::Mask, 1, 20, 25),
            task(0, Stage::Finalize, 0, 40, 90),
        ];
        let at = |t| chunk_states_at(&tasks, 3, t);
        assert_eq!(
            at(5),
            vec![
                ChunkState::Running(Stage::Load),
                ChunkState::Running(Stage::Load),
                ChunkState::Queued
            ]
        );
        assert_eq!(at(10)[0], ChunkState::Running(Stage::Mask));
        assert_eq!(at(17)[0], ChunkState::Done(Stage::Mask));
        assert_eq!(at(20)[1], ChunkState::Running(Stage::Mask));
        assert_eq!(at(30)[0], ChunkState::Done(Stage::Write));
        assert_eq!(at(29)[0], ChunkState::Running(Stage::Write));
        assert_eq!(chunk_busy(&tasks, 3), vec![25, 25, 0]);
    }
}
