//! Running the lesson's code on the real Dask for one configuration: the exported script
//! ([`super::export`]) is written for the chunk shape and thread count, run by a checked
//! Python ([`super::python`]) as a child process on a `LocalCluster` (or a given
//! scheduler), and the task stream it saves is imported ([`super::DaskStream`]) into the
//! same run report the engine produces, with the figures only a stream has
//! ([`DaskExtras`]).
//!
//! Runs on the caller's thread, which waits for the child, polling the cancel flag: a
//! cancel (or an error, or a panic) ends the child's whole process group, so no Python
//! process outlives the call.

use crate::convert;
use crate::profile::interference::Probe;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::export::{ExportError, ExportSettings, Scheduler};
use super::{DaskError, DaskStream, DaskSummary, TaskStage};
use crate::chunks::ChunkShape;
use crate::pipeline::{RunReport, Schedule};
use crate::profile::latency::LatencyError;
use crate::task::{CancelFlag, Stage};

/// What went wrong running the lesson's code on Dask, with where to look.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("cannot write the lesson's Dask code for these settings: {0}")]
    Export(#[from] ExportError),
    #[error("cannot write \"{path}\"")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start \"{python}\" for the Dask run")]
    Start {
        python: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the Dask run ({script}) failed ({status}):\n{detail}\n(run the script with the same \
         Python to see all of it)"
    )]
    Failed {
        script: PathBuf,
        status: String,
        detail: String,
    },
    #[error("the Dask run finished, but its task stream \"{path}\" cannot be imported")]
    Stream {
        path: PathBuf,
        #[source]
        source: DaskError,
    },
    #[error("cannot summarise the Dask run's task latencies")]
    Summary(#[from] LatencyError),
}

/// One finished Dask run: its stream as a run report, and the figures only Dask has.
#[derive(Debug, Clone)]
pub struct DaskRun {
    /// The stream as the engine's report (tasks, lanes, overhead, latency per stage).
    pub report: RunReport,
    pub summary: DaskSummary,
    pub extras: DaskExtras,
    /// Wall time the script measured around its calls (load, mask and write, the COG
    /// copy): what a user waits for, as chunkscope's own wall time is.
    pub wall_ns: u64,
    /// Each stage's wall: load as the script timed it (the persist) or, fused, from the
    /// stream; mask and write from the stream's tasks; finalize the COG copy the script
    /// timed.
    pub stage_wall_ns: BTreeMap<Stage, u64>,
    /// The stream the run saved.
    pub stream: PathBuf,
}

/// What a task stream shows of Dask's per-task cost beyond chunkscope's overhead split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DaskExtras {
    /// Time Dask spent moving data between workers (its `transfer` intervals).
    pub transfer_ns: u64,
    /// Time inside the timed calls before their first task started and after their last
    /// one stopped: building and optimising the graph, the client sending it, the
    /// scheduler's dispatch, the results coming back. Not in the overhead, which starts at
    /// the first task. 0 when the stream's header lacks the call times.
    pub outside_tasks_ns: u64,
    /// Time write tasks spent while another write task was running: with the writer's lock
    /// only one writes at a time, so this is (at most) the time they waited for it, seen
    /// from the stream (the lock itself is not in it).
    pub write_overlap_ns: u64,
}

impl DaskExtras {
    /// The extras of `stream` (see the fields).
    pub fn of(stream: &DaskStream) -> Self {
        let transfer_ns = stream
            .tasks
            .iter()
            .flat_map(|t| &t.spans)
            .filter(|s| s.action == super::Action::Transfer)
            .map(|s| s.stop_ns - s.start_ns)
            .sum();
        let mut writes: Vec<(u64, u64)> = stream
            .tasks
            .iter()
            .filter(|t| t.stage == TaskStage::Pipeline(Stage::Write))
            .map(|t| (t.start_ns, t.stop_ns))
            .collect();
        writes.sort_unstable();
        Self {
            transfer_ns,
            outside_tasks_ns: outside_tasks(stream),
            write_overlap_ns: overlap(&writes),
        }
    }
}

/// Time of the sorted intervals beyond their union.
fn overlap(sorted: &[(u64, u64)]) -> u64 {
    let (mut union, mut total) = (0u64, 0u64);
    let mut current: Option<(u64, u64)> = None;
    for &(start, stop) in sorted {
        total += stop - start;
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(stop))),
            Some((s, e)) => {
                union += e - s;
                Some((start, stop))
            }
            None => Some((start, stop)),
        };
    }
    if let Some((s, e)) = current {
        union += e - s;
    }
    total - union
}

