//! The task graph a run will execute, known before any pixel is read: one node per chunk
//! per stage (load, mask, write), the closing finalize node, the barriers of the staged
//! schedule, the edges between them, and what the output writer serialises. Built from a
//! chunk plan and the run's mode; pure arithmetic, no I/O; runs on whichever thread asks.
//!
//! It describes what `pipeline::exec` does, not an idealised Dask graph:
//! - staged: `par_iter().map(load).collect()` is a barrier (no mask starts before every
//!   load has ended), then the masks, a second barrier, then the writes; each mask works
//!   on its own chunk's pixels (a data edge from its load), as each write on its mask's;
//! - fused: one rayon job per chunk runs load, mask and write in a chain on one worker,
//!   with no barrier between chunks;
//! - serial: one chunk, the whole grid, through the same three stages on one thread;
//! - in every mode the finalize step starts after the last write has ended (a join).
//!
//! The writer adds no ordering edge between write tasks: with the chunked writer they
//! run in parallel and only the appender (one lock, held to take the next stretch of the
//! file) is serial; an output tile that several chunks cover is encoded by whichever of
//! their write tasks completes it, the last to deposit. With GDAL's writer the write
//! tasks hold one lock in turn (the lesson's `Lock()`), in the order they reach it, which
//! is only known once the run goes.

use crate::chunks::ChunkPlan;
use crate::output::WriterKind;
use crate::pipeline::{Mode, Schedule};
use crate::task::Stage;

/// How the run orders its tasks: the executor's three paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// One whole-grid chunk through load, mask and write on one thread.
    Serial,
    /// Every load, a barrier, every mask, a barrier, every write.
    Staged,
    /// Per chunk a chain load → mask → write on one worker; no barriers.
    Fused,
}

impl Order {
    pub fn name(self) -> &'static str {
        match self {
            Order::Serial => "serial",
            Order::Staged => "staged",
            Order::Fused => "fused",
        }
    }

    /// The order of a run in `mode`.
    pub fn of(mode: &Mode) -> Self {
        match mode {
            Mode::Serial => Order::Serial,
            Mode::Chunked {
                schedule: Schedule::Staged,
                ..
            } => Order::Staged,
            Mode::Chunked {
                schedule: Schedule::Fused,
                ..
            } => Order::Fused,
        }
    }
}

/// The three per-chunk stages, in the order a chunk goes through them.
pub const CHUNK_STAGES: [Stage; 3] = [Stage::Load, Stage::Mask, Stage::Write];

/// One node of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    /// A task: one stage applied to one chunk.
    Task { chunk: u32, stage: Stage },
    /// The staged schedule's wait for every task of `after` to end.
    Barrier { after: Stage },
    /// The closing step that completes the output file.
    Finalize,
}

/// Why one node waits for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// The chunk's pixels pass from one stage to the next.
    Data,
    /// Into or out of a staged barrier.
    Barrier,
    /// Finalize waits for every write.
    Join,
}

/// `to` cannot start before `from` has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Edge {
    pub from: Node,
    pub to: Node,
    pub kind: EdgeKind,
}

/// How the chunks share the output's tiles (chunked writer): a tile several chunks cover
/// is encoded by the write task that completes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileSharing {
    /// Output tile side in pixels (the source block, as the output writer takes it).
    pub tile: usize,
    /// Full-resolution tiles of the output.
    pub tiles: usize,
    /// Tiles covered by more than one chunk.
    pub shared: usize,
    /// Most chunks covering one tile.
    pub max_chunks_per_tile: usize,
}

/// The graph of one run, before it runs. Nodes and edges are generated on demand, so a
/// plan of a million chunks costs no memory here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskGraph {
    pub order: Order,
    /// Chunks, i.e. tasks per stage.
    pub chunks: usize,
    /// Chunks along (bands, rows, cols).
    pub grid: (usize, usize, usize),
    pub writer: WriterKind,
    /// Known when the graph was built from a plan.
    pub tiles: Option<TileSharing>,
}

impl TaskGraph {
    /// The graph of a chunked run of `plan` in `order` (a serial run has no plan: see
    /// [`TaskGraph::serial`]).
    pub fn chunked(plan: &ChunkPlan, order: Order, writer: WriterKind) -> Self {
        if order == Order::Serial {
            return Self::serial(writer);
        }
        Self {
            order,
            chunks: plan.chunk_count(),
            grid: plan.grid(),
            writer,
            tiles: Some(tile_sharing(plan)),
        }
    }

    /// The graph of a serial run: one chunk, the whole grid.
    pub fn serial(writer: WriterKind) -> Self {
        Self {
            order: Order::Serial,
            chunks: 1,
            grid: (1, 1, 1),
            writer,
            tiles: None,
        }
    }

