//! The Results and Sweep screens' model: every finished run of this session (bounded), the
//! selected row, the A/B marks, a loaded or finished sweep, and what the last export did;
//! plus the update functions for their keys. No I/O: saving is [`Cmd::Export`]. Runs on the
//! UI thread. The figures themselves come from the engine ([`chunkscope::experiment::history`],
//! [`chunkscope::experiment::sweep`]).

use std::collections::VecDeque;

use chunkscope::experiment::sweep::SweepResult;
use chunkscope::pipeline::RunReport;
use chunkscope::task::Stage;

use std::num::NonZeroUsize;

use chunkscope::chunks::ChunkRequest;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, ChunkState, Cmd, Lane, Msg, RunView, Screen};
use super::keys::Action;
use super::live::Live;
use super::sweep_job::SweepRequest;

/// Runs kept in the history; older ones are dropped (and counted).
pub const HISTORY_LEN: usize = 100;

/// A sweep on screen and where it came from.
#[derive(Debug, Clone)]
pub struct SweepView {
    pub result: SweepResult,
    /// The file it was loaded from, or "this session".
    pub source: String,
}

/// What the last `s` did: the files written, or why nothing was.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Saved(Vec<String>),
    Failed(String),
}

impl Notice {
    /// One line: `✓ saved DIR/results-STAMP.{json,csv,svg}` or `✗ cannot save: why`.
    pub fn line(&self) -> String {
        match self {
            Notice::Saved(paths) => {
                let shown = match paths.first().and_then(|p| p.rsplit_once('.')) {
                    Some((stem, _)) if paths.len() == 3 => format!("{stem}.{{json,csv,svg}}"),
                    _ => paths.join(", "),
                };
                format!("✓ saved {shown}")
            }
            Notice::Failed(e) => format!("✗ cannot save: {e}"),
        }
    }
}

/// The history of this session's runs and the marks on it.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// Oldest first, at most [`HISTORY_LEN`].
    pub runs: VecDeque<RunReport>,
    /// Runs dropped from the front to stay within [`HISTORY_LEN`]; row numbers on screen
    /// count from the session's first run.
    pub dropped: usize,
    /// Index into `runs` of the row the panels show.
    pub selected: usize,
    /// Rows marked A and B for the side-by-side comparison.
    pub a: Option<usize>,
    pub b: Option<usize>,
    pub sweep: Option<SweepView>,
    /// A sweep running in this session.
    pub sweep_job: Option<SweepProgress>,
    /// Why the last sweep started or loaded here failed.
    pub sweep_error: Option<String>,
    /// The path being typed after `o` on the Sweep screen.
    pub path_input: Option<String>,
    pub notice: Option<Notice>,
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

impl Results {
    /// Adds a finished run and selects it.
    pub fn push(&mut self, report: RunReport) {
        if self.runs.len() == HISTORY_LEN {
            self.runs.pop_front();
            self.dropped += 1;
            let shift = |m: Option<usize>| m.and_then(|i| i.checked_sub(1));
            self.a = shift(self.a);
            self.b = shift(self.b);
        }
        self.runs.push_back(report);
        self.selected = self.runs.len() - 1;
    }

    /// The runs as one slice, for the engine's functions.
    pub fn runs(&self) -> Vec<RunReport> {
        self.runs.iter().cloned().collect()
    }

    /// The row number shown for index `i` (1-based, counting dropped runs).
    pub fn number(&self, i: usize) -> usize {
        self.dropped + i + 1
    }

    /// Both marks, when set and distinct.
    pub fn pair(&self) -> Option<(usize, usize)> {
        match (self.a, self.b) {
            (Some(a), Some(b)) if a != b && b < self.runs.len() && a < self.runs.len() => {
                Some((a, b))
            }
            _ => None,
        }
    }
}

impl App {
    /// Keys on the Results screen.
    pub(super) fn on_results(&mut self, action: Action) -> Option<Cmd> {
        let r = &mut self.results;
        let n = r.runs.len();
        match action {
            Action::Up => r.selected = r.selected.saturating_sub(1),
            Action::Down => r.selected = (r.selected + 1).min(n.saturating_sub(1)),
            Action::MarkA if n > 0 => r.a = Some(r.selected),
            Action::MarkB if n > 0 => r.b = Some(r.selected),
            Action::ClearMarks => {
                r.a = None;
                r.b = None;
            }
            Action::Export => return Some(Cmd::Export),
            Action::NextView => self.screen = Screen::Sweep,
            Action::Back => self.screen = self.back_from_results(),
            _ => {}
        }
        None
    }