/// For each timed call of the header (`calls_epoch_s` with its `wall_s`), the time before
/// its first task and after its last, summed.
fn outside_tasks(stream: &DaskStream) -> u64 {
    let h = &stream.header;
    let to_ns = |epoch_s: f64| (epoch_s - stream.origin_epoch_s) * 1e9;
    let mut out = 0.0;
    for (call, &start_s) in &h.calls_epoch_s {
        let Some(&wall_s) = h.wall_s.get(call) else {
            continue;
        };
        let (start, end) = (to_ns(start_s), to_ns(start_s + wall_s));
        let inside: Vec<&super::DaskTask> = stream
            .tasks
            .iter()
            .filter(|t| t.start_ns as f64 >= start && (t.stop_ns as f64) <= end)
            .collect();
        let (Some(first), Some(last)) = (
            inside.iter().map(|t| t.start_ns).min(),
            inside.iter().map(|t| t.stop_ns).max(),
        ) else {
            continue;
        };
        out += (first as f64 - start).max(0.0) + (end - last as f64).max(0.0);
    }
    convert::round_u64(out)
}

/// Runs the lesson's code on Dask, one configuration at a time, with the settings every
/// run shares.
#[derive(Debug)]
pub struct DaskRunner {
    python: PathBuf,
    base: ExportSettings,
    dir: PathBuf,
    keep: Option<PathBuf>,
    runs: AtomicUsize,
}

impl DaskRunner {
    /// `base` holds what every run shares (catalog, item, keys, clouds, format, codec,
    /// scheduler: a `LocalCluster` or an address); scripts, rasters and streams go into
    /// `dir`, and each stream is also copied into `keep` when given.
    pub fn new(python: PathBuf, base: ExportSettings, dir: PathBuf, keep: Option<PathBuf>) -> Self {
        // Absolute: the child runs in `dir`, and is given the script's path.
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        Self {
            python,
            base,
            dir,
            keep,
            runs: AtomicUsize::new(0),
        }
    }

    /// Settings the lesson's code cannot express are refused here, before any run.
    pub fn check(&self) -> Result<(), ExportError> {
        self.base.script().map(|_| ())
    }

    /// One run of `shape` (planned by chunkscope from `request`) on `threads` threads.
    /// `Ok(None)` when `cancel` stopped it; the child is gone either way.
    pub fn run(
        &self,
        shape: ChunkShape,
        request: &str,
        threads: usize,
        schedule: Schedule,
        cancel: &CancelFlag,
    ) -> Result<Option<DaskRun>, RunnerError> {
        self.run_watched(shape, request, threads, schedule, cancel, &|_| {})
    }

