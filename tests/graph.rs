//! The task graph: node and edge counts against the chunk plan for both schedules on
//! several plans, and against real runs on the small demo, whose task records must keep
//! every edge the graph draws (the graph says what the executor does).

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test fails (clippy.toml covers #[test] fns only)"
)]

mod common;

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;

use chunkscope::chunks::{ChunkPlan, ChunkRequest, Interleave, RasterLayout};
use chunkscope::graph::{CHUNK_STAGES, EdgeKind, Node, Order, TaskGraph};
use chunkscope::output::{OutputFormat, OutputSpec, WriterKind};
use chunkscope::pipeline::{
    self, CloudClasses, Mode, Resolution, RunConfig, RunControl, RunReport, Schedule,
};
use chunkscope::task::{Stage, TaskRecord};

use common::small_scene;

/// Overview level 0 of the true-colour image: 3 uint8 bands in every 1024 block.
const VISUAL: RasterLayout = RasterLayout {
    bands: 3,
    rows: 5490,
    cols: 5490,
    block_rows: 1024,
    block_cols: 1024,
    dtype_bytes: 1,
    interleave: Interleave::Pixel,
};

fn plan(request: &str) -> ChunkPlan {
    let request: ChunkRequest = request.parse().expect("test request parses");
    ChunkPlan::new(VISUAL, &request).expect("test request plans")
}

/// Checks one graph against its plan: counts by formula and by enumeration, every edge
/// between nodes of the graph, and an order in which every node comes after what it
/// waits for.
fn check(plan: &ChunkPlan, order: Order) -> TaskGraph {
    let g = TaskGraph::chunked(plan, order, WriterKind::Chunked);
    let n = plan.chunk_count();
    let barriers = if order == Order::Staged { 2 } else { 0 };
    assert_eq!(g.chunks, n);
    assert_eq!(g.task_count(), 3 * n + 1, "{order:?}");
    assert_eq!(g.node_count(), 3 * n + 1 + barriers, "{order:?}");
    // Data edges load→mask→write, 2 per chunk per barrier, one join per chunk.
    assert_eq!(g.edge_count(), 2 * n + 2 * n * barriers + n, "{order:?}");
    let nodes: Vec<Node> = g.nodes().collect();
    assert_eq!(nodes.len(), g.node_count());
    let set: HashSet<Node> = nodes.iter().copied().collect();
    assert_eq!(set.len(), nodes.len(), "nodes are distinct");
    let edges: Vec<_> = g.edges().collect();
    assert_eq!(edges.len(), g.edge_count());
    let (d, b, j) = g.edge_counts();
    let count = |k| edges.iter().filter(|e| e.kind == k).count();
    assert_eq!(
        (
            count(EdgeKind::Data),
            count(EdgeKind::Barrier),
            count(EdgeKind::Join)
        ),
        (d, b, j)
    );
    for e in &edges {
        assert!(set.contains(&e.from) && set.contains(&e.to), "{e:?}");
    }
    // `nodes()` is a topological order: every edge goes forward.
    let pos: HashMap<Node, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    for e in &edges {
        assert!(pos[&e.from] < pos[&e.to], "{e:?} goes backwards");
    }
    g
}

#[test]
fn counts_follow_the_plan_for_both_schedules_on_several_plans() {
    // aligned (1024), misaligned (1000), one chunk (the whole grid), many chunks (256),
    // and one band per chunk.
    for (request, chunks, aligned) in [
        ("1024", 36, true),
        ("1000", 36, false),
        ("6144", 1, true),
        ("256", 22 * 22, false),
        ("1,2048,2048", 27, true),
        ("4096", 4, true),
    ] {
        let p = plan(request);
        assert_eq!(p.chunk_count(), chunks, "{request}");
        assert_eq!(p.aligned(), aligned, "{request}");
        for order in [Order::Staged, Order::Fused] {
            check(&p, order);
        }
    }
}

#[test]
fn staged_masks_wait_at_a_barrier_and_fused_masks_only_for_their_load() {
    let p = plan("2048");
    let staged = check(&p, Order::Staged);
    let fused = check(&p, Order::Fused);
    let mask = Node::Task {
        chunk: 4,
        stage: Stage::Mask,
    };
    let load = Node::Task {
        chunk: 4,
        stage: Stage::Load,
    };
    assert_eq!(fused.dependencies(mask), vec![load]);
    let deps = staged.dependencies(mask);
    assert_eq!(deps.len(), 2);
    assert!(deps.contains(&load));
    assert!(deps.contains(&Node::Barrier { after: Stage::Load }));
    // Every load reaches the barrier; finalize waits for every write in both.
    assert_eq!(
        staged
            .dependencies(Node::Barrier { after: Stage::Load })
            .len(),
        p.chunk_count()
    );
    for g in [&staged, &fused] {
        let fin = g.dependencies(Node::Finalize);
        assert_eq!(fin.len(), p.chunk_count());
        assert!(fin.iter().all(|n| matches!(
            n,
            Node::Task {
                stage: Stage::Write,
                ..
            }
        )));
    }
    assert!(fused.chains_on_one_worker() && !staged.chains_on_one_worker());
}