    /// Keys on the Sweep screen.
    pub(super) fn on_sweep(&mut self, action: Action) -> Option<Cmd> {
        match action {
            Action::Run => return self.start_sweep(),
            Action::Open => self.results.path_input = Some(String::new()),
            Action::Cancel => {
                let job = self.results.sweep_job.as_mut()?;
                job.cancelling = true;
                return Some(Cmd::Cancel);
            }
            Action::Export => return Some(Cmd::Export),
            Action::NextView => self.screen = Screen::Results,
            Action::Back => self.screen = self.back_from_results(),
            _ => {}
        }
        None
    }

    /// A sweep around the chunk setup: one block, 2x2 and 4x4 blocks and the chunks chosen,
    /// on one thread and on the threads chosen, plus serial; one run each.
    fn start_sweep(&mut self) -> Option<Cmd> {
        if self.running() || self.results.sweep_job.is_some() {
            return None;
        }
        let Some(s) = self.setup.as_ref().filter(|s| s.layout.is_some()) else {
            self.results.sweep_error =
                Some("choose a scene first (Enter on the scenes screen), then Tab here".into());
            return None;
        };
        let [bands, rows, cols] = s.chunks;
        let mut chunks = vec![
            ChunkRequest::Blocks(1),
            ChunkRequest::Blocks(2),
            ChunkRequest::Blocks(4),
        ];
        let chosen = ChunkRequest::Explicit { bands, rows, cols };
        let l = s.layout?;
        let is_blocks =
            |k: usize| bands == l.bands && rows == k * l.block_rows && cols == k * l.block_cols;
        if !(is_blocks(1) || is_blocks(2) || is_blocks(4)) {
            chunks.push(chosen);
        }
        let mut threads = vec![NonZeroUsize::MIN];
        if let Some(t) = NonZeroUsize::new(s.threads).filter(|t| t.get() > 1) {
            threads.push(t);
        }
        let request = SweepRequest {
            chunks,
            threads,
            schedule: s.schedule,
            repeat: 1,
        };
        self.results.sweep_error = None;
        self.results.sweep_job = Some(SweepProgress::default());
        Some(Cmd::StartSweep {
            item: s.item,
            request,
        })
    }

    /// Typing a sweep file's path: Enter loads it, Esc gives up.
    pub(super) fn on_path_key(&mut self, key: KeyEvent) -> Option<Cmd> {
        let input = self.results.path_input.as_mut()?;
        match key.code {
            KeyCode::Enter => {
                let path = std::mem::take(input);
                self.results.path_input = None;
                let path = path.trim();
                if !path.is_empty() {
                    return Some(Cmd::LoadSweep(path.into()));
                }
            }
            KeyCode::Esc => self.results.path_input = None,
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.results.path_input = None;
            }
            KeyCode::Char(c) => input.push(c),
            _ => {}
        }
        None
    }

    /// Progress and the end of a sweep started here.
    pub(super) fn on_sweep_msg(&mut self, msg: Msg) -> Option<Cmd> {
        match msg {
            Msg::SweepProgress { done, total, label } => {
                if let Some(job) = self.results.sweep_job.as_mut() {
                    (job.done, job.total, job.label) = (done, total, label);
                }
            }
            Msg::SweepFinished(result) => {
                self.results.sweep_job = None;
                match result {
                    Ok(result) => {
                        self.results.sweep_error = None;
                        self.results.sweep = Some(SweepView {
                            result: result.0,
                            source: result.1,
                        })
                    }
                    Err(e) => self.results.sweep_error = Some(e),
                }
            }
            _ => {}
        }
        None
    }

    /// Where Esc leads from Results and Sweep: the run, else the chunk setup, else scenes.
    fn back_from_results(&self) -> Screen {
        if self.run.is_some() {
            Screen::Run
        } else if self.setup.is_some() {
            Screen::Setup
        } else {
            Screen::Scenes
        }
    }
}

