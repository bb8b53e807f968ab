//! What the run screen keeps beyond chunk states, folded on the UI thread: the sampler's
//! live CPU and memory samples, the tasks seen so far (for the Gantt task stream, the heat
//! map and the live overhead meter), per-stage progress, and the states of the two
//! after-run tools, replay and repeat. Nothing here measures: samples, task times and
//! every derived figure (overhead share, ETA, spread) come from the engine.

use std::collections::VecDeque;

use chunkscope::experiment::rounds::{self, RunSample};
use chunkscope::pipeline::RunReport;
use chunkscope::profile::sampler::Sample;
use chunkscope::profile::stats::{Timing, Warning};
use chunkscope::profile::{overhead, progress, units};
use chunkscope::task::{Event, Stage, TaskRecord};

/// Live samples kept for the sparklines: at 10 Hz, almost seven minutes, more than any
/// terminal is wide. The report keeps all of them.
pub const SAMPLES_KEPT: usize = 4096;

/// Runs a repeat (`R`) takes.
pub const REPEAT_RUNS: usize = 5;

/// Warm-up runs before a repeat's measured runs.
pub const REPEAT_WARMUP: usize = 1;

/// Replay speeds in thousandths (10 = 0.01x), slowest first; a replay starts at
/// [`DEFAULT_SPEED`]. Integers, so replayed time is exact.
pub const SPEEDS_PER_MILLE: [u64; 6] = [10, 50, 100, 250, 500, 1000];
pub const DEFAULT_SPEED: usize = 2;

/// Scrubbing moves by this fraction of the run.
const SCRUB_STEPS: u64 = 40;

/// A task in flight on a worker, since `start_ns` on the run clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Running {
    pub chunk: u32,
    pub stage: Stage,
    pub start_ns: u64,
    /// Help with another worker's write task.
    pub helping: bool,
}

/// Per-stage progress as the events told it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageProgress {
    pub done: usize,
    /// Run-clock time the stage started (its `StageStarted` or first task).
    pub start_ns: Option<u64>,
    pub end_ns: Option<u64>,
}

/// The live side of a run, folded from events and samples.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The latest run-clock time any event or sample carried: "now" for the task stream.
    pub now_ns: u64,
    pub threads: usize,
    /// Finished tasks, in the order their events came (once the run is over the views
    /// read the report's list instead, complete even if events were dropped).
    pub tasks: Vec<TaskRecord>,
    /// Per worker, the task it is running.
    pub running: Vec<Option<Running>>,
    /// Per chunk, time spent in its finished tasks.
    pub chunk_busy_ns: Vec<u64>,
    /// Load, mask, write, finalize.
    pub stages: [StageProgress; 4],
    /// Time inside finished load/mask/write tasks.
    pub work_ns: u64,
    pub samples: VecDeque<Sample>,
    /// The last per-core measurement (a sample may carry none, see [`Sample`]).
    pub cores_pct: Vec<f32>,
    pub peak_rss_bytes: u64,
    /// Samples the feed dropped because the UI did not keep up.
    pub samples_dropped: u64,
}

fn stage_index(stage: Stage) -> usize {
    match stage {
        Stage::Load => 0,
        Stage::Mask => 1,
        Stage::Write => 2,
        Stage::Finalize => 3,
    }
}

impl Live {
    pub fn new(chunks: usize, threads: usize) -> Self {
        Self {
            threads: threads.max(1),
            running: vec![None; threads.max(1)],
            chunk_busy_ns: vec![0; chunks],
            ..Self::default()
        }
    }

    pub fn stage(&self, stage: Stage) -> &StageProgress {
        &self.stages[stage_index(stage)]
    }

    fn running_mut(&mut self, worker: u16) -> Option<&mut Option<Running>> {
        let w = usize::from(worker);
        if w >= self.running.len() && w < 256 {
            self.running.resize(w + 1, None);
        }
        self.running.get_mut(w)
    }

