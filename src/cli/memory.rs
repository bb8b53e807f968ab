//! `chunkscope memory`: peak and live memory per schedule — serial, chunked staged, chunked
//! fused — side by side. Each run is a child process (`chunkscope run --json`) so that the
//! kernel's high-water mark of resident memory (VmHWM) belongs to that run alone; in one
//! long process the first run's peak would hide the others'.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, bail};
use clap::Args;

use chunkscope::chunks::ChunkRequest;
use chunkscope::lesson::{MemoryProbe, MemorySchedule as Schedule};
use chunkscope::output::OutputFormat;
use chunkscope::profile::memory::{self, MemoryRow, MemoryRun, Spread};
use chunkscope::profile::units;
use chunkscope::task::{CancelFlag, TaskRecord};

use super::compare::{RoundsBar, Scratch};
use super::options::{ChunkedOptions, PipelineOptions, ThreadLimitArgs};
use super::{SceneArgs, cancel_on_signals, load_scene};

/// Columns of the live-memory sparklines.
const SPARK_WIDTH: usize = 40;

#[derive(Debug, Args)]
pub struct MemoryArgs {
    #[command(flatten)]
    scene: SceneArgs,
    #[command(flatten)]
    chunked: ChunkedOptions,
    /// Runs per schedule, taken in rounds (serial, staged, fused, serial, ...).
    #[arg(long, value_name = "R", default_value_t = 3)]
    repeat: usize,
    #[command(flatten)]
    pipeline: PipelineOptions,
    /// Print the rows as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: ThreadLimitArgs,
}

pub fn memory(args: MemoryArgs) -> anyhow::Result<ExitCode> {
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    // Checked here so bad options fail once, before any child runs.
    let format = args.pipeline.format_or(OutputFormat::Gtiff);
    args.pipeline
        .output(PathBuf::from("memory.tif"), format)
        .context("in the output options")?;
    super::check_runs(args.repeat.saturating_mul(Schedule::ALL.len()))?;
    let (catalog, scene) = load_scene(&args.scene)?;
    let exe = std::env::current_exe().context("cannot find chunkscope's own executable")?;
    let threads = args.chunked.threads();
    args.limits.check(&[threads])?;
    let scratch = Scratch::create("memory")?;
    let cancel = CancelFlag::new();
    cancel_on_signals(&cancel);

    let child = Child {
        exe: &exe,
        catalog: &catalog.path,
        item: &scene.item,
        res: args.scene.res.metres(),
        chunks: args.chunked.chunks.to_string(),
        threads,
        format: format.name(),
        pipeline: args.pipeline.to_args(format),
        out: scratch.path(),
        force_threads: args.limits.force_threads,
        cancel: &cancel,
    };
    let cache = match (args.pipeline.gdal_cache, std::env::var("GDAL_CACHEMAX")) {
        (Some(mb), _) => format!("{mb} MB (--gdal-cache)"),
        (None, Ok(v)) => format!("\"{v}\" (GDAL_CACHEMAX)"),
        (None, Err(_)) => "GDAL's default, 5 % of RAM".to_string(),
    };
    let mut runs: Vec<Vec<MemoryRun>> = vec![Vec::new(); Schedule::ALL.len()];
    let mut labels: Vec<String> = vec![String::new(); Schedule::ALL.len()];
    let bar = RoundsBar::new();
    let total = args.repeat * Schedule::ALL.len();
    for round in 0..args.repeat {
        for (i, schedule) in Schedule::ALL.into_iter().enumerate() {
            bar.update(round * Schedule::ALL.len() + i, total, schedule.name());
            match child.run(schedule)? {
                Some((label, run)) => {
                    labels[i] = label;
                    runs[i].push(run);
                }
                None => {
                    bar.finish();
                    eprintln!("cancelled: no output was kept");
                    return Ok(crate::signals::cancelled_exit_code());
                }
            }
            if cancel.is_cancelled() {
                bar.finish();
                eprintln!("cancelled: no output was kept");
                return Ok(crate::signals::cancelled_exit_code());
            }
        }
    }
    bar.finish();
    let rows: Vec<MemoryRow> = labels
        .iter()
        .zip(&runs)
        .filter_map(|(label, runs)| MemoryRow::from_runs(label.clone(), runs))
        .collect();
    if args.json {
        let value = serde_json::json!({
            "schema_version": chunkscope::pipeline::SCHEMA_VERSION,
            "kind": "memory",
            "item": scene.item,
            "format": child.format,
            "gdal_cache": cache,
            "rows": rows,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", render(&scene.item, child.format, &cache, &rows));
    }
    Ok(ExitCode::SUCCESS)
}

/// The lesson's memory step measured as this command measures: each run in a child
/// process of its own, a tiled GeoTIFF output, GDAL's block cache bounded.
pub(crate) struct ChildProbe {
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
        let child = Child {
            exe: &self.exe,
            catalog: &self.catalog,
            item: &self.item,
            res: 20,
            chunks: chunks.to_string(),
            threads,
            format: "gtiff",
            pipeline: vec![
                "--format".into(),
                "gtiff".into(),
                "--gdal-cache".into(),
                gdal_cache_mb.to_string(),
            ],
            out: &self.out,
            force_threads: false,
            cancel: &self.cancel,
        };
        child
            .run(schedule)
            .map(|r| r.map(|(_, run)| run))
            .map_err(|e| format!("{e:#}"))
    }
}

/// How to start one child run.
struct Child<'a> {
    exe: &'a Path,
    catalog: &'a Path,
    item: &'a str,
    res: u32,
    chunks: String,
    threads: NonZeroUsize,
    format: &'static str,
    /// The output options, as `run` arguments.
    pipeline: Vec<String>,
    out: &'a Path,
    force_threads: bool,
    /// Set to stop the run in flight: the child gets SIGTERM, cleans up and exits.
    cancel: &'a CancelFlag,
}

