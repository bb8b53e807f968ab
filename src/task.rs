//! The stream a run reports progress on: small `Copy` events sent from worker threads
//! with `try_send`, so a slow or absent consumer never holds up the work. A full channel
//! drops the event and counts it; the run report itself never depends on the channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

/// The lesson's stages, plus the closing step that completes the output file (the COG
/// assembly, or GDAL's COG copy with `--writer gdal`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Load,
    Mask,
    Write,
    Finalize,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Load, Stage::Mask, Stage::Write, Stage::Finalize];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Load => "load",
            Stage::Mask => "mask",
            Stage::Write => "write",
            Stage::Finalize => "finalize",
        }
    }
}

/// One stage applied to one chunk, timed on the run clock (ns since the run started).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskRecord {
    pub chunk: u32,
    pub stage: Stage,
    pub worker: u16,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Decoded pixel bytes the task handled (read, masked or written).
    pub bytes: u64,
    /// Time waited just before the task started (for the single output writer).
    pub wait_ns: u64,
    /// Time spent just before the task started obtaining its pixel buffers: allocation and
    /// the first touch of every page, so page faults are not counted as load work.
    #[serde(default)]
    pub alloc_ns: u64,
    /// Time spent inside the task waiting for the output's single appender (chunked
    /// writer): not write work, and counted as writer wait.
    #[serde(default)]
    pub append_wait_ns: u64,
    /// Output tiles the task encoded, overview tiles included (chunked writer's write
    /// tasks; 0 elsewhere).
    #[serde(default)]
    pub tiles: u32,
    /// Time the task held the output's lock: the chunked writer's appender (taking the
    /// next stretch of the file, once per tile), or with GDAL's writer the single writer
    /// for the whole task (the lesson's `Lock()`).
    #[serde(default)]
    pub lock_hold_ns: u64,
    /// Help, not a task: an idle worker encoding tiles that this chunk's write task
    /// completed (chunked writer, more than one worker). Part of that write, so it counts
    /// as busy time and is drawn on its worker, but not as a task of its own: task counts,
    /// per-task latencies and progress leave it out. Its `bytes` are 0.
    #[serde(default)]
    pub helping: bool,
}

impl TaskRecord {
    /// A task known only by where and when it ran (no bytes, waits or tiles): what a
    /// foreign task stream gives, and what tests build.
    pub fn span(chunk: u32, stage: Stage, worker: u16, start_ns: u64, end_ns: u64) -> Self {
        Self {
            chunk,
            stage,
            worker,
            start_ns,
            end_ns,
            bytes: 0,
            wait_ns: 0,
            alloc_ns: 0,
            append_wait_ns: 0,
            tiles: 0,
            lock_hold_ns: 0,
            helping: false,
        }
    }

    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    /// The task's own work: its duration less the time it waited for the appender.
    pub fn work_ns(&self) -> u64 {
        self.duration_ns().saturating_sub(self.append_wait_ns)
    }
}

/// What a run tells its observers while it works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    RunStarted {
        chunks: u32,
        threads: u16,
    },
    StageStarted {
        stage: Stage,
        at_ns: u64,
    },
    TaskStarted {
        chunk: u32,
        stage: Stage,
        worker: u16,
        at_ns: u64,
        /// Help with another worker's write (see [`TaskRecord::helping`]).
        helping: bool,
    },
    TaskFinished(TaskRecord),
    TaskFailed {
        chunk: u32,
        stage: Stage,
        worker: u16,
        at_ns: u64,
    },
    StageFinished {
        stage: Stage,
        at_ns: u64,
    },
    RunFinished {
        at_ns: u64,
        cancelled: bool,
    },
}

/// The sending side given to a run. `EventSink::none()` discards everything at the source.
#[derive(Debug, Clone, Default)]
pub struct EventSink {
    tx: Option<Sender<Event>>,
    dropped: Arc<AtomicU64>,
}

impl EventSink {
    /// A bounded channel of `capacity` events and the sink that feeds it.
    pub fn bounded(capacity: usize) -> (Self, Receiver<Event>) {
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        (
            Self {
                tx: Some(tx),
                dropped: Arc::default(),
            },
            rx,
        )
    }

    pub fn none() -> Self {
        Self::default()
    }

    /// Never blocks: a full or closed channel drops the event and counts it.
    pub fn send(&self, event: Event) {
        if let Some(tx) = &self.tx {
            match tx.try_send(event) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Events dropped so far because the consumer did not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Measures what sending one event costs a worker: `n` events sent through a sink whose
/// channel a second thread drains, as the TUI's loop does. Returns ns per event (the mean;
/// one send is too short for the clock). The cost of profiling a run's events is this
/// times the events it sent.
pub fn measure_send_ns(n: usize) -> f64 {
    let (sink, rx) = EventSink::bounded(n.max(1));
    let drain = drain_per_frame(rx, Duration::from_millis(50));
    let event = Event::StageStarted {
        stage: Stage::Load,
        at_ns: 0,
    };
    let t0 = Instant::now();
    for _ in 0..n {
        sink.send(event);
    }
    let elapsed = t0.elapsed();
    drop(sink);
    let _ = drain.join();
    elapsed.as_nanos() as f64 / n.max(1) as f64
}

/// Consumes events the way a UI does: every `frame` it takes what has arrived, rather than
/// waking on each event (a blocked reader makes every send a wake-up call, which costs the
/// workers more than the send). Ends when every sender is gone; returns the events taken.
pub fn drain_per_frame(rx: Receiver<Event>, frame: Duration) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut taken = 0u64;
        loop {
            std::thread::sleep(frame);
            taken += rx.try_iter().count() as u64;
            match rx.try_recv() {
                Ok(_) => taken += 1,
                Err(crossbeam_channel::TryRecvError::Empty) => {}
                Err(crossbeam_channel::TryRecvError::Disconnected) => return taken,
            }
        }
    })
}

/// One shared flag: set it (Ctrl-C, the TUI's cancel key) and the run stops before its next
/// task.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    /// The flag itself, for callbacks that can only carry a pointer (GDAL's progress).
    pub fn as_atomic(&self) -> &AtomicBool {
        &self.0
    }
    /// Clears the flag so the next run can start.
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// The same flag (clones of one another), not two flags that happen to hold one value.
impl PartialEq for CancelFlag {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The run's monotonic clock: nanoseconds since the run started.
#[derive(Debug, Clone, Copy)]
pub struct RunClock(Instant);

impl RunClock {
    pub fn start() -> Self {
        Self(Instant::now())
    }
    /// The instant the run started, for samplers that stamp on the same clock.
    pub fn origin(&self) -> Instant {
        self.0
    }
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}
