//! The figures chunkscope shows for an imported stream: tasks per stage, lanes and their
//! busy time, the gaps between a lane's tasks, overhead and latency per stage. The
//! statistics are the engine's own ([`crate::profile`]), applied to the stream's tasks as
//! task records, so a Dask run and a chunkscope run are measured alike. Pure arithmetic.

use serde::Serialize;

use super::stream::{Action, DaskStream, Header, TaskStage};
use crate::profile::latency::{self, LatencyError, LatencyHistogram, LatencySummary};
use crate::profile::overhead::{self, Overhead, WorkerFacts};
use crate::profile::stats;
use crate::task::{Stage, TaskRecord};

/// Version of the JSON `import-dask --json` prints.
pub const SCHEMA_VERSION: u32 = 1;

/// One stage's tasks (or, for "other", the tasks of every name that says no stage).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageFigures {
    /// `load`, `mask`, `write`, `finalize` or `other`.
    pub stage: &'static str,
    /// The key labels seen, in order of first appearance (`open_rasterio`, `getitem`, ...).
    pub labels: Vec<String>,
    pub tasks: usize,
    /// Tasks whose key places them on the chunk grid.
    pub chunk_tasks: usize,
    pub erred: usize,
    /// Summed task durations.
    pub busy_ns: u64,
    pub latency: LatencySummary,
}

/// One worker thread.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LaneFigures {
    pub lane: u16,
    pub worker: String,
    pub thread: String,
    pub tasks: usize,
    /// Time inside at least one task (a union: Dask may report a thread's tasks
    /// overlapping, and the overlap is counted once).
    pub busy_ns: u64,
    /// busy / the stream's wall time.
    pub busy_share: f64,
    /// Time the lane's tasks overlapped each other.
    pub overlap_ns: u64,
    /// The gaps between the lane's consecutive load/mask/write tasks.
    pub gaps: GapFigures,
}

/// Gaps between consecutive load/mask/write tasks of a lane, as [`overhead::account`]
/// counts them in its scheduling part: the next start minus the previous end, 0 when
/// they overlap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GapFigures {
    pub count: usize,
    pub total_ns: u64,
    pub median_ns: u64,
    pub max_ns: u64,
}

impl GapFigures {
    fn of(gaps: &[u64]) -> Self {
        Self {
            count: gaps.len(),
            total_ns: gaps.iter().fold(0, |a, &g| a.saturating_add(g)),
            median_ns: stats::median(gaps).unwrap_or(0),
            max_ns: gaps.iter().copied().max().unwrap_or(0),
        }
    }
}

/// Time per Dask action (compute, transfer, disk-read, ...), summed over tasks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionFigures {
    pub action: Action,
    pub spans: usize,
    pub total_ns: u64,
}

/// Everything `import-dask` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DaskSummary {
    pub schema_version: u32,
    pub header: Header,
    pub tasks: usize,
    pub erred: usize,
    /// Chunk rows and columns seen in the keys.
    pub grid: (u32, u32),
    /// Earliest start to latest stop.
    pub wall_ns: u64,
    /// Load, mask, write, finalize (those with tasks), then other if any.
    pub stages: Vec<StageFigures>,
    pub lanes: Vec<LaneFigures>,
    /// Busy time of all lanes / (wall x lanes).
    pub busy_share: f64,
    /// chunkscope's overhead: capacity (lanes x the window up to the last load/mask/write
    /// task) minus the time inside load, mask and write tasks. Other tasks and the
    /// finalize are not stage work, so their time is part of it.
    pub overhead: Overhead,
    /// Every lane's gaps together.
    pub gaps: GapFigures,
    pub actions: Vec<ActionFigures>,
}