    /// Folds one engine event.
    pub fn fold(&mut self, ev: &Event) {
        match *ev {
            Event::RunStarted { chunks, threads } => {
                self.threads = usize::from(threads).max(1);
                self.running.resize(self.threads, None);
                self.chunk_busy_ns.resize(chunks as usize, 0);
            }
            Event::StageStarted { stage, at_ns } => {
                self.now_ns = self.now_ns.max(at_ns);
                let s = &mut self.stages[stage_index(stage)];
                s.start_ns = Some(s.start_ns.map_or(at_ns, |t| t.min(at_ns)));
            }
            Event::StageFinished { stage, at_ns } => {
                self.now_ns = self.now_ns.max(at_ns);
                self.stages[stage_index(stage)].end_ns = Some(at_ns);
            }
            Event::TaskStarted {
                chunk,
                stage,
                worker,
                at_ns,
                helping,
            } => {
                self.now_ns = self.now_ns.max(at_ns);
                let s = &mut self.stages[stage_index(stage)];
                s.start_ns = Some(s.start_ns.map_or(at_ns, |t| t.min(at_ns)));
                if let Some(slot) = self.running_mut(worker) {
                    *slot = Some(Running {
                        chunk,
                        stage,
                        start_ns: at_ns,
                        helping,
                    });
                }
            }
            Event::TaskFinished(rec) => {
                self.now_ns = self.now_ns.max(rec.end_ns);
                self.stages[stage_index(rec.stage)].done += usize::from(!rec.helping);
                if rec.stage != Stage::Finalize {
                    self.work_ns += rec.duration_ns();
                    if let Some(b) = self.chunk_busy_ns.get_mut(rec.chunk as usize) {
                        *b += rec.duration_ns();
                    }
                }
                if let Some(slot) = self.running_mut(rec.worker) {
                    *slot = None;
                }
                self.tasks.push(rec);
            }
            Event::TaskFailed { worker, at_ns, .. } => {
                self.now_ns = self.now_ns.max(at_ns);
                if let Some(slot) = self.running_mut(worker) {
                    *slot = None;
                }
            }
            Event::RunFinished { at_ns, .. } => {
                self.now_ns = self.now_ns.max(at_ns);
                self.running.iter_mut().for_each(|r| *r = None);
            }
        }
    }

    /// Folds one sampler sample.
    pub fn sample(&mut self, s: Sample) {
        self.now_ns = self.now_ns.max(s.t_ns);
        if !s.per_core_pct.is_empty() {
            self.cores_pct.clone_from(&s.per_core_pct);
        }
        self.peak_rss_bytes = self.peak_rss_bytes.max(s.rss_bytes);
        if self.samples.len() == SAMPLES_KEPT {
            self.samples.pop_front();
        }
        self.samples.push_back(s);
    }

    /// Time inside load/mask/write tasks so far, the running ones up to now.
    pub fn work_so_far_ns(&self) -> u64 {
        self.work_ns
            + self
                .running
                .iter()
                .flatten()
                .filter(|r| r.stage != Stage::Finalize)
                .map(|r| self.now_ns.saturating_sub(r.start_ns))
                .sum::<u64>()
    }

    /// The engine's live overhead share (see [`overhead::live_share`]).
    pub fn overhead_share(&self) -> f64 {
        overhead::live_share(self.work_so_far_ns(), self.now_ns, self.threads)
    }

    /// Estimated time left in `stage` (`total` tasks), from the engine's extrapolation.
    pub fn stage_eta_ns(&self, stage: Stage, total: usize) -> Option<u64> {
        let s = self.stage(stage);
        let since = self.now_ns.saturating_sub(s.start_ns?);
        progress::eta_ns(s.done, total, since)
    }
}