    /// [`DaskRunner::run`], giving each line the script prints (its output and its
    /// errors, as they come) to `on_line`, on this thread while it waits.
    pub fn run_watched(
        &self,
        shape: ChunkShape,
        request: &str,
        threads: usize,
        schedule: Schedule,
        cancel: &CancelFlag,
        on_line: &dyn Fn(&str),
    ) -> Result<Option<DaskRun>, RunnerError> {
        let n = self.runs.fetch_add(1, Ordering::Relaxed) + 1;
        let stem = format!(
            "dask-{n:03}-{}x{}x{}-t{threads}",
            shape.bands, shape.rows, shape.cols
        );
        let script = self.dir.join(format!("{stem}.py"));
        let stream = self.dir.join(format!("{stem}.json"));
        let raster = self.dir.join(format!("{stem}.tif"));
        let mut settings = self.base.clone();
        settings.chunks = shape;
        settings.request = request.to_string();
        settings.threads = threads;
        settings.schedule = schedule;
        settings.out = raster.to_string_lossy().into_owned();
        settings.stream = stream.to_string_lossy().into_owned();
        let text = settings.script()?;
        let write_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunnerError::Write { path, source }
        };
        std::fs::write(&script, text).map_err(write_err(&script))?;
        let log = self.dir.join(format!("{stem}.log"));
        // What other processes take meanwhile: on a LocalCluster the script and its workers
        // are this run's own (waited for, so counted as children); a running cluster's
        // processes are not ours to tell apart, so nothing is measured there.
        let probe = if matches!(settings.scheduler, Scheduler::Address(_)) {
            None
        } else {
            Probe::start_with_children()
        };
        let status = self.run_script(&script, &settings.scheduler, &log, cancel, on_line)?;
        let others = probe.and_then(|p| p.finish());
        let _ = std::fs::remove_file(&raster);
        let Some(status) = status else {
            return Ok(None);
        };
        if !status.success() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.trim().lines().collect();
            return Err(RunnerError::Failed {
                script,
                status: status.to_string(),
                detail: lines[lines.len().saturating_sub(8)..].join("\n"),
            });
        }
        let kept = match &self.keep {
            Some(dir) => {
                let to = dir.join(format!("{stem}.json"));
                std::fs::create_dir_all(dir).map_err(write_err(dir))?;
                std::fs::copy(&stream, &to).map_err(write_err(&to))?;
                to
            }
            None => stream.clone(),
        };
        let parsed = DaskStream::read(&stream).map_err(|source| RunnerError::Stream {
            path: kept.clone(),
            source,
        })?;
        let summary = DaskSummary::of(&parsed)?;
        let mut report = super::report::run_report(&parsed, &summary);
        // What this run asked for and the stream cannot know; a schedule other than Dask's
        // own also marks the report as run here rather than imported (`report::is_live`).
        report.config.schedule = Some(schedule.name().into());
        report.config.resolution_m = settings.resolution.metres();
        report.config.item = settings.item.clone();
        let report = report.with_interference(others);
        Ok(Some(finish(parsed, summary, report, kept)))
    }

    /// Runs `script`, output to `log` (each line also to `on_line`), until it exits
    /// (`Some(status)`) or `cancel` is set (`None`, after ending its process group).
    fn run_script(
        &self,
        script: &Path,
        scheduler: &Scheduler,
        log: &Path,
        cancel: &CancelFlag,
        on_line: &dyn Fn(&str),
    ) -> Result<Option<ExitStatus>, RunnerError> {
        let out = File::create(log).map_err(|source| RunnerError::Write {
            path: log.to_path_buf(),
            source,
        })?;
        let err = out.try_clone().map_err(|source| RunnerError::Write {
            path: log.to_path_buf(),
            source,
        })?;
        let mut command = Command::new(&self.python);
        command.arg(script);
        match scheduler {
            Scheduler::Address(address) => command.args(["--cluster", address]),
            _ => command.arg("--local-cluster"),
        };
        command
            .current_dir(&self.dir)
            // Lines as they are printed, not when the buffer fills or the script ends.
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        #[cfg(unix)]
        {
            // Its own process group: a Ctrl-C at the terminal reaches chunkscope, which
            // cancels; and ending the group ends anything the script started.
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let child = command.spawn().map_err(|source| RunnerError::Start {
            python: self.python.clone(),
            source,
        })?;
        let mut child = ChildGuard(Some(child));
        let mut lines = LogLines::open(log);
        loop {
            let waited = child.try_wait().map_err(|source| RunnerError::Start {
                python: self.python.clone(),
                source,
            })?;
            lines.read(on_line);
            if let Some(status) = waited {
                child.0 = None;
                lines.read(on_line);
                lines.rest(on_line);
                return Ok(Some(status));
            }
            if cancel.is_cancelled() {
                child.end();
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The report with the measured walls and the extras.
fn finish(stream: DaskStream, summary: DaskSummary, report: RunReport, path: PathBuf) -> DaskRun {
    let header = &stream.header;
    let seconds = |key: &str| {
        header
            .wall_s
            .get(key)
            .filter(|s| s.is_finite() && **s >= 0.0)
            .map(|&s| convert::secs_to_ns(s))
    };
    let mut stage_wall_ns: BTreeMap<Stage, u64> =
        report.stages.iter().map(|s| (s.name, s.wall_ns)).collect();
    // Dask's finalize task is bookkeeping; the script's COG copy is the finalize step.
    stage_wall_ns.remove(&Stage::Finalize);
    if let Some(load) =
        seconds("load").filter(|&load| load > 0 && header.calls_epoch_s.contains_key("load"))
    {
        stage_wall_ns.insert(Stage::Load, load);
    }
    if let Some(copy) = seconds("cog_copy") {
        stage_wall_ns.insert(Stage::Finalize, copy);
    }
    let measured: u64 = header.wall_s.keys().filter_map(|k| seconds(k)).sum();
    DaskRun {
        wall_ns: if measured > 0 {
            measured
        } else {
            summary.wall_ns
        },
        extras: DaskExtras::of(&stream),
        report,
        summary,
        stage_wall_ns,
        stream: path,
    }
}

/// The lines a child writes to its log file, read as they come.
struct LogLines {
    file: Option<File>,
    pending: String,
}

impl LogLines {
    fn open(path: &Path) -> Self {
        Self {
            file: File::open(path).ok(),
            pending: String::new(),
        }
    }

    /// Gives each complete line written since the last call to `on_line`.
    fn read(&mut self, on_line: &dyn Fn(&str)) {
        use std::io::Read;
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() || bytes.is_empty() {
            return;
        }
        self.pending.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = self.pending.find('\n') {
            let line: String = self.pending.drain(..=end).collect();
            on_line(line.trim_end());
        }
    }

    /// The last line when it has no newline.
    fn rest(&mut self, on_line: &dyn Fn(&str)) {
        if !self.pending.is_empty() {
            on_line(self.pending.trim_end());
            self.pending.clear();
        }
    }
}

/// A child that is ended with its process group when dropped, unless it has exited.
struct ChildGuard(Option<Child>);

impl ChildGuard {
    fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        match &mut self.0 {
            Some(child) => child.try_wait(),
            None => Ok(None),
        }
    }

    /// SIGTERM to the group, then SIGKILL if it is still there after 3 s; waits for it.
    fn end(&mut self) {
        let Some(mut child) = self.0.take() else {
            return;
        };
        let pid = i32::try_from(child.id()).unwrap_or(0);
        #[cfg(unix)]
        if pid > 0 {
            // SAFETY: kill(2) on the process group this runner created for the child.
            unsafe { libc::kill(-pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                #[cfg(unix)]
                if pid > 0 {
                    // Anything the script left in its group goes with it.
                    // SAFETY: as above.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        #[cfg(unix)]
        if pid > 0 {
            // SAFETY: as above.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_overlap_is_time_beyond_the_union() {
        assert_eq!(overlap(&[]), 0);
        assert_eq!(overlap(&[(0, 10), (10, 20)]), 0, "back to back: serialised");
        assert_eq!(overlap(&[(0, 10), (5, 12), (20, 25)]), 5);
    }

    #[test]
    fn extras_split_the_calls_and_the_transfers() {
        // A call from 0.0 s to 4.0 s whose tasks run from 1.0 s to 3.5 s: 1.5 s outside;
        // two writes overlapping by 0.5 s; one transfer of 0.25 s.
        let text = serde_json::json!({
            "calls_epoch_s": {"mask_write": 100.0},
            "wall_s": {"mask_write": 4.0},
            "task_stream": [
                {"key": ["store-map", 0, 0, 0], "worker": "w", "thread": 1,
                 "startstops": [{"action": "transfer", "start": 101.0, "stop": 101.25},
                                {"action": "compute", "start": 101.25, "stop": 102.5}]},
                {"key": ["store-map", 0, 0, 1], "worker": "w", "thread": 2,
                 "startstops": [{"action": "compute", "start": 102.0, "stop": 103.5}]},
            ]
        })
        .to_string();
        let stream = DaskStream::parse(&text).unwrap();
        let x = DaskExtras::of(&stream);
        assert_eq!(x.transfer_ns, 250_000_000);
        assert_eq!(x.write_overlap_ns, 500_000_000);
        // The stream's time 0 is the earliest start, 101.0 s, the call's start -1 s; a task's
        // run is its compute interval, so the first task runs from 0.25 s (after its
        // transfer, counted apart) and the last ends at 2.5 s of the call's 3 s: 1.25 s
        // before, 0.5 s after.
        assert_eq!(x.outside_tasks_ns, 1_750_000_000);
    }

    #[test]
    fn ending_a_child_leaves_no_process_behind() {
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 30 & sleep 30"]);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let Ok(child) = command.spawn() else {
            return;
        };
        let pid = i32::try_from(child.id()).unwrap();
        let mut guard = ChildGuard(Some(child));
        std::thread::sleep(Duration::from_millis(100));
        guard.end();
        // Ended processes may stay zombies until their new parent reaps them: count the
        // group's members that still run, from /proc.
        let running = || {
            std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
                .filter(|stat| {
                    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
                    let fields: Vec<&str> = rest.split_whitespace().collect();
                    fields.first() != Some(&"Z") && fields.get(2) == Some(&pid.to_string().as_str())
                })
                .count()
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        while running() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(running(), 0, "a process of the group outlived the end");
    }
}
