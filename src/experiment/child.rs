//! One run in a child process of its own (`chunkscope run --json`), so that the kernel's
//! high-water mark of resident memory (VmHWM) belongs to that run alone: in one long
//! process the first run's peak would hide the others'. The memory command and the
//! lesson's memory step both measure this way. Runs on the caller's thread, which waits for
//! the child (and two threads that drain its pipes).

use std::io::Read;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::memory::{MemoryProbe, MemorySchedule as Schedule};
use crate::chunks::ChunkRequest;
use crate::pipeline::RunReport;
use crate::profile::memory::MemoryRun;
use crate::task::CancelFlag;

/// Why a child run gave no figures.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("cannot start \"{exe}\"")]
    Start {
        exe: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the {schedule} run failed ({status}):\n{stderr}")]
    Failed {
        schedule: &'static str,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("the {schedule} run printed no readable report")]
    Report {
        schedule: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// Whether a child's exit code says a stop signal ended it (128 + SIGINT, SIGTERM or
/// SIGHUP, as chunkscope exits when one cancels its work).
pub fn is_stop_code(code: Option<i32>) -> bool {
    code.is_some_and(|c| [libc::SIGINT, libc::SIGTERM, libc::SIGHUP].contains(&(c - 128)))
}

/// How to start one child run.
#[derive(Debug, Clone)]
pub struct ChildRun {
    /// chunkscope's own executable.
    pub exe: PathBuf,
    pub catalog: PathBuf,
    pub item: String,
    /// Pixel size in metres (`--res`).
    pub res: u32,
    pub chunks: String,
    pub threads: NonZeroUsize,
    /// The output options, as `run` arguments (`--format`, `--gdal-cache`, ...).
    pub pipeline: Vec<String>,
    /// Scratch folder for the runs' outputs (each removed after its run).
    pub out: PathBuf,
    pub force_threads: bool,
    /// Set to stop the run in flight: the child gets SIGTERM, cleans up and exits.
    pub cancel: CancelFlag,
}

impl ChildRun {
    /// Runs `schedule` in a child process: its report's label and memory figures; `None`
    /// when it was cancelled, by `cancel` (Esc, or a stop signal to this process alone) or
    /// by a stop signal that reached the child too (Ctrl-C goes to the terminal's process
    /// group).
    pub fn run(&self, schedule: Schedule) -> Result<Option<(String, MemoryRun)>, ChildError> {
        let out: PathBuf = self.out.join(format!("memory-{}.tif", schedule.name()));
        let mut cmd = Command::new(&self.exe);
        cmd.arg("run")
            .arg("--catalog")
            .arg(&self.catalog)
            .args(["--item", &self.item])
            .args(["--res", &self.res.to_string()])
            .args(&self.pipeline)
            .arg("--out")
            .arg(&out)
            .arg("--json")
            .args([
                "--max-pixels",
                &crate::pipeline::limits::max_pixels().to_string(),
            ]);
        for driver in crate::raster::extra_drivers() {
            cmd.args(["--allow-driver", &driver]);
        }
        match schedule {
            Schedule::Serial => {
                cmd.args(["--mode", "serial"]);
            }
            Schedule::Staged | Schedule::Fused => {
                cmd.args(["--mode", "chunked"])
                    .args(["--chunks", &self.chunks])
                    .args(["--threads", &self.threads.to_string()])
                    .args(["--schedule", schedule.name()]);
                if self.force_threads {
                    cmd.arg("--force-threads");
                }
            }
        }
        // glibc keeps freed buffers for reuse once its mmap threshold has grown past them,
        // so a run's max RSS would show what the allocator keeps, not what the schedule
        // holds. A fixed 1 MiB threshold hands every chunk or tile buffer back when it is
        // freed. (Other C libraries ignore the variable.)
        cmd.env("MALLOC_MMAP_THRESHOLD_", "1048576");
        let output =
            run_until_cancelled(&mut cmd, &self.cancel).map_err(|source| ChildError::Start {
                exe: self.exe.clone(),
                source,
            })?;
        // The run's output is not what is measured: keep the scratch folder small.
        let _ = std::fs::remove_file(&out);
        if self.cancel.is_cancelled() || is_stop_code(output.status.code()) {
            return Ok(None);
        }
        if !output.status.success() {
            return Err(ChildError::Failed {
                schedule: schedule.name(),
                status: output.status,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        let report: RunReport =
            serde_json::from_slice(&output.stdout).map_err(|source| ChildError::Report {
                schedule: schedule.name(),
                source,
            })?;
        let run = MemoryRun::from_tasks(
            &report.tasks,
            report.process_max_rss_bytes,
            report.rss_start_bytes,
            report.wall_ns,
        );
        Ok(Some((report.label(), run)))
    }
}

/// Runs `cmd` to its end, with stdin closed and its output collected, unless `cancel` is
/// set first: the child is then sent SIGTERM, which it answers by cancelling its run and
/// removing what it wrote, and is waited for.
fn run_until_cancelled(
    cmd: &mut Command,
    cancel: &CancelFlag,
) -> std::io::Result<std::process::Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Drained on threads of their own: a report larger than a pipe's buffer would
    // otherwise block the child before it exits.
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let mut signalled = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if cancel.is_cancelled() && !signalled {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill(2) with the pid of our own child, which has not been reaped
                // (try_wait saw it running), so the pid is still its.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            signalled = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Ok(std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// The lesson's memory step measured as the memory command measures: each run in a child
/// process of its own, a tiled GeoTIFF output, GDAL's block cache bounded.
pub struct ChildProbe {
    pub exe: PathBuf,
    pub catalog: PathBuf,
    pub item: String,
    /// Scratch folder for the runs' outputs (each removed after its run).
    pub out: PathBuf,
    /// The step's cancel flag: the run in flight is stopped when it is set.
    pub cancel: CancelFlag,
}

impl MemoryProbe for ChildProbe {
    fn own_process(&self) -> bool {
        true
    }

    fn run(
        &self,
        schedule: Schedule,
        chunks: &ChunkRequest,
        threads: NonZeroUsize,
        gdal_cache_mb: u32,
    ) -> Result<Option<MemoryRun>, String> {
        let child = ChildRun {
            exe: self.exe.clone(),
            catalog: self.catalog.clone(),
            item: self.item.clone(),
            res: 20,
            chunks: chunks.to_string(),
            threads,
            pipeline: vec![
                "--format".into(),
                "gtiff".into(),
                "--gdal-cache".into(),
                gdal_cache_mb.to_string(),
            ],
            out: self.out.clone(),
            force_threads: false,
            cancel: self.cancel.clone(),
        };
        child
            .run(schedule)
            .map(|r| r.map(|(_, run)| run))
            .map_err(|e| crate::error::chain(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_codes_are_the_stop_signals_only() {
        assert!(is_stop_code(Some(130)));
        assert!(is_stop_code(Some(143)));
        assert!(is_stop_code(Some(129)));
        assert!(!is_stop_code(Some(1)));
        assert!(!is_stop_code(Some(137)), "SIGKILL is not a cancel");
        assert!(!is_stop_code(None));
    }
}
