//! The Results screen's model: every finished run of this session (bounded), the selected
//! row, the A/B marks, the sweep shown on the Sweep screen, and what the last save did. The
//! figures themselves come from the engine ([`chunkscope::experiment::history`],
//! [`chunkscope::experiment::sweep`]).

use chunkscope::pipeline::RunReport;

use super::sweep::{SweepProgress, SweepView};

/// Runs kept in the history; older ones are dropped (and counted).
pub const HISTORY_LEN: usize = 100;

/// What the last `s` did: the files written, or why nothing was.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Saved(Vec<String>),
    Failed(String),
    /// How a Dask run (`D`) ended: what it gave, or why it could not run.
    Dask(Result<String, String>),
    /// Why a key did nothing (a run asked for while another run or a sweep goes).
    Refused(String),
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
            Notice::Dask(Ok(said)) => format!("✓ {said}"),
            Notice::Dask(Err(why)) | Notice::Refused(why) => format!("✗ {why}"),
        }
    }

    /// Whether it is good news (drawn green, else red; the ✓ / ✗ says it without colour).
    pub fn ok(&self) -> bool {
        matches!(self, Notice::Saved(_) | Notice::Dask(Ok(_)))
    }
}

/// The history of this session's runs and the marks on it.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// Oldest first, at most [`HISTORY_LEN`]. A `Vec` rather than a ring: the engine's
    /// history functions and the views borrow it as one slice every frame, and dropping the
    /// oldest of a hundred once per finished run costs nothing next to a run.
    pub runs: Vec<RunReport>,
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
    /// The engines and budget the next sweep started here uses (`e`, `t`).
    pub sweep_choice: super::sweep::SweepChoice,
    /// Rows the Sweep screen's "Best and flags" are scrolled by (`↑↓`); the view keeps it
    /// within what there is to show.
    pub notes_scroll: u16,
    pub notice: Option<Notice>,
}

impl Results {
    /// Adds a finished run and selects it.
    pub fn push(&mut self, report: RunReport) {
        if self.runs.len() == HISTORY_LEN {
            self.runs.remove(0);
            self.dropped += 1;
            let shift = |m: Option<usize>| m.and_then(|i| i.checked_sub(1));
            self.a = shift(self.a);
            self.b = shift(self.b);
        }
        self.runs.push(report);
        self.selected = self.runs.len() - 1;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::testdata;

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