impl Child<'_> {
    /// Runs `schedule` in a child process; `None` when it was cancelled: by `cancel`, which
    /// the front end sets (on Esc, or a stop signal to this process alone), or by a stop
    /// signal that reached the child too (Ctrl-C goes to the terminal's process group).
    fn run(&self, schedule: Schedule) -> anyhow::Result<Option<(String, MemoryRun)>> {
        let out: PathBuf = self.out.join(format!("memory-{}.tif", schedule.name()));
        let mut cmd = Command::new(self.exe);
        cmd.arg("run")
            .arg("--catalog")
            .arg(self.catalog)
            .args(["--item", self.item])
            .args(["--res", &self.res.to_string()])
            .args(&self.pipeline)
            .arg("--out")
            .arg(&out)
            .arg("--json");
        for driver in chunkscope::raster::extra_drivers() {
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
        let output = run_until_cancelled(&mut cmd, self.cancel)
            .with_context(|| format!("cannot start \"{}\"", self.exe.display()))?;
        // The run's output is not what this command measures: keep the scratch folder small.
        let _ = std::fs::remove_file(&out);
        if self.cancel.is_cancelled() || crate::signals::is_stop_code(output.status.code()) {
            return Ok(None);
        }
        if !output.status.success() {
            bail!(
                "the {} run failed ({}):\n{}",
                schedule.name(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)
            .with_context(|| format!("the {} run printed no report", schedule.name()))?;
        parse_run(&report)
            .map(Some)
            .with_context(|| format!("the {} run's report lacks a field", schedule.name()))
    }
}

/// Runs `cmd` to its end, with stdin closed and its output collected, unless `cancel` is
/// set first: the child is then sent SIGTERM, which it answers by cancelling its run and
/// removing what it wrote, and is waited for.
fn run_until_cancelled(
    cmd: &mut Command,
    cancel: &CancelFlag,
) -> std::io::Result<std::process::Output> {
    use std::io::Read;
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

/// The label and memory figures of one `run --json` report.
fn parse_run(report: &serde_json::Value) -> anyhow::Result<(String, MemoryRun)> {
    let field = |name: &str| {
        report[name]
            .as_u64()
            .with_context(|| format!("no \"{name}\""))
    };
    let tasks: Vec<TaskRecord> =
        serde_json::from_value(report["tasks"].clone()).context("no readable \"tasks\"")?;
    let config = &report["config"];
    let label = match (config["chunks"].as_array(), config["schedule"].as_str()) {
        (Some(c), Some(schedule)) => {
            let dims: Vec<String> = c.iter().map(ToString::to_string).collect();
            format!(
                "chunked x {} ({}, {schedule})",
                config["threads"],
                dims.join(",")
            )
        }
        _ => "serial".to_string(),
    };
    let run = MemoryRun::from_tasks(
        &tasks,
        field("process_max_rss_bytes")?,
        field("rss_start_bytes")?,
        field("wall_ns")?,
    );
    Ok((label, run))
}

fn spread_bytes(s: &Spread) -> String {
    units::bytes_range(s.median, s.min, s.max)
}

fn render(item: &str, format: &str, cache: &str, rows: &[MemoryRow]) -> String {
    let mut out = format!(
        "Memory per schedule — item \"{item}\", {format} output, {} run(s) each, every run in a process of its own\nGDAL block cache: {cache}\n\n",
        rows.first().map_or(0, |r| r.runs)
    );
    let width = rows.iter().map(|r| r.label.len()).max().unwrap_or(8).max(8);
    out.push_str(&format!(
        "{:<width$}  {:>13}  {:>28}  {:>28}  {:>9}\n",
        "run", "buffers peak", "max RSS (min…max)", "RSS growth (min…max)", "wall"
    ));
    for r in rows {
        out.push_str(&format!(
            "{:<width$}  {:>13}  {:>28}  {:>28}  {:>9}\n",
            r.label,
            spread_bytes(&r.buffers_peak_bytes),
            spread_bytes(&r.process_max_rss_bytes),
            spread_bytes(&r.rss_growth_bytes),
            units::duration_ns(r.wall_ns.median),
        ));
    }
    let scale = rows
        .iter()
        .map(|r| r.buffers_peak_bytes.max)
        .max()
        .unwrap_or(0);
    out.push_str(&format!(
        "\nChunk buffers held over each run's load/mask/write phase (run of median wall time; \
         time runs left to right, stretched to the width; one scale, █ = {}):\n",
        units::bytes(scale)
    ));
    for r in rows {
        let peaks = memory::peaks_per_bucket(&r.series, r.pipeline_end_ns, SPARK_WIDTH);
        out.push_str(&format!(
            "{:<width$}  |{}| {}\n",
            r.label,
            units::spark(&peaks, scale),
            units::duration_ns(r.pipeline_end_ns)
        ));
    }
    out.push_str(
        "\nbuffers: bytes in chunk pixel buffers, from the task records (a load's SCL \
         buffer counts from the load's start, though taken after the image is read). max RSS: the \
         kernel's high-water mark for the run's process (VmHWM), which also holds the \
         blocks GDAL decodes for the chunks being read (each load task lets go of its blocks), \
         the output tiles being filled and encoded, and the libraries. RSS growth: max RSS \
         minus RSS when the run started. Freed buffers go back to the system in these runs \
         (MALLOC_MMAP_THRESHOLD_), so max RSS follows what the schedule holds.\n",
    );
    out
}
