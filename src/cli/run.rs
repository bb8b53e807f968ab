//! `chunkscope run`: one pass of the pipeline (or serial then chunked with `--mode both`),
//! printed like the lesson's `%%time` cells or as the JSON report.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use chunkscope::experiment::engine::{Engine, TaskCost};
use chunkscope::output::OutputFormat;
use chunkscope::pipeline::{self, Mode, RunControl, RunReport};
use chunkscope::profile::units;
use chunkscope::task::CancelFlag;

use super::engine::EngineArgs;
use super::options::{
    ChunkedOptions, PipelineOptions, ScheduleOption, ThreadLimitArgs, default_output,
};
use super::progress::RunProgress;
use super::{
    ModeArg, SceneArgs, UsageError, cancel_on_signals, load_scene, note_task_counts, output_target,
};

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
    #[command(flatten)]
    engine: EngineArgs,
}

/// One run in `run --engine ... --json`: the engine, its report, its cost per task, and
/// for Dask the wall the script measured and where its stream is.
#[derive(serde::Serialize)]
struct EngineRun<'a> {
    engine: Engine,
    report: &'a RunReport,
    cost: TaskCost,
    #[serde(skip_serializing_if = "Option::is_none")]
    dask: Option<DaskFigures>,
}

#[derive(serde::Serialize)]
struct DaskFigures {
    /// Wall time measured around the script's calls (load, mask and write, COG copy).
    wall_ns: u64,
    extras: chunkscope::dask::runner::DaskExtras,
    /// The stream the run saved (in the scratch folder, removed afterwards, unless
    /// --dask-streams kept it).
    stream: PathBuf,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let engines = args.engine.engines();
    let on = |e: Engine| match &engines {
        Some(list) => list.contains(&e),
        None => e == Engine::Chunkscope,
    };
    if on(Engine::Dask) && args.mode == ModeArg::Serial {
        return Err(UsageError(
            "Dask runs the chunked pipeline (the lesson's chunks): use --mode chunked or both \
             with --engine dask"
                .into(),
        )
        .into());
    }
    let chunked_too = args.mode != ModeArg::Serial;
    if chunked_too {
        args.limits.check(&[args.chunked.threads()])?;
    }
    let (catalog, scene, _served) = load_scene(&args.scene)?;
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
        _ if !on(Engine::Chunkscope) => Vec::new(),
        ModeArg::Serial => vec![Mode::Serial],
        ModeArg::Chunked => vec![chunked],
        ModeArg::Both => vec![Mode::Serial, chunked],
    };
    // Only a Dask run has files of its own (its script and stream).
    let scratch = if on(Engine::Dask) {
        Some(super::compare::Scratch::create("run")?)
    } else {
        None
    };
    let runner = match &scratch {
        Some(scratch) => args.engine.dask_runner(
            &catalog,
            &scene,
            args.scene.res,
            args.scene.network.network.is_some(),
            &args.pipeline,
            args.schedule.schedule(),
            scratch.path(),
        )?,
        None => None,
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
    let mut dask_run = None;
    if let Some(runner) = &runner
        && !reports.iter().any(|r| r.cancelled)
    {
        let prepared = pipeline::prepare(&scene, args.scene.res, Some(&args.chunked.chunks))
            .with_context(|| format!("cannot plan the chunks of item \"{}\"", scene.item))?;
        let plan = prepared
            .plan
            .as_ref()
            .context("the chunk plan is missing")?;
        let progress = RunProgress::start(format!("dask x {}", args.chunked.threads()));
        let result = runner.run(
            plan.shape,
            &args.chunked.chunks.to_string(),
            args.chunked.threads().get(),
            args.schedule.schedule(),
            &cancel,
        );
        progress.finish();
        match result.with_context(|| format!("the Dask run on item \"{}\" failed", scene.item))? {
            Some(run) => {
                if !args.json {
                    print!("{}", run.report.time_summary());
                    println!(
                        "Dask wall measured around the calls: {} (the stream's tasks span {})",
                        units::duration_ns(run.wall_ns),
                        units::duration_ns(run.summary.wall_ns)
                    );
                }
                dask_run = Some(run);
            }
            None => {
                eprintln!("cancelled: the Dask run was stopped");
                return Ok(crate::signals::cancelled_exit_code());
            }
        }
    }
    if engines.is_some() {
        let mut runs: Vec<EngineRun> = reports
            .iter()
            .map(|r| EngineRun {
                engine: Engine::Chunkscope,
                report: r,
                cost: TaskCost::of(r, None),
                dask: None,
            })
            .collect();
        if let Some(run) = &dask_run {
            runs.push(EngineRun {
                engine: Engine::Dask,
                report: &run.report,
                cost: TaskCost::of(&run.report, Some(&run.extras)),
                dask: Some(DaskFigures {
                    wall_ns: run.wall_ns,
                    extras: run.extras,
                    stream: run.stream.clone(),
                }),
            });
        }
        if args.json {
            let value = serde_json::json!({
                "schema_version": pipeline::SCHEMA_VERSION,
                "runs": runs,
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            let rows: Vec<_> = runs
                .iter()
                .filter(|r| r.report.config.chunks.is_some())
                .map(|r| {
                    (
                        format!("{} x {}", r.engine, r.report.config.threads),
                        r.engine,
                        r.report.config.threads,
                        &r.cost,
                    )
                })
                .collect();
            print!("{}", super::engine::cost_table(&rows));
        }
        drop(scratch);
        if reports.iter().any(|r| r.cancelled) {
            eprintln!("cancelled: no output was written");
            return Ok(crate::signals::cancelled_exit_code());
        }
        return Ok(ExitCode::SUCCESS);
    }
    drop(scratch);
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