/// A finished run played back slowly from its task records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Replay {
    /// Run-clock time shown.
    pub t_ns: u64,
    /// The run's wall time: the replay's end.
    pub end_ns: u64,
    /// Index into [`SPEEDS_PER_MILLE`].
    pub speed: usize,
    pub paused: bool,
}

impl Replay {
    pub fn new(end_ns: u64) -> Self {
        Self {
            t_ns: 0,
            end_ns: end_ns.max(1),
            speed: DEFAULT_SPEED,
            paused: false,
        }
    }

    /// Replayed seconds per real second.
    pub fn speed(&self) -> f64 {
        self.per_mille() as f64 / 1000.0
    }

    fn per_mille(&self) -> u64 {
        SPEEDS_PER_MILLE[self.speed.min(SPEEDS_PER_MILLE.len() - 1)]
    }

    /// Moves on by `dt_ns` of real time at the replay speed; pauses at the end.
    pub fn advance(&mut self, dt_ns: u64) {
        if self.paused {
            return;
        }
        let step = u64::try_from(u128::from(dt_ns) * u128::from(self.per_mille()) / 1000)
            .unwrap_or(u64::MAX);
        self.t_ns = self.t_ns.saturating_add(step).min(self.end_ns);
        if self.t_ns == self.end_ns {
            self.paused = true;
        }
    }

    /// One step back (`dir < 0`) or forward through the run.
    pub fn scrub(&mut self, dir: i64) {
        let step = (self.end_ns / SCRUB_STEPS).max(1);
        self.t_ns = if dir < 0 {
            self.t_ns.saturating_sub(step)
        } else {
            self.t_ns.saturating_add(step).min(self.end_ns)
        };
    }

    pub fn faster(&mut self) {
        self.speed = (self.speed + 1).min(SPEEDS_PER_MILLE.len() - 1);
    }

    pub fn slower(&mut self) {
        self.speed = self.speed.saturating_sub(1);
    }

    /// Play/pause; playing from the end starts over.
    pub fn toggle_pause(&mut self) {
        if self.paused && self.t_ns >= self.end_ns {
            self.t_ns = 0;
        }
        self.paused = !self.paused;
    }
}

/// `R`: the same configuration run [`REPEAT_RUNS`] times, and the spread of its wall time
/// per stage and in total.
#[derive(Debug, Clone)]
pub struct Repeat {
    pub n: usize,
    /// Unmeasured runs before the `n` (hyperfine's `--warmup`): the first run of a
    /// configuration pays for cold caches and would make the spread look wider.
    pub warmup: usize,
    /// Warm-up runs finished so far.
    pub warmups_done: usize,
    /// Wall time of each finished run, in order.
    pub walls_ns: Vec<u64>,
    /// What each finished run measured, in the engine's terms for repeated runs.
    pub samples: Vec<RunSample>,
    /// The engine's summary of the runs' total wall times (median, σ, min…max, outliers).
    pub timing: Option<Timing>,
    /// The same per stage, over the runs where the stage ran, in pipeline order.
    pub stages: Vec<(Stage, Timing)>,
    /// The engine's warnings about `timing` (too short, outliers, cold first run).
    pub warnings: Vec<String>,
    /// Cancelled, or a run failed: no more runs.
    pub stopped: bool,
}

impl Repeat {
    pub fn new(n: usize) -> Self {
        Self {
            n,
            warmup: REPEAT_WARMUP,
            warmups_done: 0,
            walls_ns: Vec::new(),
            samples: Vec::new(),
            timing: None,
            stages: Vec::new(),
            warnings: Vec::new(),
            stopped: false,
        }
    }

