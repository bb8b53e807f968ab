//! The Sweep screen's model: a sweep on screen and where it came from, the progress of one
//! running in this session, and what the app asks the session to sweep.

use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Duration;

use chunkscope::chunks::ChunkRequest;
use chunkscope::experiment::engine::Engine;
use chunkscope::experiment::sweep::SweepResult;
use chunkscope::pipeline::Schedule;
use chunkscope::pipeline::limits::thread_limit;
use chunkscope::profile::units::tilde;

use super::setup::{RunSettings, Setup, plan_shape};

/// Runs of each configuration in a sweep started here: enough for a median and a spread
/// (and for the engine to tell a winner from noise), few enough to finish in minutes.
pub const SWEEP_REPEAT: usize = 3;

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

/// The engines a sweep started here runs, as `sweep --engine` takes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SweepEngines {
    #[default]
    Chunkscope,
    /// The lesson's code on a Dask LocalCluster (needs `chunkscope dask setup`).
    Dask,
    /// Both, alternated run by run.
    Both,
}

impl SweepEngines {
    pub fn name(self) -> &'static str {
        match self {
            SweepEngines::Chunkscope => "chunkscope",
            SweepEngines::Dask => "Dask",
            SweepEngines::Both => "chunkscope and Dask",
        }
    }

    /// The next choice (`e`).
    pub fn next(self) -> Self {
        match self {
            SweepEngines::Chunkscope => SweepEngines::Dask,
            SweepEngines::Dask => SweepEngines::Both,
            SweepEngines::Both => SweepEngines::Chunkscope,
        }
    }

    /// The engine list the engine's sweep takes; `None`: chunkscope's alone, reported as
    /// before engines were a choice.
    pub fn list(self) -> Option<Vec<Engine>> {
        match self {
            SweepEngines::Chunkscope => None,
            SweepEngines::Dask => Some(vec![Engine::Dask]),
            SweepEngines::Both => Some(vec![Engine::Chunkscope, Engine::Dask]),
        }
    }

    pub fn wants_dask(self) -> bool {
        self != SweepEngines::Chunkscope
    }
}

/// The time budgets `t` steps through, seconds: after the rounds, the sweep spends up to
/// this on more runs of tied leaders (the command line's `--budget`, 30 s by default).
pub const BUDGETS_S: [u64; 6] = [0, 10, 30, 60, 120, 300];

/// What the sweep screen's keys chose for the next sweep (`e`, `t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepChoice {
    pub engines: SweepEngines,
    pub budget: Duration,
}

impl Default for SweepChoice {
    fn default() -> Self {
        Self {
            engines: SweepEngines::default(),
            budget: Duration::from_secs(30),
        }
    }
}

impl SweepChoice {
    /// The next budget (`t`), round to the first.
    pub fn next_budget(&mut self) {
        let now = self.budget.as_secs();
        let next = BUDGETS_S
            .iter()
            .find(|&&b| b > now)
            .unwrap_or(&BUDGETS_S[0]);
        self.budget = Duration::from_secs(*next);
    }

    /// `on chunkscope · budget 30 s`: said beside the sweep.
    pub fn line(&self) -> String {
        let budget = match self.budget.as_secs() {
            0 => "budget 0".to_string(),
            s => format!(
                "budget {}",
                chunkscope::profile::units::duration_ns(s * 1_000_000_000)
            ),
        };
        format!("on {} · {budget}", self.engines.name())
    }
}

/// What to sweep, as the app asks for it.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRequest {
    pub chunks: Vec<ChunkRequest>,
    pub threads: Vec<NonZeroUsize>,
    pub schedule: Schedule,
    pub repeat: usize,
    /// The chunk setup's output, resolution and cache settings: every run uses them.
    pub settings: RunSettings,
    /// The engines and the budget chosen on the sweep screen.
    pub choice: SweepChoice,
}

impl SweepRequest {
    /// Configurations: each chunk request x thread count on each engine, and serial when
    /// chunkscope runs (the engine runs it once per repeat too; Dask has no serial path).
    pub fn configurations(&self) -> usize {
        let engines = self.choice.engines.list().map_or(1, |l| l.len());
        let serial = usize::from(self.choice.engines != SweepEngines::Dask);
        self.chunks.len() * self.threads.len() * engines + serial
    }

    /// `COG DEFLATE · 20 m · cache default`: the settings every run of it uses.
    pub fn settings_line(&self) -> String {
        let t = &self.settings;
        super::setup::settings_label(
            super::setup::format_name(t.format),
            t.codec.name(),
            t.resolution.metres(),
            &super::setup::cache_name(t.gdal_cache_mb),
        )
    }

    /// `19 configurations x 3 runs`: what the sweep will do, said before it starts.
    pub fn size_line(&self) -> String {
        format!(
            "{} configurations x {} run(s)",
            self.configurations(),
            self.repeat
        )
    }
}

/// What the lesson teaches, on the setup's grid: small chunks (256), one block, the
/// lesson's 2048, 2x2 blocks, a size off the block grid (1000), `auto`, and the setup's own
/// chunks; on 1, 2, all cores and twice the cores (oversubscribed) threads. Requests that
/// come to the same shape on this grid (a small scene clamps them) are run once.
pub fn sweep_request(s: &Setup) -> Option<SweepRequest> {
    let l = s.layout?;
    let [bands, rows, cols] = s.chunks;
    let candidates = [
        ChunkRequest::Square(256),
        ChunkRequest::Blocks(1),
        ChunkRequest::Square(2048),
        ChunkRequest::Blocks(2),
        ChunkRequest::Square(1000),
        ChunkRequest::default(),
        ChunkRequest::Explicit { bands, rows, cols },
    ];
    let mut shapes = Vec::new();
    let mut chunks = Vec::new();
    for c in candidates {
        let Some(shape) = plan_shape(l, &c) else {
            continue;
        };
        if !shapes.contains(&shape) {
            shapes.push(shape);
            chunks.push(c);
        }
    }
    let max = thread_limit(s.cores);
    let mut threads: Vec<usize> = [1, 2, s.cores, 2 * s.cores]
        .into_iter()
        .map(|t| t.min(max))
        .collect();
    threads.sort_unstable();
    threads.dedup();
    Some(SweepRequest {
        chunks,
        threads: threads.into_iter().filter_map(NonZeroUsize::new).collect(),
        schedule: s.schedule,
        repeat: SWEEP_REPEAT,
        settings: s.run_settings(),
        choice: SweepChoice::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::Msg;
    use crate::tui::view::fixtures;

    #[test]
    fn the_sweep_covers_what_the_lesson_teaches() {
        let mut app = fixtures::setup_app();
        // The lesson's 5490 x 5490 grid of 1024 blocks, on 2 cores.
        let s = app.setup.as_ref().unwrap();
        let req = sweep_request(s).unwrap();
        let names: Vec<String> = req.chunks.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            ["256", "blocks:1", "2048", "1000", "auto"],
            "2x2 blocks is 2048 here, and so are the setup's chunks"
        );
        let threads: Vec<usize> = req.threads.iter().map(|t| t.get()).collect();
        assert_eq!(threads, [1, 2, 4], "1 to twice the cores");
        assert_eq!(req.size_line(), "16 configurations x 3 run(s)");
        // The setup's own settings go with it.
        app.update(Msg::Key(crossterm::event::KeyCode::Char('O').into()));
        let s = app.setup.as_ref().unwrap();
        let req = sweep_request(s).unwrap();
        assert_eq!(req.settings.format, chunkscope::output::OutputFormat::Gtiff);
        assert_eq!(req.settings.codec, chunkscope::output::Codec::None);
    }
}
