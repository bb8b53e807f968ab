//! What the lesson screen shows: which step is in front, each step's figures once measured
//! (or why it failed), which step is running and how far it got, and whether the presenter
//! layout is on. Plain data; the UI thread owns it.

use chunkscope::graph::TaskGraph;
use chunkscope::lesson::{STEPS, Step, StepResult};

use super::screen::Screen;

#[derive(Debug, Clone)]
pub struct LessonView {
    /// Catalog index of the item the lesson runs on.
    pub item: usize,
    /// Index into [`STEPS`] of the step in front.
    pub step: usize,
    /// Per step: its figures once measured.
    pub results: Vec<Option<StepResult>>,
    /// Per step: why its last run failed.
    pub errors: Vec<Option<String>>,
    /// Per step: the task graph it built before its runs (the laziness step), shown
    /// while those runs go.
    pub built: Vec<Option<TaskGraph>>,
    /// The step being run, if any.
    pub running: Option<usize>,
    /// Runs done, runs planned and the configuration running, for the step being run.
    pub progress: Option<(usize, usize, String)>,
    /// Cancelling the running step (Esc pressed once).
    pub cancelling: bool,
    /// Big numbers for a projector.
    pub presenter: bool,
    /// Where Esc leads when nothing runs.
    pub back_to: Screen,
}

impl LessonView {
    pub fn new(item: usize, back_to: Screen) -> Self {
        Self {
            item,
            step: 0,
            results: vec![None; STEPS.len()],
            errors: vec![None; STEPS.len()],
            built: vec![None; STEPS.len()],
            running: None,
            progress: None,
            cancelling: false,
            presenter: false,
            back_to,
        }
    }

    pub fn current(&self) -> Step {
        STEPS[self.step.min(STEPS.len() - 1)]
    }

    pub fn result(&self) -> Option<&StepResult> {
        self.results.get(self.step)?.as_ref()
    }

    pub fn error(&self) -> Option<&str> {
        self.errors.get(self.step)?.as_deref()
    }

    /// Whether the step in front still needs a run (never run, not failed, not running).
    pub fn needs_run(&self) -> bool {
        self.result().is_none() && self.error().is_none() && self.running != Some(self.step)
    }
}
