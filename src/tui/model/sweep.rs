//! The Sweep screen's model: a sweep on screen and where it came from, the progress of one
//! running in this session, and what the app asks the session to sweep.

use std::num::NonZeroUsize;
use std::path::Path;

use chunkscope::chunks::ChunkRequest;
use chunkscope::experiment::sweep::SweepResult;
use chunkscope::pipeline::Schedule;
use chunkscope::profile::units::tilde;

/// A sweep on screen and where it came from.
#[derive(Debug, Clone)]
pub struct SweepView {
    pub result: SweepResult,
    /// The file it was loaded from, or "this session".
    pub source: String,
}

impl SweepView {
    /// A sweep file (written by `chunkscope sweep --json FILE`), labelled with its path as
    /// people should read it.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            result: SweepResult::load(path)?,
            source: tilde(path).display().to_string(),
        })
    }
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
