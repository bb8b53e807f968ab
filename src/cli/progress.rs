//! Progress bars on stderr for long work: demo generation and pipeline runs. They read the
//! engine's callbacks and event stream; indicatif hides them when stderr is not a terminal.

use std::thread::JoinHandle;
use std::time::Duration;

use chunkscope::task::{Event, EventSink, Stage};
use indicatif::{ProgressBar, ProgressStyle};

pub fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Follows a run's events on a thread of its own and draws one bar of finished tasks.
pub struct RunProgress {
    pub sink: EventSink,
    handle: JoinHandle<()>,
}

impl RunProgress {
    pub fn start(label: String) -> Self {
        let (sink, rx) = EventSink::bounded(4096);
        let handle = std::thread::spawn(move || {
            let bar = bar(
                0,
                "{prefix:>24} [{bar:30}] {pos}/{len} tasks {msg} ({elapsed})",
            );
            bar.set_prefix(label);
            for event in rx.iter() {
                match event {
                    // Three tasks per chunk plus the finalize step.
                    Event::RunStarted { chunks, .. } => bar.set_length(u64::from(chunks) * 3 + 1),
                    Event::TaskStarted { stage, .. } => bar.set_message(stage.name()),
                    // Help with a write is not a task of its own.
                    Event::TaskFinished(t) if t.helping => {}
                    Event::TaskFinished(t) => {
                        bar.inc(1);
                        if t.stage == Stage::Finalize {
                            bar.set_message("");
                        }
                    }
                    Event::RunFinished { .. } => break,
                    _ => {}
                }
            }
            bar.finish_and_clear();
        });
        Self { sink, handle }
    }

    pub fn finish(self) {
        drop(self.sink);
        let _ = self.handle.join();
    }
}
