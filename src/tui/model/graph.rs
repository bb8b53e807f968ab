//! The task graph as a screen shows it: the engine's [`TaskGraph`] of a run with each
//! node's state (waiting, running, done, failed) at the moment drawn, and the order the
//! writes took. Built from a run's view each frame, live, finished or replayed; the lesson
//! screens can build one from a graph and task records alone. Runs on the UI thread.

use std::borrow::Cow;

use chunkscope::graph::TaskGraph;
use chunkscope::task::{Stage, TaskRecord};

use super::run::{ChunkState, RunView, chunk_states_at};

/// Where one node of the graph is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    Waiting,
    Running,
    Done,
    Failed,
}

/// How many of a stage's tasks are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageCounts {
    pub waiting: usize,
    pub running: usize,
    pub done: usize,
    pub failed: usize,
}

/// A graph and the states of its nodes.
#[derive(Debug, Clone)]
pub struct GraphView<'a> {
    pub graph: &'a TaskGraph,
    /// Per chunk, the last stage it reached: its three tasks run in order in every
    /// schedule, so this gives the state of each.
    pub chunks: Cow<'a, [ChunkState]>,
    pub finalize: NodeState,
    /// Chunks of the finished write tasks in the order they started: with GDAL's writer,
    /// the order they held its lock.
    pub write_order: Vec<u32>,
    /// Whether the states are as of a replay's time rather than live or final.
    pub replay: bool,
}

impl<'a> GraphView<'a> {
    /// The graph of `run` as it stands (or at the replay's time), if the run has one.
    pub fn of_run(run: &'a RunView) -> Option<Self> {
        let graph = run.graph.as_ref()?;
        let n = graph.chunks;
        if let (Some(rep), Some(p)) = (&run.report, &run.replay) {
            return Some(Self::at(graph, &rep.tasks, p.t_ns, true));
        }
        if let Some(rep) = &run.report {
            return Some(Self::at(graph, &rep.tasks, u64::MAX, false));
        }
        let chunks = if run.chunks.len() == n {
            Cow::Borrowed(run.chunks.as_slice())
        } else {
            Cow::Owned(vec![ChunkState::Queued; n])
        };
        let fin = run.live.stage(Stage::Finalize);
        let finalize = if fin.done > 0 {
            NodeState::Done
        } else if run.error.is_some() && fin.start_ns.is_some() {
            NodeState::Failed
        } else if fin.start_ns.is_some() {
            NodeState::Running
        } else {
            NodeState::Waiting
        };
        Some(Self {
            graph,
            chunks,
            finalize,
            write_order: write_order(&run.live.tasks, u64::MAX),
            replay: false,
        })
    }

    /// The graph's states at run time `t_ns` from task records alone.
    pub fn at(graph: &'a TaskGraph, tasks: &[TaskRecord], t_ns: u64, replay: bool) -> Self {
        let fin = tasks.iter().find(|t| t.stage == Stage::Finalize);
        let finalize = match fin {
            Some(f) if f.end_ns <= t_ns => NodeState::Done,
            Some(f) if f.start_ns <= t_ns => NodeState::Running,
            _ => NodeState::Waiting,
        };
        Self {
            graph,
            chunks: Cow::Owned(chunk_states_at(tasks, graph.chunks, t_ns)),
            finalize,
            write_order: write_order(tasks, t_ns),
            replay,
        }
    }

    /// The state of `stage` of `chunk`.
    pub fn state(&self, chunk: usize, stage: Stage) -> NodeState {
        if stage == Stage::Finalize {
            return self.finalize;
        }
        let Some(&c) = self.chunks.get(chunk) else {
            return NodeState::Waiting;
        };
        match c {
            ChunkState::Queued => NodeState::Waiting,
            ChunkState::Running(s) | ChunkState::Failed(s) if stage < s => NodeState::Done,
            ChunkState::Running(s) if stage == s => NodeState::Running,
            ChunkState::Failed(s) if stage == s => NodeState::Failed,
            ChunkState::Done(s) if stage <= s => NodeState::Done,
            _ => NodeState::Waiting,
        }
    }

    /// Counts of `stage`'s tasks by state.
    pub fn counts(&self, stage: Stage) -> StageCounts {
        let mut c = StageCounts::default();
        for i in 0..self.graph.chunks {
            match self.state(i, stage) {
                NodeState::Waiting => c.waiting += 1,
                NodeState::Running => c.running += 1,
                NodeState::Done => c.done += 1,
                NodeState::Failed => c.failed += 1,
            }
        }
        c
    }

    /// A staged barrier is passed once every task before it has ended.
    pub fn barrier_passed(&self, after: Stage) -> bool {
        self.counts(after).done == self.graph.chunks
    }

    /// Nodes lit (running or done) and all nodes, barriers counted as lit once passed.
    pub fn lit(&self) -> (usize, usize) {
        let mut lit = 0;
        for stage in chunkscope::graph::CHUNK_STAGES {
            let c = self.counts(stage);
            lit += c.running + c.done;
        }
        lit += self
            .graph
            .barriers()
            .iter()
            .filter(|&&s| self.barrier_passed(s))
            .count();
        lit += usize::from(self.finalize != NodeState::Waiting);
        (lit, self.graph.node_count())
    }
}

/// Chunks of the write tasks started by `t_ns` and finished, in the order they started.
fn write_order(tasks: &[TaskRecord], t_ns: u64) -> Vec<u32> {
    let mut writes: Vec<&TaskRecord> = tasks
        .iter()
        .filter(|t| t.stage == Stage::Write && !t.helping && t.end_ns <= t_ns)
        .collect();
    writes.sort_by_key(|t| (t.start_ns, t.chunk));
    writes.into_iter().map(|t| t.chunk).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chunkscope::graph::Order;
    use chunkscope::output::WriterKind;

    #[test]
    fn a_chunks_last_stage_gives_the_state_of_each_of_its_tasks() {
        let graph = TaskGraph::from_grid((1, 1, 3), Order::Staged, WriterKind::Gdal);
        let tasks = [
            TaskRecord::span(0, Stage::Load, 0, 0, 10),
            TaskRecord::span(1, Stage::Load, 1, 0, 12),
            TaskRecord::span(2, Stage::Load, 0, 10, 20),
            TaskRecord::span(1, Stage::Mask, 1, 20, 30),
            TaskRecord::span(1, Stage::Write, 0, 30, 40),
            TaskRecord::span(0, Stage::Mask, 1, 20, 25),
            TaskRecord::span(0, Stage::Write, 0, 40, 45),
        ];
        let v = GraphView::at(&graph, &tasks, 22, true);
        assert_eq!(v.state(0, Stage::Mask), NodeState::Running);
        assert_eq!(v.state(0, Stage::Load), NodeState::Done);
        assert_eq!(v.state(0, Stage::Write), NodeState::Waiting);
        assert!(v.barrier_passed(Stage::Load));
        assert!(!v.barrier_passed(Stage::Mask));
        // 3 loads done, 2 masks running, the load barrier passed.
        assert_eq!(v.lit(), (6, 3 * 3 + 1 + 2));
        let end = GraphView::at(&graph, &tasks, 100, false);
        assert_eq!(end.write_order, vec![1, 0]);
        assert_eq!(end.counts(Stage::Write).done, 2);
        assert_eq!(end.finalize, NodeState::Waiting);
    }
}
