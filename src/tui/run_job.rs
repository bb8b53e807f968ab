//! A run started from the TUI: the engine's [`pipeline::run`] on its own thread, its
//! events, live samples and report turned into [`Msg`]s. The session's [`Slot`] holds the
//! job and polls it each frame; cancelling stops the run after the tasks in flight.
//!
//! [`Slot`]: super::work::Slot

use std::time::Instant;

use crossbeam_channel::Receiver;

use chunkscope::pipeline::{self, RunConfig, RunControl, RunReport, Scene};
use chunkscope::profile::sampler::{Sample, SampleFeed};
use chunkscope::task::{CancelFlag, Event, EventSink};

use super::app::Msg;
use super::job::Job;
use super::work::Background;

/// Engine events buffered between two frames; beyond this they are dropped and counted.
const EVENT_CAPACITY: usize = 16 * 1024;

/// Live samples buffered between two frames (10 Hz: a few seconds of a stalled UI).
///
/// Samples reach the UI over a bounded channel the sampler fills with `try_send`, rather
/// than as a latest-value snapshot polled each frame: the sparklines want every sample, and
/// a snapshot silently skips the ones taken during a slow frame, which would draw as a
/// measured dip. The channel never blocks the sampler thread (a full one drops and counts,
/// and the count is shown), and the run's workers never touch it either way.
const SAMPLE_CAPACITY: usize = 64;

/// A run on its own thread.
pub struct RunJob {
    events: Receiver<Event>,
    samples: Receiver<Sample>,
    sample_feed: SampleFeed,
    sink: EventSink,
    started: Instant,
    job: Job<RunReport>,
}

impl RunJob {
    /// Runs `config` on `scene`.
    pub fn start(scene: Scene, config: RunConfig) -> Result<Self, String> {
        let (sink, events) = EventSink::bounded(EVENT_CAPACITY);
        let (sample_feed, samples) = SampleFeed::bounded(SAMPLE_CAPACITY);
        let cancel = CancelFlag::new();
        let control = RunControl {
            events: sink.clone(),
            cancel: cancel.clone(),
            samples: Some(sample_feed.clone()),
            ..RunControl::default()
        };
        let job = Job::spawn("chunkscope-run", "the run", cancel, move |_| {
            pipeline::run(&scene, &config, &control).map_err(|e| chunkscope::error::chain(&e))
        })?;
        Ok(Self {
            events,
            samples,
            sample_feed,
            sink,
            started: Instant::now(),
            job,
        })
    }
}

impl Background for RunJob {
    /// The engine's events and samples since the last poll, a tick with the time so far,
    /// and [`Msg::RunFinished`] last once the run is over.
    fn poll(&mut self) -> (Vec<Msg>, bool) {
        let mut msgs: Vec<Msg> = self.events.try_iter().map(Msg::Engine).collect();
        msgs.extend(self.samples.try_iter().map(Msg::Sample));
        msgs.push(Msg::Tick {
            elapsed_ns: u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            dropped: self.sink.dropped(),
            samples_dropped: self.sample_feed.dropped(),
        });
        let Some(result) = self.job.finished() else {
            return (msgs, false);
        };
        // Events sent just before the result.
        msgs.extend(self.events.try_iter().map(Msg::Engine));
        msgs.push(Msg::RunFinished(result.map(Box::new)));
        (msgs, true)
    }

    fn cancel(&self) {
        self.job.cancel();
    }

    /// Cancels and waits for the thread (after the tasks in flight).
    fn shutdown(self: Box<Self>) {
        self.job.shutdown();
    }
}
