//! The Sweep screen's model: a sweep on screen and where it came from, the progress of one
//! running in this session, and what the app asks the session to sweep.

use std::num::NonZeroUsize;

use chunkscope::chunks::ChunkRequest;
use chunkscope::experiment::sweep::SweepResult;
use chunkscope::pipeline::Schedule;

/// A sweep on screen and where it came from.
#[derive(Debug, Clone)]
pub struct SweepView {
    pub result: SweepResult,
    /// The file it was loaded from, or "this session".
    pub source: String,
}

/// How far a sweep started in the TUI has got.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepProgress {
    pub done: usize,
    pub total: usize,
    /// The configuration running now.
    pub label: String,
    pub cancelling: bool,
}

/// What to sweep, as the app asks for it.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRequest {
    pub chunks: Vec<ChunkRequest>,
    pub threads: Vec<NonZeroUsize>,
    pub schedule: Schedule,
    pub repeat: usize,
}