    /// The graph from counts alone (a saved report has the grid but not the block
    /// layout): no tile figures.
    pub fn from_grid(grid: (usize, usize, usize), order: Order, writer: WriterKind) -> Self {
        if order == Order::Serial {
            return Self::serial(writer);
        }
        Self {
            order,
            chunks: grid.0 * grid.1 * grid.2,
            grid,
            writer,
            tiles: None,
        }
    }

    /// The stages after which every task waits for all of that stage's tasks.
    pub fn barriers(&self) -> &'static [Stage] {
        match self.order {
            Order::Staged => &[Stage::Load, Stage::Mask],
            Order::Serial | Order::Fused => &[],
        }
    }

    /// Task nodes (load, mask, write per chunk, and finalize).
    pub fn task_count(&self) -> usize {
        3 * self.chunks + 1
    }

    pub fn node_count(&self) -> usize {
        self.task_count() + self.barriers().len()
    }

    /// Edges by kind: (data, barrier, join).
    pub fn edge_counts(&self) -> (usize, usize, usize) {
        let n = self.chunks;
        (2 * n, 2 * n * self.barriers().len(), n)
    }

    pub fn edge_count(&self) -> usize {
        let (d, b, j) = self.edge_counts();
        d + b + j
    }

    /// Every node: per stage every chunk's task, each barrier after its stage, finalize.
    pub fn nodes(&self) -> impl Iterator<Item = Node> + '_ {
        CHUNK_STAGES
            .into_iter()
            .flat_map(move |stage| {
                let tasks = (0..self.chunks).map(move |c| Node::Task {
                    chunk: crate::convert::clamp_u32(c),
                    stage,
                });
                let barrier = self
                    .barriers()
                    .contains(&stage)
                    .then_some(Node::Barrier { after: stage });
                tasks.chain(barrier)
            })
            .chain(std::iter::once(Node::Finalize))
    }

    /// Every edge: per chunk its data edges, the barrier edges of the staged schedule,
    /// and the writes' join into finalize.
    pub fn edges(&self) -> impl Iterator<Item = Edge> + '_ {
        let task = |chunk: usize, stage| Node::Task {
            chunk: crate::convert::clamp_u32(chunk),
            stage,
        };
        (0..self.chunks).flat_map(move |c| {
            let data = [(Stage::Load, Stage::Mask), (Stage::Mask, Stage::Write)]
                .into_iter()
                .map(move |(a, b)| Edge {
                    from: task(c, a),
                    to: task(c, b),
                    kind: EdgeKind::Data,
                });
            let barriers = self.barriers().iter().flat_map(move |&after| {
                let next = match after {
                    Stage::Load => Stage::Mask,
                    _ => Stage::Write,
                };
                [
                    Edge {
                        from: task(c, after),
                        to: Node::Barrier { after },
                        kind: EdgeKind::Barrier,
                    },
                    Edge {
                        from: Node::Barrier { after },
                        to: task(c, next),
                        kind: EdgeKind::Barrier,
                    },
                ]
            });
            let join = std::iter::once(Edge {
                from: task(c, Stage::Write),
                to: Node::Finalize,
                kind: EdgeKind::Join,
            });
            data.chain(barriers).chain(join)
        })
    }

    /// What a node waits for directly.
    pub fn dependencies(&self, node: Node) -> Vec<Node> {
        self.edges()
            .filter(|e| e.to == node)
            .map(|e| e.from)
            .collect()
    }

    /// Whether the three tasks of a chunk run on one worker, one after another.
    pub fn chains_on_one_worker(&self) -> bool {
        matches!(self.order, Order::Serial | Order::Fused)
    }

    /// What the writer serialises, in a sentence.
    pub fn writer_rule(&self) -> &'static str {
        match self.writer {
            WriterKind::Gdal => {
                "one lock: write tasks hold it one at a time, in the order they reach it"
            }
            WriterKind::Chunked => {
                "write tasks run in parallel; one appender lock orders the encoded tiles"
            }
        }
    }
}

/// Which output tiles the plan's chunks cover, counted per tile.
fn tile_sharing(plan: &ChunkPlan) -> TileSharing {
    let l = &plan.layout;
    // The output's tile is the source block, as `OutputGeometry::tile` takes it.
    let tile = l.block_rows.max(l.block_cols).clamp(16, 4096) / 16 * 16;
    let (tr, tc) = (l.rows.div_ceil(tile), l.cols.div_ceil(tile));
    let mut covers = vec![0usize; tr * tc];
    for c in &plan.chunks {
        for r in c.row0 / tile..(c.row0 + c.rows).div_ceil(tile) {
            for k in c.col0 / tile..(c.col0 + c.cols).div_ceil(tile) {
                covers[r * tc + k] += 1;
            }
        }
    }
    TileSharing {
        tile,
        tiles: covers.len(),
        shared: covers.iter().filter(|&&n| n > 1).count(),
        max_chunks_per_tile: covers.iter().copied().max().unwrap_or(0),
    }
}
