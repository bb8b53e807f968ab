//! Work the TUI runs on a thread of its own (a run, a sweep, a lesson step, a Dask run, an
//! inspection): its progress and its one result, polled each frame through the session's
//! [`Slot`](super::work::Slot); cancelling stops the work at its next check.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, TryRecvError};

use chunkscope::task::CancelFlag;

/// `done` of `total`, and what is running now.
pub type Progress = (usize, usize, String);

/// A piece of work running on its own thread, ending with one result.
pub struct Job<T> {
    progress: Receiver<Progress>,
    done: Receiver<Result<T, String>>,
    cancel: CancelFlag,
    thread: Option<JoinHandle<()>>,
    /// What the work is, for the message when it ends without a result ("the sweep").
    what: &'static str,
}

impl<T: Send + 'static> Job<T> {
    /// Runs `work` on a thread named `name`; `work` reports its progress through the
    /// function it is given and stops when `cancel` is set.
    pub fn spawn(
        name: &str,
        what: &'static str,
        cancel: CancelFlag,
        work: impl FnOnce(&dyn Fn(usize, usize, &str)) -> Result<T, String> + Send + 'static,
    ) -> Result<Self, String> {
        let (progress_tx, progress) = crossbeam_channel::unbounded();
        let (done_tx, done) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let report = move |done: usize, total: usize, label: &str| {
                    let _ = progress_tx.send((done, total, label.to_string()));
                };
                let _ = done_tx.send(work(&report));
            })
            .map_err(|e| format!("cannot start the thread for {what}: {e}"))?;
        Ok(Self {
            progress,
            done,
            cancel,
            thread: Some(thread),
            what,
        })
    }

    /// The progress reported since the last call.
    pub fn progress(&self) -> Vec<Progress> {
        self.progress.try_iter().collect()
    }

    /// The result once the work is over (its thread then joined), else `None`.
    pub fn finished(&mut self) -> Option<Result<T, String>> {
        let result = match self.done.try_recv() {
            Ok(result) => result,
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => Err(format!(
                "{} stopped without a result (see the log)",
                self.what
            )),
        };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        Some(result)
    }

    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Cancels and waits for the thread (after the run in flight).
    pub fn shutdown(mut self) {
        self.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
