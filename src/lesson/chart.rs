//! What a step draws, as data: bars of medians with their min…max, one run's task stream,
//! or the block grid with the chunks over it. The front ends draw it; nothing here knows a
//! terminal. Pure; runs on whichever thread asks.

use serde::Serialize;

use crate::profile::memory::Spread;
use crate::profile::stats::Timing;
use crate::task::TaskRecord;

/// A step's drawing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Chart {
    Bars(Bars),
    Stream(Stream),
    Blocks(BlockMap),
}

impl Chart {
    /// The chart's title, which says what it shows.
    pub fn title(&self) -> &str {
        match self {
            Chart::Bars(b) => &b.title,
            Chart::Stream(s) => &s.title,
            Chart::Blocks(b) => &b.title,
        }
    }
}

/// What a bar's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Nanoseconds,
    Bytes,
}

/// Bars in rows, one scale for all: each the median of its runs, with the fastest and the
/// slowest run (min…max) as its whisker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bars {
    pub title: String,
    pub unit: Unit,
    pub bars: Vec<Bar>,
}

/// One bar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bar {
    /// What the bars of a group share (a stage), printed on the group's first bar.
    pub group: String,
    pub label: String,
    pub median: u64,
    pub min: u64,
    pub max: u64,
    /// Runs behind it; 1 for a single recorded figure (no whisker).
    pub n: usize,
}

impl Bar {
    pub fn timing(group: &str, label: impl Into<String>, t: &Timing) -> Self {
        Self {
            group: group.to_string(),
            label: label.into(),
            median: t.median_ns,
            min: t.min_ns,
            max: t.max_ns,
            n: t.n,
        }
    }

    pub fn spread(group: &str, label: impl Into<String>, s: &Spread, n: usize) -> Self {
        Self {
            group: group.to_string(),
            label: label.into(),
            median: s.median,
            min: s.min,
            max: s.max,
            n,
        }
    }

    /// One figure without spread (a recording).
    pub fn single(group: &str, label: impl Into<String>, value: u64) -> Self {
        Self {
            group: group.to_string(),
            label: label.into(),
            median: value,
            min: value,
            max: value,
            n: 1,
        }
    }
}

impl Bars {
    /// The largest value drawn (the scale's end).
    pub fn max(&self) -> u64 {
        self.bars.iter().map(|b| b.max).max().unwrap_or(0)
    }
}

/// One run's tasks, a lane per worker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stream {
    pub title: String,
    pub lanes: usize,
    #[serde(skip)]
    pub tasks: Vec<TaskRecord>,
}

impl Stream {
    pub fn new(title: impl Into<String>, tasks: Vec<TaskRecord>) -> Self {
        let lanes = tasks
            .iter()
            .map(|t| usize::from(t.worker) + 1)
            .max()
            .unwrap_or(0);
        Self {
            title: title.into(),
            lanes,
            tasks,
        }
    }

    /// The last task's end.
    pub fn end_ns(&self) -> u64 {
        self.tasks.iter().map(|t| t.end_ns).max().unwrap_or(0)
    }
}

/// The grid read, in blocks, with chunks of `chunk_blocks` blocks over it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockMap {
    pub title: String,
    /// Blocks along (rows, cols), edge blocks included.
    pub blocks: (usize, usize),
    /// Blocks per chunk along (rows, cols).
    pub chunk_blocks: (usize, usize),
}

impl BlockMap {
    /// The chunk a block belongs to, as (chunk row, chunk col).
    pub fn chunk_of(&self, row: usize, col: usize) -> (usize, usize) {
        (
            row / self.chunk_blocks.0.max(1),
            col / self.chunk_blocks.1.max(1),
        )
    }
}
