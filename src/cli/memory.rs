//! `chunkscope memory`: peak and live memory per schedule — serial, chunked staged, chunked
//! fused — side by side. Each run is a child process (`chunkscope run --json`) so that the
//! kernel's high-water mark of resident memory (VmHWM) belongs to that run alone; in one
//! long process the first run's peak would hide the others'.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use chunkscope::experiment::child::ChildRun;
use chunkscope::lesson::MemorySchedule as Schedule;
use chunkscope::output::OutputFormat;
use chunkscope::profile::memory::{self, MemoryRow, MemoryRun, Spread};
use chunkscope::profile::units;
use chunkscope::task::CancelFlag;

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
    let (catalog, scene, _served) = load_scene(&args.scene)?;
    let exe = std::env::current_exe().context("cannot find chunkscope's own executable")?;
    let threads = args.chunked.threads();
    args.limits.check(&[threads])?;
    let scratch = Scratch::create("memory")?;
    let cancel = CancelFlag::new();
    cancel_on_signals(&cancel);

    let child = ChildRun {
        exe,
        catalog: catalog.path.clone(),
        item: scene.item.clone(),
        res: args.scene.res.metres(),
        chunks: args.chunked.chunks.to_string(),
        threads,
        pipeline: args.pipeline.to_args(format),
        out: scratch.path().to_path_buf(),
        force_threads: args.limits.force_threads,
        cancel: cancel.clone(),
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
            "format": format.name(),
            "gdal_cache": cache,
            "rows": rows,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", render(&scene.item, format.name(), &cache, &rows));
    }
    Ok(ExitCode::SUCCESS)
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
