//! Laziness: the task graph built before anything runs, then executed.

use crate::convert;
use crate::graph::{Order, TaskGraph};
use crate::pipeline::RunReport;
use crate::profile::stats::Timing;
use crate::profile::units;
use crate::task::TaskRecord;

use super::super::chart::{Chart, Stream};
use super::super::verdict::{Comparison, noise_words, with_spread};
use super::super::{GraphCounts, LazyGraph};
use super::{
    CHUNKSCOPE, Context, Figure, LessonError, Repetition, StepResult, Words, named, no_time,
    rounds, timing,
};

/// What the laziness step measured.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct GraphFigures {
    pub threads: usize,
    /// The chunk request, as written.
    pub chunks: String,
    /// Chunk shape (bands, rows, cols).
    pub shape: (usize, usize, usize),
    /// Chunks along (bands, rows, cols).
    pub grid: (usize, usize, usize),
    pub staged: GraphCounts,
    pub fused: GraphCounts,
    pub build: Timing,
    pub execute: Timing,
    /// Executing against building: how far apart they are, with their noise.
    pub vs: Comparison,
    /// The median run's tasks, drawn as its task stream.
    pub tasks: Vec<TaskRecord>,
}

impl GraphFigures {
    fn chunk_count(&self) -> usize {
        self.grid.0 * self.grid.1 * self.grid.2
    }

    /// Executing / building, by median.
    fn times(&self) -> f64 {
        self.execute.median_ns as f64 / self.build.median_ns.max(1) as f64
    }
}

pub(super) fn run(ctx: &Context<'_>, out: &mut StepResult) -> Result<(), LessonError> {
    let (f, graph) = measure(ctx)?;
    out.say(describe(&f));
    out.timings = vec![
        named("built", f.build.clone()),
        named("executed", f.execute.clone()),
    ];
    out.comparisons = vec![f.vs];
    out.graph = Some(LazyGraph {
        chunks: graph.chunks,
        grid: graph.grid,
        staged: f.staged,
        fused: f.fused,
        graph,
        build: f.build,
        execute: f.execute,
        tasks: f.tasks,
    });
    Ok(())
}

/// The graph is built from the headers and the chunk plan alone (timed, `repeat` times),
/// then the same chunks run staged through the rounds (timed); the median run's task
/// records are kept to light the graph.
fn measure(ctx: &Context<'_>) -> Result<(GraphFigures, TaskGraph), LessonError> {
    let chunks = ctx.lesson.chunks();
    let mut build_ns = Vec::with_capacity(ctx.lesson.repeat);
    let mut built = None;
    for _ in 0..ctx.lesson.repeat {
        let t0 = std::time::Instant::now();
        let (graph, plan) = ctx.build_graph()?;
        build_ns.push(convert::duration_ns(t0.elapsed()));
        let fused = TaskGraph::chunked(&plan, Order::Fused, graph.writer);
        built = Some((graph, fused, plan.shape));
    }
    let (graph, fused, shape) = built.ok_or_else(no_time)?;
    let build = Timing::from_ns(&build_ns).ok_or_else(no_time)?;
    let trials = [ctx.chunked(chunks.clone())];
    let mut runs: Vec<(u64, Vec<TaskRecord>)> = Vec::new();
    let mut keep = |_: usize, report: &RunReport| {
        runs.push((report.wall_ns, report.tasks.clone()));
    };
    let r = rounds::run_rounds_observed(
        &ctx.scene,
        &ctx.base,
        &trials,
        Repetition {
            repeat: ctx.lesson.repeat,
            warmup: 1,
        },
        ctx.cancel,
        ctx.progress,
        &mut keep,
    )
    .map_err(|e| LessonError::failed("a run", e))?;
    if r.cancelled {
        return Err(LessonError::Cancelled);
    }
    let execute = timing(&r.samples[0], None)?;
    runs.sort_by_key(|(wall, _)| *wall);
    let tasks = runs
        .get(runs.len() / 2)
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    let f = GraphFigures {
        threads: ctx.threads().get(),
        chunks: chunks.to_string(),
        shape: (shape.bands, shape.rows, shape.cols),
        grid: graph.grid,
        staged: GraphCounts::of(&graph),
        fused: GraphCounts::of(&fused),
        vs: Comparison::of("building", &build, "executing", &execute).ok_or_else(no_time)?,
        build,
        execute,
        tasks,
    };
    Ok((f, graph))
}