impl RunView {
    /// A finished run's view rebuilt from its report alone (every chunk done, each worker's
    /// last tasks), for showing saved reports.
    pub fn from_report(report: &RunReport) -> Self {
        let (grid, n) = report
            .plan
            .as_ref()
            .map_or(((1, 1, 1), 1), |p| (p.grid, p.chunk_count));
        let threads = report.workers.len().max(1);
        let mut lanes = vec![Lane::default(); threads];
        for w in &report.workers {
            if let Some(l) = lanes.get_mut(usize::from(w.worker)) {
                l.tasks = w.tasks;
                l.busy_ns = w.busy_ns;
            }
        }
        let mut tasks = report.tasks.clone();
        tasks.sort_by_key(|t| t.end_ns);
        for t in &tasks {
            if let Some(l) = lanes.get_mut(usize::from(t.worker)) {
                if l.recent.len() == 32 {
                    l.recent.pop_front();
                }
                l.recent.push_back((t.chunk, t.stage, t.duration_ns()));
            }
        }
        let done = report
            .tasks
            .iter()
            .filter(|t| t.stage != Stage::Finalize)
            .count();
        RunView {
            label: report.label(),
            item: report.config.item.clone(),
            grid,
            chunks: vec![
                if report.cancelled {
                    ChunkState::Queued
                } else {
                    ChunkState::Done(Stage::Write)
                };
                n
            ],
            lanes,
            stage: report.stages.last().map(|s| s.name),
            tasks_done: done,
            tasks_failed: 0,
            elapsed_ns: report.wall_ns,
            dropped: report.events_dropped,
            cancelling: false,
            ended: true,
            report: Some(report.clone()),
            error: None,
            live: Live::new(n, report.config.threads),
            replay: None,
            repeat: None,
            selected: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_is_bounded_and_marks_follow_their_runs() {
        let run = testdata::data().chunked.clone();
        let mut r = Results::default();
        for _ in 0..3 {
            r.push(run.clone());
        }
        (r.a, r.b) = (Some(0), Some(2));
        for _ in 3..HISTORY_LEN + 1 {
            r.push(run.clone());
        }
        assert_eq!(r.runs.len(), HISTORY_LEN);
        assert_eq!(r.dropped, 1);
        assert_eq!(r.number(0), 2, "row numbers count the dropped run");
        assert_eq!(
            (r.a, r.b),
            (None, Some(1)),
            "A's run was dropped, B's moved up"
        );
        assert_eq!(r.selected, HISTORY_LEN - 1, "the newest run is selected");
        assert_eq!(r.pair(), None);
    }
}

#[cfg(test)]
pub mod testdata {
    //! Real run reports and a real sweep, made once per test binary by the engine on a small
    //! generated demo scene: the Results and Sweep views are tested on what runs produce.
    use std::num::NonZeroUsize;
    use std::sync::OnceLock;

    use chunkscope::catalog::Catalog;
    use chunkscope::chunks::ChunkRequest;
    use chunkscope::demo::{self, DemoSpec};
    use chunkscope::experiment::rounds::{Repetition, RunBase};
    use chunkscope::experiment::sweep::{self, SweepResult, SweepSpec};
    use chunkscope::output::{OutputFormat, OutputSpec};
    use chunkscope::pipeline::{
        self, CloudClasses, Mode, Resolution, RunConfig, RunControl, RunReport, Scene, Schedule,
    };
    use chunkscope::task::CancelFlag;

    pub struct Data {
        _dir: tempfile::TempDir,
        /// Serial, then chunked x 2 with 128 x 128 chunks.
        pub serial: RunReport,
        pub chunked: RunReport,
        pub sweep: SweepResult,
    }

    pub fn data() -> &'static Data {
        static DATA: OnceLock<Data> = OnceLock::new();
        DATA.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let spec = DemoSpec::new(1024, 1).unwrap();
            let catalog = demo::generate(spec, &dir.path().join("demo"), &|_| {}).unwrap();
            let loaded = Catalog::load(&catalog).unwrap();
            let scene = Scene::from_item(&loaded.items[0]).unwrap();
            let output = OutputSpec::new(dir.path().join("out.tif"), OutputFormat::Cog);
            let base = RunBase {
                resolution: Resolution::R20,
                cloud_classes: CloudClasses::default(),
                output,
            };
            let two = NonZeroUsize::new(2).unwrap();
            let run = |mode: Mode| {
                let config: RunConfig = base.config(mode);
                pipeline::run(&scene, &config, &RunControl::default()).unwrap()
            };
            let serial = run(Mode::Serial);
            let chunked = run(Mode::Chunked {
                chunks: ChunkRequest::Blocks(1),
                threads: two,
                schedule: Schedule::Staged,
            });
            let spec = SweepSpec {
                chunks: vec![ChunkRequest::Blocks(1), ChunkRequest::Blocks(2)],
                threads: vec![NonZeroUsize::MIN, two],
                schedule: Schedule::Staged,
                repetition: Repetition {
                    repeat: 1,
                    warmup: 0,
                },
            };
            let sweep =
                sweep::sweep(&scene, &base, &spec, &CancelFlag::new(), &|_, _, _| {}).unwrap();
            Data {
                _dir: dir,
                serial,
                chunked,
                sweep,
            }
        })
    }
}