#[test]
fn serial_is_one_chain_and_tiles_shared_only_by_misaligned_or_band_split_chunks() {
    let s = TaskGraph::serial(WriterKind::Gdal);
    assert_eq!((s.node_count(), s.edge_count()), (4, 3));
    assert!(s.writer_rule().contains("one lock"));

    let aligned = TaskGraph::chunked(&plan("2048"), Order::Staged, WriterKind::Chunked);
    let t = aligned.tiles.expect("built from a plan");
    assert_eq!(
        (t.tile, t.tiles, t.shared, t.max_chunks_per_tile),
        (1024, 36, 0, 1)
    );
    // 1000-pixel chunks straddle the 1024 tiles: most tiles have several writers.
    let t = TaskGraph::chunked(&plan("1000"), Order::Fused, WriterKind::Chunked)
        .tiles
        .expect("built from a plan");
    assert_eq!(t.tiles, 36);
    assert!(t.shared > 20 && t.max_chunks_per_tile == 4, "{t:?}");
    // One band per chunk: the three band chunks of a window share all its tiles.
    let t = TaskGraph::chunked(&plan("1,1024,1024"), Order::Fused, WriterKind::Chunked)
        .tiles
        .expect("built from a plan");
    assert_eq!((t.shared, t.max_chunks_per_tile), (36, 3));
}

fn real_run(request: &str, order: Order, writer: WriterKind) -> (RunReport, TaskGraph) {
    let scene = small_scene();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut output = OutputSpec::new(dir.path().join("out.tif"), OutputFormat::Cog);
    output.writer = writer;
    let chunks: ChunkRequest = request.parse().expect("spec");
    let mode = match order {
        Order::Serial => Mode::Serial,
        _ => Mode::Chunked {
            chunks: chunks.clone(),
            threads: NonZeroUsize::new(2).expect("2 > 0"),
            schedule: if order == Order::Staged {
                Schedule::Staged
            } else {
                Schedule::Fused
            },
        },
    };
    assert_eq!(Order::of(&mode), order);
    let config = RunConfig {
        mode,
        resolution: Resolution::R20,
        cloud_classes: CloudClasses::default(),
        output,
        gdal_cache_mb: None,
        blocks: Default::default(),
    };
    let report = pipeline::run(&scene, &config, &RunControl::default()).expect("run succeeds");
    let prepared = pipeline::prepare(&scene, Resolution::R20, Some(&chunks)).expect("prepare");
    let graph = match order {
        Order::Serial => TaskGraph::serial(writer),
        _ => TaskGraph::chunked(
            prepared.plan.as_ref().expect("a chunked plan"),
            order,
            writer,
        ),
    };
    (report, graph)
}

/// Every edge of the graph holds in the run's task records: nothing started before what
/// it waits for had ended (a barrier ends with the last task that enters it). Help with a
/// write is part of that write's node: the node ends when the last of it does.
fn assert_records_keep_the_edges(report: &RunReport, g: &TaskGraph) {
    let mut span: HashMap<Node, (u64, u64)> = HashMap::new();
    let (help, own): (Vec<&TaskRecord>, Vec<_>) = report.tasks.iter().partition(|t| t.helping);
    for t in own {
        let node = match t.stage {
            Stage::Finalize => Node::Finalize,
            stage => Node::Task {
                chunk: t.chunk,
                stage,
            },
        };
        assert!(
            span.insert(node, (t.start_ns, t.end_ns)).is_none(),
            "{node:?} twice"
        );
    }
    assert_eq!(span.len(), g.task_count(), "one record per task node");
    for h in help {
        let node = Node::Task {
            chunk: h.chunk,
            stage: h.stage,
        };
        let (start, end) = span.get_mut(&node).expect("help with a task that ran");
        assert!(h.stage == Stage::Write && h.start_ns >= *start, "{h:?}");
        *end = (*end).max(h.end_ns);
    }
    for &after in g.barriers() {
        let end = (0..u32::try_from(g.chunks).unwrap())
            .map(|chunk| {
                span[&Node::Task {
                    chunk,
                    stage: after,
                }]
                    .1
            })
            .max()
            .expect("chunks");
        span.insert(Node::Barrier { after }, (end, end));
    }
    for e in g.edges() {
        assert!(
            span[&e.from].1 <= span[&e.to].0,
            "{e:?}: {:?} then {:?}",
            span[&e.from],
            span[&e.to]
        );
    }
    // Fused chains stay on one worker.
    if g.chains_on_one_worker() {
        for chunk in 0..u32::try_from(g.chunks).unwrap() {
            let workers: HashSet<u16> = report
                .tasks
                .iter()
                .filter(|t| t.chunk == chunk && t.stage != Stage::Finalize && !t.helping)
                .map(|t| t.worker)
                .collect();
            assert_eq!(workers.len(), 1, "chunk {chunk}");
        }
    }
}

#[test]
fn real_runs_keep_every_edge_of_their_graph() {
    for (request, order) in [
        ("128", Order::Staged),
        ("128", Order::Fused),
        ("100", Order::Staged),
        ("auto", Order::Serial),
    ] {
        let (report, g) = real_run(request, order, WriterKind::Chunked);
        if order != Order::Serial {
            assert_eq!(
                g.chunks,
                report.plan.as_ref().expect("plan").chunk_count,
                "{request}"
            );
        }
        assert_records_keep_the_edges(&report, &g);
    }
}

#[test]
fn with_gdals_writer_the_writes_hold_one_lock_in_turn() {
    let (report, g) = real_run("128", Order::Fused, WriterKind::Gdal);
    assert_records_keep_the_edges(&report, &g);
    let mut writes: Vec<(u64, u64)> = report
        .tasks
        .iter()
        .filter(|t| t.stage == Stage::Write)
        .map(|t| (t.start_ns, t.end_ns))
        .collect();
    assert_eq!(writes.len(), g.chunks);
    writes.sort();
    for w in writes.windows(2) {
        assert!(w[0].1 <= w[1].0, "two writes overlapped: {w:?}");
    }
    assert!(CHUNK_STAGES.contains(&Stage::Write));
}