pub(super) fn describe(f: &GraphFigures) -> Words {
    let n = f.chunk_count();
    let (g0, g1, g2) = f.grid;
    let (s, fu) = (&f.staged, &f.fused);
    let built = units::duration_ns(f.build.median_ns);
    let ran = units::duration_ns(f.execute.median_ns);
    let times = f.times();
    Words {
        big: vec![
            Figure::new("tasks", s.tasks.to_string()),
            Figure::new("built in", built.clone()),
            Figure::new("executed", ran.clone()),
        ],
        figures: vec![
            Figure::new(
                "chunks",
                format!(
                    "{n} ({g0} x {g1} x {g2}) of {} x {} x {} ({})",
                    f.shape.0, f.shape.1, f.shape.2, f.chunks
                ),
            ),
            Figure::new(
                "staged graph",
                format!(
                    "{} nodes: {} tasks + {} barriers, {} edges",
                    s.nodes, s.tasks, s.barriers, s.edges
                ),
            ),
            Figure::new(
                "fused graph",
                format!(
                    "{} nodes: {n} chains load → mask → write + finalize, no barrier, {} edges",
                    fu.nodes, fu.edges
                ),
            ),
            Figure::new("built (no pixel read)", with_spread(&f.build)),
            Figure::new(
                format!("executed (staged x {})", f.threads),
                with_spread(&f.execute),
            ),
            Figure::new("executing / building", units::ratio(times)),
        ],
        conclusion: format!(
            "{CHUNKSCOPE}: the graph of {} tasks was built in {built} without reading a pixel, \
             then executed in {ran} ({})",
            s.tasks,
            noise_words(&f.vs)
        ),
        explanation: vec![
            format!(
                "Building read only the files' headers and planned {n} chunks: {n} load, {n} \
                 mask and {n} write tasks and a finalize, {} barriers, {} edges, in {built} \
                 (median of {}), as Dask builds its graph when the chunks and .where() are \
                 written.",
                s.barriers, s.edges, f.build.n
            ),
            format!(
                "Executing it, every load, a barrier, every mask, a barrier, every write (the \
                 lesson's persist then compute), took {ran}: {} the building time, so {}.",
                units::ratio(times),
                if times >= 10.0 {
                    "the time is in the tasks, not in the graph"
                } else {
                    "on this small scene building the graph is not negligible"
                }
            ),
            format!(
                "Fused, the same {n} chunks are {n} chains with no barrier: {} nodes and {} \
                 edges instead of {} and {}.",
                fu.nodes, fu.edges, s.nodes, s.edges
            ),
        ],
        decided: Some(f.vs.decided()),
        chart: Some(Chart::Stream(Stream::new(
            format!(
                "the median run, x {}: loads, a barrier, masks, a barrier, writes",
                f.threads
            ),
            f.tasks.clone(),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ms;
    use super::*;

    fn figures(build_ms: &[u64], execute_ms: &[u64]) -> GraphFigures {
        let counts = |order, nodes, tasks, barriers, edges| GraphCounts {
            order,
            nodes,
            tasks,
            barriers,
            edges,
        };
        GraphFigures {
            threads: 2,
            chunks: "blocks:2".into(),
            shape: (3, 256, 256),
            grid: (1, 2, 2),
            staged: counts("staged", 15, 13, 2, 28),
            fused: counts("fused", 13, 13, 0, 12),
            vs: Comparison::of("building", &ms(build_ms), "executing", &ms(execute_ms)).unwrap(),
            build: ms(build_ms),
            execute: ms(execute_ms),
            tasks: vec![
                TaskRecord::span(0, crate::task::Stage::Load, 0, 0, 100),
                TaskRecord::span(1, crate::task::Stage::Load, 1, 0, 120),
            ],
        }
    }

    #[test]
    fn the_time_is_in_the_tasks_when_executing_dwarfs_building() {
        let w = describe(&figures(&[2, 2, 3], &[400, 410, 405]));
        assert_eq!(
            w.conclusion,
            "chunkscope's engine: the graph of 13 tasks was built in 2.00 ms without reading a \
             pixel, then executed in 405 ms (beyond the noise)"
        );
        let Some(Chart::Stream(stream)) = &w.chart else {
            panic!()
        };
        assert_eq!((stream.lanes, stream.end_ns()), (2, 120));
        assert!(w.explanation[0].contains("planned 4 chunks"));
        assert!(
            w.explanation[1].ends_with("took 405 ms: 202x the building time, so the time is in the tasks, not in the graph."),
            "{}",
            w.explanation[1]
        );
        assert!(w.explanation[2].contains("13 nodes and 12 edges instead of 15 and 28"));
    }

    #[test]
    fn building_is_not_negligible_on_a_small_scene() {
        let w = describe(&figures(&[20, 21, 22], &[100, 101, 102]));
        assert!(w.explanation[1].ends_with("building the graph is not negligible."));
    }
}