impl DaskSummary {
    pub fn of(stream: &DaskStream) -> Result<Self, LatencyError> {
        let records = stream.records();
        let work = without_overlap(&records);
        let wall_ns = stream.wall_ns();
        let lanes_n = stream.lanes.len();
        let overhead = overhead::account(&work, &vec![WorkerFacts::default(); lanes_n], false);
        // Each lane's tasks and work, grouped in one pass: filtering all tasks once per
        // lane was quadratic (65,536 one-task lanes took minutes).
        let mut spans_of: Vec<Vec<(u64, u64)>> = vec![Vec::new(); lanes_n];
        for t in &stream.tasks {
            if let Some(spans) = spans_of.get_mut(usize::from(t.lane)) {
                spans.push((t.start_ns, t.stop_ns));
            }
        }
        let mut work_of: Vec<Vec<&TaskRecord>> = vec![Vec::new(); lanes_n];
        for t in work.iter().filter(|t| t.stage != Stage::Finalize) {
            if let Some(mine) = work_of.get_mut(usize::from(t.worker)) {
                mine.push(t);
            }
        }
        let mut all_gaps = Vec::new();
        let mut lanes = Vec::with_capacity(lanes_n);
        for (i, ((lane, mut spans), mine)) in
            stream.lanes.iter().zip(spans_of).zip(work_of).enumerate()
        {
            let lane_no = u16::try_from(i).unwrap_or(u16::MAX);
            let tasks = spans.len();
            spans.sort_unstable();
            let (busy_ns, overlap_ns) = union_and_overlap(&spans);
            let gaps = lane_gaps(mine);
            all_gaps.extend_from_slice(&gaps);
            lanes.push(LaneFigures {
                lane: lane_no,
                worker: lane.worker.clone(),
                thread: lane.thread.clone(),
                tasks,
                busy_ns,
                busy_share: share(busy_ns, wall_ns),
                overlap_ns,
                gaps: GapFigures::of(&gaps),
            });
        }
        let busy_total: u64 = lanes.iter().fold(0, |a, l| a.saturating_add(l.busy_ns));
        Ok(Self {
            schema_version: SCHEMA_VERSION,
            header: stream.header.clone(),
            tasks: stream.tasks.len(),
            erred: stream.erred(),
            grid: stream.grid,
            wall_ns,
            stages: stage_figures(stream, &records)?,
            busy_share: share(busy_total, wall_ns.saturating_mul(lanes_n as u64)),
            lanes,
            overhead,
            gaps: GapFigures::of(&all_gaps),
            actions: action_figures(stream),
        })
    }

    /// The figures of `stage` (`load`, ..., `other`), if it had tasks.
    pub fn stage(&self, name: &str) -> Option<&StageFigures> {
        self.stages.iter().find(|s| s.stage == name)
    }
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn stage_figures(
    stream: &DaskStream,
    records: &[TaskRecord],
) -> Result<Vec<StageFigures>, LatencyError> {
    // The lesson's stages from the engine's own histograms, then "other" (None) last.
    let mut groups: Vec<(Option<Stage>, LatencyHistogram)> = latency::per_stage(records)
        .into_iter()
        .map(|(stage, h)| (Some(stage), h))
        .collect();
    let mut other = LatencyHistogram::new();
    for t in &stream.tasks {
        if let TaskStage::Other(_) = t.stage {
            other.record(t.duration_ns());
        }
    }
    if !other.is_empty() {
        groups.push((None, other));
    }
    let mut out = Vec::with_capacity(groups.len());
    for (stage, histogram) in groups {
        let mine: Vec<_> = stream
            .tasks
            .iter()
            .filter(|t| match &t.stage {
                TaskStage::Pipeline(p) => Some(*p) == stage,
                TaskStage::Other(_) => stage.is_none(),
            })
            .collect();
        let mut labels: Vec<String> = Vec::new();
        for t in &mine {
            if !labels.contains(&t.label) {
                labels.push(t.label.clone());
            }
        }
        out.push(StageFigures {
            stage: stage.map_or("other", Stage::name),
            labels,
            tasks: mine.len(),
            chunk_tasks: mine.iter().filter(|t| t.chunk.is_some()).count(),
            erred: mine.iter().filter(|t| t.erred).count(),
            busy_ns: mine
                .iter()
                .fold(0, |a, t| a.saturating_add(t.duration_ns())),
            latency: histogram.summary()?,
        });
    }
    Ok(out)
}

/// The records with each task's start moved to the end of the lane's earlier work when
/// Dask reports them overlapping (it does, rarely, on one thread): [`overhead::account`]
/// takes a worker's tasks to be one after another, and a thread's time can only be work
/// once. Latencies keep the durations as reported.
fn without_overlap(records: &[TaskRecord]) -> Vec<TaskRecord> {
    let mut out = records.to_vec();
    out.sort_by_key(|t| (t.worker, t.start_ns));
    let mut busy_until: Option<(u16, u64)> = None;
    for t in &mut out {
        if t.stage == Stage::Finalize {
            continue;
        }
        if let Some((lane, until)) = busy_until.filter(|(lane, _)| *lane == t.worker) {
            // A task inside the earlier one keeps no time of its own.
            t.start_ns = t.start_ns.max(until);
            t.end_ns = t.end_ns.max(t.start_ns);
            busy_until = Some((lane, until.max(t.end_ns)));
        } else {
            busy_until = Some((t.worker, t.end_ns));
        }
    }
    out
}

/// The gaps [`overhead::account`] counts as scheduling on one lane, from that lane's load,
/// mask and write records (no wait or buffer times are recorded for Dask tasks, so the
/// whole gap is scheduling).
fn lane_gaps(mut mine: Vec<&TaskRecord>) -> Vec<u64> {
    mine.sort_by_key(|t| t.start_ns);
    mine.windows(2)
        .map(|pair| pair[1].start_ns.saturating_sub(pair[0].end_ns))
        .collect()
}

/// Length of the union of sorted intervals, and the time they overlap.
fn union_and_overlap(sorted: &[(u64, u64)]) -> (u64, u64) {
    let (mut union, mut total) = (0u64, 0u64);
    let mut current: Option<(u64, u64)> = None;
    for &(start, stop) in sorted {
        total = total.saturating_add(stop - start);
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(stop))),
            Some((s, e)) => {
                union = union.saturating_add(e - s);
                Some((start, stop))
            }
            None => Some((start, stop)),
        };
    }
    if let Some((s, e)) = current {
        union = union.saturating_add(e - s);
    }
    (union, total.saturating_sub(union))
}