    /// Records a finished run. Cancelled runs stop the repeat without counting. The
    /// figures are the engine's over every run so far ([`rounds::totals`],
    /// [`rounds::stage_timing`]), never the last run's alone.
    pub fn record(&mut self, report: &RunReport) {
        if report.cancelled {
            self.stopped = true;
            return;
        }
        if self.in_warmup() {
            self.warmups_done += 1;
            return;
        }
        self.walls_ns.push(report.wall_ns);
        self.samples.push(RunSample::from_report(report));
        self.timing = rounds::totals(&self.samples);
        self.stages = Stage::ALL
            .iter()
            .filter_map(|&s| rounds::stage_timing(&self.samples, s).map(|t| (s, t)))
            .collect();
        self.warnings = self
            .timing
            .as_ref()
            .map(|t| {
                Warning::check(&report.label(), t)
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            })
            .unwrap_or_default();
    }

    /// The run in flight (or the one just finished, before [`Repeat::record`]) is a
    /// warm-up: not measured.
    pub fn in_warmup(&self) -> bool {
        self.warmups_done < self.warmup
    }

    /// `repeat 3/5 + 1 warm-up`: the measured runs so far of those asked, and the warm-ups
    /// done.
    pub fn count(&self) -> String {
        let warm = units::runs_count(0, self.warmups_done);
        match warm.split_once(" + ") {
            Some((_, w)) => format!("repeat {}/{} + {w}", self.walls_ns.len(), self.n),
            None => format!("repeat {}/{}", self.walls_ns.len(), self.n),
        }
    }

    /// Whether another run should start.
    pub fn wants_more(&self) -> bool {
        !self.stopped && self.walls_ns.len() < self.n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(chunk: u32, stage: Stage, worker: u16, start_ns: u64, end_ns: u64) -> TaskRecord {
        TaskRecord::span(chunk, stage, worker, start_ns, end_ns)
    }

    #[test]
    fn replay_advances_at_its_speed_and_stops_at_the_end() {
        let mut r = Replay::new(1_000);
        assert_eq!(r.speed(), 0.1);
        r.advance(5_000);
        assert_eq!(r.t_ns, 500);
        r.advance(10_000);
        assert_eq!(r.t_ns, 1_000);
        assert!(r.paused);
        r.toggle_pause();
        assert_eq!(r.t_ns, 0, "play from the end starts over");
        r.scrub(1);
        assert_eq!(r.t_ns, 25);
        r.scrub(-1);
        r.scrub(-1);
        assert_eq!(r.t_ns, 0);
        r.faster();
        assert_eq!(r.speed(), 0.25);
        for _ in 0..10 {
            r.slower();
        }
        assert_eq!(r.speed(), 0.01);
    }

    #[test]
    fn live_folds_tasks_and_samples() {
        let mut live = Live::new(2, 2);
        live.fold(&Event::TaskStarted {
            chunk: 0,
            stage: Stage::Load,
            worker: 0,
            at_ns: 0,
            helping: false,
        });
        live.fold(&Event::TaskStarted {
            chunk: 1,
            stage: Stage::Load,
            worker: 1,
            at_ns: 0,
            helping: false,
        });
        live.fold(&Event::TaskFinished(task(0, Stage::Load, 0, 0, 40)));
        live.sample(Sample {
            t_ns: 100,
            per_core_pct: vec![50.0, 100.0],
            process_cpu_pct: 150.0,
            rss_bytes: 7,
        });
        assert_eq!(live.now_ns, 100);
        assert_eq!(live.work_so_far_ns(), 40 + 100);
        assert!((live.overhead_share() - (1.0 - 140.0 / 200.0)).abs() < 1e-12);
        assert_eq!(live.stage(Stage::Load).done, 1);
        assert_eq!(live.stage_eta_ns(Stage::Load, 2), Some(100));
        assert_eq!(live.chunk_busy_ns, vec![40, 0]);
        // An empty per-core reading keeps the last one.
        live.sample(Sample {
            t_ns: 200,
            per_core_pct: vec![],
            process_cpu_pct: 20.0,
            rss_bytes: 3,
        });
        assert_eq!(live.cores_pct, vec![50.0, 100.0]);
        assert_eq!(live.peak_rss_bytes, 7);
        assert_eq!(live.samples.len(), 2);
    }
}
