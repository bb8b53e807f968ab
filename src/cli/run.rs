//! `chunkscope run`: one pass of the pipeline (or serial then chunked with `--mode both`),
//! printed like the lesson's `%%time` cells or as the JSON report.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use chunkscope::output::OutputFormat;
use chunkscope::pipeline::{self, Mode, RunControl, RunReport};
use chunkscope::profile::units;
use chunkscope::task::CancelFlag;

use super::options::{
    ChunkedOptions, PipelineOptions, ScheduleOption, ThreadLimitArgs, default_output,
};
use super::progress::RunProgress;
use super::{ModeArg, SceneArgs, cancel_on_signals, load_scene, note_task_counts, output_target};

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    scene: SceneArgs,
    #[command(flatten)]
    chunked: ChunkedOptions,
    #[command(flatten)]
    schedule: ScheduleOption,
    #[command(flatten)]
    pipeline: PipelineOptions,
    /// Output file; default chunkscope-out/masked-<item>.tif in the current folder.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// serial (whole arrays, one thread), chunked (chunks on a thread pool) or both.
    #[arg(long, value_enum, default_value = "chunked")]
    mode: ModeArg,
    /// Print the run report as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: ThreadLimitArgs,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let chunked_too = args.mode != ModeArg::Serial;
    if chunked_too {
        args.limits.check(&[args.chunked.threads()])?;
    }
    let (catalog, scene) = load_scene(&args.scene)?;
    // Before the notes below, so that a note on stderr tells that signals are handled.
    let cancel = CancelFlag::new();
    cancel_on_signals(&cancel);
    let asked = match &args.out {
        Some(path) => path.clone(),
        None => default_output(&scene.item)?,
    };
    let format = args.pipeline.format_or(OutputFormat::Cog);
    let base = args.pipeline.run_base(
        args.scene.res,
        output_target(&asked, &catalog, &scene)?,
        format,
    )?;
    if chunked_too {
        note_task_counts(
            &scene,
            args.scene.res,
            std::slice::from_ref(&args.chunked.chunks),
        );
    }
    let chunked = args.chunked.mode(args.schedule.schedule());
    let modes = match args.mode {
        ModeArg::Serial => vec![Mode::Serial],
        ModeArg::Chunked => vec![chunked],
        ModeArg::Both => vec![Mode::Serial, chunked],
    };
    let mut reports: Vec<RunReport> = Vec::new();
    for mode in modes {
        let config = base.config(mode);
        let label = match &config.mode {
            Mode::Serial => "serial".to_string(),
            Mode::Chunked { threads, .. } => format!("chunked x {threads}"),
        };
        let progress = RunProgress::start(label);
        let control = RunControl {
            events: progress.sink.clone(),
            cancel: cancel.clone(),
            ..RunControl::default()
        };
        let result = pipeline::run(&scene, &config, &control);
        drop(control);
        progress.finish();
        let report =
            result.with_context(|| format!("the run on item \"{}\" failed", scene.item))?;
        if let Some(plan) = &report.plan {
            for notice in &plan.notices {
                eprintln!("note: {notice}");
            }
        }
        if !args.json {
            print!("{}", report.time_summary());
        }
        let cancelled = report.cancelled;
        reports.push(report);
        if cancelled {
            break;
        }
    }
    if args.json {
        let value = match reports.as_slice() {
            [one] => serde_json::to_value(one)?,
            [serial, chunked] => serde_json::json!({
                "schema_version": pipeline::SCHEMA_VERSION,
                "serial": serial,
                "chunked": chunked,
                "speedup": serial.wall_ns as f64 / chunked.wall_ns.max(1) as f64,
            }),
            many => serde_json::to_value(many)?,
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else if let [serial, chunked] = reports.as_slice() {
        let speedup = serial.wall_ns as f64 / chunked.wall_ns.max(1) as f64;
        println!(
            "speedup {} (serial {} / {} {}); one run each: use `chunkscope bench` for medians",
            units::ratio(speedup),
            units::duration_ns(serial.wall_ns),
            chunked.label(),
            units::duration_ns(chunked.wall_ns),
        );
    }
    if reports.iter().any(|r| r.cancelled) {
        eprintln!("cancelled: no output was written");
        return Ok(crate::signals::cancelled_exit_code());
    }
    if let Some(signal) = crate::signals::received() {
        eprintln!(
            "{} came after the last task: the run finished and its output is complete",
            signal.describe()
        );
    }
    Ok(ExitCode::SUCCESS)
}