fn action_figures(stream: &DaskStream) -> Vec<ActionFigures> {
    let mut out: Vec<ActionFigures> = Vec::new();
    for span in stream.tasks.iter().flat_map(|t| &t.spans) {
        let ns = span.stop_ns - span.start_ns;
        match out.iter_mut().find(|a| a.action == span.action) {
            Some(a) => {
                a.spans += 1;
                a.total_ns = a.total_ns.saturating_add(ns);
            }
            None => out.push(ActionFigures {
                action: span.action.clone(),
                spans: 1,
                total_ns: ns,
            }),
        }
    }
    out.sort_by(|a, b| a.action.cmp(&b.action));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_work_counts_once() {
        let task =
            |worker, start_ns, end_ns| TaskRecord::span(0, Stage::Mask, worker, start_ns, end_ns);
        let clipped = without_overlap(&[
            task(0, 0, 10),
            task(0, 5, 12),
            task(0, 6, 8),
            task(1, 3, 4),
            task(0, 20, 25),
        ]);
        let spans: Vec<(u16, u64, u64)> = clipped
            .iter()
            .map(|t| (t.worker, t.start_ns, t.end_ns))
            .collect();
        assert_eq!(
            spans,
            [(0, 0, 10), (0, 10, 12), (0, 12, 12), (0, 20, 25), (1, 3, 4)]
        );
        let o = overhead::account(&clipped, &[WorkerFacts::default(); 2], false);
        assert_eq!(o.parts.sum(), o.total_ns);
    }

    #[test]
    fn union_counts_overlap_once() {
        assert_eq!(union_and_overlap(&[]), (0, 0));
        assert_eq!(union_and_overlap(&[(0, 10), (5, 12), (20, 25)]), (17, 5));
        assert_eq!(union_and_overlap(&[(0, 10), (2, 4)]), (10, 2));
    }

    #[test]
    fn gaps_are_the_scheduling_part_of_the_overhead() {
        let text = serde_json::json!([
            {"key": ["open_rasterio", 0, 0, 0], "worker": "w", "thread": 1,
             "startstops": [{"action": "compute", "start": 0.0, "stop": 1.0}]},
            {"key": ["array", 0], "worker": "w", "thread": 1,
             "startstops": [{"action": "compute", "start": 1.5, "stop": 1.75}]},
            {"key": ["store-map", 0, 0, 0], "worker": "w", "thread": 1,
             "startstops": [{"action": "compute", "start": 2.0, "stop": 3.0}]},
            {"key": ["getitem", 0, 0], "worker": "w", "thread": 2,
             "startstops": [{"action": "compute", "start": 0.5, "stop": 2.5}]},
            {"key": "finalize", "worker": "w", "thread": 2,
             "startstops": [{"action": "compute", "start": 3.0, "stop": 3.25}]},
        ])
        .to_string();
        let s = DaskSummary::of(&DaskStream::parse(&text).unwrap()).unwrap();
        assert_eq!(s.wall_ns, 3_250_000_000);
        assert_eq!(s.gaps.count, 1);
        assert_eq!(
            s.gaps.total_ns, 1_000_000_000,
            "the other task sits in the gap"
        );
        assert_eq!(s.gaps.total_ns, s.overhead.parts.scheduling_ns);
        assert_eq!(s.overhead.parts.sum(), s.overhead.total_ns);
        assert_eq!(s.lanes[0].busy_ns, 2_250_000_000);
        assert_eq!(s.lanes[1].busy_ns, 2_250_000_000);
        let names: Vec<&str> = s.stages.iter().map(|f| f.stage).collect();
        assert_eq!(names, ["load", "write", "finalize", "other"]);
        let other = s.stage("other").unwrap();
        assert_eq!((other.tasks, other.chunk_tasks), (1, 0));
        assert_eq!(other.labels, ["array"]);
        assert!(
            other.latency.p50_us.abs_diff(250_000) <= 250,
            "HdrHistogram, 3 figures"
        );
        assert_eq!(
            s.stage("load").unwrap().labels,
            ["open_rasterio", "getitem"]
        );
        assert_eq!(s.actions[0].spans, 5);
    }
}
