//! The Sweep screen's keys and messages: `r` starts a sweep around the chunk setup, `o` and a
//! typed path load one, and the progress and end of a sweep run here.

use std::num::NonZeroUsize;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use chunkscope::chunks::ChunkRequest;

use super::{App, Cmd, Msg};
use crate::tui::keys::Action;
use crate::tui::model::screen::Screen;
use crate::tui::model::sweep::{SweepProgress, SweepRequest, SweepView};

impl App {
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
}
